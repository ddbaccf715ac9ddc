"""Turn the repository's raw counts into what the pages show, suppressed.

This is the only module between the database's numbers and the templates, and it hands
the templates `Cell`s, never raw integers: a count cannot reach a page without passing
through `surveys.suppression`. The funnel is one partition (every response started is
in exactly one cell), used by both the surveys list and the survey page, so that the two
pages can never show different halves of the same secret.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from flask import abort

from channels.base import Choice, OutboundMessage, numbered
from channels.smstext import encoding, segments
from storage.repositories.dashboard import (
    EVERYONE,
    STOPPED_BEFORE_ANY,
    DashboardRepository,
    ResponseFilter,
)
from storage.types import MAX_ID
from surveys.engine import prompt
from surveys.i18n import gettext
from surveys.model import CHOICE_TYPES, Question, QuestionType, Survey
from surveys.suppression import Breakdown, Cell, Suppressor

CHANNEL_NAMES = {"sms": "SMS", "whatsapp": "WhatsApp", "telegram": "Telegram",
                 "web": "Web simulator", "console": "Terminal"}
TELEGRAM_MAX_BUTTONS = 8
#: The cell for skips beside a question's answers (option codes never contain spaces).
SKIPPED = "skipped it"


def channel_name(channel: str) -> str:
    return CHANNEL_NAMES.get(channel, channel)


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
    started: Cell
    consented: Cell
    completed: Cell
    invited: Cell | None
    steps: list[Bar]

    @property
    def completion(self) -> str:
        if self.completed.count is None or not self.started.count:
            return ""
        return f"{round(100 * self.completed.count / self.started.count)}%"


def funnel(repo: DashboardRepository, survey: Survey, suppress: Suppressor,
           where: ResponseFilter = EVERYONE, *, with_invited: bool = True) -> Funnel:
    """Invited, started, consented, completed, and where the others stopped."""
    answerable = [q for q in survey.questions if q.is_answerable]
    raw = repo.funnel(survey.id, [q.id for q in answerable], where)
    breakdown = suppress.partition(raw)
    labels = [("not_consented", "Did not agree to take part"),
              (STOPPED_BEFORE_ANY, "Agreed, then stopped before the first answer")]
    labels += [(q.id, f"Stopped after: {q.text.get()}") for q in answerable]
    labels.append(("completed", "Completed"))
    consented_keys = [key for key in raw if key != "not_consented"]
    invited = None
    if with_invited and not where.language:  # invitations have no language
        invited = suppress.count(repo.invited(survey.id, where))
    return Funnel(
        started=breakdown.total,
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
    counts = repo.survey_counts()
    rows = []
    for survey in surveys:
        by_channel = counts[survey.id].by_channel if survey.id in counts else {}
        channel_split = suppress.partition(by_channel)
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
    answered: Cell
    #: Shown only where it is protected with the answers (in the same partition).
    skipped: Cell | None
    bars: list[Bar] = field(default_factory=list)
    summary: list[tuple[str, str]] = field(default_factory=list)
    text_visible: bool = False

    @property
    def title(self) -> str:
        return self.question.text.get()


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
    return labels


def question_results(repo: DashboardRepository, survey: Survey, suppress: Suppressor,
                     where: ResponseFilter = EVERYONE
                     ) -> tuple[list[QuestionResult], dict[str, int]]:
    """Per-question counts (one GROUP BY for all questions), suppressed.

    Skips are shown only where they sit in one partition with the answers (choice and
    number questions): "answered or skipped" is about how many got that far, which the
    funnel gives away, so a lone small skip count could be subtracted out. Free-text
    questions list their answers, so their count is public and their skips are not shown.
    Also returns the raw number who answered each question, for the caller's own use
    (never for a template).
    """
    answerable = [q for q in survey.questions if q.is_answerable]
    coded = [q.id for q in answerable if q.type in CHOICE_TYPES or q.type is QuestionType.NUMBER]
    free = [q.id for q in answerable if q.type is QuestionType.FREE_TEXT]
    summary = repo.answer_summary(survey.id, coded, free, where)
    values, skipped, free_counts = summary.values, summary.skipped, summary.answered
    results = []
    for q in answerable:
        skips = skipped.get(q.id, 0)
        if q.type is QuestionType.FREE_TEXT:
            n = free_counts.get(q.id, 0)
            results.append(QuestionResult(q, "text", suppress.count(n), None,
                                          text_visible=suppress.text_visible(n)))
        elif q.type is QuestionType.NUMBER:
            histogram = {float(v): c for v, c in values.get(q.id, {}).items()
                         if isinstance(v, int | float)}
            n = sum(histogram.values())
            pair = suppress.partition({"answered": n, SKIPPED: skips})
            stats = number_summary(histogram) if not pair["answered"].hidden else []
            results.append(QuestionResult(q, "number", pair["answered"], pair[SKIPPED],
                                          summary=stats))
        elif q.type is QuestionType.MULTIPLE_CHOICE:
            combos = values.get(q.id, {})
            per_option: dict[str, int] = {code: 0 for code, _label in option_labels(q)}
            for combo, count in combos.items():
                for code in combo if isinstance(combo, tuple) else (combo,):
                    per_option[str(code)] = per_option.get(str(code), 0) + count
            answered = sum(combos.values())
            breakdown = suppress.multiple(per_option, answered)
            labels = option_labels(q) + [(c, c) for c in per_option
                                         if c not in dict(option_labels(q))]
            results.append(QuestionResult(q, "multiple", breakdown.total, None,
                                          bars=bars(breakdown, labels)))
        else:
            counts: dict[str, int] = {code: 0 for code, _label in option_labels(q)}
            for value, count in values.get(q.id, {}).items():
                counts[str(value)] = counts.get(str(value), 0) + count
            labels = option_labels(q) + [(c, c) for c in counts if c not in dict(option_labels(q))]
            if skips or q.optional:
                counts[SKIPPED] = skips
                labels.append((SKIPPED, "Skipped"))
            breakdown = suppress.partition(counts)
            results.append(QuestionResult(q, "choice", breakdown.total, None,
                                          bars=bars(breakdown, labels)))
    return results, summary.answered


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
