"""Forgiving answers, as a table of the ways real people reply, in English and Welsh.

Every row is something a person has typed (or would): digits and number words, option
text with typos, yes/no in its many forms (including Welsh ydw/naddo and emoji with skin
tones), scale answers such as "4/5" and "4 allan o 5", and "don't know". The second half
of the file is what must NOT be guessed: replies that could mean two options get a kind
question back, never a silent pick.
"""

from __future__ import annotations

import pytest

from surveys.i18n import gettext
from surveys.loader import library_path, load_file, parse
from surveys.model import Survey
from surveys.parsing import Parsed, clarify, dont_know, parse_answer, yes_or_no

FFT = load_file(library_path() / "fft.yaml")
CARERS = load_file(library_path() / "carers.yaml")
WORKFORCE = load_file(library_path() / "workforce.yaml")
assert isinstance(FFT, Survey) and isinstance(CARERS, Survey) and isinstance(WORKFORCE, Survey)

NUMBERS = parse({
    "id": "t", "version": 1, "title": "T", "intro": "I", "consent": "C", "thank_you": "T",
    "questions": [
        {"id": "count", "type": "number", "text": "How many?", "min": 0, "max": 200},
        {"id": "yn", "type": "yes_no", "text": "OK?", "optional": True},
        {"id": "rate10", "type": "scale", "text": "Rate", "min": 0, "max": 10,
         "low_label": "Awful", "high_label": "Perfect"},
    ],
})

Q = {
    "overall": FFT.questions[0], "hours": CARERS.questions[0], "helps": CARERS.questions[1],
    "time": CARERS.questions[3], "assess": CARERS.questions[5], "role": WORKFORCE.questions[0],
    "pay": WORKFORCE.questions[1], "enough": WORKFORCE.questions[2],
    "training": WORKFORCE.questions[4], "stay": WORKFORCE.questions[5],
    "count": NUMBERS.questions[0], "yn": NUMBERS.questions[1], "rate10": NUMBERS.questions[2],
}

# (question, language the person chose, what they sent, what it must mean)
UNDERSTOOD: list[tuple[str, str, str, object]] = [
    # Positions: digits, words, ordinals, politeness, in both languages.
    ("overall", "en", "1", "very_good"), ("overall", "en", "1.", "very_good"),
    ("overall", "en", " 2 ", "good"), ("overall", "en", "2)", "good"),
    ("overall", "en", "(3)", "neither"), ("overall", "en", "#4", "poor"),
    ("overall", "en", "two", "good"), ("overall", "en", "Two", "good"),
    ("overall", "en", "TWO!", "good"), ("overall", "en", "five", "very_poor"),
    ("overall", "en", "2nd", "good"), ("overall", "en", "the second one", "good"),
    ("overall", "en", "first", "very_good"), ("overall", "en", "number 2 please", "good"),
    ("overall", "en", "option 3", "neither"), ("overall", "en", "2 thanks", "good"),
    ("overall", "cy", "un", "very_good"), ("overall", "cy", "dau", "good"),
    ("overall", "cy", "tri", "neither"), ("overall", "cy", "pedwar", "poor"),
    ("overall", "cy", "pump", "very_poor"), ("overall", "cy", "chwech", "dont_know"),
    ("overall", "cy", "rhif 2", "good"), ("overall", "cy", "2 diolch", "good"),
    ("overall", "cy", "cyntaf", "very_good"), ("overall", "cy", "ail", "good"),
    # A number and the option's words together, when they agree.
    ("overall", "en", "2 good", "good"), ("overall", "en", "2. Good", "good"),
    ("overall", "en", "1 - very good", "very_good"), ("overall", "cy", "1 da iawn", "very_good"),
    # The option's own words, any case and spacing, in either language.
    ("overall", "en", "Very good", "very_good"), ("overall", "en", "VERY GOOD", "very_good"),
    ("overall", "en", "  very   good ", "very_good"), ("overall", "en", "good", "good"),
    ("overall", "en", "Good.", "good"), ("overall", "en", "good?", "good"),
    ("overall", "en", "it was good", "good"), ("overall", "en", "poor", "poor"),
    ("overall", "en", "Neither good nor poor", "neither"), ("overall", "en", "neither", "neither"),
    ("overall", "cy", "Da iawn", "very_good"), ("overall", "cy", "da", "good"),
    ("overall", "cy", "Gwael", "poor"), ("overall", "cy", "gwael iawn", "very_poor"),
    ("overall", "en", "da iawn", "very_good"),  # a Welsh label while set to English
    ("overall", "cy", "very good", "very_good"),  # and the other way round
    # Welsh mutations: "yn dda" (good), "yn wael" (poor), "roedd yn dda iawn".
    ("overall", "cy", "yn dda", "good"), ("overall", "cy", "dda", "good"),
    ("overall", "cy", "yn wael", "poor"), ("overall", "cy", "roedd yn dda iawn", "very_good"),
    ("overall", "cy", "yn wael iawn", "very_poor"),
    # Small typos (rapidfuzz), where one option is clearly closest.
    ("overall", "en", "Very god", "very_good"), ("overall", "en", "vrey good", "very_good"),
    ("overall", "en", "verry good", "very_good"), ("overall", "en", "very goood", "very_good"),
    ("overall", "en", "goood", "good"), ("overall", "en", "god", "good"),
    ("overall", "en", "pooor", "poor"), ("overall", "en", "por", "poor"),
    ("overall", "en", "very poo", "very_poor"), ("overall", "en", "nether", "neither"),
    ("overall", "en", "niether good nor poor", "neither"),
    ("overall", "en", "dont kno", "dont_know"),
    ("overall", "cy", "da iawm", "very_good"), ("overall", "cy", "gwal", "poor"),
    ("overall", "cy", "gwael iawm", "very_poor"),
    # "Don't know", however it is said.
    ("overall", "en", "Don't know", "dont_know"), ("overall", "en", "don’t know", "dont_know"),
    ("overall", "en", "dont know", "dont_know"), ("overall", "en", "dunno", "dont_know"),
    ("overall", "en", "idk", "dont_know"), ("overall", "en", "not sure", "dont_know"),
    ("overall", "en", "no idea", "dont_know"), ("overall", "en", "🤷", "dont_know"),
    ("overall", "en", "🤷\u200d♀️", "dont_know"), ("overall", "cy", "ddim yn gwybod", "dont_know"),
    ("overall", "cy", "dim syniad", "dont_know"), ("overall", "cy", "dwn i ddim", "dont_know"),
    ("overall", "cy", "sai'n gwybod", "dont_know"),
    ("hours", "en", "not sure", "not_sure"), ("hours", "cy", "Ddim yn gwybod", "not_sure"),
    # Some of an option's words.
    ("hours", "en", "under 20", "under_20"), ("hours", "en", "20 to 49", "h20_49"),
    ("hours", "en", "50 or more", "h50_plus"), ("hours", "cy", "llai na 20", "under_20"),
    ("role", "en", "in a care home", "care_home"), ("role", "en", "somewhere else", "other"),
    ("role", "en", "supported", "supported_living"), ("role", "cy", "mewn cartref gofal",
                                                       "care_home"),
    ("enough", "en", "about right", "right"), ("enough", "en", "right", "right"),
    ("enough", "en", "too few", "too_few"), ("enough", "cy", "gormod o oriau", "too_many"),
    # Yes and no: words, slang, emoji (any skin tone), Welsh answer-words.
    ("assess", "en", "yes", "yes"), ("assess", "en", "Y", "yes"), ("assess", "en", "yeah", "yes"),
    ("assess", "en", "yep", "yes"), ("assess", "en", "yup", "yes"), ("assess", "en", "ya", "yes"),
    ("assess", "en", "yesss", "yes"), ("assess", "en", "Yes!", "yes"),
    ("assess", "en", "ok", "yes"),
    ("assess", "en", "yes please", "yes"), ("assess", "en", "yes I have", "yes"),
    ("assess", "en", "I have", "yes"), ("assess", "en", "definitely", "yes"),
    ("assess", "en", "👍", "yes"), ("assess", "en", "👍🏽", "yes"), ("assess", "en", "👍🏿", "yes"),
    ("assess", "en", "✅", "yes"), ("assess", "en", "1", "yes"), ("assess", "en", "one", "yes"),
    ("assess", "en", "no", "no"), ("assess", "en", "N", "no"), ("assess", "en", "nope", "no"),
    ("assess", "en", "nah", "no"), ("assess", "en", "noooo", "no"), ("assess", "en", "No.", "no"),
    ("assess", "en", "no thanks", "no"), ("assess", "en", "not yet", "no"),
    ("assess", "en", "never", "no"), ("assess", "en", "I haven't", "no"),
    ("assess", "en", "👎", "no"), ("assess", "en", "👎🏻", "no"), ("assess", "en", "❌", "no"),
    ("assess", "en", "2", "no"),
    ("assess", "cy", "ie", "yes"), ("assess", "cy", "Ydw", "yes"), ("assess", "cy", "do", "yes"),
    ("assess", "cy", "oes", "yes"), ("assess", "cy", "yndw", "yes"), ("assess", "cy", "ia", "yes"),
    ("assess", "cy", "na", "no"), ("assess", "cy", "Naddo", "no"),
    ("assess", "cy", "nac ydw", "no"),
    ("assess", "cy", "nag oes", "no"), ("assess", "cy", "nac oes", "no"),
    ("assess", "cy", "dim diolch", "no"), ("assess", "cy", "Ie", "yes"),
    # Scales: a number, a number word, "4/5", "4 out of 5", Welsh "4 allan o 5", the ends.
    ("time", "en", "4", 4), ("time", "en", "four", 4), ("time", "en", "4/5", 4),
    ("time", "en", "4 / 5", 4), ("time", "en", "4 out of 5", 4), ("time", "en", "4 of 5", 4),
    ("time", "en", "four out of five", 4), ("time", "en", "5 stars", 5), ("time", "en", "1.", 1),
    ("time", "cy", "4 allan o 5", 4), ("time", "cy", "pedwar", 4), ("time", "cy", "dau", 2),
    ("time", "cy", "3 o 5", 3), ("time", "en", "plenty", 5), ("time", "en", "None at all", 1),
    ("time", "cy", "hen ddigon", 5), ("time", "cy", "dim o gwbl", 1),
    ("training", "en", "very well", 5), ("training", "en", "not at all", 1),
    ("rate10", "en", "0", 0), ("rate10", "en", "10/10", 10), ("rate10", "en", "ten", 10),
    ("rate10", "en", "7 out of 10", 7), ("rate10", "en", "perfect", 10),
    # Several choices at once.
    ("helps", "en", "1 3", ["family", "groups"]), ("helps", "en", "1,3", ["family", "groups"]),
    ("helps", "en", "1, 3 and 4", ["family", "groups", "gp"]),
    ("helps", "en", "3 1", ["family", "groups"]), ("helps", "en", "1-3", ["family", "breaks",
                                                                          "groups"]),
    ("helps", "en", "one and three", ["family", "groups"]), ("helps", "en", "2", ["breaks"]),
    ("helps", "en", "family and GP", ["family", "gp"]),
    ("helps", "en", "famly and brakes", ["family", "breaks"]),
    ("helps", "en", "money advice", ["money"]), ("helps", "en", "nurse", ["gp"]),
    ("helps", "cy", "1 a 3", ["family", "groups"]), ("helps", "cy", "dau a tri", ["breaks",
                                                                                   "groups"]),
    ("helps", "cy", "teulu neu ffrindiau", ["family"]),
    ("stay", "en", "better pay and more respect", ["pay", "respect"]),
    ("stay", "en", "1 2 3 4 5 6", ["pay", "hours", "training", "respect", "time", "career"]),
    # Numbers: digits, decimals with a comma, words in both languages, in a sentence.
    ("count", "en", "12", 12), ("count", "en", "twelve", 12), ("count", "en", "twenty one", 21),
    ("count", "en", "twenty-one", 21), ("count", "en", "a hundred", 100),
    ("count", "en", "one hundred and five", 105), ("count", "en", "about 12", 12),
    ("count", "en", "about twelve hours", 12), ("count", "en", "roughly 40", 40),
    ("count", "en", "none", 0), ("count", "en", "a dozen", 12),
    ("count", "cy", "deuddeg", 12), ("count", "cy", "un ar ddeg", 11), ("count", "cy", "ugain", 20),
    ("count", "cy", "dau ddeg pump", 25), ("count", "cy", "tua 30", 30), ("count", "cy", "dim", 0),
    ("count", "cy", "hanner cant", 50), ("count", "cy", "cant", 100),
    ("pay", "en", "12.60", 12.6), ("pay", "en", "12,60", 12.6), ("pay", "en", "£11.44", 11.44),
    ("pay", "en", "£11.44 an hour", 11.44), ("pay", "en", "about £12", 12),
]


@pytest.mark.parametrize(("qid", "language", "said", "expected"), UNDERSTOOD)
def test_understood(qid: str, language: str, said: str, expected: object) -> None:
    parsed = parse_answer(Q[qid], said, language)
    assert parsed.ok, parsed
    assert parsed.value == expected


def test_the_table_is_big_and_covers_both_languages() -> None:
    assert len(UNDERSTOOD) >= 200
    assert sum(1 for row in UNDERSTOOD if row[1] == "cy") >= 50


# (question, what they sent, the options it could mean, in the question's order)
AMBIGUOUS: list[tuple[str, str, tuple[str, ...]]] = [
    ("overall", "v good", ("very_good", "good")),  # Very good or Good?
    ("overall", "vgood", ("very_good", "good")),
    ("overall", "very", ("very_good", "very_poor")),
    ("overall", "2 very good", ("very_good", "good")),  # the number and the words disagree
    ("overall", "1 poor", ("very_good", "poor")),
    ("role", "in", ("home_care", "care_home")),
    ("stay", "more", ("training", "respect", "time")),
    ("enough", "too", ("too_few", "too_many")),
]


@pytest.mark.parametrize(("qid", "said", "candidates"), AMBIGUOUS)
def test_a_reply_that_could_mean_two_options_is_asked_about(
        qid: str, said: str, candidates: tuple[str, ...]) -> None:
    parsed = parse_answer(Q[qid], said, "en")
    assert not parsed.ok
    assert parsed.problem == "ambiguous"
    assert parsed.candidates == candidates


NOT_UNDERSTOOD: list[tuple[str, str, str]] = [
    # "very bad", "great", "ok" and "not good" are ratings (tests/test_understanding.py).
    ("overall", "gwell", "choice"),  # Welsh "better", not "gwael"
    ("overall", "7", "outside"), ("overall", "0", "outside"), ("overall", "2.5", "outside"),
    ("overall", "", "choice"), ("overall", "1 2", "one_only"),
    ("time", "6", "outside"), ("time", "4/12", "choice"), ("time", "11 out of 10", "choice"),
    ("assess", "maybe", "choice"), ("assess", "sometimes", "choice"),
    ("helps", "1 9", "outside"), ("helps", "banana", "choice"),
    ("count", "a few", "number"), ("count", "2 or 3", "number"),
    ("count", "two or three", "number"), ("count", "201", "range"), ("count", "-1", "range"),
    ("count", "2.5", "whole"), ("pay", "101", "range"),
]


@pytest.mark.parametrize(("qid", "said", "problem"), NOT_UNDERSTOOD)
def test_not_understood_says_why(qid: str, said: str, problem: str) -> None:
    parsed = parse_answer(Q[qid], said, "en")
    assert not parsed.ok and parsed.problem == problem, parsed


@pytest.mark.parametrize(("qid", "said"), [
    ("assess", "don't know"), ("assess", "not sure"), ("assess", "ddim yn gwybod"),
    ("count", "no idea"), ("count", "dunno"), ("time", "🤷"), ("yn", "idk"),
])
def test_dont_know_without_such_an_option_is_named(qid: str, said: str) -> None:
    assert parse_answer(Q[qid], said, "en").problem == "dont_know"


def test_the_kind_question_back_names_the_options_in_the_persons_language() -> None:
    overall = Q["overall"]
    ambiguous = parse_answer(overall, "v good", "en")
    assert clarify(overall, ambiguous, "en") == (
        "Did you mean 1 Very good or 2 Good? Please reply with the number.")
    assert clarify(overall, parse_answer(overall, "v good", "cy"), "cy") == (
        "Ydych chi'n golygu 1 Da iawn neu 2 Da? Atebwch gyda'r rhif.")
    three = parse_answer(Q["stay"], "more", "en")
    assert clarify(Q["stay"], three, "en") == (
        "Did you mean 3 More training, 4 More respect or 5 More time with people? Please "
        "reply with all the numbers that apply.")


def test_dont_know_gets_a_kind_way_out() -> None:
    required = Q["assess"]
    optional = Q["yn"]
    assert clarify(required, Parsed(problem="dont_know"), "en") == (
        "That's fine. Give your best guess, or reply SKIP.")
    assert clarify(optional, Parsed(problem="dont_know"), "cy") == gettext(
        "cy", "That's fine. Reply SKIP to leave this one out.")
    assert clarify(required, Parsed(problem="choice"), "en") is None  # the engine's own hint


@pytest.mark.parametrize(("said", "meaning"), [
    ("yes", True), ("Yep!", True), ("👍🏼", True), ("ydw", True), ("do", True), ("I agree", True),
    ("no", False), ("nope", False), ("naddo", False), ("nac ydw", False), ("👎", False),
    ("maybe", None), ("", None), ("2", None),
])
def test_yes_or_no_for_the_engines_own_questions(said: str, meaning: bool | None) -> None:
    assert yes_or_no(said) is meaning


def test_dont_know_helper() -> None:
    assert dont_know("Don’t know") and dont_know("dwn i ddim") and not dont_know("no")
