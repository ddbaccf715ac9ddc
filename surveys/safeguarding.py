"""Spotting messages that may disclose harm, so nobody's disclosure goes unheard.

Someone answering a survey about caring may say, at any point (at the consent question,
instead of choosing an option, after finishing), that they want to die, that someone hits
them, or that a parent is left in a wet bed all day. Every inbound text is checked here,
and the service answers with where to get help and tells the safeguarding lead.

The rules are data, not code: one YAML file per language in `surveys/safeguarding_rules/`
(English and Welsh ship with WithUs), each listing phrases by category (`self_harm`,
`abuse`, `neglect`), idioms to ignore ("this wait is killing me", "dead nice") and the
words that negate a statement. A safeguarding lead can read them, test a phrase with
`withus safeguarding check`, and add their own file (WITHUS_SAFEGUARDING_RULES) in the same
format. The same text always gives the same answer, and missing a disclosure costs far more
than an unneeded signposting message, so the rules lean towards recall.

**The phrase language** (see the top of `safeguarding_rules/en.yaml`):

* words in order, as people type them: `want to die`;
* `(a|b c)` one of several: `(hits|punches) me`;
* `[a|b]` optional: `[really] want to die`;
* `...` up to four other words: `left ... all night`;
* `word*` any word that starts so: `suicid*`;
* `~word` any Welsh mutation of the word: `~marw` is marw, farw; `~curo` is curo, guro,
  nghuro, churo.

Matching works on `normalise`d text: lower case, accents and apostrophes dropped ("don't"
is "dont", "ŵ" is "w"), anything that is not a letter or digit one space. Phrases in the
rule files are normalised the same way, so they may be written either way. Two
refinements keep false alarms down:

* `ignore` phrases (idioms, training talk) are blanked out before matching;
* in the categories a file lists as `negatable`, a match with a negation among the four
  words before it ("no one has ever hit me") does not count. Self-harm is never negatable:
  "I don't want to die but I think about it" still gets a signposting reply.

Pure: reads only its own rule files (and any the caller passes), never the clock.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

#: The three categories, most urgent first: the signposting follows the first one found.
CATEGORIES: tuple[str, ...] = ("self_harm", "abuse", "neglect")
RULES_DIR = Path(__file__).with_name("safeguarding_rules")
#: How many words before a match are searched for a negation.
NEGATION_WINDOW = 4
#: What `...` may skip.
GAP_WORDS = 4
_GAP = rf"(?:[^ ]+ ){{0,{GAP_WORDS}}}"
_RULE_KEYS = {"language", "negations", "negatable", "ignore", "categories"}

_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NOT_WORD = re.compile(r"[\W_]+")
#: A word as a rule may write it: letters (any accents), digits, apostrophes and hyphens,
#: with ~ before it for Welsh mutations or * after it for any ending.
_WORD = re.compile(r"~?[^\W_]+(?:['\u2019-][^\W_]+)*\*?")
_TOKENS = re.compile(r"\.\.\.|[()\[\]|]|[^\s()\[\]|]+")

# Welsh initial mutations: radical -> the forms it can take (soft, nasal, aspirate).
_MUTATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ll", ("l",)), ("rh", ("r",)),
    ("p", ("b", "mh", "ph")), ("t", ("d", "nh", "th")), ("c", ("g", "ngh", "ch")),
    ("b", ("f", "m")), ("d", ("dd", "n")), ("g", ("", "ng")), ("m", ("f",)),
)


class RuleError(ValueError):
    """A rule file that cannot be used; the message names the file and the phrase."""


def normalise(text: str) -> str:
    """Lower case, accents and apostrophes dropped, everything else one space."""
    text = unicodedata.normalize("NFKD", _APOSTROPHES.sub("", text.casefold()))
    text = "".join(char for char in text if not unicodedata.combining(char))
    return _NOT_WORD.sub(" ", text).strip()


def mutations(word: str) -> list[str]:
    """A Welsh word and every mutated form of it (`~word` in a rule)."""
    for radical, forms in _MUTATIONS:
        if word.startswith(radical):
            rest = word[len(radical):]
            return [word, *(form + rest for form in forms)]
    return [word]


# --- The phrase language ------------------------------------------------------------------


def compile_phrase(phrase: str) -> str:
    """The regular expression for one phrase. Raises RuleError with what is wrong.

    Each compiled word consumes the space after it, and text is matched as " text ", so
    every match starts and ends on a word boundary.
    """
    tokens = _TOKENS.findall(phrase)
    if not tokens:
        raise RuleError("an empty phrase")
    body, end = _alternatives(tokens, 0, None, phrase)
    if end != len(tokens):
        raise RuleError(f"unexpected '{tokens[end]}' in {phrase!r}")
    return " " + body


def _alternatives(tokens: list[str], i: int, closer: str | None,
                  phrase: str) -> tuple[str, int]:
    options = []
    while True:
        sequence, i = _sequence(tokens, i, phrase)
        if not sequence:
            raise RuleError(f"an empty choice in {phrase!r}")
        options.append(sequence)
        if i < len(tokens) and tokens[i] == "|":
            i += 1
            continue
        if closer is None:
            return (options[0] if len(options) == 1 else f"(?:{'|'.join(options)})"), i
        if i < len(tokens) and tokens[i] == closer:
            return f"(?:{'|'.join(options)})", i + 1
        raise RuleError(f"'{closer}' is missing in {phrase!r}")


def _sequence(tokens: list[str], i: int, phrase: str) -> tuple[str, int]:
    parts = []
    while i < len(tokens) and tokens[i] not in ("|", ")", "]"):
        piece = tokens[i]
        if piece in ("(", "["):
            group, i = _alternatives(tokens, i + 1, ")" if piece == "(" else "]", phrase)
            parts.append(group + ("?" if piece == "[" else ""))
            continue
        if piece == "...":
            parts.append(_GAP)
        else:
            parts.append(_word(piece, phrase))
        i += 1
    return "".join(parts), i


def _word(piece: str, phrase: str) -> str:
    if not _WORD.fullmatch(piece):
        raise RuleError(f"{piece!r} has characters a phrase cannot use, in {phrase!r}")
    mutate = piece.startswith("~")
    star = piece.endswith("*")
    words = normalise(piece.strip("~*")).split()
    first = mutations(words[0]) if mutate else [words[0]]
    words[0] = "(?:" + "|".join(re.escape(w) for w in first) + ")" if len(first) > 1 else (
        re.escape(words[0]))
    text = " ".join(words[:1] + [re.escape(w) for w in words[1:]])
    return text + (r"[^ ]* " if star else " ")


# --- Rules ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One phrase of one category, as written in its file."""

    category: str
    phrase: str
    language: str
    source: str
    pattern: re.Pattern[str] = field(compare=False, repr=False)


@dataclass(frozen=True)
class RuleSet:
    """The rules of one file: one language, or a deployment's own additions."""

    language: str
    source: str
    rules: tuple[Rule, ...]
    ignore: tuple[re.Pattern[str], ...]
    negations: frozenset[str]
    negatable: frozenset[str]


def parse_rules(data: Any, source: str) -> RuleSet:
    """A rule file already read from YAML; RuleError names the file and the problem."""
    def fail(problem: str) -> RuleError:
        return RuleError(f"{source}: {problem}")

    if not isinstance(data, Mapping):
        raise fail("a rule file is a mapping with 'language' and 'categories'")
    unknown = set(data) - _RULE_KEYS
    if unknown:
        raise fail(f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    language = data.get("language")
    if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2,3}", language):
        raise fail("'language' must be a language code such as en or cy")

    def strings(key: str) -> list[str]:
        value = data.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise fail(f"'{key}' must be a list of phrases")
        return value

    def compiled(phrase: str) -> re.Pattern[str]:
        try:
            return re.compile(compile_phrase(phrase))
        except RuleError as exc:
            raise fail(str(exc)) from None

    negations = data.get("negations") or ""
    if not isinstance(negations, str):
        raise fail("'negations' must be words separated by spaces")
    negatable = strings("negatable")
    categories = data.get("categories") or {}
    if not isinstance(categories, Mapping):
        raise fail("'categories' must map self_harm, abuse and neglect to lists of phrases")
    rules = []
    for category, phrases in categories.items():
        if category not in CATEGORIES:
            raise fail(f"unknown category {category!r} (use {', '.join(CATEGORIES)})")
        if phrases is None:
            continue
        if not isinstance(phrases, list) or not all(isinstance(p, str) for p in phrases):
            raise fail(f"'{category}' must be a list of phrases")
        rules += [Rule(category, p, language, source, compiled(p)) for p in phrases]
    for category in negatable:
        if category not in CATEGORIES:
            raise fail(f"'negatable' names an unknown category {category!r}")
    if "self_harm" in negatable:
        raise fail("self_harm cannot be negatable: 'I don't want to die, but...' must count")
    return RuleSet(language, source, tuple(rules), tuple(compiled(p) for p in strings("ignore")),
                   frozenset(normalise(negations).split()), frozenset(negatable))


def load_rules(path: str | Path) -> RuleSet:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise RuleError(f"{path}: cannot be read ({exc.strerror})") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise RuleError(f"{path}: is not valid YAML") from None
    return parse_rules(data, str(path))


@cache
def builtin_rules() -> tuple[RuleSet, ...]:
    """The rule files that ship with WithUs, one per language."""
    return tuple(load_rules(path) for path in sorted(RULES_DIR.glob("*.yaml")))


# --- Detecting ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    rule: Rule
    start: int  # in the normalised text


@dataclass(frozen=True)
class Disclosure:
    """What a message may disclose: its categories (most urgent first) and why."""

    matches: tuple[Match, ...]

    @property
    def categories(self) -> list[str]:
        found = {m.rule.category for m in self.matches}
        return [c for c in CATEGORIES if c in found]

    @property
    def category(self) -> str:
        """The most urgent category: the one the signposting is about."""
        return self.categories[0]

    @property
    def languages(self) -> list[str]:
        return list(dict.fromkeys(m.rule.language for m in self.matches))

    def language(self, preferred: str | None) -> str:
        """The language to answer in: `preferred` if the words were in it (or nothing
        says otherwise), else the language of the rules that matched."""
        if preferred and (preferred in self.languages or not self.languages):
            return preferred
        return self.languages[0] if self.languages else (preferred or "en")

    @property
    def phrases(self) -> list[str]:
        """The rules that matched, as written in their files (never the person's words)."""
        return list(dict.fromkeys(f"{m.rule.category}: {m.rule.phrase}" for m in self.matches))


class Detector:
    """Which harm categories a message touches, from one or more rule sets."""

    def __init__(self, rule_sets: Sequence[RuleSet] | None = None) -> None:
        self.rule_sets = tuple(builtin_rules() if rule_sets is None else rule_sets)
        self._ignore = [p for rs in self.rule_sets for p in rs.ignore]
        self._negations = frozenset().union(*(rs.negations for rs in self.rule_sets))

    @classmethod
    def with_extra(cls, extra: Iterable[RuleSet]) -> Detector:
        """The built-in rules plus a deployment's own."""
        return cls([*builtin_rules(), *extra])

    def screen(self, text: str) -> Disclosure | None:
        """The possible disclosure in `text`, or None for ordinary talk."""
        said = " " + normalise(text) + " "
        if not said.strip():
            return None
        for ignored in self._ignore:
            # A piece no phrase matches, so the words either side don't become adjacent.
            said = ignored.sub(" _ ", said)
        found = []
        for rule_set in self.rule_sets:
            negatable = rule_set.negatable
            for rule in rule_set.rules:
                for match in rule.pattern.finditer(said):
                    if rule.category not in negatable or self._counts(said, match):
                        found.append(Match(rule, match.start()))
                        break
        return Disclosure(tuple(found)) if found else None

    def detect(self, text: str) -> list[str]:
        """The categories found in `text`, most urgent first; [] for ordinary talk."""
        disclosure = self.screen(text)
        return disclosure.categories if disclosure else []

    def _counts(self, said: str, match: re.Match[str]) -> bool:
        matched = match.group().split()
        if matched and matched[0] in self._negations:
            return True  # the negation is the point: "no one came", "not safe"
        before = said[: match.start()].split()[-NEGATION_WINDOW:]
        return not any(word in self._negations for word in before)
