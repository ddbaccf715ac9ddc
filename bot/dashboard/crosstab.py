"""Narrowing by another question's answer, and the cross-tab of two questions.

"Only the people who said they care for 50 hours a week or more" is a narrowed view like
a channel's: its group is one row of a table that splits the whole survey by that
question's answer (with those who gave it no answer as a row that is never shown), and
`surveys.suppression.Suppressor.table` hides small cells and adds secondary suppression
over every row at once (`bot.dashboard.results.view_for`).

The cross-tab of question X by question F shows that same table whole: each row is
exactly what the survey page shows for X when narrowed to one answer of F, computed from
the same counts by the same code, so a reader who puts the filtered pages, the unfiltered
page and the cross-tab side by side has nothing new to subtract. The counts come from two
grouped queries (`storage.repositories.by_answer`), however many answers or rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from flask import abort, render_template, request

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import database, signed_in
from bot.dashboard.filters import narrowed, page_filters, showing
from bot.dashboard.results import (
    SINGLE_ANSWER,
    SKIPPED,
    QuestionResult,
    _question,
    answer_codes,
    option_labels,
    view_for,
)
from storage.repositories.by_answer import summaries_for
from storage.repositories.dashboard import AnswerSummary, DashboardRepository, ResponseFilter
from storage.repositories.ticked import ticked_code
from surveys.model import CHOICE_TYPES, Question, QuestionType, Survey
from surveys.suppression import Cell, Suppressor

#: Longest question text shown in a filter's list before it is shortened.
SHORT = 60


@dataclass(frozen=True)
class AnswerFilter:
    """One question in the "Answer to another question" list, with its options."""

    question: Question
    #: (the filter's value, the option's words)
    options: list[tuple[str, str]]

    @property
    def label(self) -> str:
        text = self.question.text.get()
        return text if len(text) <= SHORT else text[:SHORT - 1].rstrip() + "\u2026"


def answer_filters(survey: Survey) -> list[AnswerFilter]:
    """Each single-answer question's options; for a multiple-choice question, who ticked
    each option and who answered without ticking it."""
    found = []
    for q in survey.questions:
        if q.type in SINGLE_ANSWER:
            found.append(AnswerFilter(q, [(f"{q.id}:{code}", label)
                                          for code, label in option_labels(q)]))
        elif q.type is QuestionType.MULTIPLE_CHOICE:
            found.append(AnswerFilter(q, [
                (f"{q.id}:{ticked_code(code, ticked)}",
                 f"Ticked \u201c{label}\u201d" if ticked else f"Did not tick \u201c{label}\u201d")
                for code, label in option_labels(q) for ticked in (True, False)]))
    return found


# --- the cross-tab ----------------------------------------------------------------------


@dataclass(frozen=True)
class CrossRow:
    label: str
    #: The `answer=` filter for this row's group ("" for the whole survey).
    answer: str
    #: One cell per column: each answer to the columns' question, then skips (if any).
    cells: list[Cell]
    #: Each cell's share of those in the row who answered, where it can be shown.
    percents: list[str]
    #: Answered (or, with skips hidden, answered or skipped).
    total: Cell
    with_skips: bool


@dataclass(frozen=True)
class CrossTab:
    rows_question: Question
    columns_question: Question
    columns: list[str]
    rows: list[CrossRow]
    everyone: CrossRow
    multiple: bool
    #: Split two ways (by the answer and by a date range, channel or language): every
    #: group must hold k or more people, or nothing is shown.
    strict: bool = False

    @property
    def empty(self) -> bool:
        """Is every row hidden? (Then the page says why, in words.)"""
        return all(row.total.hidden for row in self.rows)


def _row(label: str, answer: str, result: QuestionResult) -> CrossRow:
    cells = [bar.cell for bar in result.bars]
    percents = [bar.percent for bar in result.bars]
    if result.kind != "multiple":
        skipped = result.skipped
        if skipped is None and result.breakdown is not None:
            skipped = result.breakdown[SKIPPED]
        cells.append(skipped if skipped is not None else result.answered)
        percents.append("")
    if result.with_skips:  # a share of "answered or skipped" would be mislabelled
        percents = ["" for _p in percents]
    return CrossRow(label, answer, cells, percents, result.answered, result.with_skips)


def _merged(summaries: list[AnswerSummary]) -> AnswerSummary:
    whole = AnswerSummary({}, {}, {})
    for summary in summaries:
        for mine, theirs in ((whole.answered, summary.answered),
                             (whole.skipped, summary.skipped), (whole.media, summary.media)):
            for key, count in theirs.items():
                mine[key] = mine.get(key, 0) + count
        for qid, values in summary.values.items():
            into = whole.values.setdefault(qid, {})
            for value, count in values.items():
                into[value] = into.get(value, 0) + count
    return whole


def crosstab(repo: DashboardRepository, survey: Survey, suppress: Suppressor,
             rows_question: Question, columns_question: Question,
             where: ResponseFilter, channels: Sequence[str] = (),
             languages: Sequence[str] = ()) -> CrossTab:
    """`columns_question` split by the answer to `rows_question`, over `where` (the whole
    survey, or a view narrowed by dates, channel or language: `channels` and `languages`
    are those in use, as for `view_for`), suppressed as one table.

    Each row is the survey page narrowed by `where` and one answer (the same partition,
    so the same cells hidden), and "Everyone" is the page narrowed by `where` alone."""
    codes = answer_codes(survey)
    first = codes[rows_question.id][0]
    narrowing = replace(where, answer=None)
    view = view_for(replace(narrowing, answer=(rows_question.id, first)), channels, languages,
                    codes[rows_question.id])
    summaries = summaries_for(repo, survey.id, [columns_question.id], [], view.rows)
    base = view.me[:-1]  # type: ignore[index]
    rows = []
    for code, label in option_labels(rows_question):
        result = _question(columns_question, summaries,
                           replace(view, me=(*base, f"answer:{code}")), suppress)
        rows.append(_row(label, f"{rows_question.id}:{code}", result))
    # The view without the split: its rows are the split rows added up.
    plain = view_for(narrowing, channels, languages)
    if plain.narrowed:
        merged = {key: _merged([s for k, s in summaries.items() if k[:-1] == key])  # type: ignore[index]
                  for key in plain.rows}
    else:
        merged = {plain.me: _merged(list(summaries.values()))}
    whole = _question(columns_question, merged, plain, suppress)
    everyone = _row("Everyone in this view who answered" if plain.narrowed
                    else "Everyone who answered", "", whole)
    columns = [bar.label for bar in whole.bars]
    multiple = whole.kind == "multiple"
    if not multiple:
        columns.append("Skipped")
    return CrossTab(rows_question, columns_question, columns, rows, everyone, multiple,
                    view.strict)


def split_words(where: ResponseFilter) -> str:
    """The kinds of narrowing a view splits people by, in words ("channel and language")."""
    kinds = [words for words, on in (("when they started", where.date_from or where.date_to),
                                     ("channel", where.channel),
                                     ("language", where.language)) if on]
    return " and ".join(kinds)


@bp.get("/surveys/<survey_id>/crosstab")
@signed_in
def crosstab_page(survey_id: str) -> Any:
    runtime = current_runtime()
    survey = runtime.catalog.get().surveys.get(survey_id)
    if survey is None:
        abort(404)
    by = [q for q in survey.questions if q.type in SINGLE_ANSWER]
    shown = [q for q in survey.questions if q.type in CHOICE_TYPES]
    rows_id, columns_id = request.args.get("rows", ""), request.args.get("columns", "")
    rows_question = next((q for q in by if q.id == rows_id), None)
    columns_question = next((q for q in shown if q.id == columns_id), None)
    problem = ""
    if (rows_id or columns_id) and (rows_question is None or columns_question is None):
        problem = "Choose one question for the rows and one for the columns."
    elif rows_question is not None and rows_question is columns_question:
        problem = "Choose two different questions."
    table = None
    suppress = Suppressor(runtime.settings.min_cell)
    with database() as (repo, _session):
        filters = page_filters(repo, survey, by_answer=False)
        if not problem and rows_question is not None and columns_question is not None:
            table = crosstab(repo, survey, suppress, rows_question, columns_question,
                             filters.where, filters.channels, filters.languages)
    return render_template("dashboard/crosstab.html", survey=survey, by=by, shown=shown,
                           rows_id=rows_id, columns_id=columns_id, table=table,
                           problem=problem, k=suppress.k, tests=filters.tests,
                           include_test=filters.include_test, filters=filters,
                           where=filters.where, showing=showing(survey, filters.where),
                           narrowed=narrowed(filters.where),
                           split_by=split_words(filters.where),
                           channels=filters.channels, languages=filters.languages,
                           ), 400 if problem else 200
