"""Dates as people write them, in the person's language: "Friday 4 December 2026",
"ddydd Gwener 4 Rhagfyr 2026", "from 23 to 26 November 2026", "o 23 i 26 Tachwedd 2026".

Pure: these format the datetimes they are given (already in the organisation's time
zone, see `WITHUS_TIMEZONE`) and never read the clock.
"""

from __future__ import annotations

from datetime import datetime

from surveys.i18n import gettext as _


def t(message: str) -> str:
    """Mark a message for translation where it is defined (Babel extracts `t(...)`)."""
    return message


MONTHS = (t("January"), t("February"), t("March"), t("April"), t("May"), t("June"),
          t("July"), t("August"), t("September"), t("October"), t("November"), t("December"))
#: "on Friday", as one message: Welsh says "ddydd Gwener", and the day's name alone would
#: be ambiguous to translate (Welsh Tuesday and March are both "Mawrth").
ON_DAYS = (t("on Monday"), t("on Tuesday"), t("on Wednesday"), t("on Thursday"),
           t("on Friday"), t("on Saturday"), t("on Sunday"))


def long_date(moment: datetime, language: str) -> str:
    """A date as people write it, e.g. "26 November 2026" or "26 Tachwedd 2026"."""
    return f"{moment.day} {_month(moment, language)} {moment.year}"


def on_day(moment: datetime, language: str, weekday: bool = True) -> str:
    """"on Friday 4 December 2026" ("ddydd Gwener 4 Rhagfyr 2026"), or without the
    day's name, "on 4 December 2026" ("ar 4 Rhagfyr 2026")."""
    if weekday:
        return f"{_(language, ON_DAYS[moment.weekday()])} {long_date(moment, language)}"
    return _(language, "on {date}", date=long_date(moment, language))


def days(first: datetime, last: datetime, language: str, weekday: bool = True) -> str:
    """When something happened, on one day or over several: "on Friday 4 December 2026",
    "from 23 to 26 November 2026", "from 30 November to 4 December 2026", "from 30
    December 2025 to 2 January 2026". Only what differs is repeated."""
    if first.date() == last.date():
        return on_day(first, language, weekday)
    if (first.year, first.month) == (last.year, last.month):
        start = str(first.day)
    elif first.year == last.year:
        start = f"{first.day} {_month(first, language)}"
    else:
        start = long_date(first, language)
    return _(language, "from {first} to {last}", first=start, last=long_date(last, language))


def _month(moment: datetime, language: str) -> str:
    return _(language, MONTHS[moment.month - 1])
