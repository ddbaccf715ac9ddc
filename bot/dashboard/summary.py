"""The printable summary of a survey, for the coproduction group's meeting.

One page with what the group needs on paper: who took part, responses over time, each
question's answers with % positive or the average, the themes the group tagged and the
words of people who agreed to be quoted. It follows the survey page's filters (date range,
channel, language, another question's answer: `bot.dashboard.filters`), says at the top
which group it shows, and every figure is that page's own (the same view, the same
functions, the same suppression), so the paper can never say more than the screen. The
print style sheet does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import database, signed_in
from bot.dashboard.figures import timeline
from bot.dashboard.filters import page_filters, showing
from bot.dashboard.results import funnel, question_results
from bot.dashboard.themes import free_questions, theme_cells
from bot.dashboard.views import _suppressor, _survey
from storage.repositories.dashboard import FreeTextAnswer
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
        filters = page_filters(repo, survey)
        where, view = filters.where, filters.view
        the_funnel = funnel(repo, survey, suppress, where, view=view)
        results, answered_raw = question_results(repo, survey, suppress, where, view=view)
        the_timeline = timeline(session, survey_id, suppress, view)
        questions = free_questions(survey)
        themes = repo.themes(survey_id)
        cells = theme_cells(repo, survey, suppress, view, questions, answered_raw, results)
        theme_lines: dict[str, list[ThemeLine]] = {}
        quotes: dict[str, list[FreeTextAnswer]] = {}
        for r in results:
            qid = r.question.id
            if qid not in cells or not r.text_visible:
                continue
            # Themes nobody's answer carries (a shown 0) are left out.
            lines = [ThemeLine(t.name, cells[qid][t.id]) for t in themes
                     if cells[qid][t.id].count != 0]
            # Most-used first; hidden counts (which cannot be ordered) last, by name.
            lines.sort(key=lambda line: (line.cell.count is None, -(line.cell.count or 0),
                                         line.name.lower()))
            theme_lines[qid] = lines
            quotes[qid] = quotable(session, survey_id, qid, where, limit=QUOTES)
    return render_template(
        "dashboard/summary.html", survey=survey, funnel=the_funnel, results=results,
        timeline=the_timeline, theme_lines=theme_lines, quotes=quotes, k=suppress.k,
        printed=runtime.clock(), tests=where.without_test, filters=filters,
        showing=showing(survey, where),
    )
