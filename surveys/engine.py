"""The conversation engine: a pure function from (survey, state, event, now) to what happens.

It knows nothing of channels, databases or the clock. Given what the person just did and
the saved state, it returns the new state, the replies to send (channel-neutral text plus
choices) and the records to store (consent, answers, completion). The state is a plain
JSON-serialisable dict, so it can be saved between messages that are days apart.

`step` runs one survey; `converse` sits in front of it and handles what lies outside any
one survey: choosing a survey or consultation, STOP and START, and the menu. The types a
turn is made of (events, replies, records, state) live in `surveys.conversation`, which
this module and `surveys.consultation` share.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from surveys import consultation, signposting
from surveys.commands import (
    LANGUAGE_NAMES,
    TIME_SLOTS,
    Command,
    command,
    language_named,
    parse_time,
)
from surveys.consultation import Consultation
from surveys.conversation import (
    CONSENT_NO,
    CONSENT_YES,
    DELETE_NO,
    DELETE_YES,
    IN_SURVEY,
    MAX_QUIET_TRIES,
    MENU_PREFIX,
    QUOTE_NO,
    QUOTE_YES,
    SHARE_NO,
    SHARE_YES,
    TIME_PREFIX,
    AnswerGiven,
    Completed,
    ConsentDecision,
    DataRequested,
    ErasureRequested,
    Event,
    LanguageChosen,
    OptedIn,
    OptedOut,
    PreferredTime,
    QuotePermission,
    ReplyChoice,
    ShareBackChoice,
    Started,
    Step,
    SurveyClosed,
    ask_language,
    chosen_language,
    load_state,
)
from surveys.dates import long_date
from surveys.i18n import gettext as _
from surveys.keywords import Keyword, keyword, starting_words
from surveys.media import failed as media_failed_text
from surveys.media import media_kind, media_note, not_used, received, takes
from surveys.model import Question, QuestionType, Survey
from surveys.organisation import Organisation
from surveys.parsing import (
    Parsed,
    clarify,
    normalise,
    parse_answer,
    parse_payload,
    yes_or_no,
)


def t(message: str) -> str:
    """Mark a message for translation where it is defined (Babel extracts `t(...)`)."""
    return message


# --- One survey --------------------------------------------------------------------------


def begin(survey: Survey, state: Mapping[str, Any] | None, now: datetime,
          language: str | None = None, introduced: str | None = None) -> Step:
    """Start `survey` from the beginning: introduce it and ask for consent.

    `introduced`: the language in which an invitation already gave them the intro. In
    that language it is not sent again: their reply to the invitation goes straight on
    to consent (in another, the intro is new to them)."""
    s = load_state(state)
    chosen = language or s["lang"]
    lang = chosen if chosen in survey.languages else survey.default_language
    s.update(survey=survey.id, version=survey.version, lang=lang, stage="consent", q=None,
             tries=0, asked=[], values={}, paused=False, menu=[], seen=now.isoformat(),
             reminders=0, pending=None, wrote=False, safeguarding=None, introduced=introduced)
    result = Step(s, records=[Started(survey.id, survey.version, lang)])
    if len(survey.languages) > 1 and chosen not in survey.languages:
        # Offer the choice before anything else, in every language on offer.
        s["stage"] = "language"
        ask_language(survey.languages, result)
        return result
    _introduce(survey, result)
    return result


def _introduce(survey: Survey, result: Step) -> None:
    """The intro, unless their invitation gave it in this language, then consent."""
    if result.state["introduced"] != _lang(result):
        result.say(survey.intro.get(_lang(result)))
    _ask_consent(survey, result)


def step(survey: Survey, state: Mapping[str, Any], event: Event, now: datetime,
         organisation: Organisation | None = None) -> Step:
    """Advance one survey by one event. `organisation` gives HELP its contact line."""
    s = load_state(state)
    s["seen"] = now.isoformat()
    result = Step(s)
    if event.kind == "timeout":
        _remind(survey, result)
        return result
    if s["stage"] not in IN_SURVEY:
        return result
    word = keyword(event.text) if event.kind == "text" else None
    if s["stage"] == "language":
        lang = chosen_language(event, survey.languages)
        if lang is None:
            ask_language(survey.languages, result)
            return result
        s.update(lang=lang, stage="consent")
        result.records.append(LanguageChosen(lang))
        _introduce(survey, result)
    elif word is Keyword.HELP:
        result.say(_help(survey, _current(survey, result), s, organisation or Organisation()))
    elif s["stage"] in ("quote", "shareback"):
        _after_question(survey, result, event, word)
    elif word is not None and word is not Keyword.STOP:
        _keyword(survey, result, word)
    elif s["stage"] == "consent":
        _consent(survey, result, event)
    elif event.kind == "media" and takes(_current(survey, result), event.media_type):
        _media_answer(survey, result, event)
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
    agreed = _yes_or_no(event, CONSENT_YES, CONSENT_NO)
    if agreed:
        result.records.append(ConsentDecision(survey.id, survey.consent_version, True))
        s["stage"] = "asking"
        _advance(survey, result, after=None)
    elif agreed is False:
        result.records.append(ConsentDecision(survey.id, survey.consent_version, False))
        s.update(stage="declined", q=None)
        result.say(_(lang, "That's fine. Thank you for your time. We won't ask you anything "
                           "about this survey. Text START if you change your mind."))
    else:
        s["tries"] += 1
        hint = _(lang, "Sorry, do you agree to take part? Reply 1 for yes or 2 for no.")
        if s["tries"] >= MAX_QUIET_TRIES:
            hint += " " + _(lang, "Or reply HELP.")
        result.say(hint)


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
        if parsed.problem == "dont_know":  # an honest answer: let them SKIP at once
            s["tries"] = max(s["tries"], MAX_QUIET_TRIES)
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
    else:
        s["wrote"] = True
    said_so_far = len(result.replies)
    _advance(survey, result, after=question)
    if parsed.fuzzy:
        label = parsed.label
        if question.type is QuestionType.SCALE:  # "5 (Plenty)", not a bare "5"
            ends = {question.minimum: question.low_label, question.maximum: question.high_label}
            end = ends.get(float(str(value)))
            label = f"{value} ({end.get(lang)})" if end else label
        _tell_recorded(result, said_so_far, label)


def _tell_recorded(result: Step, first: int, label: str) -> None:
    """A reply read approximately ("veyr good", "brilliant", "8/10"): say what was
    recorded, at the top of the next message (not a message of its own), with BACK to
    change it while BACK still can."""
    lang = _lang(result)
    if result.state["stage"] == "asking":
        note = _(lang, "Got it: {answer}. Reply BACK to change it.", answer=label)
    else:
        note = _(lang, "Got it: {answer}.", answer=label)
    if first < len(result.replies):
        reply = result.replies[first]
        result.replies[first] = replace(reply, text=f"{note}\n{reply.text}")
    else:
        result.say(note)


def _media(survey: Survey, result: Step, event: Event) -> None:
    lang = _lang(result)
    question = _current(survey, result)
    if question is None:
        return
    result.records.append(AnswerGiven(
        survey.id, survey.version, question.id, "media", {"media": event.media_type or "file"}
    ))
    result.say(not_used(event.media_type, lang))
    _ask(survey, result, question)


def _media_answer(survey: Survey, result: Step, event: Event) -> None:
    """A voice note or photo to a question that accepts it: that is their answer. The
    service fetches and stores the file after this message is handled; if it cannot,
    `media_failed` asks again."""
    question = _current(survey, result)
    assert question is not None
    result.records.append(AnswerGiven(
        survey.id, survey.version, question.id, "media",
        {"media": media_kind(event.media_type), "accepted": True},
    ))
    result.state["wrote"] = True  # their own words, spoken: may we quote them?
    result.say(received(event.media_type, _lang(result)))
    _advance(survey, result, after=question)


def media_failed(survey: Survey, state: Mapping[str, Any], event: Event) -> Step:
    """Their voice note or photo for question `event.payload` could not be fetched or was
    not usable (too big, the wrong kind, corrupt). Say so kindly and, if they are still
    in this survey or have just finished it, ask that question again so they can resend
    it or answer in words; the questions after it follow again."""
    s = load_state(state)
    result = Step(s)
    lang = _lang(result)
    result.say(media_failed_text(event.media_type, lang))
    question = survey.question(event.payload)
    if (question is None or s["survey"] != survey.id
            or s["stage"] not in ("asking", "quote", "shareback", "done")):
        return result  # elsewhere now (another survey, or declined): only the apology
    asked: list[str] = s["asked"]
    if question.id in asked:
        del asked[asked.index(question.id) + 1:]
    s["stage"] = "asking"
    _ask(survey, result, question, remember=False)
    return result


def _keyword(survey: Survey, result: Step, word: Keyword) -> None:
    s, lang = result.state, _lang(result)
    question = _current(survey, result)
    if word is Keyword.PAUSE:
        s["paused"] = True
        result.say(_(lang, "Paused. Send any message when you're ready to carry on."))
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
    s.update(q=None, tries=0)
    result.records.append(Completed(survey.id, survey.version))
    _next_after_questions(survey, result, after=None)


def _next_after_questions(survey: Survey, result: Step, after: str | None) -> None:
    """After the questions: may we quote you, would you like to hear back, then thanks."""
    s, lang = result.state, _lang(result)
    if after is None and survey.ask_quote_permission and s.get("wrote") and not s.get(
            "safeguarding"):  # not after a possible disclosure
        s["stage"] = "quote"
        result.say(_(lang, "May we quote your words, without your name, when we share what we "
                           "heard?"), _yes_no(lang, QUOTE_YES, QUOTE_NO))
        return
    if after in (None, "quote") and survey.offer_share_back:
        s["stage"] = "shareback"
        result.say(_(lang, "Would you like to hear what we learn?"),
                   _yes_no(lang, SHARE_YES, SHARE_NO))
        return
    s["stage"] = "done"
    result.say(survey.thank_you.get(lang))


def _yes_no(lang: str, yes: str, no: str) -> tuple[ReplyChoice, ...]:
    return (ReplyChoice(yes, _(lang, "Yes")), ReplyChoice(no, _(lang, "No")))


def _yes_or_no(event: Event, yes: str, no: str) -> bool | None:
    """A button, 1 or 2, or yes and no in the person's own words ("Yes, I agree", "ok
    sure", "no thanks", "ydw", "na, dim diolch")."""
    if event.payload == yes:
        return True
    if event.payload == no:
        return False
    said = normalise(event.text)
    if said in ("1", "un"):
        return True
    if said in ("2", "dau"):
        return False
    return yes_or_no(event.text) if event.kind == "text" else None


def _after_question(survey: Survey, result: Step, event: Event, word: Keyword | None) -> None:
    s, lang = result.state, _lang(result)
    stage = s["stage"]
    yes, no = (QUOTE_YES, QUOTE_NO) if stage == "quote" else (SHARE_YES, SHARE_NO)
    if word is Keyword.SKIP:
        _next_after_questions(survey, result, after=stage)
        return
    if word is Keyword.PAUSE:
        s["paused"] = True
        result.say(_(lang, "Paused. Send any message when you're ready to carry on."))
        return
    answer = None if word is not None else _yes_or_no(event, yes, no)
    if answer is None:
        result.say(_(lang, "Please reply 1 for yes or 2 for no."))
        return
    if stage == "quote":
        result.records.append(QuotePermission(survey.id, answer))
    else:
        result.records.append(ShareBackChoice(survey.id, answer))
    _next_after_questions(survey, result, after=stage)


def _ask(survey: Survey, result: Step, question: Question, remember: bool = True) -> None:
    s, lang = result.state, _lang(result)
    if s["q"] != question.id:
        s["tries"] = 0
    s["q"] = question.id
    if remember and (not s["asked"] or s["asked"][-1] != question.id):
        s["asked"].append(question.id)
    result.say(prompt(question, lang), *_choices_of(question, lang),
               media_note=media_note(question, lang))


def prompt(question: Question, language: str) -> str:
    """The words of a question as it is sent, before a channel adds numbers or buttons."""
    text = question.text.get(language)
    if question.type is QuestionType.SCALE and question.low_label and question.high_label:
        # Once, with its ends: channels show a scale's numbers as buttons or not at all.
        text += "\n" + _(language, "Reply {low} ({low_label}) to {high} ({high_label}).",
                         low=int(question.minimum or 1), low_label=question.low_label.get(language),
                         high=int(question.maximum or 5),
                         high_label=question.high_label.get(language))
    if question.optional:
        text += "\n" + _(language, "(You can reply SKIP.)")
    return text


def _choices_of(question: Question, lang: str) -> tuple[tuple[ReplyChoice, ...], bool]:
    if question.type is QuestionType.YES_NO:  # built-in labels: translated like any message
        return (ReplyChoice(f"{question.id}=yes", _(lang, "Yes")),
                ReplyChoice(f"{question.id}=no", _(lang, "No"))), False
    choices = tuple(
        ReplyChoice(f"{question.id}={o.code}", o.label.get(lang)) for o in question.options
    )
    return choices, question.type is QuestionType.MULTIPLE_CHOICE


def _hint(question: Question, parsed: Parsed, tries: int, lang: str) -> str:
    # Re-asks are short: the person has just seen the question.
    kind = clarify(question, parsed, lang)  # "Did you mean ...?" or a reply to "don't know"
    if kind is not None:
        return kind
    n = len(question.options)
    hints = {
        "choice": _(lang, "Sorry, I didn't understand. Please reply with a number from 1 to {n}.",
                    n=n),
        "number": _(lang, "Sorry, please reply with a number, like 3."),
        "whole": _(lang, "Sorry, please reply with a whole number, like 3."),
        "range": _(lang, "Please reply with a number from {low} to {high}.",
                   low=_fmt(question.minimum), high=_fmt(question.maximum)),
        "empty": _(lang, "Please reply in your own words."),
        "one_only": _(lang, "Only one answer here, please. Reply with one number from 1 to {n}.",
                      n=n),
        "outside": _(lang, "{given} is not one of the options. Please reply with a number "
                           "from 1 to {n}.", given=parsed.given, n=n),
    }
    between = _(lang, "a number between {low} and {high}", low=_fmt(question.minimum),
                high=_fmt(question.maximum))
    if question.type is QuestionType.MULTIPLE_CHOICE and parsed.problem == "outside":
        hint = _(lang, "{given} is not one of the options. Reply with the numbers that apply, "
                       "like 1 3.", given=parsed.given)
    elif question.type is QuestionType.MULTIPLE_CHOICE and parsed.problem == "choice":
        hint = _(lang, "Sorry, I didn't understand. Reply with the numbers that apply, like 1 3.")
    elif question.type is QuestionType.SCALE and parsed.problem == "outside":
        hint = _(lang, "{given} is not on the scale. Please reply with {between}.",
                 given=parsed.given, between=between)
    elif question.type is QuestionType.SCALE and parsed.problem == "one_only":
        hint = _(lang, "Only one answer here, please. Reply with {between}.", between=between)
    elif question.type is QuestionType.SCALE and parsed.problem == "choice":
        hint = _(lang, "Please reply with {between}.", between=between)
    elif question.type is QuestionType.YES_NO and parsed.problem != "one_only":
        hint = _(lang, "Sorry, please reply 1 for yes or 2 for no.")
    else:
        hint = hints.get(parsed.problem, hints["choice"])
    if tries >= MAX_QUIET_TRIES:
        hint += " " + _(lang, "Or reply SKIP or HELP.")
    return hint


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    return str(int(value)) if float(value).is_integer() else str(value)


#: How each word a person can send is written in a message, marked for translation.
KEYWORD_NAMES: dict[str, str] = {
    "REPEAT": t("REPEAT"), "BACK": t("BACK"), "SKIP": t("SKIP"), "PAUSE": t("PAUSE"),
    "LATER": t("LATER"), "TIME": t("TIME"), "LANGUAGE": t("LANGUAGE"), "MENU": t("MENU"),
    "MYDATA": t("MYDATA"), "DELETE": t("DELETE"), "STOP": t("STOP"), "MORE": t("MORE"),
}


def words_line(words: list[str], lang: str, organisation: Organisation) -> str:
    """"Words you can send: ..." and who to talk to: the end of every HELP."""
    names = ", ".join(_(lang, KEYWORD_NAMES[word]) for word in words)
    line = _(lang, "Words you can send: {words}.", words=names)
    if organisation.contact:
        line += "\n" + _(lang, "To talk to a person: {contact}.", contact=organisation.contact)
    return line


def _help(survey: Survey, question: Question | None, s: Mapping[str, Any],
          organisation: Organisation) -> str:
    """HELP for where the person is: how to answer, why we ask, and exactly the words
    that work at this point (BACK only after the first question, SKIP only where a skip
    is taken), then who to talk to."""
    lang, stage = str(s["lang"] or "en"), s["stage"]
    words = ["REPEAT"]
    if stage in ("quote", "shareback"):
        now = _(lang, "Reply 1 for yes or 2 for no.")
        words = ["SKIP"]
    elif stage == "consent" or question is None:
        now = _(lang, "Reply 1 if you agree to take part, or 2 if not.")
    else:
        if question.type is QuestionType.FREE_TEXT:
            now = _(lang, "Reply in your own words.")
        elif question.type is QuestionType.NUMBER:
            now = _(lang, "Reply with a number.")
        elif question.type is QuestionType.MULTIPLE_CHOICE:
            now = _(lang, "Reply with the numbers of all the answers that fit.")
        else:
            now = _(lang, "Reply with the number of your answer.")
        if len(s["asked"]) > 1:
            words.append("BACK")
        if question.optional or s["tries"] >= MAX_QUIET_TRIES:
            words.append("SKIP")
    words += ["PAUSE", "LATER"]
    if len(survey.languages) > 1:
        words.append("LANGUAGE")
    words += ["MYDATA", "DELETE", "STOP"]
    parts = [now]
    if question is not None and question.why and stage == "asking":
        parts.append(_(lang, "Why we ask: {why}", why=question.why.get(lang)))
    parts.append(words_line(words, lang, organisation))
    return "\n".join(parts)


def _remind(survey: Survey, result: Step) -> None:
    s, lang = result.state, _lang(result)
    if s["paused"] or s["stopped"] or s["stage"] not in ("consent", "asking"):
        return
    s["reminders"] += 1
    result.say(_(lang, "A gentle reminder: you started \"{title}\". Carry on whenever suits "
                       "you, or reply STOP.", title=survey.title.get(lang)))
    reprompt(survey, result)


def reprompt(survey: Survey, result: Step) -> None:
    """Send again whatever the person was last asked, whatever stage they are at."""
    s = result.state
    stage = s["stage"]
    if stage == "language":
        ask_language(survey.languages, result)
    elif stage == "consent":
        _ask_consent(survey, result)
    elif stage == "quote":
        _next_after_questions(survey, result, after=None)
    elif stage == "shareback":
        _next_after_questions(survey, result, after="quote")
    elif stage == "asking":
        question = _current(survey, result)
        if question is None:
            _advance(survey, result, after=None)
        else:
            _ask(survey, result, question, remember=False)


# --- Across surveys ----------------------------------------------------------------------


@dataclass(frozen=True)
class Catalog:
    """The surveys and consultations a participant can reach, and the one to start when
    nothing matches."""

    surveys: Mapping[str, Survey]
    default_survey: str | None = None
    consultations: Mapping[str, Consultation] = field(default_factory=dict)
    #: When an organiser closed (or archived) an item, whatever its file says: from then
    #: on it leaves the menu, and its results stay.
    closed: Mapping[str, datetime] = field(default_factory=dict)
    #: Who is writing (said to a newcomer) and who to talk to (in HELP).
    organisation: Organisation = field(default_factory=Organisation)

    def is_open(self, item: Survey | Consultation, now: datetime) -> bool:
        """Open by its own dates, and not closed by an organiser."""
        closed = self.closed.get(item.id)
        return item.is_open(now) and (closed is None or now < closed)

    def open_surveys(self, now: datetime) -> list[Survey | Consultation]:
        items: list[Survey | Consultation] = [*self.surveys.values(),
                                              *self.consultations.values()]
        return [s for s in items if self.is_open(s, now)]

    def item(self, item_id: str | None) -> Survey | Consultation | None:
        """The survey or consultation with this id, if there is one."""
        if not item_id:
            return None
        return self.surveys.get(item_id) or self.consultations.get(item_id)

    def started_by(self, said: str) -> tuple[Survey | Consultation, str | None] | None:
        """The survey or consultation a (normalised) message names, by its id or by one of
        its keywords in any language, with the keyword's language (None for an id)."""
        found = self.item(said)
        if found is not None:
            return found, None
        items: list[Survey | Consultation] = [*self.surveys.values(),
                                              *self.consultations.values()]
        for item in items:
            words = starting_words(item)
            if said in words:
                return item, words[said]
        return None


def _begin_item(item: Survey | Consultation, state: Mapping[str, Any], now: datetime,
                language: str | None = None, introduced: str | None = None) -> Step:
    if isinstance(item, Survey):
        return begin(item, state, now, language, introduced)
    return consultation.begin(item, state, now, language, introduced)


def _step_item(item: Survey | Consultation, state: Mapping[str, Any], event: Event,
               now: datetime, context: Mapping[str, Any] | None,
               organisation: Organisation | None = None) -> Step:
    if isinstance(item, Survey):
        return step(item, state, event, now, organisation)
    return consultation.step(item, state, event, now, context)


def _more_wanted(item: Survey | Consultation, state: Mapping[str, Any], event: Event) -> bool:
    """MORE after finishing a consultation: more statements to vote on, any time."""
    if isinstance(item, Survey):
        return False
    return consultation.wants_more(state, event)


def converse(catalog: Catalog, state: Mapping[str, Any] | None, event: Event,
             now: datetime, context: Mapping[str, Any] | None = None) -> Step:
    """Handle one event for one participant, across all surveys and consultations.

    `context` carries what only the caller can look up: in a consultation, the statements
    this person may vote on next (see surveys.consultation.build_context); and under
    "invited", the surveys whose invitation (with its intro) reached this person lately,
    each with the language it was in, so that a reply to one is not told the intro again.
    """
    s = load_state(state)
    newcomer = s["stage"] == "idle" and not s["survey"] and not s["stopped"]
    result = _converse(catalog, s, event, now, context)
    if (newcomer and result.replies and event.kind in ("text", "button", "start")
            and not result.state["introduced"]):  # an invitation has said who is writing
        _greet(catalog, result)
    return result


def _greet(catalog: Catalog, result: Step) -> None:
    """The first message anyone gets says who is writing, in each language on offer
    when we don't know theirs yet."""
    s = result.state
    item = catalog.item(s["survey"])
    if s["stage"] == "language" and item is not None:
        languages = list(item.languages)
    else:
        languages = [str(s["lang"] or "en")]
    hello = " / ".join(dict.fromkeys(
        _(lang, "Hello from {name}.", name=catalog.organisation.name) for lang in languages))
    first = result.replies[0]
    if first.text.casefold().startswith(hello.casefold()):
        return  # an intro that already says who is writing is not said twice
    result.replies[0] = replace(first, text=f"{hello}\n{first.text}")


def _converse(catalog: Catalog, s: dict[str, Any], event: Event, now: datetime,
              context: Mapping[str, Any] | None) -> Step:
    word = keyword(event.text) if event.kind == "text" else None
    order = command(event.text) if event.kind == "text" else None
    lang = str(s["lang"] or "en")
    current = catalog.item(s["survey"])

    if event.kind == "timeout":
        if current is None or s["stopped"]:
            return Step(s)
        return _step_item(current, s, event, now, context, catalog.organisation)

    if event.kind == "media_failed":  # from the media fetcher, not the person
        failed_in = catalog.surveys.get(event.survey_id)
        if failed_in is None or s["stopped"]:
            return Step(s)
        return media_failed(failed_in, s, event)

    # Data rights hold even after STOP: people may always ask what we hold, or to delete it.
    if s["pending"] == "delete" or order in (Command.DELETE, Command.MYDATA):
        return _data_rights(catalog, s, event, order, now, context)

    if s["stopped"]:
        if word is Keyword.START or event.kind == "start":
            s["stopped"] = False
            result = Step(s, records=[OptedIn()])
            result.say(_(lang, "Welcome back. You will get messages from us again."))
            _resume_or_menu(catalog, result, now, context=context)
            return result
        return Step(s)  # opted out: stay silent until they say START

    if word is Keyword.STOP:
        s.update(stopped=True, paused=False, pending=None)
        result = Step(s, records=[OptedOut()])
        result.say(_(lang, "You won't get any more messages from us. Text START if you "
                           "want to join in again."))
        return result

    if signposting.awaiting_pause(s):
        paused = _safeguarding_pause(catalog, s, event, now, context)
        if paused is not None:
            return paused

    if s["pending"] in ("time", "language") or order in (
        Command.TIME, Command.LATER, Command.LANGUAGE
    ) or (language_named(event.text) and event.kind == "text" and s["stage"] != "language"):
        handled = _preferences(catalog, s, event, order, now, context)
        if handled is not None:
            return handled

    chosen, in_language = _chosen_survey(catalog, s, event, word)
    if chosen is not None:
        if not catalog.is_open(chosen, now):
            return _closed(chosen, s, in_language, now)
        # A keyword in one language (GOFALWYR) answers "which language?" for someone we
        # have not asked yet; a language they chose stays.
        unasked = s["lang"] is None or s["stage"] == "language"
        invited: Mapping[str, str] = (context or {}).get("invited") or {}
        return _begin_item(chosen, s, now, in_language if unasked else None,
                           invited.get(chosen.id))

    if s["paused"]:
        s["paused"] = False
        result = Step(s)
        if word is Keyword.PAUSE:
            s["paused"] = True
            result.say(_(lang, "Paused. Send any message when you're ready to carry on."))
            return result
        result.say(_(lang, "Welcome back."))
        _resume_or_menu(catalog, result, now, context=context)
        return result

    if current is not None and (s["stage"] in IN_SURVEY or _more_wanted(current, s, event)):
        if not catalog.is_open(current, now):
            return _closed(current, s, None, now)
        return _step_item(current, s, event, now, context, catalog.organisation)

    if word is Keyword.START and s["stage"] == "declined" and current is not None:
        return _begin_item(current, s, now)  # they changed their mind

    # Nothing in progress: start the default survey for newcomers, else offer a menu.
    default = catalog.item(catalog.default_survey)
    if (s["stage"] == "idle" and default is not None and catalog.is_open(default, now)
            and word is None):
        return _begin_item(default, s, now)
    result = Step(s)
    if word is Keyword.HELP:
        words = ["MENU", "TIME", "LANGUAGE", "MYDATA", "DELETE", "STOP"]
        result.say(_(lang, "Reply MENU to choose a survey.") + "\n"
                   + words_line(words, lang, catalog.organisation))
        return result
    if (s["stage"] == "done" and current is not None and word is None
            and order is not Command.MENU and event.kind == "text"):
        _after_finishing(catalog, result, current, event, now)
        return result
    _menu(catalog, result, now)
    return result


#: Messages after finishing that need no answer beyond the first: thanks, ok, a thumbs up.
CHIT_CHAT = frozenset({
    "thanks", "thank you", "thankyou", "thx", "ta", "cheers", "ok", "okay", "k", "kk", "ok thanks",
    "ok thank you", "thanks again", "great", "great thanks", "lovely", "cool", "nice", "bye",
    "goodbye", "you too", "no problem", "np", "good", "fine", "x", "xx", "xxx", ":)", "lol",
    "👍", "👌", "🙂", "😊", "🙏", "❤", "❤️", "👋", "yes", "no", "done",
    "diolch", "diolch yn fawr", "diolch o galon", "iawn", "hwyl", "hwyl fawr", "grêt", "gret",
    "da", "ta ta", "tara",
})


def _after_finishing(catalog: Catalog, result: Step, current: Survey | Consultation,
                     event: Event, now: datetime) -> None:
    """After the last question people often say thanks. One short line, once: never the
    whole menu each time (MENU shows it). Anything else gets the same one line again."""
    s = result.state
    lang = str(s["lang"] or "en")
    said = normalise(event.text)
    if s["tries"] >= 1 and (said in CHIT_CHAT or not said):
        return  # they've had the line: "ok" back to our "thanks" needs no answer
    s["tries"] = s["tries"] + 1
    if len(catalog.open_surveys(now)) > 1:
        result.say(_(lang, "Thank you, you've finished \"{title}\". Reply MENU for other "
                           "surveys.", title=current.title.get(lang)))
    else:
        result.say(_(lang, "Thank you, you've finished \"{title}\".",
                     title=current.title.get(lang)))


def _safeguarding_pause(catalog: Catalog, s: dict[str, Any], event: Event, now: datetime,
                        context: Mapping[str, Any] | None) -> Step | None:
    """The gentle pause after a possible disclosure (see surveys.signposting): carry on,
    stop for now, or ask for someone to get in touch. None: they chose a survey instead."""
    if event.kind == "start" or event.payload.startswith(MENU_PREFIX):
        s.update(safeguarding=signposting.HELD, paused=False)
        return None
    result, carry_on = signposting.answer_pause(s, event, str(s["lang"] or "en"))
    if carry_on:
        _resume_or_menu(catalog, result, now, context=context)
    return result


def _data_rights(catalog: Catalog, s: dict[str, Any], event: Event, order: Command | None,
                 now: datetime, context: Mapping[str, Any] | None = None) -> Step:
    lang = str(s["lang"] or "en")
    result = Step(s)
    if order is Command.MYDATA:
        s["pending"] = None
        result.records.append(DataRequested())  # the service writes the summary
        return result
    if order is Command.DELETE:
        s["pending"] = "delete"
        result.say(_(lang, "This deletes everything we hold about you, including your "
                           "answers. It can't be undone. Delete it all?"),
                   (ReplyChoice(DELETE_YES, _(lang, "Yes, delete")),
                    ReplyChoice(DELETE_NO, _(lang, "No, keep it"))))
        return result
    s["pending"] = None
    decision = _yes_or_no(event, DELETE_YES, DELETE_NO)
    if decision:
        result.records.append(ErasureRequested())
        result.say(_(lang, "Done. We have deleted your answers and your number. You won't "
                           "hear from us again unless you write to us."))
        return result
    result.say(_(lang, "Nothing has been deleted."))
    if not s["stopped"]:
        _resume_or_menu(catalog, result, now, context=context)
    return result


def _preferences(catalog: Catalog, s: dict[str, Any], event: Event, order: Command | None,
                 now: datetime, context: Mapping[str, Any] | None = None) -> Step | None:
    """TIME, LATER and LANGUAGE, and the answers to them. None: not for us after all."""
    lang = str(s["lang"] or "en")
    current = catalog.item(s["survey"])
    languages = list(current.languages) if current and len(current.languages) > 1 else (
        list(LANGUAGE_NAMES)
    )
    result = Step(s)
    if order in (Command.TIME, Command.LATER):
        s["pending"] = "time"
        if order is Command.LATER:
            s["paused"] = True
            result.say(_(lang, "No problem. When would suit you better?"), _time_choices(lang))
        else:
            result.say(_(lang, "When is a good time for our messages? You can also reply "
                               "with an hour, like 7pm."), _time_choices(lang))
        return result
    if order is Command.LANGUAGE:
        s["pending"] = "language"
        ask_language(languages, result)
        return result
    named = language_named(event.text) if event.kind == "text" else None
    if s["pending"] == "language" or named:
        chosen = named if named in LANGUAGE_NAMES else chosen_language(event, languages)
        s["pending"] = None
        if chosen is None:
            return None  # not a language after all: handle the message normally
        s["lang"] = chosen
        result.records.append(LanguageChosen(chosen))
        result.say(_(chosen, "OK, we'll write in English."))
        _resume_or_menu(catalog, result, now, quiet=True, context=context)
        return result
    # Pending time
    s["pending"] = None
    chosen_time = (event.payload.removeprefix(TIME_PREFIX) if event.payload.startswith(TIME_PREFIX)
                   else parse_time(event.text))
    if chosen_time is None or not (chosen_time in TIME_SLOTS or chosen_time.isdigit()):
        return None
    result.records.append(PreferredTime(chosen_time))
    when = _(lang, "at {hour}:00", hour=chosen_time) if chosen_time.isdigit() else {
        "morning": _(lang, "in the morning"), "afternoon": _(lang, "in the afternoon"),
        "evening": _(lang, "in the evening"), "night": _(lang, "at night"),
    }[chosen_time]
    if s["paused"]:
        result.say(_(lang, "Thanks. We'll send reminders {when}. Reply any time to carry on.",
                     when=when))
    else:
        result.say(_(lang, "Thanks. We'll send messages {when} from now on.", when=when))
        _resume_or_menu(catalog, result, now, quiet=True, context=context)
    return result


def _time_choices(lang: str) -> tuple[ReplyChoice, ...]:
    labels = {"morning": _(lang, "Morning"), "afternoon": _(lang, "Afternoon"),
              "evening": _(lang, "Evening"), "night": _(lang, "Night")}
    return tuple(ReplyChoice(TIME_PREFIX + slot, labels[slot]) for slot in TIME_SLOTS)


def _chosen_survey(catalog: Catalog, s: dict[str, Any], event: Event, word: Keyword | None
                   ) -> tuple[Survey | Consultation | None, str | None]:
    """The survey or consultation this event chooses, if any, and the language of the
    keyword it was chosen by (None for an id, a button or a menu number)."""
    if event.kind == "start":  # a deep link (t.me/bot?start=GOFALWYR) names an id or keyword
        started = catalog.started_by(normalise(event.survey_id)) if event.survey_id else None
        return started if started is not None else (None, None)
    if event.kind == "button" and event.payload.startswith(MENU_PREFIX):
        return catalog.item(event.payload.removeprefix(MENU_PREFIX)), None
    if event.kind != "text" or word is not None:
        return None, None
    said = normalise(event.text)
    current = catalog.item(s["survey"])
    if isinstance(current, Survey):
        question = current.question(s["q"]) if s["q"] else None
        in_free_text = (
            s["stage"] == "asking" and question is not None
            and question.type is QuestionType.FREE_TEXT
        )
    else:
        in_free_text = current is not None and consultation.awaits_words(current, s)
    started = catalog.started_by(said) if said and not in_free_text else None
    if started is not None:
        return started
    if s["stage"] not in IN_SURVEY and s["menu"]:
        for n, survey_id in enumerate(s["menu"], start=1):
            survey = catalog.item(survey_id)
            if survey and said in (str(n), normalise(survey.title.get(s["lang"]))):
                return survey, None
    return None, None


def _resume_or_menu(catalog: Catalog, result: Step, now: datetime, quiet: bool = False,
                    context: Mapping[str, Any] | None = None) -> None:
    """Carry on where they were; outside a survey, offer the menu (unless `quiet`)."""
    s = result.state
    survey = catalog.item(s["survey"])
    if survey is None or s["stage"] not in IN_SURVEY:
        if not quiet:
            _menu(catalog, result, now)
        return
    if isinstance(survey, Survey):
        reprompt(survey, result)
    else:
        consultation.reprompt(survey, result, context)


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
        tuple(ReplyChoice(MENU_PREFIX + item.id, menu_label(item, lang)) for item in open_now),
    )


def menu_label(item: Survey | Consultation, language: str) -> str:
    """A survey as the menu lists it: its title and, where it has one, the word that
    starts it, both in the person's language: "Gofalu am rywun (GOFALWYR)"."""
    title = item.title.get(language)
    word = item.keyword(language)
    return f"{title} ({word})" if word else title


def _closed(survey: Survey | Consultation, s: dict[str, Any], asked_in: str | None,
            now: datetime) -> Step:
    lang = str(s["lang"] or asked_in or survey.default_language)
    result = Step(s)
    if survey.opens_at and now < survey.opens_at:
        result.say(_(lang, "\"{title}\" opens on {date}. Please come back then.",
                     title=survey.title.get(lang), date=long_date(survey.opens_at, lang)))
        return result
    if s["survey"] == survey.id and s["stage"] in IN_SURVEY:
        s["stage"] = "closed"  # stalled, not failed: what they gave is kept
    result.say(_(lang, "\"{title}\" has now closed. Thank you for your interest.",
                 title=survey.title.get(lang)))
    result.records.append(SurveyClosed(survey.id))
    return result
