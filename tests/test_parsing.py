"""Forgiving answers: a table of the ways real people reply, and what each must mean."""

from __future__ import annotations

import pytest

from surveys.keywords import Keyword, keyword
from surveys.loader import parse
from surveys.parsing import parse_answer, parse_payload

SURVEY = parse({
    "id": "t", "version": 1, "title": "T", "intro": "I", "consent": "C", "thank_you": "T",
    "questions": [
        {"id": "fft", "type": "single_choice", "text": "How was it?", "options": [
            {"code": "very_good", "text": "Very good"}, {"code": "good", "text": "Good"},
            {"code": "neither", "text": "Neither good nor poor"}, {"code": "poor", "text": "Poor"},
            {"code": "very_poor", "text": "Very poor"}, {"code": "dont_know", "text": "Don't know"},
        ]},
        {"id": "many", "type": "multiple_choice", "text": "Which?", "options": [
            {"code": "family", "text": "Family or friends"}, {"code": "breaks", "text": "Breaks"},
            {"code": "gp", "text": "GP or nurse"},
        ]},
        {"id": "scale", "type": "scale", "text": "Rate", "max": 5, "low_label": "Bad",
         "high_label": "Good"},
        {"id": "yn", "type": "yes_no", "text": "OK?"},
        {"id": "num", "type": "number", "text": "How many?", "min": 0, "max": 100},
        {"id": "pay", "type": "number", "text": "Pay?", "integer": False, "min": 0, "max": 100},
        {"id": "words", "type": "free_text", "text": "Say", "max_length": 10},
    ],
})
Q = {q.id: q for q in SURVEY.questions}

UNDERSTOOD = [
    ("fft", "2", "good"), ("fft", "2.", "good"), ("fft", " 2 ", "good"), ("fft", "two", "good"),
    ("fft", "Good", "good"), ("fft", "  GOOD!! ", "good"), ("fft", "very good", "very_good"),
    ("fft", "Neither  good nor poor", "neither"), ("fft", "don’t know", "dont_know"),
    ("fft", "dunno", "dont_know"), ("fft", "6", "dont_know"), ("fft", "(1)", "very_good"),
    ("fft", "#3", "neither"), ("fft", "first", "very_good"), ("fft", "dau", "good"),
    ("many", "1 3", ["family", "gp"]), ("many", "3,1", ["family", "gp"]),
    ("many", "1, 2 and 3", ["family", "breaks", "gp"]), ("many", "2", ["breaks"]),
    ("many", "Breaks and GP or nurse", ["breaks", "gp"]), ("many", "1 1", ["family"]),
    ("many", "family or friends", ["family"]),
    ("scale", "4", 4), ("scale", "4/5", 4), ("scale", "4 out of 5", 4), ("scale", "four", 4),
    ("scale", "1", 1), ("scale", "5.", 5),
    ("yn", "y", "yes"), ("yn", "Yes", "yes"), ("yn", "yeah", "yes"), ("yn", "yep", "yes"),
    ("yn", "👍", "yes"), ("yn", "ie", "yes"), ("yn", "1", "yes"), ("yn", "n", "no"),
    ("yn", "nope", "no"), ("yn", "No thanks", "no"), ("yn", "👎", "no"), ("yn", "naddo", "no"),
    ("yn", "2", "no"),
    ("num", "12", 12), ("num", "twelve", 12), ("num", "twenty one", 21), ("num", "about 12", 12),
    ("num", "0", 0), ("num", "none", 0), ("num", "100", 100),
    ("pay", "12.60", 12.6), ("pay", "12,60", 12.6), ("pay", "£11.44 an hour", 11.44),
    ("words", "  Hello there  ", "Hello ther"),
]


@pytest.mark.parametrize(("qid", "said", "expected"), UNDERSTOOD)
def test_understood(qid: str, said: str, expected: object) -> None:
    parsed = parse_answer(Q[qid], said, "en")
    assert parsed.ok, parsed
    assert parsed.value == expected


NOT_UNDERSTOOD = [
    ("fft", "7", "outside"), ("fft", "0", "outside"), ("fft", "2 3", "one_only"),
    ("fft", "", "choice"), ("many", "1 4", "outside"), ("many", "banana", "choice"),
    ("scale", "6", "outside"), ("scale", "4 5", "one_only"), ("yn", "maybe", "choice"),
    ("num", "a few", "number"), ("num", "2 or 3", "number"), ("num", "101", "range"),
    ("num", "-1", "range"), ("num", "2.5", "whole"), ("words", "   ", "empty"),
]


@pytest.mark.parametrize(("qid", "said", "problem"), NOT_UNDERSTOOD)
def test_not_understood_says_why(qid: str, said: str, problem: str) -> None:
    parsed = parse_answer(Q[qid], said, "en")
    assert not parsed.ok and parsed.problem == problem


def test_button_payloads_are_option_codes() -> None:
    assert parse_payload(Q["fft"], "poor", "en").value == "poor"
    assert parse_payload(Q["scale"], "3", "en").value == 3
    assert not parse_payload(Q["fft"], "excellent", "en").ok


@pytest.mark.parametrize(("said", "meaning"), [
    ("HELP", Keyword.HELP), ("help!", Keyword.HELP), ("Cymorth", Keyword.HELP),
    ("/help", Keyword.HELP), ("stop", Keyword.STOP), ("STOP.", Keyword.STOP),
    ("Unsubscribe", Keyword.STOP), ("stopio", Keyword.STOP), ("back", Keyword.BACK),
    ("Skip", Keyword.SKIP), ("repeat", Keyword.REPEAT), ("pause", Keyword.PAUSE),
    ("START", Keyword.START), ("please stop", None), ("stop calling me", None),
    ("help me understand", None), ("", None),
])
def test_keywords_are_whole_messages(said: str, meaning: Keyword | None) -> None:
    assert keyword(said) is meaning
