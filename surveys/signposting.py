"""What a person hears after a possible disclosure: where to get help, then a gentle pause.

When `surveys.safeguarding` finds a possible disclosure in a message, whatever the person
was asked, the service sends, instead of the survey's usual reply:

1. the signposting for the category (`signposting`), in their language, at most two SMS
   parts, with real numbers only: the national helplines below, always correct, and a
   local contact only when one is configured (never a placeholder);
2. the gentle pause (`pause_after_disclosure`): carry on, stop for now, or ask someone to
   contact them. The survey waits (no reminders) until they choose.

The pause is a state key, `safeguarding`: "pause" while the choice is awaited, "held"
after it (for the rest of that survey: it is then never asked whether its words may be
quoted). `surveys.engine.converse` hands the next message to `answer_pause`.

Pure: no I/O, no clock. The numbers are checked against this list by the tests:

* Samaritans 116 123, free, 24 hours; their Welsh Language Line 0808 164 0123;
* 999 in an emergency; NHS 111 for urgent health advice;
* National Domestic Abuse Helpline 0808 2000 247 (England, free, 24 hours);
* Live Fear Free / Byw Heb Ofn 0808 80 10 800 (Wales, free, 24 hours);
* CALL, the Community Advice and Listening Line 0800 132 737 (Wales, mental health).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from surveys.conversation import ContactWanted, Event, ReplyChoice, Step
from surveys.i18n import gettext as _
from surveys.parsing import normalise
from surveys.reading import Reader
from surveys.sms import encoding

PAUSE, HELD = "pause", "held"
PAUSE_PREFIX = "care:"
Choice = Literal["carry_on", "stop", "contact"]
CARRY_ON: Choice = "carry_on"
STOP_FOR_NOW: Choice = "stop"
CONTACT: Choice = "contact"
#: The longest local contact a deployment or survey may set, so the signposting still
#: fits in two SMS parts.
MAX_LOCAL_CONTACT = 40


def t(message: str) -> str:
    """Mark a message for translation where it is defined (Babel extracts `t(...)`)."""
    return message


SIGNPOSTING: dict[str, str] = {
    "self_harm": t(
        "Thank you for telling us. You don't have to face this alone. Samaritans are free, "
        "day or night: 116 123. In Wales you can also call the CALL helpline: 0800 132 737. "
        "If you are in danger now, call 999."),
    "abuse": t(
        "Thank you for telling us. If you or someone else is in danger now, call 999. Free "
        "24-hour helplines: Domestic Abuse 0808 2000 247 (England), Live Fear Free "
        "0808 80 10 800 (Wales). Samaritans: 116 123."),
    "neglect": t(
        "Thank you for telling us. If someone is hurt or in danger now, call 999. For urgent "
        "health advice, call 111. Your council's adult social care team can look into "
        "worries about someone's care. Samaritans listen day or night: 116 123."),
}
LOCAL_CONTACT = t("Local safeguarding contact: {contact}.")


#: A deployment's own signposting, as read from WITHUS_SIGNPOSTING_FILE: by language
#: ("*" for every language), each one text or texts by category; "{phone}" in a text
#: stands for the local contact.
CustomTexts = Mapping[str, str | Mapping[str, str]]


def signposting(category: str, language: str, local_contact: str = "",
                custom: CustomTexts | None = None) -> str:
    """The signposting for `category` in `language`, with the local contact if there is
    one. Unknown categories get the self-harm text: it is the most urgent.

    `custom`: the deployment's own texts. One for this language (or every language) and
    category is used instead, unless it names {phone} and there is no local contact."""
    contact = " ".join(local_contact.split())
    own = _custom(custom or {}, category, language)
    if own and ("{phone}" not in own or contact):
        return own.replace("{phone}", contact)
    text = _(language, SIGNPOSTING.get(category, SIGNPOSTING["self_harm"]))
    if contact:
        text += " " + _(language, LOCAL_CONTACT, contact=contact)
    return text


def _custom(texts: CustomTexts, category: str, language: str) -> str:
    for key in (language, "*"):
        found = texts.get(key)
        if isinstance(found, str):
            return found
        if isinstance(found, Mapping) and isinstance(found.get(category), str):
            return str(found[category])
    return ""


def check_local_contact(value: Any) -> str:
    """A local contact as a deployment or survey may set it ("" for none); ValueError
    saying what is wrong. It must hold a phone number, fit in the two-part budget, and
    be plain GSM-7 text so the signposting stays cheap to send."""
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise ValueError("must be a name and phone number, e.g. 'Adult social care 0113 222 "
                         "4401'")
    contact = " ".join(str(value).split())
    if not contact:
        return ""
    if len(contact) > MAX_LOCAL_CONTACT:
        raise ValueError(f"is {len(contact)} characters; keep it to {MAX_LOCAL_CONTACT} so "
                         "the signposting fits in two text messages")
    if len(re.findall(r"\d", contact)) < 3:
        raise ValueError("needs a phone number people can call")
    if encoding(contact) != "GSM-7":
        raise ValueError("has characters that would make every signposting text cost "
                         "three times as much; use plain letters")
    return contact


def read_local_contact(reader: Reader, value: Any) -> str:
    """A survey file's `safeguarding_phone`, checked."""
    try:
        return check_local_contact(value)
    except ValueError as exc:
        raise reader.fail(f"'safeguarding_phone' {exc}") from None


def pause_choices(language: str) -> tuple[ReplyChoice, ...]:
    return (ReplyChoice(PAUSE_PREFIX + CARRY_ON, _(language, "Carry on")),
            ReplyChoice(PAUSE_PREFIX + STOP_FOR_NOW, _(language, "Stop for now")),
            ReplyChoice(PAUSE_PREFIX + CONTACT, _(language, "Please contact me")))


def ask_pause(result: Step, language: str) -> None:
    result.say(_(language, "Would you like to carry on with the questions, stop for now, or "
                           "ask someone to contact you?"), pause_choices(language))


def pause_after_disclosure(result: Step, language: str) -> Step:
    """Replace the survey's reply with the gentle pause: nothing more is asked (no next
    question, no "may we quote you", no thank-you saying others will read it) until the
    person chooses. Records (an answer they gave, say) are kept as they are."""
    state = result.state
    if state.get("stopped"):
        return Step(state, [], list(result.records))  # opted out: signposting only
    state.update(paused=True, safeguarding=PAUSE, pending=None)
    paused = Step(state, [], list(result.records))
    ask_pause(paused, language)
    return paused


_WORDS: dict[str, Choice] = {
    **dict.fromkeys(("1", "carry on", "continue", "go on", "yes", "yes please", "ok", "okay",
                     "carry on please", "parhau", "ymlaen", "ia", "ie", "ydw", "iawn"), CARRY_ON),
    **dict.fromkeys(("2", "stop for now", "not now", "later", "no", "no thanks", "pause",
                     "stop now", "stopio am nawr", "stopio am y tro", "nes ymlaen", "saib",
                     "wedyn", "na", "dim diolch", "nage"), STOP_FOR_NOW),
    **dict.fromkeys(("3", "contact me", "please contact me", "call me", "ring me",
                     "please call me", "contact", "someone to contact me",
                     "cysylltwch gyda fi", "cysylltwch a fi", "cysylltwch", "ffoniwch fi",
                     "cysylltu"), CONTACT),
}


def pause_choice(event: Event) -> Choice | None:
    """What the person chose at the pause, if that is what they did."""
    if event.kind == "button" and event.payload.startswith(PAUSE_PREFIX):
        choice = event.payload.removeprefix(PAUSE_PREFIX)
        return next((c for c in (CARRY_ON, STOP_FOR_NOW, CONTACT) if c == choice), None)
    if event.kind != "text":
        return None
    return _WORDS.get(normalise(event.text).strip(" .!"))


def awaiting_pause(state: dict[str, Any]) -> bool:
    """Is this person at the gentle pause? (STOP or anything else that unpaused them
    ends it.)"""
    return state.get("safeguarding") == PAUSE and bool(state.get("paused"))


def answer_pause(state: dict[str, Any], event: Event, language: str) -> tuple[Step, bool]:
    """Handle the message after the pause: (the step, whether to carry on the survey).

    On "carry on" the caller re-sends where they were. "Stop for now" and "contact me"
    leave the survey paused: their next message says "Welcome back" and carries on.
    Anything else gets the choices again, briefly.
    """
    choice = pause_choice(event)
    result = Step(state)
    if choice is None:
        result.say(_(language, "Sorry, I didn't catch that. Reply 1 to carry on, 2 to stop "
                               "for now, or 3 to ask someone to contact you."),
                   pause_choices(language))
        return result, False
    state["safeguarding"] = HELD
    if choice == CARRY_ON:
        state["paused"] = False
        result.say(_(language, "Thank you. Let's carry on."))
        return result, True
    if choice == CONTACT:
        result.records.append(ContactWanted())
        result.say(_(language, "Thank you. We've asked our safeguarding lead to contact you. "
                               "If you need help sooner, call Samaritans free on 116 123, or "
                               "999 in an emergency. Text us whenever you want to carry on."))
        return result, False
    result.say(_(language, "OK, we've stopped for now. Text us whenever you want to carry "
                           "on. Samaritans are there day or night on 116 123."))
    return result, False

