"""The filters a results page is narrowed by, read from the query string in one place.

The survey page, its printable summary and the cross-tab all read `from`, `to`,
`channel`, `language`, `answer` and `test` here, and build the view (the partition the
narrowed group sits in, `bot.dashboard.results.view_for`) the same way, so a page and
its printed summary show the same group with the same cells hidden. `showing` says in
plain words which group that is ("responses in Welsh started 1–31 October 2026").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

from flask import request

from bot.dashboard.results import View, answer_codes, option_labels, view_for
from bot.services.names import channel_name, language_name
from storage.repositories.dashboard import DashboardRepository, ResponseFilter
from storage.repositories.ticked import parse_ticked
from surveys.model import Survey

#: The query-string names that narrow a view (links between the pages carry these).
FILTER_ARGS = ("from", "to", "channel", "language", "answer", "test")


@dataclass(frozen=True)
class PageFilters:
    where: ResponseFilter
    view: View
    #: What was wrong with the query (a date that is not a date), for the page to say.
    problems: list[str]
    channels: list[str]
    languages: list[str]
    #: How many test responses (sandbox rehearsals) the survey has.
    tests: int
    include_test: bool
    #: The filter's own query-string values, for links that keep the same view.
    args: dict[str, str]


def chosen_answer(raw: str, codes: dict[str, list[str]]) -> tuple[str, str] | None:
    """The `answer=QUESTION:CODE` filter, if it names a single-answer question's option."""
    qid, _sep, code = raw.partition(":")
    if qid in codes and code in codes[qid]:
        return qid, code
    return None


def described(survey: Survey, answer: tuple[str, str] | None) -> str:
    """Who the answer filter picks out, for the page to say what it shows: "answered “In
    a care home” to “Where do you mostly work?”", "ticked “Breaks or respite” in “Which
    of these help you most?”", "answered “Which of these…” without ticking “Breaks…”"."""
    if answer is None:
        return ""
    question = survey.question(answer[0])
    assert question is not None
    labels = dict(option_labels(question))
    text = question.text.get()
    option = parse_ticked(answer[1])
    if option is not None:
        label = labels.get(option[0], option[0])
        if option[1]:
            return f"ticked \u201c{label}\u201d in \u201c{text}\u201d"
        return f"answered \u201c{text}\u201d without ticking \u201c{label}\u201d"
    label = labels.get(answer[1], answer[1])
    return f"answered \u201c{label}\u201d to \u201c{text}\u201d"


def filter_args(args: Mapping[str, str]) -> dict[str, str]:
    """The filters among a query string's values (empty ones dropped)."""
    return {name: args[name] for name in FILTER_ARGS if args.get(name)}


def page_filters(repo: DashboardRepository, survey: Survey, *,
                 by_answer: bool = True) -> PageFilters:
    """The request's filters and the view they make (`by_answer=False`: the answer filter
    is not one this page offers, and is ignored)."""
    channels, languages = repo.choices_in_use(survey.id)
    codes = answer_codes(survey)
    problems: list[str] = []

    def day(name: str) -> date | None:
        raw = request.args.get(name, "").strip()
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            problems.append(f"'{raw}' is not a date; use the date picker or YYYY-MM-DD.")
            return None

    channel = request.args.get("channel") or None
    language = request.args.get("language") or None
    answer = chosen_answer(request.args.get("answer", ""), codes) if by_answer else None
    # Rehearsals in the sandbox are left out of every figure unless asked for.
    tests = repo.test_responses(survey.id)
    include_test = request.args.get("test") == "include"
    where = ResponseFilter(
        date_from=day("from"), date_to=day("to"),
        channel=channel if channel in channels else None,
        language=language if language in languages else None,
        answer=answer, without_test=bool(tests) and not include_test,
    )
    view = view_for(where, channels, languages, codes[answer[0]] if answer else ())
    args = filter_args(request.args)
    if not by_answer:
        args.pop("answer", None)
    return PageFilters(where, view, problems, channels, languages, tests, include_test, args)


def narrowed(where: ResponseFilter) -> bool:
    """Does the filter pick out a group (rather than the whole survey)?"""
    return bool(replace(where, without_test=False).active)


def _day(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _dates(start: date | None, end: date | None) -> str:
    if start and end:
        if start == end:
            return f"started on {_day(start)}"
        if (start.year, start.month) == (end.year, end.month):
            return f"started {start.day}\u2013{end.day} {end:%B %Y}"
        if start.year == end.year:
            return f"started {start.day} {start:%B}\u2013{_day(end)}"
        return f"started {_day(start)}\u2013{_day(end)}"
    if start:
        return f"started on or after {_day(start)}"
    if end:
        return f"started on or before {_day(end)}"
    return ""


def showing(survey: Survey, where: ResponseFilter) -> str:
    """The group a view shows, in words: "responses on WhatsApp in Welsh started 1–31
    October 2026, from people who answered “Yes” to “Do you have a carer's
    assessment?”", or "every response"."""
    if not narrowed(where):
        return "every response"
    words = ["responses"]
    if where.channel:
        words.append(f"on {channel_name(where.channel)}")
    if where.language:
        words.append(f"in {language_name(where.language)}")
    dates = _dates(where.date_from, where.date_to)
    if dates:
        words.append(dates)
    sentence = " ".join(words)
    if where.answer:
        sentence += f", from people who {described(survey, where.answer)}"
    return sentence
