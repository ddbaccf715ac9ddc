"""Understand a person's reply to a question, forgivingly.

People type "2", "2.", "two", "Good", " good ", "4/5" or press a button. Anything we can
read with confidence becomes an answer; anything else gets a kind re-ask, never a penalty.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from surveys.model import Question, QuestionType

NUMBER_WORDS = {
    "zero": 0, "none": 0, "nil": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    # Welsh (Cymraeg) numbers, so "dau" works as well as "two".
    "un": 1, "dau": 2, "dwy": 2, "tri": 3, "tair": 3, "pedwar": 4, "pedair": 4, "pump": 5,
    "chwech": 6, "saith": 7, "wyth": 8, "naw": 9, "deg": 10,
}

YES_WORDS = frozenset(
    {"yes", "y", "yeah", "yep", "yup", "ya", "yea", "ok", "okay", "sure", "agree", "i agree",
     "of course", "👍", "✅", "ie", "do", "iawn", "yes please", "aye"}
)
NO_WORDS = frozenset(
    {"no", "n", "nope", "nah", "no thanks", "no thank you", "not really", "👎", "❌", "na",
     "naddo", "nac ydw", "disagree"}
)
DONT_KNOW = frozenset(
    {"dont know", "don't know", "do not know", "not sure", "dunno", "idk", "no idea",
     "ddim yn gwybod", "dim syniad"}
)

_SPACES = re.compile(r"\s+")
_TRAILING = re.compile(r"[\s.!,;:)]+$")
_LEADING = re.compile(r"^[\s(#]+")
_NUMBER = re.compile(r"^-?\d+(?:[.,]\d+)?$")
_ANY_NUMBER = re.compile(r"-?\d+(?:[.,]\d+)?")
_SCALE = re.compile(r"^(\d+)\s*(?:/|out of|of)\s*(\d+)$")
_LIST_SPLIT = re.compile(r"\s*(?:,|;|&|\+|\band\b|\ba\b)\s*")


def normalise(text: str) -> str:
    """Lowercase, unify quotes and spaces, strip punctuation at the ends."""
    text = unicodedata.normalize("NFKC", text).replace("\u2019", "'").replace("\u2018", "'")
    text = _SPACES.sub(" ", text.strip().lower())
    text = _TRAILING.sub("", text)
    return _LEADING.sub("", text)


@dataclass(frozen=True)
class Parsed:
    """The outcome of reading a reply: a value, or a reason it could not be read."""

    value: object = None
    label: str = ""
    ok: bool = False
    #: Why it failed, for the re-ask hint: "choice", "range", "number", "length".
    problem: str = ""


def _number(text: str) -> float | None:
    if _NUMBER.match(text):
        return float(text.replace(",", "."))
    if text in NUMBER_WORDS:
        return float(NUMBER_WORDS[text])
    words = text.replace("-", " ").split()
    if 1 < len(words) <= 3 and all(w in NUMBER_WORDS for w in words):
        return float(sum(NUMBER_WORDS[w] for w in words))  # "twenty one"
    return None


def _option_by_position_or_text(question: Question, text: str, language: str) -> str | None:
    number = _number(text)
    if question.type is QuestionType.SCALE:
        scale = _SCALE.match(text)
        if scale and question.maximum is not None and int(scale.group(2)) == question.maximum:
            number = float(scale.group(1))
        if number is not None and number.is_integer():
            code = str(int(number))
            return code if question.option(code) else None
    elif number is not None and number.is_integer() and 1 <= number <= len(question.options):
        return question.options[int(number) - 1].code
    for option in question.options:
        for label in {option.label.get(language), option.label.get()}:
            if normalise(label) == text:
                return option.code
    if question.type is QuestionType.YES_NO:
        if text in YES_WORDS:
            return "yes"
        if text in NO_WORDS:
            return "no"
    if text in DONT_KNOW:
        for option in question.options:
            if option.code in {"dont_know", "not_sure"}:
                return option.code
    return None


def parse_answer(question: Question, text: str, language: str) -> Parsed:
    """Read a typed reply to `question`."""
    said = normalise(text)
    if question.type is QuestionType.FREE_TEXT:
        raw = text.strip()
        if not raw:
            return Parsed(problem="empty")
        return Parsed(value=raw[: question.max_length], label="", ok=True)
    if question.type is QuestionType.NUMBER:
        return _parse_number(question, said)
    if question.type is QuestionType.MULTIPLE_CHOICE:
        return _parse_many(question, said, language)
    code = _option_by_position_or_text(question, said, language)
    if code is None:
        return Parsed(problem="choice")
    return _choice(question, code, language)


def parse_payload(question: Question, code: str, language: str) -> Parsed:
    """Read a button press for `question` (the option code)."""
    if question.option(code) is None:
        return Parsed(problem="choice")
    return _choice(question, code, language)


def _choice(question: Question, code: str, language: str) -> Parsed:
    option = question.option(code)
    assert option is not None
    value: object = int(code) if question.type is QuestionType.SCALE else code
    return Parsed(value=value, label=option.label.get(language), ok=True)


def _parse_number(question: Question, said: str) -> Parsed:
    number = _number(said)
    if number is None:
        found = _ANY_NUMBER.findall(said)
        if len(found) != 1:  # "2 or 3" is ambiguous: ask again rather than guess
            return Parsed(problem="number")
        number = float(found[0].replace(",", "."))
    if question.integer and not number.is_integer():
        return Parsed(problem="whole")
    if (question.minimum is not None and number < question.minimum) or (
        question.maximum is not None and number > question.maximum
    ):
        return Parsed(problem="range")
    value: int | float = int(number) if number.is_integer() else number
    return Parsed(value=value, label=str(value), ok=True)


def _parse_many(question: Question, said: str, language: str) -> Parsed:
    whole = _option_by_position_or_text(question, said, language)
    # Try the whole reply, then "a, b and c", then "1 3": option texts may contain spaces.
    for parts in ([whole] if whole else [], _LIST_SPLIT.split(said), said.split()):
        codes = _codes(question, [p for p in parts if p], language)
        if codes:
            order = [o.code for o in question.options]
            codes.sort(key=order.index)
            labels = [o.label.get(language) for o in question.options if o.code in codes]
            return Parsed(value=codes, label="; ".join(labels), ok=True)
    return Parsed(problem="choice")


def _codes(question: Question, parts: list[str], language: str) -> list[str]:
    codes: list[str] = []
    for part in parts:
        code = _option_by_position_or_text(question, part, language)
        if code is None:
            return []
        if code not in codes:
            codes.append(code)
    return codes
