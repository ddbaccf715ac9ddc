"""The figures people expect beside the counts: % positive, averages, responses over time.

Every figure here is worked out from `Cell`s that suppression has already passed, never
from raw counts: where a figure would need a hidden cell, there is no figure. So nothing
here can tell a reader more than the counts on the same page already do (docs/privacy.md,
*Small numbers*), and the differencing test checks that it doesn't.

Pure standard library, and no clock: the caller says what the time span is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from surveys.model import Question, QuestionType
from surveys.suppression import Cell

#: The NHS Friends and Family Test's answer codes, best first, as in surveys/library/fft.yaml.
FFT_POSITIVE = ("very_good", "good")
FFT_NEGATIVE = ("poor", "very_poor")
FFT_CODES = frozenset({*FFT_POSITIVE, "neither", *FFT_NEGATIVE, "dont_know"})


def is_fft_scale(question: Question) -> bool:
    """Does this question use the FFT's answer scale (Very good … Very poor, Don't know)?

    Known by its option codes, so a translated or reworded FFT question still counts.
    "Don't know" may be left out; any other option makes it a different scale.
    """
    codes = {option.code for option in question.options}
    return (question.type is QuestionType.SINGLE_CHOICE
            and codes >= {*FFT_POSITIVE, "neither", *FFT_NEGATIVE} and codes <= FFT_CODES)


def public_sum(cells: Mapping[str, Cell], chosen: Sequence[str], total: Cell) -> int | None:
    """The sum of some cells of a single-choice question, or None if it is not public.

    Public when every chosen cell is shown, or when the total and every other cell are.
    `cells` are the answers only (no skips): their sum is `total`.
    """
    inside = [cells[code] for code in chosen if code in cells]
    if all(cell.count is not None for cell in inside):
        return sum(cell.count or 0 for cell in inside)
    outside = [cell for code, cell in cells.items() if code not in chosen]
    if total.count is not None and all(cell.count is not None for cell in outside):
        return total.count - sum(cell.count or 0 for cell in outside)
    return None


@dataclass(frozen=True)
class Positive:
    """The FFT's headline: % positive and % negative of everyone who answered."""

    positive: float
    negative: float
    answered: int

    @property
    def positive_percent(self) -> str:
        return f"{round(self.positive * 100)}%"

    @property
    def negative_percent(self) -> str:
        return f"{round(self.negative * 100)}%"


def fft_positive(cells: Mapping[str, Cell], answered: Cell) -> Positive | None:
    """% positive as NHS England publishes it: (Very good + Good) over every answer,
    "Don't know" and "Neither" included, skips not. None unless it can be shown: the
    answers are shown (k or more answered) and both sums are public."""
    if answered.count is None or answered.count == 0:
        return None
    good = public_sum(cells, FFT_POSITIVE, answered)
    poor = public_sum(cells, FFT_NEGATIVE, answered)
    if good is None or poor is None:
        return None
    return Positive(good / answered.count, poor / answered.count, answered.count)


@dataclass(frozen=True)
class ScaleSummary:
    """The average and median of a scale's answers (min and max from the survey)."""

    mean: float
    median: float
    low: int
    high: int
    answered: int

    @property
    def mean_text(self) -> str:
        return f"{self.mean:.1f}"

    @property
    def median_text(self) -> str:
        return f"{self.median:g}"


def scale_summary(question: Question, cells: Mapping[str, Cell],
                  answered: Cell) -> ScaleSummary | None:
    """Mean and median of a scale question, only when every point's count is shown.

    A mean is a weighted sum of the counts, so with one count hidden it would be an
    equation a reader could solve for that count: no hidden cell, no mean.
    """
    if question.type is not QuestionType.SCALE or answered.count in (None, 0):
        return None
    points: list[tuple[int, int]] = []
    for option in question.options:
        cell = cells.get(option.code)
        if cell is None or cell.count is None:
            return None
        points.append((int(option.code), cell.count))
    n = sum(count for _value, count in points)
    if n == 0 or n != answered.count:
        return None
    mean = sum(value * count for value, count in points) / n

    def at(index: int) -> int:
        seen = 0
        for value, count in points:
            seen += count
            if index < seen:
                return value
        return points[-1][0]

    median = (at((n - 1) // 2) + at(n // 2)) / 2
    return ScaleSummary(mean, median, points[0][0], points[-1][0], n)


# --- responses over time ----------------------------------------------------------------

Step = Literal["day", "week", "month"]
#: Up to this many days are shown a day at a time; up to `WEEKS_UP_TO` a week at a time.
DAYS_UP_TO = 31
WEEKS_UP_TO = 7 * 40


@dataclass(frozen=True)
class Bucket:
    """One span of the timeline: its first and last day and its label."""

    start: date
    end: date
    label: str
    key: str


def step_for(first: date, last: date) -> Step:
    """A day at a time for a month or less, weeks up to about nine months, then months."""
    span = (last - first).days + 1
    if span <= DAYS_UP_TO:
        return "day"
    if span <= WEEKS_UP_TO:
        return "week"
    return "month"


def buckets(first: date, last: date, step: Step | None = None) -> list[Bucket]:
    """Every span from `first` to `last`, empty ones included (a gap is a finding too).

    Weeks start on Monday; months on the 1st.
    """
    if last < first:
        first, last = last, first
    step = step or step_for(first, last)
    found = []
    if step == "day":
        day = first
        while day <= last:
            found.append(Bucket(day, day, f"{day.day} {day:%b}", day.isoformat()))
            day += timedelta(days=1)
    elif step == "week":
        monday = first - timedelta(days=first.weekday())
        while monday <= last:
            found.append(Bucket(monday, monday + timedelta(days=6),
                                f"w/c {monday.day} {monday:%b}", monday.isoformat()))
            monday += timedelta(days=7)
    else:
        month = first.replace(day=1)
        while month <= last:
            following = (month + timedelta(days=32)).replace(day=1)
            found.append(Bucket(month, following - timedelta(days=1), f"{month:%b %Y}",
                                month.isoformat()))
            month = following
    return found


def bucket_counts(per_day: Mapping[date, int], spans: Sequence[Bucket]) -> dict[str, int]:
    """Add daily counts up into the spans (keyed by `Bucket.key`)."""
    totals = {span.key: 0 for span in spans}
    for day, count in per_day.items():
        for span in spans:
            if span.start <= day <= span.end:
                totals[span.key] += count
                break
    return totals
