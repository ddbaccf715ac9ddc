"""The MYDATA reply: what we hold about someone, as a sentence a person would write.

    You answered 6 questions in "Caring for someone" on Friday 4 December 2026, and 2 in
    "Your experience of care" from 23 to 26 November 2026.
    We hold your phone number, encrypted and kept apart from your answers.
    Reply DELETE to delete it all.

In the person's language throughout: titles, month and day names, numbers of questions
("Fe wnaethoch chi ateb 6 o gwestiynau yn "Gofalu am rywun" ddydd Gwener 4 Rhagfyr
2026"). It never repeats an answer (the phone may not be theirs alone), and it fits two
SMS segments: when it would not, the days' names go first, then long titles are
shortened, then surveys beyond the first are counted rather than named.

Pure: the service looks up what is held and passes the dates already in the
organisation's time zone; this module never reads the clock or the database.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from surveys.dates import days
from surveys.i18n import gettext as _
from surveys.sms import segments, to_gsm

#: The most surveys named in one reply, the longest title shown, and the most segments.
NAMED = 3
TITLE_CHARS = 32
MAX_SEGMENTS = 2


@dataclass(frozen=True)
class Held:
    """What is held for one survey: its title in the person's language, how many
    questions they answered, and when (first and last, in local time)."""

    title: str
    answers: int
    first: datetime
    last: datetime


def summary(held: Sequence[Held], language: str, channel: str | None = None) -> str:
    """The MYDATA reply for someone who reads `language`, reached on `channel` ("sms",
    "whatsapp", "telegram"; None when we hold no way to reach them)."""
    lines: list[str] = []
    answered = [h for h in held if h.answers]
    started = [h for h in held if not h.answers]
    contact = _contact(channel, language)
    tail = _(language, "Reply DELETE to delete it all.")
    if not held:
        return "\n".join([_(language, "We hold no answers from you."), *contact, tail])
    text = ""
    for weekday, named, short in _plainer(len(held)):
        lines = []
        if answered:
            lines.append(_answered(answered, language, weekday, named, short))
        if started:
            lines.append(_started(started, language, weekday, named, short, also=bool(answered)))
        text = "\n".join([*lines, *contact, tail])
        if segments(to_gsm(text)) <= MAX_SEGMENTS:
            break
    return text


def _plainer(count: int) -> list[tuple[bool, int, bool]]:
    """Ways of writing it, fullest first: (days' names, surveys named, short titles)."""
    most = min(NAMED, count)
    ways = [(True, most, False), (False, most, False)]
    ways += [(False, named, True) for named in range(most, 0, -1)]
    return ways


def _contact(channel: str | None, language: str) -> list[str]:
    if channel is None:
        return []
    if channel == "telegram":
        words = _(language, "your Telegram chat id")
    elif channel in ("sms", "whatsapp"):
        words = _(language, "your phone number")
    else:
        words = _(language, "your contact details")
    return [_(language, "We hold {contact}, encrypted and kept apart from your answers.",
              contact=words)]


def _answered(held: Sequence[Held], language: str, weekday: bool, named: int,
              short: bool) -> str:
    """"You answered 6 questions in "A" on ... and 2 in "B" from ... to ...": each
    survey's days after it, or once at the end when they are the same for all."""
    first, *others = held[:named]
    title = _title(first.title, short)
    if first.answers == 1:
        clauses = [_(language, "You answered 1 question in \"{title}\"", title=title)]
    else:
        clauses = [_(language, "You answered {n} questions in \"{title}\"", n=first.answers,
                     title=title)]
    clauses += [_(language, "{n} in \"{title}\"", n=h.answers, title=_title(h.title, short))
                for h in others]
    rest = held[named:]
    if rest:
        n = sum(h.answers for h in rest)
        clauses.append(_(language, "{n} in one other survey", n=n) if len(rest) == 1 else
                       _(language, "{n} in {count} other surveys", n=n, count=len(rest)))
    return _with_days(clauses, held[:named], rest, language, weekday) + "."


def _started(held: Sequence[Held], language: str, weekday: bool, named: int, short: bool,
             also: bool) -> str:
    """Surveys begun without an answer (they may have said no, or stopped at the start)."""
    clauses = [f'"{_title(h.title, short)}"' for h in held[:named]]
    rest = held[named:]
    if rest:
        clauses.append(_(language, "one other survey") if len(rest) == 1 else
                       _(language, "{count} other surveys", count=len(rest)))
    said = _with_days(clauses, held[:named], rest, language, weekday)
    if also:
        return _(language, "You also started {surveys}.", surveys=said)
    return _(language, "You started {surveys}, but answered no questions.", surveys=said)


def _with_days(clauses: list[str], named: Sequence[Held], rest: Sequence[Held],
               language: str, weekday: bool) -> str:
    """The clauses joined, each named survey's days after it; or, when every survey
    spans the same days, those days once at the end. (English and Welsh both put the
    time last: "... on Friday 4 December 2026", "... ddydd Gwener 4 Rhagfyr 2026".)"""
    spans = {(h.first.date(), h.last.date()) for h in [*named, *rest]}
    if len(spans) == 1:
        one = named[0]
        return f"{and_list(clauses, language)} {days(one.first, one.last, language, weekday)}"
    timed = [f"{clause} {days(h.first, h.last, language, weekday)}"
             for clause, h in zip(clauses, named, strict=False)]
    return and_list(timed + clauses[len(named):], language)


def _title(title: str, short: bool) -> str:
    if not short or len(title) <= TITLE_CHARS:
        return title
    return title[: TITLE_CHARS - 3].rstrip() + "..."


#: Welsh "and" is "ac" before a vowel sound: before a number read un (1, 10-19), wyth (8,
#: 80-89), or a word that starts with a vowel.
_WELSH_AC = re.compile(r"^\"?(?:1\d?\b|8\d?\b|[aeiouwyâêîôûŵŷ])", re.IGNORECASE)


def and_list(items: Sequence[str], language: str) -> str:
    """"a", "a and b", "a, b and c", in `language` (Welsh: "a, b a c", "... ac 8 yn")."""
    if len(items) <= 1:
        return "".join(items)
    last = items[-1]
    # Translators: joins the last of several items. Welsh "a": the code writes "ac" before
    # a vowel sound.
    word = _(language, "and")
    if language == "cy" and word == "a" and _WELSH_AC.match(last):
        word = "ac"
    return f"{', '.join(items[:-1])} {word} {last}"
