"""The conversation core that the survey engine and the consultation flow share.

What comes in (`Event`), what goes out (`Reply`), what is to be stored (the records), one
turn's result (`Step`), and the saved state every conversation keeps between messages.
`surveys.engine` (surveys, and the front door across them) and `surveys.consultation`
(consultations) both build on this module; neither imports the other's internals, and
this module imports neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from surveys.commands import LANGUAGE_NAMES, language_named
from surveys.i18n import gettext as _
from surveys.parsing import normalise

STATE_VERSION = 1
CONSENT_YES = "consent:yes"
CONSENT_NO = "consent:no"
MENU_PREFIX = "survey:"
LANGUAGE_PREFIX = "lang:"
TIME_PREFIX = "time:"
QUOTE_YES, QUOTE_NO = "quote:yes", "quote:no"
SHARE_YES, SHARE_NO = "share:yes", "share:no"
DELETE_YES, DELETE_NO = "delete:yes", "delete:no"
MAX_QUIET_TRIES = 2  # after this many misunderstood replies, offer SKIP and HELP

Stage = Literal["idle", "menu", "language", "consent", "asking", "quote", "shareback", "done",
                "declined", "closed"]
#: Stages inside a survey, where the survey's own keywords apply.
IN_SURVEY = ("language", "consent", "asking", "quote", "shareback")


# --- What comes in --------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Something the person did (or, for "timeout", a reminder falling due; for
    "media_failed", their voice note or photo for question `payload` could not be kept)."""

    kind: Literal["start", "text", "button", "media", "timeout", "media_failed"]
    text: str = ""
    payload: str = ""
    media_type: str = ""
    survey_id: str = ""


# --- What goes out ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyChoice:
    payload: str
    label: str


@dataclass(frozen=True)
class Reply:
    text: str
    choices: tuple[ReplyChoice, ...] = ()
    multiple: bool = False
    #: Added by channels that can carry a voice note or photo ("You can also send a
    #: voice note."); left off on SMS.
    media_note: str = ""


@dataclass(frozen=True)
class Started:
    survey_id: str
    version: int
    language: str


@dataclass(frozen=True)
class ConsentDecision:
    survey_id: str
    consent_version: int
    given: bool


@dataclass(frozen=True)
class AnswerGiven:
    survey_id: str
    version: int
    question_id: str
    kind: Literal["value", "skipped", "media"]
    value: Any = None
    label: str = ""
    free_text: bool = False


@dataclass(frozen=True)
class AnswerAdded:
    """More words for a free-text answer already given (surveys.keeping): a second
    message sent straight after it, or soon after and not an answer to what came next.
    The service appends `text` to the stored answer."""

    survey_id: str
    version: int
    question_id: str
    text: str


@dataclass(frozen=True)
class OtherReply:
    """A message that was neither an answer nor a keyword (surveys.keeping): kept, like
    RapidPro's "Other", with where it arrived: a question id, or a stage such as
    "consent", "menu", "done" or "stopped". `survey_id` is None outside any survey."""

    survey_id: str | None
    question_id: str
    text: str


@dataclass(frozen=True)
class Completed:
    survey_id: str
    version: int


@dataclass(frozen=True)
class OptedOut:
    pass


@dataclass(frozen=True)
class OptedIn:
    pass


@dataclass(frozen=True)
class QuotePermission:
    survey_id: str
    allowed: bool


@dataclass(frozen=True)
class ShareBackChoice:
    survey_id: str
    wanted: bool


@dataclass(frozen=True)
class PreferredTime:
    value: str  # "morning", "afternoon", "evening", "night" or an hour "07"


@dataclass(frozen=True)
class LanguageChosen:
    language: str


@dataclass(frozen=True)
class ConsultationRecord:
    """Base of what a consultation stores (votes, statements): see surveys.consultation."""


@dataclass(frozen=True)
class DataRequested:
    """MYDATA: the service answers with a summary of what is held."""


@dataclass(frozen=True)
class ErasureRequested:
    """DELETE, confirmed with YES: the service erases everything about the person."""


@dataclass(frozen=True)
class SurveyClosed:
    """Someone wrote about a survey that has closed: the service adds its share-back."""

    survey_id: str


@dataclass(frozen=True)
class ContactWanted:
    """At the pause after a possible disclosure, the person asked for someone to contact
    them (surveys.signposting): the service tells the safeguarding lead."""


Record = (
    Started | ConsentDecision | AnswerGiven | AnswerAdded | OtherReply | Completed | OptedOut
    | OptedIn | QuotePermission | ShareBackChoice | PreferredTime | LanguageChosen
    | DataRequested | ErasureRequested
    | ConsultationRecord | SurveyClosed | ContactWanted
)


@dataclass
class Step:
    state: dict[str, Any]
    replies: list[Reply] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    def __iter__(self):  # type: ignore[no-untyped-def]  # allows `state, replies, records = ...`
        return iter((self.state, self.replies, self.records))

    def say(self, text: str, choices: tuple[ReplyChoice, ...] = (), multiple: bool = False,
            media_note: str = "") -> None:
        self.replies.append(Reply(text, choices, multiple, media_note))


# --- State ------------------------------------------------------------------------------


def new_state() -> dict[str, Any]:
    return {
        "v": STATE_VERSION,
        "survey": None,
        "version": 0,
        "lang": None,
        "stage": "idle",
        "q": None,
        "tries": 0,
        "asked": [],
        "values": {},
        "paused": False,
        "stopped": False,
        "menu": [],
        "seen": None,
        "reminders": 0,
        "pending": None,
        "wrote": False,
        "shown": [],  # consultation statements shown, kept across goes: never one twice
        "safeguarding": None,  # "pause" or "held" after a possible disclosure (surveys.signposting)
        "kept": None,  # the last free-text answer, so more words can join it (surveys.keeping)
        "later": False,  # LATER and a time: one reminder is owed then (surveys.keeping)
        "blocked": False,  # the provider blocks all messages after their STOP, until START
        # The language in which an invitation already gave this survey's intro: not sent
        # again in that language when they reply to it (surveys.engine.begin).
        "introduced": None,
    }


def load_state(state: Mapping[str, Any] | None) -> dict[str, Any]:
    """A fresh copy with every key present: callers' dicts are never mutated."""
    fresh = new_state()
    if state:
        for key in fresh:
            if key in state:
                value = state[key]
                fresh[key] = list(value) if isinstance(value, list) else (
                    dict(value) if isinstance(value, dict) else value
                )
    return fresh


# --- Language, before anything else -------------------------------------------------------


def ask_language(languages: tuple[str, ...] | list[str], result: Step) -> None:
    heading = " / ".join(dict.fromkeys(_(lang, "Which language would you like?")
                                       for lang in languages))
    result.say(heading, tuple(
        ReplyChoice(LANGUAGE_PREFIX + lang, LANGUAGE_NAMES.get(lang, lang)) for lang in languages
    ))


def chosen_language(event: Event, languages: tuple[str, ...] | list[str]) -> str | None:
    if event.payload.startswith(LANGUAGE_PREFIX):
        lang = event.payload.removeprefix(LANGUAGE_PREFIX)
        return lang if lang in languages else None
    said = normalise(event.text)
    if said.isdigit() and 1 <= int(said) <= len(languages):
        return languages[int(said) - 1]
    named = language_named(event.text)
    return named if named in languages else None
