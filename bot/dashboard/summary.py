"""The printable summary of a survey, for the coproduction group's meeting.

One page with what the group needs on paper: who took part, responses over time, each
question's answers with % positive or the average, the themes the group tagged and the
words of people who agreed to be quoted. Every figure is the survey page's own (the same
functions, the same suppression, the whole survey without sandbox rehearsals), so the
paper can never say more than the screen. The print style sheet does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import database, signed_in
from bot.dashboard.figures import timeline
from bot.dashboard.results import funnel, question_results, whole_survey
from bot.dashboard.themes import free_questions
from bot.dashboard.views import _suppressor, _survey
from storage.repositories.dashboard import FreeTextAnswer, ResponseFilter
from storage.repositories.timeline import quotable
from surveys.suppression import Cell

#: Quotes per question on paper: enough to hear voices, few enough to read aloud.
QUOTES = 5


@dataclass(frozen=True)
class ThemeLine:
    name: str
    cell: Cell


@bp.get("/surveys/<survey_id>/summary")
@signed_in
def summary(survey_id: str) -> str:
    survey = _survey(survey_id)
    suppress = _suppressor()
    runtime = current_runtime()
    with database() as (repo, session):
        where = ResponseFilter(without_test=repo.test_responses(survey_id) > 0)
        view = whole_survey(where)
        the_funnel = funnel(repo, survey, suppress, where, view=view)
        results, answered_raw = question_results(repo, survey, suppress, where, view=view)
        the_timeline = timeline(session, survey_id, suppress, view)
        free = [q.id for q in free_questions(survey)]
        themes = repo.themes(survey_id)
        per_question = repo.theme_counts_by_question(survey_id, free, where) if free else {}
        theme_lines: dict[str, list[ThemeLine]] = {}
        quotes: dict[str, list[FreeTextAnswer]] = {}
        for r in results:
            qid = r.question.id
            if qid not in free:
                continue
            cells = suppress.multiple({t.id: per_question.get((t.id, qid), 0) for t in themes},
                                      answered_raw.get(qid, 0))
            lines = [ThemeLine(t.name, cells[t.id]) for t in themes
                     if per_question.get((t.id, qid), 0)]
            # Most-used first; hidden counts (which cannot be ordered) last, by name.
            lines.sort(key=lambda line: (line.cell.count is None, -(line.cell.count or 0),
                                         line.name.lower()))
            theme_lines[qid] = lines if r.text_visible else []
            quotes[qid] = (quotable(session, survey_id, qid, where, limit=QUOTES)
                           if r.text_visible else [])
    return render_template(
        "dashboard/summary.html", survey=survey, funnel=the_funnel, results=results,
        timeline=the_timeline, theme_lines=theme_lines, quotes=quotes, k=suppress.k,
        printed=runtime.clock(), tests=where.without_test,
    )
