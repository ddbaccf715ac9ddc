"""What every survey-like file shares when it is read: ids, languages, the error type,
and the reader that turns YAML values into checked fields with errors a person can act on.

`surveys.loader` (surveys) and `surveys.consultation` (consultations) both read files
with these; neither needs the other to do so.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import yaml

from surveys.commands import LANGUAGE_WORDS
from surveys.commands import WORDS as COMMAND_WORDS
from surveys.keywords import WORDS as KEYWORD_WORDS
from surveys.model import Text
from surveys.parsing import NUMBER_WORDS, ORDINAL_WORDS, normalise, yes_or_no

ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
LANGUAGE_PATTERN = re.compile(r"^[a-z]{2,3}$")
#: A survey keyword: a word or two of letters (any alphabet, so GOFALWYR and ÀRAINN both
#: work), digits and hyphens, starting with a letter, at most 24 characters.
KEYWORD_PATTERN = re.compile(r"^[^\W\d_][\w-]*( [\w-]+)?$")
KEYWORD_MAX = 24
#: How deeply a file's lists and mappings may nest. A survey needs about six levels
#: (questions, a question, its options, an option, its label in each language); a file
#: nested thousands deep would exhaust the YAML reader's stack.
MAX_DEPTH = 64


class SurveyError(ValueError):
    """A survey file is not valid. The message names the file, the question and the problem."""

    def __init__(self, source: str, problem: str, question: str | None = None) -> None:
        self.source = source
        self.question = question
        self.problem = problem
        where = f"{source}: question '{question}'" if question else source
        super().__init__(f"{where}: {problem}")


class _TooDeep(yaml.MarkedYAMLError):
    pass


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing to nest deeper than MAX_DEPTH."""

    depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _TooDeep(problem="too deeply nested", problem_mark=self.peek_event()
                               .start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_yaml(source: str, name: str) -> Any:
    """YAML text as plain values (safely: no Python objects), or a SurveyError that names
    the line: not valid YAML, or nested more than MAX_DEPTH levels deep."""
    try:
        return yaml.load(source, Loader=_BoundedLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        if isinstance(exc, _TooDeep):
            raise SurveyError(name, f"lists and mappings are nested more than {MAX_DEPTH} "
                                    f"levels deep{where}") from None
        raise SurveyError(name, f"not valid YAML{where}") from None
    except (ValueError, OverflowError) as exc:  # e.g. a date that does not exist: 2026-02-31
        raise SurveyError(name, f"not valid YAML ({exc})") from None


class Reader:
    """Holds the file name and default language while one file is parsed."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.default_language = "en"
        self.question: str | None = None

    def fail(self, problem: str) -> SurveyError:
        return SurveyError(self.source, problem, self.question)

    def text(self, value: Any, what: str, *, required: bool = True) -> Text | None:
        if value is None:
            if required:
                raise self.fail(f"'{what}' is missing")
            return None
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            value = {self.default_language: str(value)}
        if not isinstance(value, Mapping):
            raise self.fail(f"'{what}' must be text, or a mapping of language code to text")
        texts: dict[str, str] = {}
        for lang, item in value.items():
            if not isinstance(lang, str) or not LANGUAGE_PATTERN.match(lang):
                raise self.fail(f"'{what}' has an unknown language code {lang!r}")
            if not isinstance(item, str | int | float) or not str(item).strip():
                raise self.fail(f"'{what}' in language '{lang}' must be non-empty text")
            texts[lang] = str(item).strip()
        if self.default_language not in texts:
            raise self.fail(
                f"'{what}' has no text in the survey's default language '{self.default_language}'"
            )
        return Text(texts, self.default_language)

    def integer(self, value: Any, what: str, default: int, minimum: int = 0) -> int:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(f"'{what}' must be a whole number of at least {minimum}")
        return value

    def number(self, value: Any, what: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(f"'{what}' must be a number")
        return float(value)

    def flag(self, value: Any, what: str) -> bool:
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.fail(f"'{what}' must be true or false")
        return value

    def moment(self, value: Any, what: str) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                raise self.fail(f"'{what}' must be a date like 2026-12-01") from None
        else:
            raise self.fail(f"'{what}' must be a date like 2026-12-01")
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def read_header(reader: Reader, data: Mapping[str, Any], allowed: set[str],
                example_id: str) -> tuple[str, str, int]:
    """The fields every survey-like file starts with: id, default language and version.

    Also sets the reader's default language, which every text field after this needs.
    """
    unknown = set(data) - allowed
    if unknown:
        raise reader.fail(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    item_id = data.get("id")
    if not isinstance(item_id, str) or not ID_PATTERN.match(item_id):
        raise reader.fail(
            "'id' must be lowercase letters, digits or _ and start with a letter "
            f"(e.g. {example_id})"
        )
    language = data.get("language", "en")
    if not isinstance(language, str) or not LANGUAGE_PATTERN.match(language):
        raise reader.fail("'language' must be a language code such as en or cy")
    reader.default_language = language
    version = reader.integer(data.get("version"), "version", default=0, minimum=1)
    if version == 0:
        raise reader.fail("'version' is missing (a whole number; raise it when you edit)")
    return item_id, language, version


def read_keywords(reader: Reader, raw: Any, languages: tuple[str, ...]
                  ) -> dict[str, tuple[str, ...]]:
    """`keywords: {en: CARERS, cy: GOFALWYR}`: per language, a word (or a list of words)
    that starts the survey when texted on its own. The first in each language is the one
    shown in the menu. A keyword must not be a word the bot already gives a meaning to
    (HELP, STOP, MENU, CYMRAEG, yes, no, a number), so it can never take over an answer."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not raw:
        raise reader.fail("'keywords' must map language codes to words, e.g. "
                          "{en: CARERS, cy: GOFALWYR}")
    found: dict[str, tuple[str, ...]] = {}
    for lang, given in raw.items():
        if lang not in languages:
            raise reader.fail(f"'keywords' has language {lang!r}, which the survey does not "
                              f"offer (languages: {', '.join(languages)})")
        words = given if isinstance(given, list) else [given]
        if not words:
            raise reader.fail(f"'keywords' in language '{lang}' is empty")
        shown: list[str] = []
        for word in words:
            shown.append(_keyword(reader, word, lang))
        found[str(lang)] = tuple(dict.fromkeys(shown))
    return found


def _keyword(reader: Reader, word: Any, lang: str) -> str:
    if not isinstance(word, str) or not word.strip():
        raise reader.fail(f"'keywords' in language '{lang}' must be words, e.g. CARERS")
    said = normalise(word)
    if len(said) > KEYWORD_MAX or not KEYWORD_PATTERN.match(said):
        raise reader.fail(f"keyword {word!r} must be one or two words of letters, digits or "
                          f"hyphens, starting with a letter, at most {KEYWORD_MAX} characters")
    if said in KEYWORD_WORDS or said in COMMAND_WORDS or said in LANGUAGE_WORDS:
        raise reader.fail(f"keyword {word!r} already means something to WithUs "
                          "(like HELP, STOP, MENU or CYMRAEG); choose another word")
    if yes_or_no(said) is not None or said in NUMBER_WORDS or said in ORDINAL_WORDS:
        raise reader.fail(f"keyword {word!r} reads as an answer (a yes, a no or a number); "
                          "choose another word")
    return " ".join(said.split()).upper()
