"""How easy a prompt is to read: a reading age, and sentences that run too long.

WithUs aims at a reading age of about 9 to 11 (UK school years 5 to 6), because the
people we most need to hear from include people with learning disabilities, people
reading in a second language and people reading on a bus after a night shift.

The estimate is the Flesch-Kincaid grade plus 5 (US grade 1 is age 6-7), computed here
rather than with textstat: textstat 0.7.5+ downloads the CMU dictionary from the internet
on first use, and a survey check must work offline and give the same answer every time.
A vowel-group syllable count is as good as a dictionary for the short, plain sentences a
survey is made of, and it is transparent. The formula is calibrated for English only, so
other languages get the sentence-length check but no reading age.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Above this reading age, lint warns (the aim is about 9 to 11).
MAX_READING_AGE = 11
#: A sentence longer than this many words is hard to hold in mind on a small screen.
MAX_SENTENCE_WORDS = 20
#: Languages whose reading age we can estimate.
READING_AGE_LANGUAGES = frozenset({"en"})

_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+|\n+")
_WORD = re.compile(r"[A-Za-zÀ-ÿŴŵŶŷ]+(?:['’][A-Za-zÀ-ÿŴŵŶŷ]+)*|\d+(?:[.,:]\d+)*")
_VOWELS = re.compile(r"[aeiouy]+")
# Endings that add no syllable: "make", "hoped", "homes" (but not "table", "waited").
_SILENT = re.compile(r"(?:[^laeiouy]es|[^td]ed|[^laeiouy]e)$")


@dataclass(frozen=True)
class Readability:
    words: int
    sentences: int
    syllables: int
    #: Flesch-Kincaid reading age in years, or None for a language without a formula.
    reading_age: float | None
    #: Flesch reading ease (higher is easier; 80+ is easy), or None as above.
    flesch: float | None
    #: The word count of each sentence longer than MAX_SENTENCE_WORDS.
    long_sentences: tuple[int, ...]


def sentences(text: str) -> list[str]:
    """Split text into sentences (and lines: a line break ends a thought on a phone)."""
    return [part.strip() for part in _SENTENCE.split(text) if _WORD.search(part)]


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def syllables(word: str) -> int:
    """Estimated syllables in an English word: vowel groups, less silent endings."""
    letters = re.sub(r"[^a-z]", "", word.lower())
    if not letters:
        return 1  # a number: "20" is read as one or two beats; count one
    if len(letters) <= 3:
        return 1
    letters = _SILENT.sub("", letters)
    letters = re.sub(r"^y", "", letters)
    return max(1, len(_VOWELS.findall(letters)))


def measure(text: str, language: str) -> Readability:
    """Words, sentences, syllables and, for English, a reading age."""
    parts = sentences(text)
    counts = [len(words(part)) for part in parts]
    all_words = words(text)
    syllable_count = sum(syllables(w) for w in all_words)
    long = tuple(n for n in counts if n > MAX_SENTENCE_WORDS)
    if not all_words or language not in READING_AGE_LANGUAGES:
        return Readability(len(all_words), len(parts), syllable_count, None, None, long)
    per_sentence = len(all_words) / max(1, len(parts))
    per_word = syllable_count / len(all_words)
    grade = 0.39 * per_sentence + 11.8 * per_word - 15.59
    ease = 206.835 - 1.015 * per_sentence - 84.6 * per_word
    age = max(5.0, grade + 5)
    return Readability(len(all_words), len(parts), syllable_count, round(age, 1),
                       round(ease, 1), long)
