"""The survey model: what a survey is, independent of any channel or database.

Everything here is immutable and built once by the loader, so the engine can run a
message through it without re-parsing YAML or allocating per option.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class QuestionType(StrEnum):
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    SCALE = "scale"
    YES_NO = "yes_no"
    NUMBER = "number"
    FREE_TEXT = "free_text"
    INFO = "info"


#: Question types whose answers are one of a fixed set of codes (buttons where a channel has them).
#: The most a free-text answer keeps, in characters (a question's `max_length` may be less).
FREE_TEXT_LIMIT = 5000

CHOICE_TYPES = frozenset(
    {QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE, QuestionType.SCALE,
     QuestionType.YES_NO}
)


@dataclass(frozen=True)
class Text:
    """Text in one or more languages, falling back to the survey's default language.

    Survey files may give a plain string (the default language) or a mapping of
    language code to string, so translations can be added without restructuring.
    """

    by_language: Mapping[str, str]
    default: str

    def get(self, language: str | None = None) -> str:
        if language and language in self.by_language:
            return self.by_language[language]
        return self.by_language[self.default]

    def languages(self) -> frozenset[str]:
        return frozenset(self.by_language)


def shown_keyword(keywords: Mapping[str, tuple[str, ...]], language: str | None,
                  default_language: str) -> str | None:
    """The first keyword in `language`, else in the default language, else none."""
    for lang in (language, default_language):
        if lang and keywords.get(lang):
            return keywords[lang][0]
    return None


@dataclass(frozen=True)
class Option:
    code: str
    label: Text


@dataclass(frozen=True)
class Condition:
    """Show a question only when an earlier answer is one of `values`."""

    question: str
    values: frozenset[str]

    def holds(self, answers: Mapping[str, object]) -> bool:
        given = answers.get(self.question)
        if given is None:
            return False
        if isinstance(given, list):
            return any(str(v) in self.values for v in given)
        return str(given) in self.values


@dataclass(frozen=True)
class Question:
    id: str
    type: QuestionType
    text: Text
    options: tuple[Option, ...] = ()
    optional: bool = False
    why: Text | None = None
    show_if: Condition | None = None
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = True
    max_length: int = FREE_TEXT_LIMIT
    low_label: Text | None = None
    high_label: Text | None = None
    #: What a free-text question takes: always "text", and "audio" (voice notes) or
    #: "image" (photos) where the survey says so (`accepts: [text, audio]`).
    accepts: frozenset[str] = frozenset({"text"})

    @property
    def is_answerable(self) -> bool:
        return self.type is not QuestionType.INFO

    def option(self, code: str) -> Option | None:
        for opt in self.options:
            if opt.code == code:
                return opt
        return None


@dataclass(frozen=True)
class Survey:
    id: str
    title: Text
    version: int
    default_language: str
    languages: tuple[str, ...]
    intro: Text
    consent: Text
    consent_version: int
    thank_you: Text
    questions: tuple[Question, ...]
    description: Text | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    retention_days: int = 365
    reminders: int = 1
    reminder_after_hours: int = 24
    #: Ask, after the questions, whether their words may be quoted (surveys with free text).
    ask_quote_permission: bool = True
    #: Ask whether they want to hear what was learned (reciprocity), then remember it.
    offer_share_back: bool = True
    source_path: str = ""
    #: Added to the signposting after a possible disclosure (surveys.signposting).
    safeguarding_phone: str = ""
    #: Words that start it, per language (`keywords: {en: CARERS, cy: GOFALWYR}`), as shown.
    keywords: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    _index: Mapping[str, int] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Position lookups happen on every message; build the index once.
        object.__setattr__(self, "_index", {q.id: i for i, q in enumerate(self.questions)})

    def question(self, question_id: str) -> Question | None:
        i = self._index.get(question_id)
        return None if i is None else self.questions[i]

    def position(self, question_id: str) -> int:
        return self._index.get(question_id, -1)

    @property
    def has_free_text(self) -> bool:
        return any(q.type is QuestionType.FREE_TEXT for q in self.questions)

    @property
    def accepts_media(self) -> frozenset[str]:
        """The kinds of media ("audio", "image") any question of the survey takes."""
        return frozenset().union(*(q.accepts for q in self.questions)) - {"text"}

    def keyword(self, language: str | None = None) -> str | None:
        """The word that starts it, as shown to someone reading `language`."""
        return shown_keyword(self.keywords, language, self.default_language)

    def is_open(self, now: datetime) -> bool:
        if self.opens_at and now < self.opens_at:
            return False
        return not (self.closes_at and now >= self.closes_at)
