"""The word lists redaction looks names and places up in, loaded once.

The lists are plain text shipped in ``surveys/redaction_data`` (sources and
licences in its README): about 24,000 first names and 10,000 UK towns,
villages and districts, each split into entries that are only names and
entries that are also everyday words ("Will", "Bath"), plus everyday Welsh.
Nothing is downloaded. Everything is read on first use and kept in sets and
dicts, so a lookup is a hash probe whatever the size of the list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

__all__ = ["Lexicon", "PlaceEntry", "fold", "lexicon", "tokens_of"]

DATA = Path(__file__).parent / "redaction_data"

# A word, with its inner apostrophes and hyphens: "O'Brien", "Stoke-on-Trent".
WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")


def fold(word: str) -> str:
    """The form lists are keyed by: case-folded, one kind of apostrophe."""
    return word.casefold().replace("’", "'")


def tokens_of(text: str) -> tuple[str, ...]:
    return tuple(fold(m.group()) for m in WORD.finditer(text))


@dataclass(frozen=True)
class PlaceEntry:
    """One way of writing a place, as folded words: ("hebden", "bridge")."""

    words: tuple[str, ...]
    is_word: bool  # every word is an everyday word: needs a capital and a cue


@dataclass(frozen=True)
class Lexicon:
    names: frozenset[str]  # first names that are not everyday words
    name_words: frozenset[str]  # first names that are: "will", "grace", "dawn"
    welsh: frozenset[str]  # everyday Welsh, mutated forms included
    places: dict[str, tuple[PlaceEntry, ...]]  # by first folded word, longest first

    def is_name(self, folded: str) -> bool:
        return folded in self.names or folded in self.name_words


def _entries(path: Path) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def _place_index(plain: list[str], words: list[str]) -> dict[str, tuple[PlaceEntry, ...]]:
    index: dict[str, set[PlaceEntry]] = {}
    for names, is_word in ((plain, False), (words, True)):
        for name in names:
            # "Stoke-on-Trent" is also typed "Stoke on Trent", and the reverse.
            for variant in {name, name.replace("-", " "), name.replace(" ", "-")}:
                folded = tokens_of(variant)
                if folded:
                    index.setdefault(folded[0], set()).add(PlaceEntry(folded, is_word))
    return {
        first: tuple(sorted(entries, key=lambda e: (-len(e.words), e.is_word)))
        for first, entries in index.items()
    }


@cache
def lexicon() -> Lexicon:
    welsh = frozenset(
        fold(word)
        for line in _entries(DATA / "welsh_words.txt")
        for word in line.split()
    )
    return Lexicon(
        names=frozenset(fold(n) for n in _entries(DATA / "first_names.txt")),
        name_words=frozenset(fold(n) for n in _entries(DATA / "first_names_words.txt")),
        welsh=welsh,
        places=_place_index(
            _entries(DATA / "uk_places.txt"), _entries(DATA / "uk_places_words.txt")
        ),
    )
