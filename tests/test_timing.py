"""Quiet hours and chosen times: across midnight, across the BST/GMT change, and for nights."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from surveys.timing import (
    QuietHours,
    is_quiet,
    next_send_time,
    parse_quiet_hours,
    parse_timezone,
    preferred_window,
    sending_window,
)

LONDON = ZoneInfo("Europe/London")
DEFAULT = QuietHours(time(21), time(8))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


# --- configuration ----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("21:00-08:00", DEFAULT),
    (" 21:00 - 08:00 ", DEFAULT),
    ("21:00\u201308:00", DEFAULT),  # an en dash, as people type it in documents
    ("21-8", DEFAULT),
    ("22:30-07:15", QuietHours(time(22, 30), time(7, 15))),
    ("", None),
    ("   ", None),
    (None, None),
])
def test_quiet_hours_are_read_from_the_setting(text: str | None,
                                               expected: QuietHours | None) -> None:
    assert parse_quiet_hours(text) == expected


@pytest.mark.parametrize("text", ["9pm-8am", "21:00", "25:00-08:00", "21:60-08:00",
                                  "08:00-08:00", "21:00-08:00-09:00"])
def test_bad_quiet_hours_are_refused_with_the_setting_named(text: str) -> None:
    with pytest.raises(ValueError, match="WITHUS_QUIET_HOURS"):
        parse_quiet_hours(text)


def test_an_unknown_time_zone_is_refused_with_the_setting_named() -> None:
    assert parse_timezone("Europe/London") == LONDON
    with pytest.raises(ValueError, match="WITHUS_TIMEZONE 'Europe/Londn'"):
        parse_timezone("Europe/Londn")


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_send_time(datetime(2026, 11, 23, 22), DEFAULT, LONDON)


# --- quiet hours across midnight ----------------------------------------------------------


@pytest.mark.parametrize(("now", "expected"), [
    (utc(2026, 11, 23, 14, 0), utc(2026, 11, 23, 14, 0)),  # afternoon: at once
    (utc(2026, 11, 23, 20, 59, 59), utc(2026, 11, 23, 20, 59, 59)),  # just before 21:00
    (utc(2026, 11, 23, 21, 0), utc(2026, 11, 24, 8, 0)),  # 21:00 is quiet: next morning
    (utc(2026, 11, 23, 23, 30), utc(2026, 11, 24, 8, 0)),  # across midnight
    (utc(2026, 11, 24, 3, 0), utc(2026, 11, 24, 8, 0)),  # after midnight: same morning
    (utc(2026, 11, 24, 7, 59, 59), utc(2026, 11, 24, 8, 0)),
    (utc(2026, 11, 24, 8, 0), utc(2026, 11, 24, 8, 0)),  # 08:00 is no longer quiet
])
def test_quiet_hours_cross_midnight_in_winter(now: datetime, expected: datetime) -> None:
    assert next_send_time(now, DEFAULT, LONDON) == expected
    assert is_quiet(now, DEFAULT, LONDON) == (expected != now)


def test_in_summer_quiet_hours_follow_the_london_clock_not_utc() -> None:
    # 21:00 BST is 20:00 UTC; 08:00 BST is 07:00 UTC.
    assert next_send_time(utc(2026, 7, 1, 19, 59), DEFAULT, LONDON) == utc(2026, 7, 1, 19, 59)
    assert next_send_time(utc(2026, 7, 1, 20, 0), DEFAULT, LONDON) == utc(2026, 7, 2, 7, 0)


def test_a_quiet_night_when_the_clocks_go_forward_is_an_hour_shorter() -> None:
    # Sunday 29 March 2026: at 01:00 GMT the clocks go forward to 02:00 BST.
    evening = london(2026, 3, 28, 22, 0)  # Saturday, GMT
    morning = next_send_time(evening, DEFAULT, LONDON)
    assert morning.astimezone(LONDON) == london(2026, 3, 29, 8, 0)
    assert morning == utc(2026, 3, 29, 7, 0)
    assert morning - evening == timedelta(hours=9)  # not 10


def test_a_quiet_night_when_the_clocks_go_back_is_an_hour_longer() -> None:
    # Sunday 25 October 2026: at 02:00 BST the clocks go back to 01:00 GMT.
    evening = london(2026, 10, 24, 22, 0)  # Saturday, BST
    morning = next_send_time(evening, DEFAULT, LONDON)
    assert morning.astimezone(LONDON) == london(2026, 10, 25, 8, 0)
    assert morning == utc(2026, 10, 25, 8, 0)
    assert morning - evening == timedelta(hours=11)  # not 10


def test_quiet_hours_ending_inside_the_skipped_hour_end_when_the_clocks_land() -> None:
    # 00:00-01:30 quiet; on 29 March 01:30 never happens: sending resumes at 02:00 BST.
    quiet = QuietHours(time(0), time(1, 30))
    resumed = next_send_time(utc(2026, 3, 29, 0, 10), quiet, LONDON)
    assert resumed == utc(2026, 3, 29, 1, 0)
    assert resumed.astimezone(LONDON).time() == time(2, 0)


def test_quiet_hours_ending_inside_the_repeated_hour_end_when_the_clock_turns_back() -> None:
    # 01:30-07:00 quiet; at 01:45 BST (00:45 UTC) it is quiet, but at 01:00 UTC the clock
    # reads 01:00 GMT, before quiet hours begin, so sending may resume then.
    quiet = QuietHours(time(1, 30), time(7))
    assert next_send_time(utc(2026, 10, 25, 0, 45), quiet, LONDON) == utc(2026, 10, 25, 1, 0)


def test_empty_quiet_hours_mean_any_time() -> None:
    night = utc(2026, 11, 24, 3, 0)
    assert next_send_time(night, parse_quiet_hours(""), LONDON) == night
    assert not is_quiet(night, None, LONDON)


# --- times people choose ------------------------------------------------------------------


def test_someone_who_chose_night_hears_from_us_at_night_and_not_by_day() -> None:
    assert next_send_time(utc(2026, 11, 23, 14, 0), DEFAULT, LONDON, "night") == (
        utc(2026, 11, 23, 21, 0)
    )
    # 03:00 is quiet for everyone else, but right for them.
    assert next_send_time(utc(2026, 11, 24, 3, 0), DEFAULT, LONDON, "night") == (
        utc(2026, 11, 24, 3, 0)
    )
    # Their night is over at 06:00: wait until the evening.
    assert next_send_time(utc(2026, 11, 24, 6, 0), DEFAULT, LONDON, "night") == (
        utc(2026, 11, 24, 21, 0)
    )
    assert is_quiet(utc(2026, 11, 23, 14, 0), DEFAULT, LONDON, "night")
    assert not is_quiet(utc(2026, 11, 24, 3, 0), DEFAULT, LONDON, "night")


@pytest.mark.parametrize(("preferred", "expected_local"), [
    ("morning", london(2026, 11, 24, 8, 0)),
    ("afternoon", london(2026, 11, 24, 12, 0)),
    ("evening", london(2026, 11, 24, 17, 0)),
    ("night", london(2026, 11, 23, 21, 30)),  # now: quiet for others, not for them
    ("07", london(2026, 11, 24, 7, 0)),  # an hour inside quiet hours: they asked for it
    ("23", london(2026, 11, 23, 23, 0)),
])
def test_each_chosen_time_is_honoured(preferred: str, expected_local: datetime) -> None:
    late_evening = london(2026, 11, 23, 21, 30)
    assert next_send_time(late_evening, DEFAULT, LONDON, preferred) == expected_local


def test_a_chosen_hour_runs_for_that_hour() -> None:
    assert next_send_time(london(2026, 11, 24, 7, 59), DEFAULT, LONDON, "07") == (
        london(2026, 11, 24, 7, 59)
    )
    assert next_send_time(london(2026, 11, 24, 8, 0), DEFAULT, LONDON, "07") == (
        london(2026, 11, 25, 7, 0)
    )


def test_a_chosen_hour_the_clocks_skip_moves_to_the_next_day() -> None:
    # 01:00-02:00 does not exist on 29 March 2026 in London.
    assert next_send_time(london(2026, 3, 28, 22, 0), DEFAULT, LONDON, "01") == (
        london(2026, 3, 30, 1, 0)
    )


def test_a_chosen_hour_the_clocks_repeat_comes_at_its_first_occurrence() -> None:
    first = next_send_time(london(2026, 10, 24, 22, 0), DEFAULT, LONDON, "01")
    assert first == utc(2026, 10, 25, 0, 0)  # 01:00 BST, not 01:00 GMT an hour later


def test_unknown_choices_fall_back_to_quiet_hours() -> None:
    assert preferred_window("brunch") is None
    assert preferred_window("24") is None
    assert sending_window(DEFAULT, None) == DEFAULT.sending
    assert sending_window(None, None) is None


# --- the rule, checked against brute force ---------------------------------------------------

ZONES = ["Europe/London", "America/New_York", "Australia/Sydney", "UTC"]
CHOICES = [None, "morning", "afternoon", "evening", "night", "00", "01", "02", "07", "23"]


@settings(max_examples=150, deadline=None)
@given(
    moment=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                        timezones=st.just(UTC)),
    zone=st.sampled_from(ZONES),
    preferred=st.sampled_from(CHOICES),
    quiet=st.sampled_from(["21:00-08:00", "22:30-07:15", "00:00-01:30", "01:30-07:00", ""]),
)
def test_the_answer_is_the_first_allowed_minute(moment: datetime, zone: str,
                                                preferred: str | None, quiet: str) -> None:
    """No allowed moment is skipped, and the answer is itself allowed."""
    tz, hours = ZoneInfo(zone), parse_quiet_hours(quiet)
    moment = moment.replace(second=0, microsecond=0)
    answer = next_send_time(moment, hours, tz, preferred)
    window = sending_window(hours, preferred)
    assert answer >= moment
    assert not is_quiet(answer, hours, tz, preferred)
    assert window is None or answer - moment < timedelta(days=2)
    probe = moment
    while probe < answer - timedelta(seconds=1):  # every minute before it is quiet
        assert is_quiet(probe, hours, tz, preferred), probe
        probe = min(probe + timedelta(minutes=1), answer - timedelta(seconds=1))
