"""The conversation engine: a pure function from (survey, state, event, now) to what happens.

It knows nothing of channels, databases or the clock. Given what the person just did and
the saved state, it returns the new state, the replies to send (channel-neutral text plus
choices) and the records to store (consent, answers, completion). The state is a plain
JSON-serialisable dict, so it can be saved between messages that are days apart.

`step` runs one survey; `converse` sits in front of it and handles what lies outside any
one survey: choosing a survey, STOP and START, and the menu.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from surveys.i18n import gettext as _
from surveys.keywords import Keyword, keyword
from surveys.model import Question, QuestionType, Survey
from surveys.parsing import NO_WORDS, YES_WORDS, Parsed, normalise, parse_answer, parse_payload

STATE_VERSION = 1
CONSENT_YES = "consent:yes"
CONSENT_NO = "consent:no"
MENU_PREFIX = "survey:"
MAX_QUIET_TRIES = 2  # after this many misunderstood replies, offer SKIP and HELP

Stage = Literal["idle", "menu", "consent", "asking", "done", "declined", "closed"]


# --- What comes in --------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Something the person did (or, for "timeout", a reminder falling due)."""

    kind: Literal["start", "text", "button", "media", "timeout"]
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
class Completed:
    survey_id: str
    version: int


@dataclass(frozen=True)
class OptedOut:
    pass


@dataclass(frozen=True)
class OptedIn:
    pass


Record = Started | ConsentDecision | AnswerGiven | Completed | OptedOut | OptedIn


@dataclass
class Step:
    state: dict[str, Any]
    replies: list[Reply] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)

    def __iter__(self):  # type: ignore[no-untyped-def]  # allows `state, replies, records = ...`
        return iter((self.state, self.replies, self.records))

    def say(self, text: str, choices: tuple[ReplyChoice, ...] = (), multiple: bool = False) -> None:
        self.replies.append(Reply(text, choices, multiple))


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
    }


def _load(state: Mapping[str, Any] | None) -> dict[str, Any]:
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


# --- One survey --------------------------------------------------------------------------


def begin(survey: Survey, state: Mapping[str, Any] | None, now: datetime,
          language: str | None = None) -> Step:
    """Start `survey` from the beginning: introduce it and ask for consent."""
    s = _load(state)
    lang = language or s["lang"]
    lang = lang if lang in survey.languages else survey.default_language
    s.update(survey=survey.id, version=survey.version, lang=lang, stage="consent", q=None,
             tries=0, asked=[], values={}, paused=False, menu=[], seen=now.isoformat(),
             reminders=0)
    result = Step(s, records=[Started(survey.id, survey.version, lang)])
    result.say(survey.intro.get(lang))
    _ask_consent(survey, result)
    return result


def step(survey: Survey, state: Mapping[str, Any], event: Event, now: datetime) -> Step:
    """Advance one survey by one event."""
    s = _load(state)
    s["seen"] = now.isoformat()
    result = Step(s)
    if event.kind == "timeout":
        _remind(survey, result)
        return result
    if s["stage"] not in ("consent", "asking"):
        return result
    word = keyword(event.text) if event.kind == "text" else None
    if word is not None and word is not Keyword.STOP:
        _keyword(survey, result, word)
    elif s["stage"] == "consent":
        _consent(survey, result, event)
    elif event.kind == "media":
        _media(survey, result, event)
    else:
        _answer(survey, result, event)
    return result


def _lang(step_: Step) -> str:
    return str(step_.state["lang"] or "en")


def _ask_consent(survey: Survey, result: Step) -> None:
    lang = _lang(result)
    result.say(
        survey.consent.get(lang),
        (ReplyChoice(CONSENT_YES, _(lang, "Yes, I agree")),
         ReplyChoice(CONSENT_NO, _(lang, "No, thank you"))),
    )


def _consent(survey: Survey, result: Step, event: Event) -> None:
    s, lang = result.state, _lang(result)
    said = normalise(event.text)
    if event.payload == CONSENT_YES or said in YES_WORDS or said in ("1", "i agree"):
        result.records.append(ConsentDecision(survey.id, survey.consent_version, True))
        s["stage"] = "asking"
        _advance(survey, result, after=None)
    elif event.payload == CONSENT_NO or said in NO_WORDS or said == "2":
        result.records.append(ConsentDecision(survey.id, survey.consent_version, False))
        s.update(stage="declined", q=None)
        result.say(_(lang, "That's fine. Thank you for your time. We won't ask you anything "
                           "about this survey. Text START if you change your mind."))
    else:
        s["tries"] += 1
        result.say(_(lang, "Sorry, do you agree to take part? Reply 1 for yes or 2 for no."))


def _current(survey: Survey, result: Step) -> Question | None:
    qid = result.state["q"]
    return survey.question(qid) if qid else None


def _answer(survey: Survey, result: Step, event: Event) -> None:
    s, lang = result.state, _lang(result)
    question = _current(survey, result)
    if question is None:  # the survey changed under us: carry on from where we can
        _advance(survey, result, after=None)
        return
    if event.kind == "button":
        qid, _sep, code = event.payload.partition("=")
        if qid != question.id:
            result.say(_(lang, "That button was for an earlier question."))
            _ask(survey, result, question)
            return
        parsed = parse_payload(question, code, lang)
    else:
        parsed = parse_answer(question, event.text, lang)
    if not parsed.ok:
        s["tries"] += 1
        # The choices were just shown, so the re-ask is only a short hint (buttons on the
        # earlier message still work).
        result.say(_hint(question, parsed, s["tries"], lang))
        return
    value = parsed.value
    result.records.append(AnswerGiven(
        survey.id, survey.version, question.id, "value", value, parsed.label,
        free_text=question.type is QuestionType.FREE_TEXT,
    ))
    if question.type is not QuestionType.FREE_TEXT:
        # Only coded answers stay in the state (for skip logic); free text is personal.
        s["values"][question.id] = value
    _advance(survey, result, after=question)


def _media(survey: Survey, result: Step, event: Event) -> None:
    lang = _lang(result)
    question = _current(survey, result)
    if question is None:
        return
    result.records.append(AnswerGiven(
        survey.id, survey.version, question.id, "media", {"media": event.media_type or "file"}
    ))
    result.say(_(lang, "Thank you. We can't use photos, files or voice notes yet, so "
                       "please answer in words."))
    _ask(survey, result, question)


def _keyword(survey: Survey, result: Step, word: Keyword) -> None:
    s, lang = result.state, _lang(result)
    question = _current(survey, result)
    if word is Keyword.PAUSE:
        s["paused"] = True
        result.say(_(lang, "Paused. Send any message when you're ready to carry on."))
    elif word is Keyword.HELP:
        result.say(_help(survey, question, lang, s["stage"]))
    elif word in (Keyword.REPEAT, Keyword.START):  # START mid-survey: where were we?
        if s["stage"] == "consent" or question is None:
            _ask_consent(survey, result)
        else:
            _ask(survey, result, question)
    elif s["stage"] == "consent":
        result.say(_(lang, "First, please tell us if you agree to take part."))
        _ask_consent(survey, result)
    elif question is None:
        _advance(survey, result, after=None)
    elif word is Keyword.SKIP:
        if question.optional or s["tries"] >= MAX_QUIET_TRIES:
            result.records.append(
                AnswerGiven(survey.id, survey.version, question.id, "skipped")
            )
            _advance(survey, result, after=question)
        else:
            result.say(_(lang, "We need an answer to this one to make sense of the rest."))
            _ask(survey, result, question)
    elif word is Keyword.BACK:
        asked: list[str] = s["asked"]
        if len(asked) <= 1:
            result.say(_(lang, "This is the first question."))
            _ask(survey, result, question)
            return
        asked.pop()
        previous = survey.question(asked[-1])
        assert previous is not None
        s["values"].pop(previous.id, None)
        s["q"] = previous.id
        s["tries"] = 0
        _ask(survey, result, previous, remember=False)


def _advance(survey: Survey, result: Step, after: Question | None) -> None:
    """Move to the next question that applies, sending info messages on the way."""
    s, lang = result.state, _lang(result)
    start = 0 if after is None else survey.position(after.id) + 1
    for question in survey.questions[start:]:
        if question.show_if and not question.show_if.holds(s["values"]):
            continue
        if question.type is QuestionType.INFO:
            result.say(question.text.get(lang))
            continue
        _ask(survey, result, question)
        return
    s.update(stage="done", q=None, tries=0)
    result.records.append(Completed(survey.id, survey.version))
    result.say(survey.thank_you.get(lang))


def _ask(survey: Survey, result: Step, question: Question, remember: bool = True) -> None:
    s, lang = result.state, _lang(result)
    if s["q"] != question.id:
        s["tries"] = 0
    s["q"] = question.id
    if remember and (not s["asked"] or s["asked"][-1] != question.id):
        s["asked"].append(question.id)
    result.say(prompt(question, lang), *_choices_of(question, lang))


def prompt(question: Question, language: str) -> str:
    """The words of a question as it is sent, before a channel adds numbers or buttons."""
    text = question.text.get(language)
    if question.type is QuestionType.SCALE and question.low_label and question.high_label:
        text += "\n" + _(language, "({low} = {low_label}, {high} = {high_label})",
                         low=int(question.minimum or 1), low_label=question.low_label.get(language),
                         high=int(question.maximum or 5),
                         high_label=question.high_label.get(language))
    if question.optional:
        text += "\n" + _(language, "(You can reply SKIP.)")
    return text


def _choices_of(question: Question, lang: str) -> tuple[tuple[ReplyChoice, ...], bool]:
    choices = tuple(
        ReplyChoice(f"{question.id}={o.code}", o.label.get(lang)) for o in question.options
    )
    return choices, question.type is QuestionType.MULTIPLE_CHOICE


def _hint(question: Question, parsed: Parsed, tries: int, lang: str) -> str:
    # Re-asks are short: the person has just seen the question.
    n = len(question.options)
    hints = {
        "choice": _(lang, "Sorry, I didn't understand. Please reply with a number from 1 to {n}.",
                    n=n),
        "number": _(lang, "Sorry, please reply with a number, like 3."),
        "whole": _(lang, "Sorry, please reply with a whole number, like 3."),
        "range": _(lang, "Please reply with a number from {low} to {high}.",
                   low=_fmt(question.minimum), high=_fmt(question.maximum)),
        "empty": _(lang, "Please reply in your own words."),
    }
    if question.type is QuestionType.MULTIPLE_CHOICE and parsed.problem == "choice":
        hint = _(lang, "Sorry, I didn't understand. Reply with the numbers that apply, like 1 3.")
    elif question.type is QuestionType.SCALE and parsed.problem == "choice":
        hint = hints["range"]
    elif question.type is QuestionType.YES_NO:
        hint = _(lang, "Sorry, please reply 1 for yes or 2 for no.")
    else:
        hint = hints.get(parsed.problem, hints["choice"])
    if tries >= MAX_QUIET_TRIES:
        hint += " " + _(lang, "Reply SKIP to move on, or HELP for help.")
    return hint


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else str(value)


def _help(survey: Survey, question: Question | None, lang: str, stage: str) -> str:
    if stage == "consent" or question is None:
        now = _(lang, "Reply 1 if you agree to take part, or 2 if not.")
    elif question.type is QuestionType.FREE_TEXT:
        now = _(lang, "Reply in your own words.")
    elif question.type is QuestionType.NUMBER:
        now = _(lang, "Reply with a number.")
    elif question.type is QuestionType.MULTIPLE_CHOICE:
        now = _(lang, "Reply with the numbers of all the answers that fit.")
    else:
        now = _(lang, "Reply with the number of your answer.")
    parts = [now]
    if question is not None and question.why:
        parts.append(_(lang, "Why we ask: {why}", why=question.why.get(lang)))
    parts.append(_(lang, "Words you can send: REPEAT, BACK, SKIP, PAUSE, STOP."))
    return "\n".join(parts)


def _remind(survey: Survey, result: Step) -> None:
    s, lang = result.state, _lang(result)
    if s["paused"] or s["stopped"] or s["stage"] not in ("consent", "asking"):
        return
    s["reminders"] += 1
    result.say(_(lang, "A gentle reminder: you started \"{title}\". Carry on whenever suits "
                       "you, or reply STOP.", title=survey.title.get(lang)))
    question = _current(survey, result)
    if s["stage"] == "consent" or question is None:
        _ask_consent(survey, result)
    else:
        _ask(survey, result, question)


# --- Across surveys ----------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """The surveys a participant can reach, and the one to start when nothing matches."""

    surveys: Mapping[str, Survey]
    default_survey: str | None = None

    def open_surveys(self, now: datetime) -> list[Survey]:
        return [s for s in self.surveys.values() if s.is_open(now)]


def converse(catalog: Catalog, state: Mapping[str, Any] | None, event: Event,
             now: datetime) -> Step:
    """Handle one event for one participant, across all surveys."""
    s = _load(state)
    word = keyword(event.text) if event.kind == "text" else None
    lang = str(s["lang"] or "en")

    if event.kind == "timeout":
        survey = catalog.surveys.get(s["survey"] or "")
        if survey is None or s["stopped"]:
            return Step(s)
        return step(survey, s, event, now)

    if s["stopped"]:
        if word is Keyword.START or event.kind == "start":
            s["stopped"] = False
            result = Step(s, records=[OptedIn()])
            result.say(_(lang, "Welcome back. You will get messages from us again."))
            _resume_or_menu(catalog, result, now)
            return result
        return Step(s)  # opted out: stay silent until they say START

    if word is Keyword.STOP:
        s.update(stopped=True, paused=False)
        result = Step(s, records=[OptedOut()])
        result.say(_(lang, "You won't get any more messages from us. Text START if you "
                           "want to join in again."))
        return result

    chosen = _chosen_survey(catalog, s, event, word)
    if chosen is not None:
        if not chosen.is_open(now):
            return _closed(chosen, s, now)
        return begin(chosen, s, now)

    if s["paused"]:
        s["paused"] = False
        result = Step(s)
        if word is Keyword.PAUSE:
            s["paused"] = True
            result.say(_(lang, "Paused. Send any message when you're ready to carry on."))
            return result
        result.say(_(lang, "Welcome back."))
        _resume_or_menu(catalog, result, now)
        return result

    survey = catalog.surveys.get(s["survey"] or "")
    if s["stage"] in ("consent", "asking") and survey is not None:
        if not survey.is_open(now):
            return _closed(survey, s, now)
        return step(survey, s, event, now)

    if word is Keyword.START and s["stage"] == "declined" and survey is not None:
        return begin(survey, s, now)  # they changed their mind

    # Nothing in progress: start the default survey for newcomers, else offer a menu.
    default = catalog.surveys.get(catalog.default_survey or "")
    if s["stage"] == "idle" and default is not None and default.is_open(now) and word is None:
        return begin(default, s, now)
    result = Step(s)
    if word is Keyword.HELP:
        result.say(_(lang, "Choose a survey by its number. Reply STOP to get no more messages."))
    elif s["stage"] == "done" and survey is not None and word is None:
        result.say(_(lang, "Thank you, you've finished \"{title}\".",
                     title=survey.title.get(lang)))
    _menu(catalog, result, now)
    return result


def _chosen_survey(catalog: Catalog, s: dict[str, Any], event: Event,
                   word: Keyword | None) -> Survey | None:
    if event.kind == "start":
        return catalog.surveys.get(event.survey_id.strip().lower()) if event.survey_id else (
            None
        )
    if event.kind == "button" and event.payload.startswith(MENU_PREFIX):
        return catalog.surveys.get(event.payload.removeprefix(MENU_PREFIX))
    if event.kind != "text" or word is not None:
        return None
    said = normalise(event.text)
    current = catalog.surveys.get(s["survey"] or "")
    question = current.question(s["q"]) if current and s["q"] else None
    in_free_text = (
        s["stage"] == "asking" and question is not None
        and question.type is QuestionType.FREE_TEXT
    )
    if said in catalog.surveys and not in_free_text:
        return catalog.surveys[said]
    if s["stage"] not in ("consent", "asking") and s["menu"]:
        for n, survey_id in enumerate(s["menu"], start=1):
            survey = catalog.surveys.get(survey_id)
            if survey and said in (str(n), normalise(survey.title.get(s["lang"]))):
                return survey
    return None


def _resume_or_menu(catalog: Catalog, result: Step, now: datetime) -> None:
    s = result.state
    survey = catalog.surveys.get(s["survey"] or "")
    if survey is None or s["stage"] not in ("consent", "asking"):
        _menu(catalog, result, now)
        return
    question = _current(survey, result)
    if s["stage"] == "consent" or question is None:
        _ask_consent(survey, result)
    else:
        _ask(survey, result, question)


def _menu(catalog: Catalog, result: Step, now: datetime) -> None:
    s = result.state
    lang = str(s["lang"] or "en")
    open_now = catalog.open_surveys(now)
    if not open_now:
        result.say(_(lang, "There are no surveys open right now. Thank you for getting in "
                           "touch."))
        return
    if s["stage"] in ("idle", "closed"):
        s["stage"] = "menu"  # "done" and "declined" stay, so START can still mean "again"
    s["menu"] = [survey.id for survey in open_now]
    result.say(
        _(lang, "Which survey would you like to do?"),
        tuple(ReplyChoice(MENU_PREFIX + survey.id, survey.title.get(lang)) for survey in open_now),
    )


def _closed(survey: Survey, s: dict[str, Any], now: datetime) -> Step:
    lang = str(s["lang"] or survey.default_language)
    result = Step(s)
    if survey.opens_at and now < survey.opens_at:
        result.say(_(lang, "\"{title}\" opens on {date}. Please come back then.",
                     title=survey.title.get(lang), date=survey.opens_at.strftime("%-d %B %Y")))
        return result
    if s["survey"] == survey.id and s["stage"] in ("consent", "asking"):
        s["stage"] = "closed"  # stalled, not failed: what they gave is kept
    result.say(_(lang, "\"{title}\" has now closed. Thank you for your interest.",
                 title=survey.title.get(lang)))
    return result
