"""MYDATA as a sentence a person would write, in English and Welsh (surveys.mydata), and
dates in the person's language (surveys.dates)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from surveys.dates import days, long_date, on_day
from surveys.mydata import Held, and_list, summary
from surveys.sms import segments, to_gsm


def at(day: int, month: int = 12, year: int = 2026) -> datetime:
    return datetime(year, month, day, 10, 0, tzinfo=UTC)


CARING = {"en": "Caring for someone", "cy": "Gofalu am rywun"}
FFT = {"en": "Your experience of care", "cy": "Eich profiad o ofal"}


def test_one_survey_on_one_day_reads_as_a_sentence() -> None:
    said = summary([Held(CARING["en"], 6, at(4), at(4))], "en", "sms")
    assert said == ('You answered 6 questions in "Caring for someone" on Friday 4 December '
                    "2026.\nWe hold your phone number, encrypted and kept apart from your "
                    "answers.\nReply DELETE to delete it all.")
    assert segments(to_gsm(said)) <= 2


def test_one_survey_in_welsh_uses_welsh_days_months_and_numbers() -> None:
    said = summary([Held(CARING["cy"], 6, at(4), at(4))], "cy", "sms")
    assert said.splitlines()[0] == ('Fe wnaethoch chi ateb 6 o gwestiynau yn "Gofalu am '
                                    'rywun" ddydd Gwener 4 Rhagfyr 2026.')
    assert said.splitlines()[-1] == "Atebwch DILEU i ddileu'r cyfan."
    one = summary([Held(CARING["cy"], 1, at(1), at(1))], "cy", "telegram")
    assert one.startswith('Fe wnaethoch chi ateb 1 cwestiwn yn "Gofalu am rywun" ddydd '
                          "Mawrth 1 Rhagfyr 2026.")
    assert "Telegram" in one and segments(to_gsm(one)) <= 2


@pytest.mark.parametrize(("language", "expected"), [
    ("en", 'You answered 6 questions in "Caring for someone" on Friday 4 December 2026 and 2 '
           'in "Your experience of care" from 23 to 26 November 2026.'),
    ("cy", 'Fe wnaethoch chi ateb 6 o gwestiynau yn "Gofalu am rywun" ddydd Gwener 4 Rhagfyr '
           '2026 a 2 yn "Eich profiad o ofal" o 23 i 26 Tachwedd 2026.'),
])
def test_two_surveys_are_joined_naturally(language: str, expected: str) -> None:
    held = [Held(CARING[language], 6, at(4), at(4)),
            Held(FFT[language], 2, at(23, 11), at(26, 11))]
    said = summary(held, language, "whatsapp")
    assert said.splitlines()[0] == expected
    assert segments(to_gsm(said)) <= 2  # the usual case fits two SMS


def test_welsh_and_is_ac_before_a_vowel_sound() -> None:
    assert and_list(["6 yn A", "2 yn B"], "cy") == "6 yn A a 2 yn B"
    assert and_list(["6 yn A", "8 yn B"], "cy") == "6 yn A ac 8 yn B"  # wyth
    assert and_list(["6 yn A", "1 yn B"], "cy") == "6 yn A ac 1 yn B"  # un
    assert and_list(["6 yn A", "12 yn B"], "cy") == "6 yn A ac 12 yn B"  # un deg dau
    assert and_list(["6 yn A", "100 yn B"], "cy") == "6 yn A a 100 yn B"  # cant
    assert and_list(["A", "B", '"Eich profiad"'], "cy") == 'A, B ac "Eich profiad"'
    assert and_list(["a", "b", "c"], "en") == "a, b and c"


def test_surveys_started_without_an_answer_are_said_so() -> None:
    alone = summary([Held(FFT["en"], 0, at(5), at(5))], "en", "sms")
    assert alone.startswith('You started "Your experience of care" on Saturday 5 December '
                            "2026, but answered no questions.")
    both = summary([Held(CARING["cy"], 6, at(4), at(4)), Held(FFT["cy"], 0, at(5), at(5))],
                   "cy", "sms")
    assert both.splitlines()[1] == ('Fe wnaethoch chi ddechrau "Eich profiad o ofal" ddydd '
                                    "Sadwrn 5 Rhagfyr 2026 hefyd.")


def test_nothing_held_and_no_address() -> None:
    assert summary([], "en", None) == ("We hold no answers from you.\n"
                                       "Reply DELETE to delete it all.")
    assert summary([], "cy", "telegram").splitlines()[0] == (
        "Nid ydym yn cadw unrhyw atebion gennych chi.")


@pytest.mark.parametrize(("language", "rest"), [("en", "and 18 in 4 other surveys."),
                                              ("cy", "ac 18 mewn 4 arolwg arall.")])
def test_many_long_surveys_still_fit_two_sms(language: str, rest: str) -> None:
    """Past two SMS, titles are shortened, then the first surveys stay named and the rest
    are counted: every answer is in the sum (1 + 2 named, 3 + 4 + 5 + 6 = 18 counted)."""
    held = [Held(f"A very long survey title that goes on and on and on, number {n}", n + 1,
                 at(1 + n), at(3 + n)) for n in range(6)]
    said = summary(held, language, "sms")
    assert segments(to_gsm(said)) <= 2
    assert said.count('"A very long survey title that..."') == 2  # shortened, then counted
    assert said.splitlines()[0].endswith(rest)
    shorter = summary(held[:3], language, "sms")
    assert segments(to_gsm(shorter)) <= 2
    assert "Tuesday" not in shorter and "ddydd" not in shorter  # the days' names went first


def test_dates_in_each_language() -> None:
    assert long_date(at(1, 3, 2027), "cy") == "1 Mawrth 2027"
    assert on_day(at(2, 3, 2027), "cy") == "ddydd Mawrth 2 Mawrth 2027"  # Tuesday, March
    assert on_day(at(2, 3, 2027), "en", weekday=False) == "on 2 March 2027"
    assert on_day(at(2, 3, 2027), "cy", weekday=False) == "ar 2 Mawrth 2027"
    assert days(at(30, 11), at(4, 12), "en") == "from 30 November to 4 December 2026"
    assert days(at(30, 12, 2025), at(2, 1), "cy") == "o 30 Rhagfyr 2025 i 2 Ionawr 2026"
    assert days(at(3), at(4), "cy") == "o 3 i 4 Rhagfyr 2026"
    assert days(at(4), at(4), "en") == "on Friday 4 December 2026"


def test_an_address_on_another_channel_is_called_contact_details() -> None:
    assert summary([], "en", "console").splitlines()[1] == (
        "We hold your contact details, encrypted and kept apart from your answers.")
    assert summary([], "cy", "web").splitlines()[1] == (
        "Rydym yn cadw eich cyfeiriad cyswllt wedi'i amgryptio, mewn lle gwahanol i'ch atebion.")
