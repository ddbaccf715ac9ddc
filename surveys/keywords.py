"""Keywords a person can send at any point, in each language we support.

A keyword counts only when it is the whole message ("stop", "STOP!", " Stop "), so a free
text answer such as "please don't stop visiting" is never mistaken for one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Protocol, TypeVar

from surveys.parsing import normalise


class Keyword(StrEnum):
    HELP = "HELP"
    SKIP = "SKIP"
    BACK = "BACK"
    REPEAT = "REPEAT"
    PAUSE = "PAUSE"
    STOP = "STOP"
    START = "START"


#: Every word that means a keyword. SMS carriers' opt-out words all mean STOP, so someone
#: who learned "UNSUBSCRIBE" elsewhere is still respected. Welsh words are real Welsh
#: equivalents (CYMORTH = help, STOPIO = stop), documented in docs/languages.md. Every
#: word works whatever language a person chose: people mix languages, and a keyword must
#: never fail because of a setting. Messages write YN OL without the circumflex because Ô
#: would make every SMS that mentions it go as UCS-2; both spellings are accepted.
WORDS: dict[str, Keyword] = {
    "help": Keyword.HELP, "cymorth": Keyword.HELP, "?": Keyword.HELP, "info": Keyword.HELP,
    "skip": Keyword.SKIP, "pass": Keyword.SKIP, "hepgor": Keyword.SKIP, "sgipio": Keyword.SKIP,
    "back": Keyword.BACK, "previous": Keyword.BACK, "nol": Keyword.BACK, "nôl": Keyword.BACK,
    "'nol": Keyword.BACK, "'nôl": Keyword.BACK, "yn ôl": Keyword.BACK, "yn ol": Keyword.BACK,
    "repeat": Keyword.REPEAT, "again": Keyword.REPEAT, "ailadrodd": Keyword.REPEAT,
    "eto": Keyword.REPEAT,
    "pause": Keyword.PAUSE, "wait": Keyword.PAUSE, "saib": Keyword.PAUSE,
    "stop": Keyword.STOP, "stopall": Keyword.STOP, "unsubscribe": Keyword.STOP,
    "end": Keyword.STOP, "quit": Keyword.STOP, "cancel": Keyword.STOP, "optout": Keyword.STOP,
    "revoke": Keyword.STOP, "stopio": Keyword.STOP, "dad-danysgrifio": Keyword.STOP,
    "start": Keyword.START, "unstop": Keyword.START, "restart": Keyword.START,
    "resume": Keyword.START, "dechrau": Keyword.START, "ailddechrau": Keyword.START,
}
#: Ways of saying "I'm lost" that mean HELP: the person gets help for the question they
#: are at, never a failed try. Only as the whole message, like every keyword.
HELP_PHRASES = (
    "??", "???", "what", "what?", "wot", "eh", "eh?", "huh", "huh?", "pardon", "sorry?",
    "what do you mean", "what do you mean?", "what does that mean", "what do i do",
    "what do i say", "what do i reply", "what should i say", "how do i answer",
    "i don't understand", "i dont understand", "i do not understand", "don't understand",
    "dont understand", "i don't get it", "i dont get it", "confused", "i'm confused",
    "im confused", "help me", "help please", "help pls", "please help", "can you help",
    "i need help", "what is this", "what's this", "whats this", "who is this",
    # Welsh: "beth?" (what?), "dwi ddim yn deall" (I don't understand), "helpwch fi".
    "beth", "beth?", "be?", "pardwn", "dwi ddim yn deall", "dw i ddim yn deall",
    "ddim yn deall", "dwi'm yn deall", "sai'n deall", "sa i'n deall", "dydw i ddim yn deall",
    "helpwch fi", "help fi", "helpu", "cymorth plis", "cymorth os gwelwch yn dda",
    "beth ydw i'n ei wneud", "beth yw hwn", "beth mae hynny'n ei feddwl",
)
WORDS.update(dict.fromkeys(HELP_PHRASES, Keyword.HELP))


def keyword(text: str) -> Keyword | None:
    """The keyword `text` means, if the whole message is one."""
    said = normalise(text).lstrip("/")
    return WORDS.get(said)


# --- Words that start a survey ------------------------------------------------------------


class Startable(Protocol):
    """A survey or consultation: what its id and keywords (`keywords:` in its file) are."""

    @property
    def id(self) -> str: ...

    @property
    def keywords(self) -> Mapping[str, tuple[str, ...]]: ...


S = TypeVar("S", bound=Startable)


def starting_words(item: Startable) -> dict[str, str | None]:
    """Every word that starts `item` (its id and its keywords, as a person would text
    them), with the language each keyword belongs to (None for the id)."""
    words: dict[str, str | None] = {item.id: None}
    for lang, keywords in item.keywords.items():
        for word in keywords:
            words.setdefault(normalise(word), lang)
    return words


def keyword_clashes(items: Sequence[S]
                    ) -> list[tuple[S, S, str]]:
    """(item, other item, word) for each word that would start two different items."""
    clashes = []
    for n, item in enumerate(items):
        for other in items[:n]:
            if other.id == item.id:
                continue
            shared = set(starting_words(item)) & set(starting_words(other))
            clashes += [(item, other, word.upper()) for word in sorted(shared)]
    return clashes


class Offered(Startable, Protocol):
    """A survey or consultation, as far as its keywords' languages are concerned."""

    @property
    def languages(self) -> tuple[str, ...]: ...


def shown_keywords(item: Startable) -> str:
    """Its keywords with their languages, e.g. "CARERS (en), GOFALWYR (cy)"."""
    return ", ".join(f"{word} ({lang})" for lang, words in item.keywords.items()
                     for word in words)


def keyword_warnings(items: Sequence[Offered]) -> list[str]:
    """A survey with keywords that offers a language without one: people reading that
    language are shown the default language's word."""
    warnings = []
    for item in items:
        missing = [lang for lang in item.languages if not item.keywords.get(lang)]
        if item.keywords and missing:
            warnings.append(f"{item.id} has no keyword in {', '.join(missing)}: the menu "
                            "shows those readers the default language's word")
    return warnings
