"""Nothing said is lost: the conversation engine, with every message kept somewhere.

`converse` here wraps `surveys.engine.converse` (same arguments, plus the time windows)
and makes sure that whatever a person sends ends up as an answer, a keyword, or an
"other reply" a reviewer can read:

- **Joined.** A message that arrives within the join window (a few seconds;
  `WITHUS_JOIN_SECONDS`) of a free-text answer is part of it: the second half of a long
  text, a thought sent straight after. It is added to that answer, silently (the next
  question is already on its way), unless it answers a closed question asked next (a
  quick "1" to "May we quote your words?").
- **Added.** A message that arrives a little later (`WITHUS_FOLLOW_ON_SECONDS`) and does
  not read as an answer to what we asked next is added to the previous free-text answer
  too, and the person is told so and asked the current question again. In a consultation,
  a "1" sent by mistake followed by the real answer keeps both.
- **Other replies.** Anything else that is neither an answer nor a keyword (a reply the
  engine could not read, words after finishing, after STOP, at the menu) is kept as an
  `OtherReply`, with the question or stage it arrived at. The service redacts it.
- **Limits said out loud.** Free text keeps up to the question's `max_length` (at most
  `FREE_TEXT_LIMIT`); beyond that the person is told plainly what was kept, and a joined
  answer never grows past the limit without a word.
- **Captions are words.** A photo or sticker with a caption is read as text, with the
  media marker recorded beside the answer.
- **A paused person's answer counts.** After PAUSE, a message that answers the question
  is taken as the answer rather than only waking the survey up.
- **Promises kept.** LATER and a time owe one reminder at that time (`later` in the state;
  the service schedules it, the scheduler keeps to the chosen window). STOPIO is confirmed
  in Welsh. DELETE YES in one message deletes at once, for someone whose provider blocks
  the confirmation question after an SMS STOP (and works everywhere).

Pure like the engine: time comes in as `now`, the windows as arguments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from surveys import consultation as consultations
from surveys import engine, signposting
from surveys.commands import command, language_named
from surveys.consultation import Consultation
from surveys.conversation import (
    IN_SURVEY,
    AnswerAdded,
    AnswerGiven,
    Event,
    OptedIn,
    OtherReply,
    PreferredTime,
    Reply,
    Started,
    Step,
    load_state,
)
from surveys.engine import Catalog
from surveys.i18n import gettext as _
from surveys.keywords import Keyword, keyword
from surveys.media import takes
from surveys.model import FREE_TEXT_LIMIT, QuestionType, Survey
from surveys.parsing import YES_WORDS, normalise

#: Defaults for the two windows (bot/services/config.py reads the real ones).
JOIN_SECONDS = 8.0
FOLLOW_ON_SECONDS = 120.0
#: Below this much room, a word is never cut in two: it is left out whole.
SMALL_ROOM = 20

#: State keys whose change means a message did something (answered, moved on, chose).
_MEANINGFUL = ("stage", "q", "values", "paused", "stopped", "lang", "survey", "asked",
               "shown", "safeguarding")
#: Stages outside any survey's questions.
_OUTSIDE = ("idle", "menu", "done", "declined", "closed")
#: A short "thanks" or "ok" after an answer is chit-chat, not more of the answer.
_ACKNOWLEDGEMENTS = frozenset({
    "ok", "okay", "k", "thanks", "thank you", "thankyou", "thx", "ta", "cheers", "cool",
    "great", "diolch", "diolch yn fawr", "iawn", "👍", "🙂", "😊", "👌", "🙏",
})


@dataclass(frozen=True)
class Windows:
    """How close together messages must be to count as one answer, or as more of one."""

    join: timedelta = timedelta(seconds=JOIN_SECONDS)
    follow_on: timedelta = timedelta(seconds=FOLLOW_ON_SECONDS)


def converse(catalog: Catalog, state: Mapping[str, Any] | None, event: Event, now: datetime,
             context: Mapping[str, Any] | None = None, windows: Windows | None = None) -> Step:
    """`surveys.engine.converse`, keeping every word the person sends (see the module)."""
    windows = windows or Windows()
    before = load_state(state)
    if event.kind == "timeout" and before["later"]:
        return _later_reminder(catalog, before, event, now, context)
    if event.kind == "text" and normalise(event.text) in DELETE_AT_ONCE:
        return _delete_at_once(catalog, before, now, context)
    if event.kind == "text" and keyword(event.text) is Keyword.STOP and not before["stopped"]:
        return _stop(catalog, before, event, now, context)
    event, marker = _caption(catalog, before, event)
    words = _is_words(event)
    joined = words and _may_add(before, event, now, windows.join)
    if joined and _awaits_words(catalog, before):
        # Seconds after a free-text answer, at another free-text question: too soon to
        # have read it, so this is more of the same answer.
        return _add(catalog, before, event, now, context, quietly=True)
    result = _converse(catalog, before, event, now, context)
    soon = joined or (words and _may_add(before, event, now, windows.follow_on))
    if soon and not _acknowledgement(event.text) and not _took(catalog, before, event, result):
        # Not an answer to what we asked next: more of the last answer.
        return _add(catalog, before, event, now, context, quietly=joined)
    _limit_free_text(catalog, before, event, result, now)
    if _is_words(event) and not _took(catalog, before, event, result):
        result.records.append(OtherReply(_survey_of(result.state), _where(catalog, before),
                                         _clip(event.text.strip(), FREE_TEXT_LIMIT)))
    if marker is not None:
        result.records.append(marker)
    _promises(before, result)
    return result


# --- Promises -------------------------------------------------------------------------------

#: DELETE and its YES in one message (English and Welsh).
DELETE_AT_ONCE = frozenset({
    "delete yes", "delete, yes", "delete - yes", "yes delete", "delete yes please",
    "dileu ie", "dileu, ie", "dileu yes", "ie dileu",
})
#: STOP words that are Welsh: the confirmation is in Welsh, whatever language was set.
WELSH_STOP = frozenset({"stopio", "dad-danysgrifio"})


def _promises(before: Mapping[str, Any], result: Step) -> None:
    """LATER then a time: a reminder is owed at that time. START: nothing blocks us now."""
    if (before.get("pending") == "time" and before.get("paused")
            and any(isinstance(r, PreferredTime) for r in result.records)):
        result.state["later"] = True
    elif not result.state.get("paused"):
        result.state["later"] = False
    if any(isinstance(r, OptedIn) for r in result.records):
        result.state["blocked"] = False


def _later_reminder(catalog: Catalog, before: dict[str, Any], event: Event, now: datetime,
                    context: Mapping[str, Any] | None) -> Step:
    """The reminder promised after LATER: sent even though they are paused."""
    awake = dict(before, paused=False, later=False)
    result = engine.converse(catalog, awake, event, now, context)
    result.state["later"] = False
    if not result.replies:  # nothing to remind them of after all: stay as they were
        result.state["paused"] = before["paused"]
    return result


def _delete_at_once(catalog: Catalog, before: dict[str, Any], now: datetime,
                    context: Mapping[str, Any] | None) -> Step:
    """DELETE YES in one message: the question and its answer together."""
    asked = engine.converse(catalog, before, Event("text", text="DELETE"), now, context)
    return engine.converse(catalog, asked.state, Event("text", text="YES"), now, context)


def _stop(catalog: Catalog, before: dict[str, Any], event: Event, now: datetime,
          context: Mapping[str, Any] | None) -> Step:
    """STOP, confirmed in the language of the word they used (STOPIO: Welsh)."""
    if normalise(event.text).lstrip("/") in WELSH_STOP and before.get("lang") != "cy":
        result = engine.converse(catalog, dict(before, lang="cy"), event, now, context)
        result.state["lang"] = before.get("lang")
    else:
        result = engine.converse(catalog, before, event, now, context)
    result.state["later"] = False
    return result


# --- Which messages are words to keep -------------------------------------------------------


def _is_words(event: Event) -> bool:
    """A typed message with something in it that is not a keyword or command."""
    if event.kind != "text" or not event.text.strip():
        return False
    return (keyword(event.text) is None and command(event.text) is None
            and language_named(event.text) is None and not consultations.is_more(event))


def _acknowledgement(text: str) -> bool:
    return normalise(text) in _ACKNOWLEDGEMENTS or text.strip() in _ACKNOWLEDGEMENTS


def _took(catalog: Catalog, before: Mapping[str, Any], event: Event, result: Step) -> bool:
    """Did the engine do something with the message (an answer, a choice, a decision)?"""
    if result.records and all(isinstance(r, Started) for r in result.records):
        # A survey began: because they chose it, or because a first message that chose
        # nothing ("hello", or a whole story) starts the default survey. Keep the story.
        said = normalise(event.text)
        return catalog.started_by(said) is not None or (said.isdigit()
                                                       and bool(before.get("menu")))
    if result.records:
        return True
    if before.get("pending") == "delete":  # the answer to DELETE's question
        return True
    values = before.get("values") or {}
    if values.get("phase") == "propose" and normalise(event.text) in YES_WORDS:
        return True  # "yes" to adding a point of their own: now they write it
    if before.get("stage") in _OUTSIDE and before.get("stage") != result.state.get("stage"):
        # Outside a survey, moving from "idle" to "menu" is only the menu being offered.
        return not (before.get("stage") == "idle" and result.state.get("stage") == "menu")
    return any(before.get(key) != result.state.get(key) for key in _MEANINGFUL
               if key != "stage")


def _awaits_words(catalog: Catalog, state: Mapping[str, Any]) -> bool:
    """Is the person at a question answered in their own words?"""
    item = catalog.item(state.get("survey"))
    if isinstance(item, Consultation):
        return consultations.awaits_words(item, state)
    if item is None or state.get("stage") != "asking" or not state.get("q"):
        return False
    question = item.question(str(state["q"]))
    return question is not None and question.type is QuestionType.FREE_TEXT


def _survey_of(state: Mapping[str, Any]) -> str | None:
    survey = state.get("survey")
    return str(survey) if survey else None


def _where(catalog: Catalog, state: Mapping[str, Any]) -> str:
    """The question a message arrived at, or the stage when there was none."""
    if state.get("stopped"):
        return "stopped"
    stage = str(state.get("stage") or "idle")
    if stage == "asking" and state.get("q"):
        return str(state["q"])
    return stage


# --- Paused: an answer still counts ---------------------------------------------------------


def _converse(catalog: Catalog, before: dict[str, Any], event: Event, now: datetime,
              context: Mapping[str, Any] | None) -> Step:
    """The engine's turn; after PAUSE, a message that answers the question is the answer."""
    if (_is_words(event) and before.get("paused") and not before.get("stopped")
            and before.get("stage") == "asking" and not before.get("pending")
            and not signposting.awaiting_pause(before)):
        awake = dict(before, paused=False)
        answered = engine.converse(catalog, awake, event, now, context)
        if answered.records:
            return answered
    return engine.converse(catalog, before, event, now, context)


# --- Captions -------------------------------------------------------------------------------


def _caption(catalog: Catalog, state: Mapping[str, Any],
             event: Event) -> tuple[Event, AnswerGiven | None]:
    """A photo, sticker or file with words on it: the words are read like any text, and
    the media is recorded beside them as a marker on the question they arrived at."""
    words = event.text.strip()
    if event.kind == "media" and words:
        item = catalog.item(state.get("survey"))
        qid = str(state.get("q") or "")
        question = item.question(qid) if isinstance(item, Survey) and qid else None
        if state.get("stage") == "asking" and takes(question, event.media_type):
            return event, None  # the voice note or photo is itself the answer
        event = Event("text", text=event.text, media_type=event.media_type)
    elif event.kind != "text" or not event.media_type or not words:
        return event, None
    item = catalog.item(state.get("survey"))
    at = state.get("q")
    if item is None or state.get("stage") != "asking" or not at:
        return event, None
    return event, AnswerGiven(item.id, item.version, str(at), "media",
                              {"media": event.media_type})


# --- Joining and adding ---------------------------------------------------------------------


def _may_add(state: Mapping[str, Any], event: Event, now: datetime, window: timedelta) -> bool:
    kept = state.get("kept")
    if not isinstance(kept, Mapping) or kept.get("survey") != state.get("survey"):
        return False
    if state.get("stopped") or state.get("paused") or state.get("pending") or state.get(
            "safeguarding"):
        return False
    try:
        at = datetime.fromisoformat(str(kept.get("at")))
    except ValueError:
        return False
    return window > timedelta(0) and timedelta(0) <= now - at <= window


def _add(catalog: Catalog, before: dict[str, Any], event: Event, now: datetime,
         context: Mapping[str, Any] | None, *, quietly: bool) -> Step:
    """Add the message to the last free-text answer; unless `quietly`, say so and ask the
    current question again."""
    s = load_state(before)
    s["seen"] = now.isoformat()
    kept = dict(s["kept"])
    lang = str(s["lang"] or "en")
    result = Step(s)
    limit = int(kept.get("limit") or FREE_TEXT_LIMIT)
    room = limit - int(kept.get("len") or 0) - 1  # the line break that joins them
    words = event.text.strip()
    added = _clip(words, room)
    if not added:
        result.say(_(lang, "Your answer is already as long as we can keep ({limit} "
                           "characters), so we could not add that.", limit=limit))
        kept["at"] = now.isoformat()
        s["kept"] = kept
        _reprompt(catalog, result, context)
        return result
    result.records.append(AnswerAdded(str(kept["survey"]), int(kept.get("version") or 0),
                                      str(kept["q"]), added))
    kept.update(at=now.isoformat(), len=int(kept.get("len") or 0) + 1 + len(added))
    s["kept"] = kept
    if len(added) < len(words):
        result.say(_told(lang, limit, added))
    elif quietly:
        return result
    else:
        result.say(_(lang, "Thank you, we've added that to your last answer."))
    _reprompt(catalog, result, context)
    return result


def _reprompt(catalog: Catalog, result: Step, context: Mapping[str, Any] | None) -> None:
    item = catalog.item(result.state.get("survey"))
    if result.state.get("stage") not in IN_SURVEY or item is None:
        return
    if isinstance(item, Survey):
        engine.reprompt(item, result)
    else:
        consultations.reprompt(item, result, context)


# --- Length limits --------------------------------------------------------------------------


def _limit_free_text(catalog: Catalog, before: Mapping[str, Any], event: Event, result: Step,
                     now: datetime) -> None:
    """Keep free text whole up to its limit, cut at a word beyond it (saying so), and
    remember the answer so that more words can join it."""
    item = catalog.item(result.state.get("survey"))
    free = [(n, r) for n, r in enumerate(result.records)
            if isinstance(r, AnswerGiven) and r.free_text and r.kind == "value"
            and isinstance(r.value, str)]
    if not free or event.kind != "text" or item is None:
        result.state["kept"] = None
        return
    n, record = free[-1]
    limit = _limit_of(item, record.question_id)
    words = event.text.strip()
    value = _clip(words, limit)
    result.records[n] = replace(record, value=value)
    if len(value) < len(words):
        result.replies.insert(0, Reply(_told(str(result.state.get("lang") or "en"),
                                             limit, value)))
    result.state["kept"] = {"survey": item.id, "version": item.version,
                            "q": record.question_id, "at": now.isoformat(), "len": len(value),
                            "limit": limit}


def _limit_of(item: Survey | Consultation, question_id: str) -> int:
    if isinstance(item, Survey):
        question = item.question(question_id)
        if question is not None and question.type is QuestionType.FREE_TEXT:
            return min(question.max_length, FREE_TEXT_LIMIT)
    return FREE_TEXT_LIMIT


def _clip(text: str, limit: int) -> str:
    """At most `limit` characters, cut after a whole word where one ends in the last fifth
    (or anywhere, when the room is too small for a word to be cut)."""
    if len(text) <= limit:
        return text
    cut = text[:max(limit, 0)]
    if text[len(cut)].isspace():
        return cut.rstrip()
    space = cut.rfind(" ")
    if space > 0 and (space >= limit * 4 // 5 or limit < SMALL_ROOM):
        return cut[:space].rstrip()
    return "" if limit < SMALL_ROOM else cut.rstrip()


def _told(lang: str, limit: int, kept: str) -> str:
    ending = " ".join(kept.split()[-4:])
    return _(lang, "That was longer than we can keep in one answer ({limit} characters). "
                   "We kept it up to \"{ending}\".", limit=limit, ending=ending)

