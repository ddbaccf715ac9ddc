"""Turn the repository's raw counts into what the pages show, suppressed.

This is the only module between the database's numbers and the templates, and it hands
the templates `Cell`s, never raw integers: a count cannot reach a page without passing
through `surveys.suppression`. The funnel is one partition (every response started is
in exactly one cell), used by both the surveys list and the survey page, so that the two
pages can never show different halves of the same secret.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from flask import abort

from bot.services.names import channel_name
from channels.base import Choice, OutboundMessage, numbered
from channels.smstext import encoding, segments
from storage.repositories.by_answer import NO_ANSWER, funnels_for, summaries_for
from storage.repositories.dashboard import (
    EVERYONE,
    STOPPED_BEFORE_ANY,
    AnswerSummary,
    DashboardRepository,
    ResponseFilter,
)
from storage.repositories.ticked import parse_ticked, ticked_code
from storage.types import MAX_ID
from surveys.engine import prompt
from surveys.i18n import gettext
from surveys.model import CHOICE_TYPES, Question, QuestionType, Survey
from surveys.suppression import Breakdown, Cell, Suppressor, share

TELEGRAM_MAX_BUTTONS = 8
#: Questions a view can be narrowed by, or a cross-tab split by: one answer per person.
SINGLE_ANSWER = (QuestionType.SINGLE_CHOICE, QuestionType.SCALE, QuestionType.YES_NO)
#: The cell for skips beside a question's answers (option codes never contain spaces).
SKIPPED = "skipped it"
#: The cell for voice notes or photos sent instead of words.
MEDIA = "sent media"


@dataclass(frozen=True)
class Bar:
    """One labelled bar: its count (maybe hidden) and its share of the total, if shown."""

    label: str
    cell: Cell
    fraction: float | None

    @property
    def percent(self) -> str:
        return "" if self.fraction is None else f"{round(self.fraction * 100)}%"

    @property
    def width(self) -> str:
        """The bar's length out of 100, for the SVG (0 when hidden: no bar, only words)."""
        return f"{(self.fraction or 0) * 100:.1f}"


def bars(breakdown: Breakdown[str], labels: Sequence[tuple[str, str]]) -> list[Bar]:
    return [Bar(label, breakdown[key], breakdown.share(key)) for key, label in labels]


@dataclass(frozen=True)
class Funnel:
    #: None in a narrowed view, which covers only those who agreed.
    started: Cell | None
    consented: Cell
    completed: Cell
    invited: Cell | None
    steps: list[Bar]

    @property
    def completion(self) -> str:
        if self.completed.count is None or self.started is None or not self.started.count:
            return ""
        return f"{round(100 * self.completed.count / self.started.count)}%"


# --- which groups a view is made of -------------------------------------------------------


@dataclass(frozen=True)
class View:
    """The group a page shows, and the partition of the whole survey it belongs to.

    Suppression in a narrowed view is worked out over every row of the partition at
    once (each channel, say, with the whole survey's figures as the column totals), so
    the WhatsApp view and the SMS view hide the same cells and cannot be subtracted from
    each other or from the whole. Rows a reader cannot ask for directly (the days
    outside a date range) are `undisplayed`: always hidden. With more than one kind of
    narrowing at once, every row must hold k or more, or nothing is shown.
    """

    where: ResponseFilter
    rows: dict[Hashable, ResponseFilter]
    me: Hashable
    undisplayed: frozenset[Hashable] = frozenset()
    strict: bool = False

    @property
    def narrowed(self) -> bool:
        return len(self.rows) > 1


def whole_survey(where: ResponseFilter = EVERYONE) -> View:
    """The whole survey (without test responses when `where` leaves them out)."""
    return View(where, {"all": where}, "all")


def view_for(where: ResponseFilter, channels: Sequence[str], languages: Sequence[str],
             answer_codes: Sequence[str] = ()) -> View:
    """The partition a filter's view sits in: every combination of the same kinds of
    narrowing (channel, language, before / inside / after the date range, and each
    answer to the question narrowed by, with no answer as a row never shown)."""
    if not (where.date_from or where.date_to or where.channel or where.language
            or where.answer):
        return whole_survey(where)
    axes: list[list[tuple[str, dict[str, Any]]]] = []
    undisplayed_parts: set[str] = set()
    if where.date_from or where.date_to:
        dates = [("in", {"date_from": where.date_from, "date_to": where.date_to})]
        if where.date_from:
            dates.append(("before", {"date_to": where.date_from - timedelta(days=1)}))
            undisplayed_parts.add("before")
        if where.date_to:
            dates.append(("after", {"date_from": where.date_to + timedelta(days=1)}))
            undisplayed_parts.add("after")
        axes.append(dates)
    if where.channel:
        axes.append([(c, {"channel": c}) for c in channels])
    if where.language:
        axes.append([(lang, {"language": lang}) for lang in languages])
    if where.answer:
        qid, chosen = where.answer
        option = parse_ticked(chosen)
        # A multiple-choice option splits people in two: ticked it, answered without.
        split = ([ticked_code(option[0]), ticked_code(option[0], False)] if option
                 else list(answer_codes))
        axes.append([(f"answer:{code}", {"answer": (qid, code)})
                     for code in [*split, NO_ANSWER]])
        undisplayed_parts.add(f"answer:{NO_ANSWER}")
    rows: dict[Hashable, ResponseFilter] = {}
    undisplayed = set()
    me: Hashable = None
    for combo in itertools.product(*axes):
        key = tuple(name for name, _f in combo)
        fields: dict[str, Any] = {}
        for _name, values in combo:
            fields.update(values)
        # Every row leaves out test responses when the view does (sandbox rehearsals).
        rows[key] = ResponseFilter(**fields, without_test=where.without_test)
        if undisplayed_parts & set(key):
            undisplayed.add(key)
        if rows[key] == where:
            me = key
    assert me is not None, "the view is one of its own partition's rows"
    return View(where, rows, me, frozenset(undisplayed), strict=len(axes) > 1)


def _rows(suppress: Suppressor, view: View, counts: Mapping[Hashable, Mapping[str, int]],
          *, multiple: bool = False, totals: Mapping[Hashable, int] | None = None,
          same_question: bool = False) -> Breakdown[str]:
    """The view's own row of a suppressed table (or the whole survey's group)."""
    if not view.narrowed:
        row = counts[view.me]
        total = totals[view.me] if totals is not None else None
        return suppress.group(row, total, partition=not multiple)
    if view.strict:
        sizes = (totals if totals is not None
                 else {r: sum(c.values()) for r, c in counts.items()})
        if any(0 < n < suppress.k for n in sizes.values()):
            mine = counts[view.me]
            hidden = Cell(None, "secondary", suppress.k)
            if 0 < sizes[view.me] < suppress.k:
                hidden = Cell(None, "small", suppress.k)
            return Breakdown(dict.fromkeys(mine, hidden), hidden, not multiple)
    table = suppress.table(counts, undisplayed=view.undisplayed, multiple=multiple,
                           totals=totals, same_question=same_question)
    return table[view.me]


def funnel(repo: DashboardRepository, survey: Survey, suppress: Suppressor,
           where: ResponseFilter = EVERYONE, *, with_invited: bool = True,
           view: View | None = None) -> Funnel:
    """Invited, started, consented, completed, and where the others stopped.

    The funnel is one breakdown of everyone who started, treated like a question that
    all of them answered: in full from k people, "fewer than k" below.
    """
    view = view or (whole_survey() if not where.active else View(where, {"me": where}, "me"))
    answerable = [q for q in survey.questions if q.is_answerable]
    raw = funnels_for(repo, survey.id, [q.id for q in answerable], view.rows)
    labels = [("not_consented", "Did not agree to take part"),
              (STOPPED_BEFORE_ANY, "Agreed, then stopped before the first answer")]
    labels += [(q.id, f"Stopped after: {q.text.get()}") for q in answerable]
    labels.append(("completed", "Completed"))
    if view.narrowed:
        # Only those who agreed: a group's "started" less its answers would tell which
        # group the few who said no are in (the whole survey shows how many said no).
        for counts in raw.values():
            counts.pop("not_consented")
        labels = labels[1:]
    breakdown = _rows(suppress, view, raw)
    consented_keys = [key for key in raw[view.me] if key != "not_consented"]
    invited = None
    if with_invited and not view.narrowed:
        invited = suppress.group({"invited": repo.invited(survey.id, where)}).total
    return Funnel(
        started=None if view.narrowed else breakdown.total,
        consented=breakdown.sum(consented_keys),
        completed=breakdown["completed"],
        invited=invited,
        steps=bars(breakdown, labels),
    )


@dataclass(frozen=True)
class SurveyRow:
    survey: Survey
    status: str
    funnel: Funnel
    channels: list[Bar]


def survey_status(survey: Survey, now: datetime) -> str:
    if survey.opens_at and now < survey.opens_at:
        return "Not open yet"
    if survey.closes_at and now >= survey.closes_at:
        return "Closed"
    return "Open"


def survey_rows(repo: DashboardRepository, surveys: Sequence[Survey], suppress: Suppressor,
                now: datetime) -> list[SurveyRow]:
    """The surveys list (and `withus surveys list`): the same figures as each survey's
    page, by the same rule, so no page can tell what another hides."""
    counts = repo.survey_counts()
    rows = []
    for survey in surveys:
        by_channel = counts[survey.id].consented_by_channel if survey.id in counts else {}
        channel_split = suppress.group(by_channel)
        labels = [(c, channel_name(c)) for c in sorted(by_channel)]
        # Rehearsals in the sandbox are not evidence: left out (the join only if any).
        where = ResponseFilter(without_test=repo.test_responses(survey.id) > 0)
        rows.append(SurveyRow(survey, survey_status(survey, now),
                              funnel(repo, survey, suppress, where, with_invited=False),
                              bars(channel_split, labels)))
    return rows


@dataclass
class QuestionResult:
    question: Question
    kind: Literal["choice", "multiple", "number", "text"]
    #: How many answered (or, where skips cannot be shown apart, answered or skipped).
    answered: Cell
    #: Shown beside the answers when it can be.
    skipped: Cell | None
    bars: list[Bar] = field(default_factory=list)
    summary: list[tuple[str, str]] = field(default_factory=list)
    text_visible: bool = False
    #: True when `answered` counts the skips too (a narrowed view that hides them).
    with_skips: bool = False
    #: The suppressed cells behind the bars, skips included (for the cross-tab).
    breakdown: Breakdown[str] | None = None

    @property
    def title(self) -> str:
        return self.question.text.get()

    @property
    def caption(self) -> str:
        words = "Answered or skipped by" if self.with_skips else "Answered by"
        caption = f"{words} {self.answered}"
        if self.kind == "multiple":
            caption += " (people could choose more than one)"
        return caption


def option_labels(question: Question) -> list[tuple[str, str]]:
    """(code, label) in the survey's order; scale ends carry their words."""
    labels = []
    for option in question.options:
        label = option.label.get()
        if question.type is QuestionType.SCALE and question.low_label and question.high_label:
            if option is question.options[0]:
                label += f" ({question.low_label.get()})"
            elif option is question.options[-1]:
                label += f" ({question.high_label.get()})"
        labels.append((option.code, label))
    if question.type is QuestionType.YES_NO and not labels:
        labels = [("yes", "Yes"), ("no", "No")]
    return labels


def answer_codes(survey: Survey) -> dict[str, list[str]]:
    """The questions a view may be narrowed by, with the codes a filter may name: each
    option of a single-answer question, and "ticked:…" and "unticked:…" for each option
    of a multiple-choice one (`storage.repositories.ticked`)."""
    found = {q.id: [code for code, _label in option_labels(q)] for q in survey.questions
             if q.type in SINGLE_ANSWER}
    for q in survey.questions:
        if q.type is QuestionType.MULTIPLE_CHOICE:
            found[q.id] = [ticked_code(o.code, ticked) for o in q.options
                           for ticked in (True, False)]
    return found


def question_results(repo: DashboardRepository, survey: Survey, suppress: Suppressor,
                     where: ResponseFilter = EVERYONE, *, view: View | None = None
                     ) -> tuple[list[QuestionResult], dict[str, int]]:
    """Per-question counts (one GROUP BY per row of the view's partition), suppressed.

    Over the whole survey a question is shown in full once k people answered it, skips
    included; below k it reads "fewer than k answered" and nothing else. In a narrowed
    view the answers, skips and media of every row are suppressed together (`_rows`).
    Also returns the raw number who answered each question in the view, for the
    caller's own use (never for a template).
    """
    view = view or (whole_survey() if not where.active else View(where, {"me": where}, "me"))
    answerable = [q for q in survey.questions if q.is_answerable]
    coded = [q.id for q in answerable if q.type in CHOICE_TYPES or q.type is QuestionType.NUMBER]
    free = [q.id for q in answerable if q.type is QuestionType.FREE_TEXT]
    summaries = summaries_for(repo, survey.id, coded, free, view.rows)
    results = []
    for q in answerable:
        results.append(_question(q, summaries, view, suppress))
    return results, summaries[view.me].answered


def _split_by(view: View) -> str | None:
    """The question whose answers the view's rows are, if it is split by an answer."""
    answer = view.where.answer
    if answer is None or not view.narrowed or parse_ticked(answer[1]) is not None:
        return None  # (those who ticked one option may have ticked any other)
    return answer[0]


def _question(q: Question, summaries: Mapping[Hashable, AnswerSummary], view: View,
              suppress: Suppressor) -> QuestionResult:
    narrowed = view.narrowed
    if q.type is QuestionType.FREE_TEXT:
        counts = {key: {"written": s.answered.get(q.id, 0), SKIPPED: s.skipped.get(q.id, 0),
                        MEDIA: s.media.get(q.id, 0)} for key, s in summaries.items()}
        if not narrowed:
            n = counts[view.me]["written"]
            written = suppress.group({"written": n})["written"]
            return QuestionResult(q, "text", written, None,
                                  text_visible=suppress.text_visible(n) and not written.hidden)
        mine = _rows(suppress, view, counts)
        written = mine["written"]
        n = written.count or 0
        return QuestionResult(q, "text", written, None,
                              text_visible=not written.hidden and suppress.text_visible(n))
    if q.type is QuestionType.NUMBER:
        histograms = {key: {float(v): c for v, c in s.values.get(q.id, {}).items()
                            if isinstance(v, int | float)} for key, s in summaries.items()}
        counts = {key: {"answered": sum(h.values()), SKIPPED: summaries[key].skipped.get(q.id, 0)}
                  for key, h in histograms.items()}
        if narrowed:
            mine = _rows(suppress, view, counts)
        else:
            row = counts[view.me]
            mine = suppress.group(row, row["answered"])
        stats = number_summary(histograms[view.me]) if not mine["answered"].hidden else []
        return QuestionResult(q, "number", mine["answered"], mine[SKIPPED], summary=stats)
    labels = option_labels(q)
    if q.type is QuestionType.MULTIPLE_CHOICE:
        per_row: dict[Hashable, dict[str, int]] = {}
        answered: dict[Hashable, int] = {}
        for key, s in summaries.items():
            per_option: dict[str, int] = {code: 0 for code, _label in labels}
            for combo, count in s.values.get(q.id, {}).items():
                for code in combo if isinstance(combo, tuple) else (combo,):
                    per_option[str(code)] = per_option.get(str(code), 0) + count
            per_row[key] = per_option
            answered[key] = sum(s.values.get(q.id, {}).values())
        codes = {c for row in per_row.values() for c in row}
        labels += [(c, c) for c in sorted(codes) if c not in dict(labels)]
        for row in per_row.values():
            for code, _label in labels:
                row.setdefault(code, 0)
        breakdown = _rows(suppress, view, per_row, multiple=True, totals=answered,
                          same_question=_split_by(view) == q.id)
        return QuestionResult(q, "multiple", breakdown.total, None, bars=bars(breakdown, labels),
                              breakdown=breakdown)
    per_row = {}
    for key, s in summaries.items():
        tally = {code: 0 for code, _label in labels}
        for value, count in s.values.get(q.id, {}).items():
            tally[str(value)] = tally.get(str(value), 0) + count
        per_row[key] = tally
    codes = {c for row in per_row.values() for c in row}
    labels += [(c, c) for c in sorted(codes) if c not in dict(labels)]
    for key, row in per_row.items():
        for code, _label in labels:
            row.setdefault(code, 0)
        row[SKIPPED] = summaries[key].skipped.get(q.id, 0)
    if narrowed:
        breakdown = _rows(suppress, view, per_row, same_question=_split_by(view) == q.id)
        skipped = breakdown[SKIPPED]
        if skipped.count is not None and breakdown.total.count is not None:
            answered_cell = Cell(breakdown.total.count - skipped.count, "shown", suppress.k)
            return _choice(q, answered_cell, skipped, breakdown, labels, with_skips=False)
        return _choice(q, breakdown.total, None, breakdown, labels, with_skips=True)
    row = per_row[view.me]
    n = sum(v for code, v in row.items() if code != SKIPPED)
    breakdown = suppress.group(row, n)
    return _choice(q, breakdown.total, breakdown[SKIPPED], breakdown, labels, with_skips=False)


def _choice(q: Question, answered: Cell, skipped: Cell | None, breakdown: Breakdown[str],
            labels: list[tuple[str, str]], *, with_skips: bool) -> QuestionResult:
    """Bars over the people who answered (skips apart), as NHS England reports FFT."""
    shown = [Bar(label, breakdown[code], share(breakdown[code], answered))
             for code, label in labels]
    return QuestionResult(q, "choice", answered, skipped, bars=shown, with_skips=with_skips,
                          breakdown=breakdown)


def number_summary(histogram: Mapping[float, int]) -> list[tuple[str, str]]:
    """Average, median and quartiles from a {value: count} histogram.

    No minimum or maximum: those are one person's exact answer.
    """
    n = sum(histogram.values())
    if n == 0:
        return []
    ordered = sorted(histogram.items())
    whole = all(v.is_integer() for v, _c in ordered)

    def at(index: int) -> float:
        seen = 0
        for value, count in ordered:
            seen += count
            if index < seen:
                return value
        return ordered[-1][0]

    def quantile(p: float) -> float:
        h = (n - 1) * p
        low, high = at(math.floor(h)), at(math.ceil(h))
        return low + (h - math.floor(h)) * (high - low)

    def fmt(value: float) -> str:
        if whole and float(value).is_integer():
            return f"{int(value):,}"
        return f"{value:,.2f}"

    mean = sum(v * c for v, c in ordered) / n
    return [("Average (mean)", fmt(mean)), ("Lower quartile", fmt(quantile(0.25))),
            ("Median", fmt(quantile(0.5))), ("Upper quartile", fmt(quantile(0.75)))]


# --- how prompts look on each channel ---------------------------------------------------


@dataclass(frozen=True)
class PromptPreview:
    name: str
    sms: str
    sms_encoding: str
    sms_segments: int
    telegram_text: str
    telegram_buttons: list[str]


def _choices(question: Question, language: str) -> tuple[list[Choice], bool]:
    if question.type is QuestionType.YES_NO:
        return [Choice(f"{question.id}=yes", gettext(language, "Yes")),
                Choice(f"{question.id}=no", gettext(language, "No"))], False
    return ([Choice(f"{question.id}={o.code}", o.label.get(language)) for o in question.options],
            question.type is QuestionType.MULTIPLE_CHOICE)


def _preview(name: str, message: OutboundMessage) -> PromptPreview:
    sms = numbered(message)
    buttons = ([c.label for c in message.choices]
               if message.choices and not message.multiple
               and len(message.choices) <= TELEGRAM_MAX_BUTTONS else [])
    return PromptPreview(name, sms, encoding(sms), segments(sms),
                         message.text if buttons else sms, buttons)


def prompt_previews(survey: Survey, language: str) -> list[PromptPreview]:
    """Every message of the survey as SMS (with its parts) and as Telegram would show it."""
    previews = [
        _preview("Introduction", OutboundMessage(survey.intro.get(language))),
        _preview("Consent", OutboundMessage(survey.consent.get(language), (
            Choice("consent:yes", gettext(language, "Yes, I agree")),
            Choice("consent:no", gettext(language, "No, thank you"))))),
    ]
    for q in survey.questions:
        choices, multiple = _choices(q, language)
        previews.append(_preview(f"Question {q.id}",
                                 OutboundMessage(prompt(q, language), tuple(choices), multiple)))
    previews.append(_preview("Thank you", OutboundMessage(survey.thank_you.get(language))))
    return previews


def parse_int(value: Any, default: int) -> int:
    """A page number or id from a query string; the default if it is not a number, and a
    400 if it is too big to name anything (it would overflow the database driver)."""
    try:
        number = max(int(value), 1)
    except (TypeError, ValueError):
        return default
    if number > MAX_ID:
        abort(400)
    return number
