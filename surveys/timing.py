"""When WithUs may start a conversation with someone: quiet hours and chosen times.

Invitations, reminders and share-backs are messages *we* start, so they must not wake a
carer at 3 a.m. They wait for the end of quiet hours (`WITHUS_QUIET_HOURS`, by default
21:00-08:00 in `WITHUS_TIMEZONE`), or, if the person said TIME or LATER and chose when
prompts should come, for that time instead. A chosen time replaces quiet hours for that
person: someone on nights who chose "night" gets prompts at night, which is the point.
Replies to a message the person has just sent never wait; nothing here applies to them.

Everything is worked out on the local wall clock, so "08:00" stays 08:00 across the
BST/GMT change: a day in spring has 23 hours and one in autumn 25, and a wall time inside
the spring-forward gap does not exist at all. This module is pure (stdlib and zoneinfo,
no clock): callers pass `now`, which must be time-zone aware.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

#: Local-time windows for the slots a person can choose with TIME or LATER. "night" suits
#: people working night shifts: from the end of the evening until early morning.
SLOT_WINDOWS: dict[str, tuple[time, time]] = {
    "morning": (time(8), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(21)),
    "night": (time(21), time(6)),
}

_QUIET = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*[-\u2013]\s*(\d{1,2})(?::(\d{2}))?\s*$")
#: How far ahead to look for the next allowed moment. Every window recurs daily, so two
#: days always suffice; the extra days cover a chosen hour that a DST change skips.
_HORIZON_DAYS = 4


@dataclass(frozen=True)
class Window:
    """Local wall-clock times [start, end); crosses midnight when end <= start."""

    start: time
    end: time

    def contains(self, wall: time) -> bool:
        if self.start < self.end:
            return self.start <= wall < self.end
        return wall >= self.start or wall < self.end


@dataclass(frozen=True)
class QuietHours:
    """When no conversation may be started, e.g. 21:00-08:00 (across midnight)."""

    start: time
    end: time

    @property
    def sending(self) -> Window:
        """The complement: when messages may start."""
        return Window(self.end, self.start)

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def parse_quiet_hours(text: str | None) -> QuietHours | None:
    """`WITHUS_QUIET_HOURS` ("21:00-08:00"); None when empty, which turns them off.

    Raises ValueError, in words an operator can act on, for anything else.
    """
    if text is None or not text.strip():
        return None
    match = _QUIET.match(text)
    problem = (
        f"WITHUS_QUIET_HOURS must look like 21:00-08:00 (or be empty to turn quiet hours "
        f"off), not {text!r}"
    )
    if match is None:
        raise ValueError(problem)
    h1, m1, h2, m2 = (int(part or 0) for part in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise ValueError(problem)
    start, end = time(h1, m1), time(h2, m2)
    if start == end:
        raise ValueError(f"WITHUS_QUIET_HOURS starts and ends at the same time ({text!r}); "
                         "leave it empty to turn quiet hours off")
    return QuietHours(start, end)


def parse_timezone(name: str) -> ZoneInfo:
    """`WITHUS_TIMEZONE` as a ZoneInfo; ValueError naming the setting if unknown."""
    try:
        return ZoneInfo(name)
    except (ValueError, LookupError):  # ZoneInfoNotFoundError is a KeyError
        raise ValueError(
            f"WITHUS_TIMEZONE {name!r} is not a known time zone (try Europe/London)"
        ) from None


def preferred_window(preferred: str | None) -> Window | None:
    """The window a person chose: a slot, or an hour "07" meaning 07:00-08:00.

    Anything unrecognised (including None) means no choice.
    """
    if not preferred:
        return None
    if preferred in SLOT_WINDOWS:
        return Window(*SLOT_WINDOWS[preferred])
    if preferred.isdigit() and 0 <= int(preferred) <= 23:
        hour = int(preferred)
        return Window(time(hour), time((hour + 1) % 24))
    return None


def sending_window(quiet_hours: QuietHours | None, preferred: str | None) -> Window | None:
    """When we may start a conversation with this person; None means at any time."""
    chosen = preferred_window(preferred)
    if chosen is not None:
        return chosen
    return quiet_hours.sending if quiet_hours is not None else None


def is_quiet(now: datetime, quiet_hours: QuietHours | None, tz: tzinfo,
             preferred: str | None = None) -> bool:
    """True when a message we start now would arrive at a time this person hasn't chosen."""
    window = sending_window(quiet_hours, preferred)
    return window is not None and not window.contains(_wall(now, tz))


def next_send_time(now: datetime, quiet_hours: QuietHours | None, tz: tzinfo,
                   preferred: str | None = None) -> datetime:
    """The earliest moment at or after `now` when we may start a conversation.

    `now` itself when it is already a good time; otherwise the next start of the person's
    chosen window or the end of quiet hours, in UTC. Across a DST change the answer is the
    first instant whose local wall time is inside the window, so a window opening at a
    wall time the clocks skip opens when they land.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("next_send_time needs an aware datetime for now")
    window = sending_window(quiet_hours, preferred)
    if window is None or window.contains(_wall(now, tz)):
        return now
    # The allowed set is entered either where the wall clock reaches the window's start,
    # or where a DST change makes it jump into the window. Try both kinds of instant.
    start = now.astimezone(UTC)
    horizon = start + timedelta(days=_HORIZON_DAYS)
    today = now.astimezone(tz).date()
    candidates = [
        instant
        for day in range(_HORIZON_DAYS + 1)
        for instant in _instants(datetime.combine(today + timedelta(days=day), window.start), tz)
    ]
    candidates += _transitions(tz, start, horizon)
    allowed = [t for t in candidates if t > start and window.contains(_wall(t, tz))]
    if not allowed:  # cannot happen for a window of at least a second; be safe anyway
        raise ValueError(f"no time in the next {_HORIZON_DAYS} days fits {window}")
    return min(allowed)


def _wall(moment: datetime, tz: tzinfo) -> time:
    return moment.astimezone(tz).time().replace(tzinfo=None)


def _instants(local: datetime, tz: tzinfo) -> list[datetime]:
    """The UTC instants whose wall time in `tz` is `local`: one, two (autumn) or none."""
    found = []
    for fold in (0, 1):
        instant = local.replace(tzinfo=tz, fold=fold).astimezone(UTC)
        if instant.astimezone(tz).replace(tzinfo=None) == local and instant not in found:
            found.append(instant)
    return found


def _transitions(tz: tzinfo, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants in (start, end] where the offset of `tz` changes (DST changes).

    Sampled hourly, then narrowed to the second by bisection: zone changes happen on
    whole seconds and are months apart, so no change is missed.
    """
    def offset(seconds: int) -> timedelta | None:
        return datetime.fromtimestamp(seconds, UTC).astimezone(tz).utcoffset()

    found = []
    before, stop = int(start.timestamp()), int(end.timestamp()) + 1
    while before < stop:
        after = min(before + 3600, stop)
        if offset(before) != offset(after):
            low, high = before, after  # offset(low) is the old one, offset(high) the new
            while high - low > 1:
                middle = (low + high) // 2
                if offset(middle) == offset(low):
                    low = middle
                else:
                    high = middle
            found.append(datetime.fromtimestamp(high, UTC))
        before = after
    return found
