"""One person completes the `fft` survey on each channel, end to end.

Inbound requests go through the Flask app exactly as the provider sends them; replies go
through the outbox, the sender and the real client library to the fake provider, which
must receive exactly the expected messages in order, rendered the way that channel can
show them: numbered GSM-7 text on SMS, quick-reply buttons on WhatsApp where there are at
most three choices, inline keyboards on Telegram. Afterwards, no phone number or chat id
may be anywhere in the database outside the encrypted vault, and the logs may carry
neither those nor anything the person wrote.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from bot.services.logs import JsonFormatter
from channels.smstext import encoding
from storage.models import Answer, Response
from tests.privacy import scan_database, scan_text
from tests.webhook_harness import (
    AUTH,
    CHAT,
    CONSENT,
    CONSENT_SMS,
    INTRO,
    LANGUAGE,
    LANGUAGE_SMS,
    OUR_SMS,
    OUR_WHATSAPP,
    OVERALL,
    OVERALL_SMS,
    PERSON,
    PUBLIC,
    QUOTE,
    QUOTE_SMS,
    SECRET,
    SHARE_BACK,
    SHARE_BACK_SMS,
    STATUS,
    SURVEY_CHANNELS,
    TELEGRAM_WARNINGS,
    THANKS,
    TOKEN,
    WHY,
    Harness,
    fake_providers_fixture,
    harness_fixture,
    inline_keyboard,
    quick_reply,
)

pytestmark = TELEGRAM_WARNINGS
fakes = fake_providers_fixture(SURVEY_CHANNELS)
harness = harness_fixture()

# People, from Ofcom's drama range; on Telegram, the harness's invented CHAT.
SMS_PERSON = PERSON  # whom the harness sends as unless told otherwise
WHATSAPP_PERSON = "+447700900124"
#: Someone a participant mentions in an answer: their number must be redacted too.
MENTIONED = "+447700900999"
ADDRESSES = [SMS_PERSON, WHATSAPP_PERSON, str(CHAT), MENTIONED]

# What people write: it may be stored (redacted) as an answer, but never logged.
FREE_TEXT = {
    "sms": "The carers were kind but always rushed. My son rings 07700 900999 if I can't.",
    "whatsapp": "Nobody told us the visit times changed, so Dad waited up till midnight.",
    "telegram": "Lovely night staff. The paperwork about respite was confusing though.",
}
SECRETS = [TOKEN, SECRET, AUTH]

LANGUAGES = (("English", "lang:en"), ("Cymraeg", "lang:cy"))
YES_NO = (("Yes", "quote:yes"), ("No", "quote:no"))
SHARE_YES_NO = (("Yes", "share:yes"), ("No", "share:no"))
CONSENT_CHOICES = (("Yes, I agree", "consent:yes"), ("No, thank you", "consent:no"))
OVERALL_CHOICES = (
    ("Very good", "overall=very_good"), ("Good", "overall=good"),
    ("Neither good nor poor", "overall=neither"), ("Poor", "overall=poor"),
    ("Very poor", "overall=very_poor"), ("Don't know", "overall=dont_know"),
)  # fmt: skip


@pytest.fixture
def logs() -> Iterator[io.StringIO]:
    """Everything logged at INFO and above, formatted as production formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


# -- sending, per channel ------------------------------------------------------------------

def whatsapp(h: Harness, body: str, button: str = "") -> None:
    """A WhatsApp message; `button` is the id of a quick reply the person tapped."""
    extra = {"ProfileName": "Sam Carer", "WaId": WHATSAPP_PERSON.lstrip("+"),
             "MessageType": "button" if button else "text"}  # fmt: skip
    if button:
        extra |= {"ButtonText": body, "ButtonPayload": button}
    h.send_whatsapp(body, WHATSAPP_PERSON, **extra)


# -- what the provider received ------------------------------------------------------------


def whatsapp_sent(h: Harness) -> list[tuple[str, Any]]:
    """("text", body) or ("buttons", body, ((title, id), ...)) per message."""
    out: list[tuple[str, Any]] = []
    for sent in h.twilio.messages:
        assert (sent["To"], sent["From"]) == (f"whatsapp:{WHATSAPP_PERSON}", OUR_WHATSAPP)
        buttons = quick_reply(h.twilio, sent)
        out.append(("text", sent["Body"]) if buttons is None else ("buttons", buttons))
    return out


def telegram_sent(h: Harness) -> list[tuple[str, tuple[tuple[str, str], ...]]]:
    """(text, ((label, callback_data), ...)) per message."""
    out = []
    for sent in h.telegram.messages:
        assert sent["chat_id"] == str(CHAT)
        rows = inline_keyboard(sent)
        assert all(len(row) == 1 for row in rows)  # one button per row, readable on a phone
        buttons = tuple(row[0] for row in rows)
        out.append((sent["text"], buttons))
    return out


def stored(h: Harness) -> tuple[str, dict[str, Any]]:
    with h.runtime.sessions() as session:
        response = session.scalars(select(Response)).one()
        answers = {a.question_id: a.value for a in session.scalars(select(Answer))}
    return response.status, answers


def assert_private(h: Harness, logs: io.StringIO) -> None:
    """No address outside the vault; nothing personal or secret in the logs."""
    assert scan_database(h.runtime.engine, ADDRESSES) == []
    lines = logs.getvalue().splitlines()
    assert any('"event": "inbound handled"' in line for line in lines)  # we did capture
    joined = "\n".join(lines)
    assert scan_text(joined, ADDRESSES) == []
    for text in FREE_TEXT.values():
        for sentence in text.split(". "):
            assert sentence.strip(".") not in joined
    for secret in SECRETS:
        assert secret not in joined


# -- the journeys --------------------------------------------------------------------------


def test_sms(harness: Harness, logs: io.StringIO) -> None:
    for text in ("hello", "1", "yes", "2", FREE_TEXT["sms"], "1", "yes"):
        harness.send_sms(text, SMS_PERSON)

    bodies = [m["Body"] for m in harness.twilio.messages]
    assert bodies == [
        LANGUAGE_SMS, INTRO, CONSENT_SMS, OVERALL_SMS, WHY, QUOTE_SMS, SHARE_BACK_SMS, THANKS,
    ]  # fmt: skip
    assert all(encoding(body) == "GSM-7" for body in bodies)  # 160 characters a part
    for sent in harness.twilio.messages:
        assert (sent["To"], sent["From"]) == (SMS_PERSON, OUR_SMS)
        assert sent["StatusCallback"] == PUBLIC + STATUS
        assert "ContentSid" not in sent
    status, answers = stored(harness)
    assert status == "completed"
    assert answers["overall"] == "good"
    assert answers["why"].startswith("The carers were kind but always rushed.")
    assert "900999" not in answers["why"]  # the son's number was redacted before storing
    assert_private(harness, logs)


def test_whatsapp(harness: Harness, logs: io.StringIO) -> None:
    whatsapp(harness, "Hi")
    whatsapp(harness, "English", button="lang:en")
    whatsapp(harness, "Yes, I agree", button="consent:yes")
    whatsapp(harness, "Good")  # six options: numbered, so answered in words
    whatsapp(harness, FREE_TEXT["whatsapp"])
    whatsapp(harness, "No", button="quote:no")
    whatsapp(harness, "Yes", button="share:yes")

    assert whatsapp_sent(harness) == [
        ("buttons", (LANGUAGE, LANGUAGES)),
        ("text", INTRO),
        ("buttons", (CONSENT, CONSENT_CHOICES)),
        ("text", OVERALL_SMS),  # more than three choices: numbered lines
        ("text", WHY),
        ("buttons", (QUOTE, YES_NO)),
        ("buttons", (SHARE_BACK, SHARE_YES_NO)),
        ("text", THANKS),
    ]
    status, answers = stored(harness)
    assert status == "completed"
    assert answers == {"overall": "good", "why": FREE_TEXT["whatsapp"]}
    assert_private(harness, logs)  # ProfileName and WaId were never stored either
    assert "Sam Carer" not in logs.getvalue()


def test_telegram(harness: Harness, logs: io.StringIO) -> None:
    harness.send_telegram("/start fft")  # from a t.me/WithUsBot?start=fft link
    harness.press_button("lang:en")
    harness.press_button("consent:yes")
    harness.press_button("overall=good")
    harness.send_telegram(FREE_TEXT["telegram"])
    harness.press_button("quote:yes")
    harness.press_button("share:no")

    assert telegram_sent(harness) == [
        (LANGUAGE, LANGUAGES),
        (INTRO, ()),
        (CONSENT, CONSENT_CHOICES),
        (OVERALL, OVERALL_CHOICES),  # six buttons fit Telegram's keyboard
        (WHY, ()),
        (QUOTE, YES_NO),
        (SHARE_BACK, SHARE_YES_NO),
        (THANKS, ()),
    ]
    # Every button press was acknowledged, so no spinner was left turning.
    assert len(harness.telegram.calls("answerCallbackQuery")) == 5
    status, answers = stored(harness)
    assert status == "completed"
    assert answers == {"overall": "good", "why": FREE_TEXT["telegram"]}
    assert_private(harness, logs)
