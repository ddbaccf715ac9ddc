"""The figures beside a question's counts, and responses over time, for the survey page
and the printable summary.

% positive and the scale averages come from the `Cell`s `results.py` already made (no
query of their own), through `surveys.figures`, so they are shown only where the counts
they are made of are shown. Responses over time is one GROUP BY per row of the view's
partition (`storage.repositories.timeline`), suppressed like a question that everyone who
agreed to take part answered: in full over the whole survey once k or more agreed, and
through the view's table in a narrowed view (docs/privacy.md, *Responses over time*).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, fields

from sqlalchemy.orm import Session

from bot.dashboard import bp
from bot.dashboard.results import QuestionResult, View, _rows, option_labels
from storage.repositories.by_answer import days_for
from storage.repositories.dashboard import ResponseFilter
from storage.repositories.timeline import responses_by_day_and_group, split_by_day
from surveys.figures import (
    Bucket,
    Positive,
    ScaleSummary,
    Step,
    bucket_counts,
    buckets,
    fft_positive,
    is_fft_scale,
    scale_summary,
    step_for,
)
from surveys.model import QuestionType
from surveys.suppression import Cell, Suppressor


@dataclass(frozen=True)
class QuestionFigures:
    positive: Positive | None = None
    scale: ScaleSummary | None = None

    def __bool__(self) -> bool:
        return self.positive is not None or self.scale is not None


@bp.app_template_global("figures_for")
def figures_for(result: QuestionResult) -> QuestionFigures:
    """% positive for an FFT-scale question, mean and median for a scale; none when the
    question's counts are not all there to make them from."""
    q = result.question
    if result.kind != "choice" or result.answered.hidden or result.with_skips:
        return QuestionFigures()
    if not (q.type is QuestionType.SCALE or is_fft_scale(q)):
        return QuestionFigures()
    labels = option_labels(q)
    if len(result.bars) < len(labels):
        return QuestionFigures()
    cells: dict[str, Cell] = {}
    for (code, label), bar in zip(labels, result.bars, strict=False):
        if bar.label != label:
            return QuestionFigures()  # not the bars this was written for: say nothing
        cells[code] = bar.cell
    for bar in result.bars[len(labels):]:
        cells[bar.label] = bar.cell  # answers outside the survey's options, by code
    if is_fft_scale(q):
        return QuestionFigures(positive=fft_positive(cells, result.answered))
    return QuestionFigures(scale=scale_summary(q, cells, result.answered))


# --- responses over time ----------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    bucket: Bucket
    cell: Cell


@dataclass(frozen=True)
class Timeline:
    """People who agreed to take part, by the day (week, month) they started."""

    step: Step
    columns: list[Column]
    total: Cell

    @property
    def shown(self) -> bool:
        return bool(self.columns) and not self.total.hidden

    @property
    def drawn(self) -> bool:
        """Is there a chart to draw? Not for one day alone (the sentence says it all)."""
        return self.shown and len(self.columns) > 1 and self.peak > 0

    @property
    def peak(self) -> int:
        return max((c.cell.count or 0 for c in self.columns), default=0)

    @property
    def peak_text(self) -> str:
        """The peak as people read it: "3,289"."""
        return f"{self.peak:,}"

    @property
    def unit(self) -> str:
        return {"day": "day", "week": "week", "month": "month"}[self.step]

    @property
    def sentence(self) -> str:
        """The chart in words (its text alternative, beside the table)."""
        if not self.columns:
            return "Nobody has agreed to take part yet."
        first, last = self.columns[0].bucket, self.columns[-1].bucket
        span = (f"on {first.start:%-d %B %Y}" if first.start == last.end
                else f"between {first.start:%-d %B %Y} and {last.end:%-d %B %Y}")
        if self.total.reason == "small":
            return (f"Fewer than {self.total.k} people agreed to take part {span}, so "
                    "the chart is not shown.")
        if self.total.hidden:
            return ("Hidden in this view: the groups it is split into, day by day, are too "
                    "small to show apart.")
        by = f", shown a {self.unit} at a time" if len(self.columns) > 1 else ""
        words = (f"{self.total} {'person' if self.total.count == 1 else 'people'} agreed "
                 f"to take part {span}{by}.")
        shown = [c for c in self.columns if c.cell.count is not None]
        if shown and self.peak and len(self.columns) > 1:
            busiest = [c for c in shown if c.cell.count == self.peak]
            when = ", ".join(c.bucket.label for c in busiest[:3])
            more = " and others" if len(busiest) > 3 else ""
            hidden = any(c.cell.hidden for c in self.columns)
            shown_word = " shown" if hidden else ""
            words += (f" The most in one {self.unit}{shown_word}: {self.peak_text} "
                      f"({when}{more}).")
        if any(c.cell.hidden for c in self.columns):
            words += " Some are hidden in this view, to protect small groups."
        return words

    def bars(self, width: float = 100.0, height: float = 40.0) -> list[tuple[float, float,
                                                                             float, Column]]:
        """(x, y, bar width, column) for the SVG; a hidden column gets no bar."""
        n = len(self.columns)
        if not n or not self.peak:
            return []
        step = width / n
        gap = step * 0.15 if n > 1 else 0
        found = []
        for i, column in enumerate(self.columns):
            count = column.cell.count or 0
            h = height * count / self.peak
            found.append((i * step + gap / 2, height - h, step - gap, column))
        return found

    def ticks(self) -> list[tuple[float, str, bool]]:
        """Up to about six labels along the bottom (x as % of the width), every other one
        "minor" (left out at phone width, where six would overlap)."""
        n = len(self.columns)
        if not n:
            return []
        every = max(1, round(n / 6))
        picked = [i for i in range(n) if i % every == 0]
        return [(100 * (i + 0.5) / n, self.columns[i].bucket.label, j % 2 == 1)
                for j, i in enumerate(picked)]


#: What `split_by_day` can narrow by, from one query's groups.
SPLITTABLE = frozenset({"date_from", "date_to", "channel", "language", "without_test"})


def _by_channel_language_dates(where: ResponseFilter) -> bool:
    return not any(getattr(where, f.name) for f in fields(where) if f.name not in SPLITTABLE)


def timeline(session: Session, survey_id: str, suppress: Suppressor, view: View) -> Timeline:
    """Responses over time for the view, by the threat model of a question: see the module."""
    if all(_by_channel_language_dates(rows) for rows in view.rows.values()):
        # One query for the whole partition (test responses left out if the view does).
        rows = view.rows.values()
        groups = responses_by_day_and_group(
            session, survey_id, ResponseFilter(without_test=view.where.without_test),
            by_channel=any(r.channel for r in rows), by_language=any(r.language for r in rows))
        raw = {key: split_by_day(groups, rows) for key, rows in view.rows.items()}
    else:  # split by another answer: one grouped query per split (by_answer.py)
        raw = days_for(session, survey_id, view.rows)
    days = [day for per_day in raw.values() for day in per_day]
    if not days:
        return Timeline("day", [], Cell(0, "shown", suppress.k))
    # The span is the whole partition's (the whole survey's, public on its own page),
    # cut to the view's dates: a group's own first and last days are not shown.
    first, last = min(days), max(days)
    where = view.where
    if where.date_from:
        first = max(first, where.date_from)
    if where.date_to:
        last = min(last, where.date_to)
    if last < first:
        return Timeline("day", [], Cell(0, "shown", suppress.k))
    step = step_for(first, last)
    spans = buckets(first, last, step)
    counts: dict[Hashable, dict[str, int]] = {
        key: bucket_counts(per_day, spans) for key, per_day in raw.items()}
    if view.narrowed:
        # Days outside a date range are the "before" and "after" rows' (never shown), so
        # that every row of the table holds all its people.
        for key, row in counts.items():
            row["outside"] = sum(n for day, n in raw[key].items() if not first <= day <= last)
    breakdown = _rows(suppress, view, counts)
    # The view's own people all started inside the span, so its "outside" cell is 0 and
    # its total is the sum of its columns.
    return Timeline(step, [Column(span, breakdown[span.key]) for span in spans],
                    breakdown.total)
