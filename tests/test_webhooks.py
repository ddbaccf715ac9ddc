"""The provider webhooks through the Flask app: literal payloads in, stored effects and
replies out.

Courier-style: each row of `CASES` is a request exactly as Twilio or Telegram sends it (or
as an attacker might), the status we must answer, what must be stored, and what the fake
provider must receive once the sender has run. The channels are the real ones, talking to
the fake Twilio and Telegram APIs on 127.0.0.1 through the real client libraries.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from bot.app import MAX_BODY_BYTES, create_app
from bot.runtime import Runtime, build
from storage.db import upgrade
from storage.models import Answer, Consent, InboundMessage, OutboxMessage, Participant
from tests.fakes import FakeTelegramAPI, FakeTwilioAPI
from tests.helpers import FakeClock, load_library, settings_for

pytestmark = [
    # channels.telegram installs these filters at import; pytest resets filters per module.
    pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates'"),
    pytest.mark.filterwarnings("ignore:.*`retry_after` will be of type"),
]

PUBLIC = "https://withus.example.org"
TOKEN = "7000000001:AAE-webhook-test-token"
SECRET = "telegram-webhook-secret-0123456789"
ACCOUNT = "AC" + "7" * 32
AUTH = "webhook-test-auth-token"
OUR_SMS = "+447700900001"
OUR_WHATSAPP = "whatsapp:+447700900002"
PERSON = "+447700900123"  # Ofcom's drama range: never a real person
CHAT = 987654321

SMS = "/webhooks/twilio/sms"
WHATSAPP = "/webhooks/twilio/whatsapp"
STATUS = "/webhooks/twilio/status"
TELEGRAM = "/webhooks/telegram"

# What the `fft` survey says, as each channel renders it. It is offered in English and
# Welsh, so a newcomer is first asked which they'd like.
LANGUAGE = "Which language would you like? / Pa iaith hoffech chi?"
LANGUAGE_SMS = LANGUAGE + "\n\n1 English\n2 Cymraeg\n\nReply 1 or 2"
INTRO = (
    "Hello from WithUs. We'd like to hear about your care, so it can get better. "
    "It takes 2 minutes. You can reply HELP at any time, or STOP to stop."
)
CONSENT = (
    "Your answers are kept private. We store them without your name or number, and share "
    "only what many people said. Do you agree to take part?"
)
CONSENT_SMS = CONSENT + "\n\n1 Yes, I agree\n2 No, thank you\n\nReply 1 or 2"
OVERALL = "Overall, how was your experience of our service?"
OVERALL_SMS = (
    OVERALL + "\n\n1 Very good\n2 Good\n3 Neither good nor poor\n4 Poor\n5 Very poor\n"
    "6 Don't know\n\nReply with a number from 1 to 6"
)
WHY = "What was good, and what could be better?\n(You can reply SKIP.)"
QUOTE = "May we quote your words, without your name, when we share what we heard?"
QUOTE_SMS = QUOTE + "\n\n1 Yes\n2 No\n\nReply 1 or 2"
SHARE_BACK = "Would you like to hear what we learn?"
SHARE_BACK_SMS = SHARE_BACK + "\n\n1 Yes\n2 No\n\nReply 1 or 2"
THANKS = (
    "Thank you. Your answers go to the group that looks at this service, which includes "
    "people who use it. We will text you what we learned and what changes."
)
IN_WORDS = "Thank you. We can't use photos, files or voice notes yet, so please answer in words."
WELCOME_BACK = "Welcome back. You will get messages from us again."
STOPPED = "You won't get any more messages from us. Text START if you want to join in again."


# -- the harness: a runtime whose channels talk to the fakes -------------------------------


class SimulatedTime:
    """Monotonic time that only moves when the pacers sleep, so pacing costs no wall time
    (Telegram's per-chat pacer allows one message a second).

    Like a real clock it moves at least a microsecond per sleep: the pacer's token sum can
    land a rounding error short of 1.0 and ask for a sleep too small to change a float.
    """

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 1e-6)


@dataclass
class Counts:
    participants: int
    inbound: int
    outbox: int
    consents: int
    answers: list[tuple[str, str, Any]]


class Harness:
    """The Flask app and the sender of one runtime, plus the two fake providers."""

    def __init__(self, runtime: Runtime, twilio: FakeTwilioAPI, telegram: FakeTelegramAPI):
        self.runtime = runtime
        self.twilio = twilio
        self.telegram = telegram
        app = create_app(runtime=runtime)
        app.config["TESTING"] = True
        self.app = app
        self.client: FlaskClient = app.test_client()
        self._ids = iter(range(1, 10**9))

    # -- requests as the providers send them --

    def post_twilio(
        self,
        path: str,
        form: Mapping[str, str],
        *,
        signature: str | None = "valid",
        base_url: str = "http://localhost",
    ) -> TestResponse:
        """POST a form; `signature` is "valid", None (no header) or the header itself."""
        headers = {}
        if signature == "valid":
            headers["X-Twilio-Signature"] = self.twilio.sign(PUBLIC + path, form)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.client.post(path, data=dict(form), headers=headers, base_url=base_url)

    def post_telegram(self, update: Mapping[str, Any] | bytes,
                      secret: str | None = SECRET) -> TestResponse:
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return self.client.post(TELEGRAM, data=body, headers=headers)

    def say(self, channel: str, text: str) -> TestResponse:
        """One valid message from the person, then the sender runs, as in production."""
        n = next(self._ids)
        if channel == "telegram":
            response = self.post_telegram(tg_text(10_000 + n, text))
        elif channel == "sms":
            response = self.post_twilio(SMS, twilio_form(text, f"SM{n:032x}"))
        else:
            form = twilio_form(text, f"SM{n:032x}", f"whatsapp:{PERSON}", OUR_WHATSAPP)
            response = self.post_twilio(WHATSAPP, form)
        assert response.status_code == 200, response.get_data(as_text=True)
        self.deliver()
        return response

    def deliver(self) -> None:
        self.runtime.sender.run_once()

    # -- what happened --

    def replies(self) -> list[str]:
        """Every message the fakes received, rendered like the golden transcripts:
        the text, then "[a | b]" for buttons."""
        out = []
        contents = {c["sid"]: c for c in self.twilio.contents}
        for sent in self.twilio.messages:
            if "ContentSid" in sent:
                spec = contents[sent["ContentSid"]]["types"]["twilio/quick-reply"]
                titles = " | ".join(a["title"] for a in spec["actions"])
                out.append(f"{spec['body']}\n[{titles}]")
            else:
                out.append(sent["Body"])
        for sent in self.telegram.messages:
            keyboard = (sent.get("reply_markup") or {}).get("inline_keyboard", [])
            labels = " | ".join(button["text"] for row in keyboard for button in row)
            out.append(sent["text"] + (f"\n[{labels}]" if labels else ""))
        return out

    def forget_replies(self) -> None:
        contents = list(self.twilio.contents)  # the channel caches content sids: keep them
        self.twilio.reset()
        self.twilio.contents.extend(contents)
        self.telegram.reset()

    def counts(self) -> Counts:
        with self.runtime.sessions() as session:

            def count(model: type) -> int:
                return int(session.scalar(select(func.count()).select_from(model)) or 0)

            answers = session.execute(
                select(Answer.question_id, Answer.kind, Answer.value).order_by(Answer.id)
            ).all()
            return Counts(count(Participant), count(InboundMessage), count(OutboxMessage),
                          count(Consent), [tuple(a) for a in answers])

    def outbox(self) -> list[OutboxMessage]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))

    def participant(self, channel: str, address: str) -> Participant | None:
        pid = self.runtime.service.pseudonym(channel, address)
        with self.runtime.sessions() as session:
            return session.get(Participant, pid)


def provider_settings(twilio: FakeTwilioAPI, telegram: FakeTelegramAPI) -> dict[str, object]:
    return {
        "telegram_bot_token": TOKEN,
        "telegram_webhook_secret": SECRET,
        "telegram_api_base_url": telegram.base_url,
        "twilio_account_sid": twilio.account_sid,
        "twilio_auth_token": twilio.auth_token,
        "twilio_sms_from": OUR_SMS,
        "twilio_whatsapp_from": OUR_WHATSAPP,
        "twilio_api_base_url": twilio.base_url,
        "public_url": PUBLIC,
        "default_survey": "fft",
    }


@contextmanager
def open_harness(engine: Engine, instance: Path, twilio: FakeTwilioAPI,
                 telegram: FakeTelegramAPI) -> Iterator[Harness]:
    """A runtime on `engine`'s (migrated, empty) database with the example surveys loaded
    and real channels pointed at the fakes."""
    twilio.reset()
    telegram.reset()
    url = engine.url.render_as_string(hide_password=False)
    upgrade(url)  # already at head: a quick check
    ticks = SimulatedTime()
    runtime = build(settings_for(url, instance, **provider_settings(twilio, telegram)),
                    clock=FakeClock(), monotonic=ticks.monotonic, sleep=ticks.sleep)
    try:
        load_library(runtime)
        yield Harness(runtime, twilio, telegram)
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def twilio_api() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI(ACCOUNT, AUTH) as api:
        yield api


@pytest.fixture(scope="module")
def telegram_api() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI(token=TOKEN) as api:
        yield api


@pytest.fixture
def harness(engine: Engine, tmp_path: Path, twilio_api: FakeTwilioAPI,
            telegram_api: FakeTelegramAPI) -> Iterator[Harness]:
    with open_harness(engine, tmp_path, twilio_api, telegram_api) as opened:
        yield opened


# -- literal payloads ----------------------------------------------------------------------


def twilio_form(body: str, sid: str, frm: str = PERSON, to: str = OUR_SMS,
                **extra: str) -> dict[str, str]:
    """An incoming-message webhook, field for field as Twilio posts it."""
    form = {
        "ToCountry": "GB", "ToState": "", "SmsMessageSid": sid, "NumMedia": "0",
        "ToCity": "", "FromZip": "", "SmsSid": sid, "FromState": "", "SmsStatus": "received",
        "FromCity": "", "Body": body, "FromCountry": "GB", "To": to, "ToZip": "",
        "NumSegments": "1", "MessageSid": sid, "AccountSid": ACCOUNT, "From": frm,
        "ApiVersion": "2010-04-01",
    }  # fmt: skip
    return {**form, **extra}


def without(form: Mapping[str, str], *keys: str) -> dict[str, str]:
    return {k: v for k, v in form.items() if k not in keys}


USER = {"id": CHAT, "is_bot": False, "first_name": "Sam", "language_code": "en-GB"}
PRIVATE = {"id": CHAT, "first_name": "Sam", "type": "private"}


def tg_text(update_id: int, text: str, chat: int = CHAT) -> dict[str, Any]:
    """A private text message, as Telegram posts it."""
    message: dict[str, Any] = {
        "message_id": update_id % 10_000, "from": {**USER, "id": chat},
        "chat": {**PRIVATE, "id": chat}, "date": 1795428000, "text": text,
    }  # fmt: skip
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": update_id, "message": message}


def tg_button(update_id: int, data: str, query_id: str = "4382bfdwdsb323b2d9") -> dict[str, Any]:
    """A press of an inline keyboard button under one of our messages."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id, "from": USER, "chat_instance": "-8061239911022224051",
            "data": data,
            "message": {
                "message_id": 12, "chat": PRIVATE, "date": 1795428001, "text": OVERALL,
                "from": {"id": 7000000001, "is_bot": True, "first_name": "WithUs"},
            },
        },
    }  # fmt: skip


# -- the table -----------------------------------------------------------------------------

Signature = Literal["valid", "forged", "missing", "http", "other-host", "other-path",
                    "tampered", "behind-proxy"]


@dataclass(frozen=True)
class Twilio:
    """A Twilio webhook: `form` to `path`, signed (or not) as `signature` says."""

    path: str
    form: Mapping[str, str]
    signature: Signature = "valid"

    def send(self, h: Harness) -> TestResponse:
        url, form, base_url = PUBLIC + self.path, dict(self.form), "http://localhost"
        match self.signature:
            case "valid":
                return h.post_twilio(self.path, form)
            case "missing":
                return h.post_twilio(self.path, form, signature=None)
            case "forged":  # someone guessing our auth token
                forged = RequestValidator("a-guessed-token").compute_signature(url, form)
                return h.post_twilio(self.path, form, signature=forged)
            case "http":  # signed for the wrong scheme
                url = url.replace("https://", "http://")
            case "other-host":  # another app on the same Twilio account: same token
                url = url.replace(PUBLIC, "https://other-app.example.net")
            case "other-path":  # replayed from another of our webhooks
                url = PUBLIC + (WHATSAPP if self.path != WHATSAPP else SMS)
            case "tampered":  # a genuine request with the body changed on the way
                signature = h.twilio.sign(url, form)
                form["Body"] = form["Body"] + " and more"
                return h.post_twilio(self.path, form, signature=signature)
            case "behind-proxy":  # genuine, but the Host our app sees is the proxy's
                base_url = "http://10.0.0.5:8000"
        return h.post_twilio(self.path, form, signature=h.twilio.sign(url, form),
                             base_url=base_url)


@dataclass(frozen=True)
class Telegram:
    update: Mapping[str, Any] | bytes
    secret: str | None = SECRET

    def send(self, h: Harness) -> TestResponse:
        return h.post_telegram(self.update, self.secret)


@dataclass(frozen=True)
class Raw:
    """Bytes no provider would send, signed over what a lenient parser would make of them."""

    path: str
    body: bytes
    signed_as: Mapping[str, str]

    def send(self, h: Harness) -> TestResponse:
        return h.client.post(
            self.path, data=self.body, content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": h.twilio.sign(PUBLIC + self.path, self.signed_as)},
        )


@dataclass(frozen=True)
class Stored:
    """What a request adds to the database."""

    participants: int = 0
    inbound: int = 0
    answers: tuple[tuple[str, str, Any], ...] = ()
    consents: int = 0


@dataclass(frozen=True)
class Case:
    label: str
    request: Twilio | Telegram | Raw
    status: int
    stored: Stored = field(default_factory=Stored)
    replies: tuple[str, ...] = ()
    #: Messages the same person sent first, to be somewhere in the survey.
    before: tuple[str, ...] = ()


FIRST = Stored(participants=1, inbound=1)  # a newcomer's first message, nothing answered
SID = "SM3f5b8ff6cbb94ba6a3a5e0f1a1d4c7e2"
NEWCOMER = (LANGUAGE_SMS,)
AT_CONSENT = ("hello", "1")  # chose English; the next message answers the consent question
AT_OVERALL = (*AT_CONSENT, "yes")  # consented; the next message answers "overall"
AT_WHY = (*AT_OVERALL, "2")  # the next message answers the free-text "why"
EMOJI_RTL = "الموظفون كانوا لطفاء 🙏 הצוות היה נחמד 👍🏽"
MEDIA = {"NumMedia": "1", "MediaContentType0": "image/jpeg",
         "MediaUrl0": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages/{SID}"
                      "/Media/ME0123456789abcdef0123456789abcdef"}  # fmt: skip

CASES = [
    # -- signatures: anything not provably from Twilio stores nothing and sends nothing --
    Case("sms: valid signature", Twilio(SMS, twilio_form("hello", SID)), 200, FIRST, NEWCOMER),
    Case("sms: forged signature", Twilio(SMS, twilio_form("hello", SID), "forged"), 403),
    Case("sms: missing signature", Twilio(SMS, twilio_form("hello", SID), "missing"), 403),
    Case("sms: signed for http://", Twilio(SMS, twilio_form("hello", SID), "http"), 403),
    Case("sms: signed for another host", Twilio(SMS, twilio_form("hello", SID), "other-host"),
         403),
    Case("sms: signed for another webhook", Twilio(SMS, twilio_form("hello", SID),
                                                   "other-path"), 403),
    Case("sms: body changed after signing", Twilio(SMS, twilio_form("hello", SID), "tampered"),
         403),
    Case("sms: genuine behind a proxy", Twilio(SMS, twilio_form("hello", SID), "behind-proxy"),
         200, FIRST, NEWCOMER),
    Case("whatsapp: forged signature",
         Twilio(WHATSAPP, twilio_form("hello", SID, f"whatsapp:{PERSON}", OUR_WHATSAPP),
                "forged"), 403),
    # -- Telegram's secret token --
    Case("telegram: valid secret", Telegram(tg_text(900001, "hello")), 200, FIRST,
         (LANGUAGE + "\n[English | Cymraeg]",)),
    Case("telegram: wrong secret", Telegram(tg_text(900001, "hello"), "telegram-webhook-secret"),
         403),
    Case("telegram: missing secret", Telegram(tg_text(900001, "hello"), None), 403),
    # -- malformed Twilio requests --
    Case("sms: no MessageSid", Twilio(SMS, without(twilio_form("hello", SID), "MessageSid")),
         400),
    Case("sms: no From", Twilio(SMS, without(twilio_form("hello", SID), "From")), 400),
    Case("sms: a WhatsApp sender on the SMS webhook",
         Twilio(SMS, twilio_form("hello", SID, f"whatsapp:{PERSON}")), 400),
    Case("sms: a message id longer than any Twilio sid",
         Twilio(SMS, twilio_form("hello", "SM" + "0" * 200)), 400),
    # -- bodies --
    Case("sms: media only is a marker, and we ask for words",
         Twilio(SMS, without(twilio_form("", SID, **MEDIA), "Body")), 200,
         Stored(inbound=1, answers=(("overall", "media", {"media": "image"}),)),
         (IN_WORDS, OVERALL_SMS), before=AT_OVERALL),
    Case("whatsapp: a voice note is a marker too",
         Twilio(WHATSAPP, twilio_form("", SID, f"whatsapp:{PERSON}", OUR_WHATSAPP,
                                      NumMedia="1", MediaContentType0="audio/ogg")), 200,
         Stored(inbound=1, answers=(("overall", "media", {"media": "audio"}),)),
         (IN_WORDS, OVERALL_SMS), before=AT_OVERALL),
    Case("sms: empty body", Twilio(SMS, twilio_form("", SID)), 200, Stored(inbound=1),
         ("Sorry, I didn't understand. Please reply with a number from 1 to 6.",),
         before=AT_OVERALL),
    Case("sms: 10,000 characters are cut to the question's 1,000",
         Twilio(SMS, twilio_form("Carers. " * 1250, SID)), 200,
         Stored(inbound=1, answers=(("why", "value", ("Carers. " * 125)[:1000]),)),
         (QUOTE_SMS,), before=AT_WHY),
    Case("sms: emoji and right-to-left text", Twilio(SMS, twilio_form(EMOJI_RTL, SID)), 200,
         Stored(inbound=1, answers=(("why", "value", EMOJI_RTL),)), (QUOTE_SMS,), before=AT_WHY),
    Case("sms: 👍 means yes", Twilio(SMS, twilio_form("👍", SID)), 200,
         Stored(inbound=1, consents=1), (OVERALL_SMS,), before=AT_CONSENT),
    Case("sms: NUL in an answer is dropped, the answer kept",
         Twilio(SMS, twilio_form("Kind\x00 staff", SID)), 200,
         Stored(inbound=1, answers=(("why", "value", "Kind staff"),)), (QUOTE_SMS,),
         before=AT_WHY),
    Case("sms: percent-encoded bytes that are not UTF-8",
         Raw(SMS, b"Body=%FF%FE&From=%2B447700900123&MessageSid=" + SID.encode(),
             {"Body": "%FF%FE", "From": PERSON, "MessageSid": SID}), 400),
    Case("sms: raw bytes that are not UTF-8",
         Raw(SMS, b"Body=\xff\xfe&From=%2B447700900123&MessageSid=" + SID.encode(),
             {"Body": "\ufffd\ufffd", "From": PERSON, "MessageSid": SID}), 400),
    Case("sms: a body over 64 KB", Twilio(SMS, twilio_form("x" * MAX_BODY_BYTES, SID)), 413),
    Case("whatsapp: STOP is confirmed by us (Twilio does so only on SMS)",
         Twilio(WHATSAPP, twilio_form("STOP", SID, f"whatsapp:{PERSON}", OUR_WHATSAPP)), 200,
         Stored(inbound=1), (STOPPED,), before=AT_OVERALL),
    # -- Telegram updates --
    Case("telegram: an update we cannot use", Telegram({"foo": 1}), 200),
    Case("telegram: an update PTB cannot read", Telegram({"update_id": 5, "message": "x"}), 200),
    Case("telegram: not JSON", Telegram(b"update_id=1&text=hello"), 400),
    Case("telegram: JSON nested beyond reason", Telegram(b"[" * 50_000), 400),
    Case("telegram: a lone surrogate in the chat id",
         Telegram(b'{"update_id": 7, "message": {"message_id": 1, "date": 1795428000,'
                  b' "chat": {"id": "\\ud800", "type": "private"}, "text": "hi"}}'), 400),
    Case("telegram: an edited message",
         Telegram({"update_id": 900002, "edited_message": {
             **tg_text(0, "actually, good")["message"], "edit_date": 1795428100}}), 200,
         before=AT_OVERALL),
    Case("telegram: a group message",
         Telegram({"update_id": 900003, "message": {
             **tg_text(0, "hello")["message"],
             "chat": {"id": -1001234567890, "title": "Carers group", "type": "supergroup"}}}),
         200),
    Case("telegram: a button press is recorded", Telegram(tg_button(900004, "overall=good")),
         200, Stored(inbound=1, answers=(("overall", "value", "good"),)), (WHY,),
         before=AT_OVERALL),
    Case("telegram: /start fft starts fft", Telegram(tg_text(900005, "/start fft")), 200,
         FIRST, (LANGUAGE + "\n[English | Cymraeg]",)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
def test_webhook(harness: Harness, case: Case) -> None:
    channel = (
        "telegram" if isinstance(case.request, Telegram)
        else "whatsapp" if getattr(case.request, "path", "") == WHATSAPP
        else "sms"
    )  # fmt: skip
    for text in case.before:
        harness.say(channel, text)
    harness.forget_replies()
    before = harness.counts()

    response = case.request.send(harness)
    harness.deliver()

    assert response.status_code == case.status, response.get_data(as_text=True)
    after = harness.counts()
    assert (
        after.participants - before.participants,
        after.inbound - before.inbound,
        after.consents - before.consents,
        after.answers[len(before.answers):],
    ) == (
        case.stored.participants, case.stored.inbound, case.stored.consents,
        list(case.stored.answers),
    )  # fmt: skip
    assert harness.replies() == list(case.replies)


# -- buttons, duplicates, opt-outs ----------------------------------------------------------


def test_a_button_press_is_acknowledged_and_recorded(harness: Harness) -> None:
    for text in ("/start fft", "1", "yes"):
        harness.say("telegram", text)
    harness.forget_replies()
    response = harness.post_telegram(tg_button(900010, "overall=very_good", query_id="77001"))
    assert response.status_code == 200
    # Acknowledged during the request, before any reply is sent, so the spinner stops.
    assert harness.telegram.calls("answerCallbackQuery") == [{"callback_query_id": "77001"}]
    harness.deliver()
    assert harness.counts().answers == [("overall", "value", "very_good")]
    assert harness.replies() == [WHY]


def test_the_same_message_sid_twice_is_handled_once(harness: Harness) -> None:
    form = twilio_form("hello", SID)
    first = harness.post_twilio(SMS, form)
    harness.deliver()
    again = harness.post_twilio(SMS, form)  # Twilio retries when we were slow to answer
    harness.deliver()
    assert (first.status_code, again.status_code) == (200, 200)
    counts = harness.counts()
    assert (counts.participants, counts.inbound) == (1, 1)
    assert harness.replies() == [LANGUAGE_SMS]


def test_two_concurrent_deliveries_of_one_message_are_handled_once(harness: Harness) -> None:
    """Twilio can deliver a message again while the first attempt is still running: both
    requests arrive together at a real threaded server; exactly one is handled."""
    server = make_server("127.0.0.1", 0, harness.app, threaded=True)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    form = twilio_form("hello", SID)
    headers = {"X-Twilio-Signature": harness.twilio.sign(PUBLIC + SMS, form)}
    barrier = threading.Barrier(2, timeout=10)
    statuses: list[int] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            barrier.wait()
            reply = requests.post(f"http://127.0.0.1:{server.server_port}{SMS}", data=form,
                                  headers=headers, timeout=30)
            statuses.append(reply.status_code)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    finally:
        server.shutdown()
        serving.join(timeout=10)
    assert errors == [] and statuses == [200, 200]
    harness.deliver()
    counts = harness.counts()
    assert (counts.participants, counts.inbound, counts.outbox) == (1, 1, 1)
    assert harness.replies() == [LANGUAGE_SMS]


def test_sms_stop_is_silent_until_start(harness: Harness) -> None:
    """Twilio answers STOP on SMS itself (and blocks our sends until START), so a second
    confirmation from us would be a duplicate at best and an error at worst."""
    for text in AT_OVERALL:
        harness.say("sms", text)
    harness.forget_replies()
    harness.say("sms", "STOP")
    assert harness.replies() == []
    participant = harness.participant("sms", PERSON)
    assert participant is not None and participant.opted_out_at is not None
    harness.say("sms", "2")
    assert harness.replies() == []
    harness.say("sms", "START")
    assert harness.replies() == [WELCOME_BACK, OVERALL_SMS]
    participant = harness.participant("sms", PERSON)
    assert participant is not None and participant.opted_out_at is None


def test_a_blocked_telegram_bot_opts_the_person_out(harness: Harness) -> None:
    harness.telegram.fail_next("blocked")  # 403 "Forbidden: bot was blocked by the user"
    harness.say("telegram", "hello")
    participant = harness.participant("telegram", str(CHAT))
    assert participant is not None and participant.opted_out_at is not None
    assert [m.status for m in harness.outbox()] == ["dead"]
    harness.say("telegram", "1")  # silence now: they can't receive it anyway
    assert len(harness.telegram.messages) == 1
    assert [m.status for m in harness.outbox()] == ["dead"]


def test_blocking_the_bot_opts_the_person_out_at_once(harness: Harness) -> None:
    """Telegram tells us with my_chat_member "kicked"; no send has to fail first."""
    harness.say("telegram", "hello")
    update = {
        "update_id": 990001,
        "my_chat_member": {
            "chat": {"id": CHAT, "first_name": "Sam", "type": "private"},
            "from": {"id": CHAT, "is_bot": False, "first_name": "Sam"},
            "date": 1763899200,
            "old_chat_member": {"user": {"id": 1, "is_bot": True, "first_name": "WithUs"},
                                "status": "member"},
            "new_chat_member": {"user": {"id": 1, "is_bot": True, "first_name": "WithUs"},
                                "status": "kicked", "until_date": 0},
        },
    }
    assert Telegram(update).send(harness).status_code == 200
    participant = harness.participant("telegram", str(CHAT))
    assert participant is not None and participant.opted_out_at is not None
    forged = Telegram(update, secret="wrong")
    assert forged.send(harness).status_code == 403


# -- delivery status callbacks -------------------------------------------------------------


def status_form(sid: str, status: str, error_code: str = "") -> dict[str, str]:
    """A StatusCallback, field for field as Twilio posts it."""
    form = {
        "SmsSid": sid, "SmsStatus": status, "MessageStatus": status, "To": PERSON,
        "MessageSid": sid, "AccountSid": ACCOUNT, "From": OUR_SMS, "ApiVersion": "2010-04-01",
    }  # fmt: skip
    if error_code:
        form["ErrorCode"] = error_code
    return form


STATUS_CASES = [
    # label, status, error code, signature, HTTP status, outbox status after, opted out
    ("sent", "sent", "", "valid", 204, "sent", False),
    ("delivered", "delivered", "", "valid", 204, "delivered", False),
    ("read (WhatsApp) counts as delivered", "read", "", "valid", 204, "delivered", False),
    ("undelivered: unsubscribed (21610)", "undelivered", "21610", "valid", 204, "failed", True),
    ("failed: unknown number (30005)", "failed", "30005", "valid", 204, "failed", False),
    ("forged delivered", "delivered", "", "forged", 403, "sent", False),
    ("unsigned unsubscribed", "undelivered", "21610", "missing", 403, "sent", False),
    ("no MessageStatus", "", "", "valid", 400, "sent", False),
]


@pytest.mark.parametrize(
    ("status", "error_code", "signature", "http", "outbox_status", "opted_out"),
    [case[1:] for case in STATUS_CASES], ids=[case[0] for case in STATUS_CASES],
)
def test_status_callback(harness: Harness, status: str, error_code: str, signature: Signature,
                         http: int, outbox_status: str, opted_out: bool) -> None:
    harness.say("sms", "hello")
    last = harness.twilio.messages[-1]["sid"]
    form = status_form(last, status, error_code)
    if not status:
        form = without(form, "MessageStatus", "SmsStatus")
    response = Twilio(STATUS, form, signature).send(harness)
    assert response.status_code == http
    assert [m.status for m in harness.outbox()] == [outbox_status]
    participant = harness.participant("sms", PERSON)
    assert participant is not None and (participant.opted_out_at is not None) is opted_out
    harness.forget_replies()
    harness.say("sms", "1")
    assert bool(harness.replies()) is not opted_out  # an opted-out person hears nothing


def test_a_status_for_a_message_we_never_sent_changes_nothing(harness: Harness) -> None:
    harness.say("sms", "hello")
    response = Twilio(STATUS, status_form("SM" + "e" * 32, "undelivered", "21610")).send(harness)
    assert response.status_code == 204
    assert [m.status for m in harness.outbox()] == ["sent"]
    participant = harness.participant("sms", PERSON)
    assert participant is not None and participant.opted_out_at is None


def test_whatsapp_window_closed_holds_the_message_until_they_write(harness: Harness) -> None:
    harness.say("whatsapp", "hello")
    held = harness.twilio.messages[-1]["sid"]
    response = Twilio(STATUS, status_form(held, "undelivered", "63016")).send(harness)
    assert response.status_code == 204
    assert [m.status for m in harness.outbox()] == ["held"]
    harness.forget_replies()
    harness.say("whatsapp", "hello?")  # their message reopens the 24-hour window
    assert harness.replies()[0] == LANGUAGE + "\n[English | Cymraeg]"


# -- junk: whatever arrives, never a 500 ----------------------------------------------------


def junk_requests(h: Harness, path: str) -> list[tuple[str, Callable[[], TestResponse]]]:
    """Requests no provider sends: unsigned garbage, and signed or authenticated requests
    carrying values no provider would (as if a secret had leaked, or a provider erred)."""
    rng = random.Random(20261123)  # noqa: S311 - reproducible junk, not security
    noise = bytes(rng.randrange(256) for _ in range(4096))
    post = h.client.post
    junk: list[tuple[str, Callable[[], TestResponse]]] = []
    for content_type in ("application/x-www-form-urlencoded", "application/json",
                         "multipart/form-data", "multipart/form-data; boundary=xyz",
                         "text/plain; charset=utf-16", "application/octet-stream", ""):
        junk.append((f"random bytes as {content_type or 'no type'}",
                     partial(post, path, data=noise, content_type=content_type or None)))
    junk += [
        ("empty body", lambda: post(path)),
        ("GET", lambda: h.client.get(path)),
        ("PUT", lambda: h.client.put(path, data="x")),
        ("bad query string", lambda: post(path + "?%ff=%fe&&=", data={"Body": "x"})),
        ("a 60 KB header", lambda: post(path, data={"Body": "x"}, headers={
            "X-Twilio-Signature": "A" * 60_000, "X-Telegram-Bot-Api-Secret-Token": "A" * 60_000})),
        ("500 headers", lambda: post(path, data={"Body": "x"},
                                     headers={f"X-Junk-{i}": "y" * 100 for i in range(500)})),
        ("non-ASCII credentials", lambda: post(path, data={"Body": "x"}, headers={
            "X-Twilio-Signature": "sïgnätürë", "X-Telegram-Bot-Api-Secret-Token": "sécret"})),
        ("a body over the limit", lambda: post(path, data=b"x" * (MAX_BODY_BYTES + 1),
                                               content_type="application/json")),
        ("a Content-Length that lies", lambda: post(path, data=b"Body=x", headers={
            "Content-Length": "999999999"}, content_type="application/x-www-form-urlencoded")),
    ]
    if path == TELEGRAM:
        deep = b'{"update_id": 1, "message": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001
        updates: list[bytes | dict[str, Any]] = [
            noise, b"null", b"1", b"[]", b'"update"', b"[" * 60_000, deep,
            {"update_id": 10**300, "message": tg_text(0, "hi")["message"]},
            {"update_id": 1.5, "message": tg_text(0, "hi")["message"]},
            {"update_id": True, "message": tg_text(0, "hi")["message"]},
            {"update_id": 2, "message": {**tg_text(0, "hi")["message"], "chat": 7}},
            {"update_id": 3, "message": {**tg_text(0, "hi")["message"], "text": ["a"]}},
            {"update_id": 4, "message": {**tg_text(0, "hi")["message"],
                                         "chat": {"id": 10**40, "type": "private"}}},
            {"update_id": 5, "message": {**tg_text(0, "hi")["message"],
                                         "chat": {"id": "-", "type": "private"}}},
            tg_text(6, "\x00" * 1000),
            tg_text(7, "/start " + "x" * 5000),
            tg_text(8, "/start \x00fft"),
            tg_button(9, "\x00" * 64),
            {"update_id": 10, "callback_query": {"id": "", "data": "x", "from": 5}},
            {"update_id": 11, "my_chat_member": {"chat": {"id": CHAT, "type": "private"},
                                                 "new_chat_member": {"status": "kicked"}}},
            b'{"update_id": 12, "message": {"message_id": 1, "date": 1, "chat": {"id": 5,'
            b' "type": "private"}, "text": "\\udfff\\ud800"}}',
        ]
        junk += [(f"authenticated update {i}", partial(h.post_telegram, update))
                 for i, update in enumerate(updates)]
    else:
        # For status callbacks, the id of a message we really sent, so the oddities reach
        # the outbox row.
        base = status_form(h.twilio.messages[-1]["sid"], "failed") if path == STATUS else (
            twilio_form("hi", "SM" + "b" * 32, PERSON if path == SMS else f"whatsapp:{PERSON}",
                        OUR_SMS if path == SMS else OUR_WHATSAPP))
        oddities = [
            {"MessageSid": "\x00"}, {"MessageSid": "SM" + "1" * 5000}, {"From": "\x00"},
            {"From": "+" + "4" * 5000}, {"From": "whatsapp:"}, {"From": "😀"},
            {"Body": "\x00" * 1000}, {"NumMedia": "²"}, {"NumMedia": "9" * 5000},
            {"NumMedia": "-1"}, {"ErrorCode": "²"}, {"ErrorCode": "9" * 5000},
            {"ErrorCode": "9" * 250}, {"MessageStatus": "\x00"}, {"ButtonPayload": "\x00"},
            {"Latitude": "x", "Longitude": "y"}, {"MediaContentType0": "/"},
        ]
        junk += [(f"signed {sorted(extra)[0]}={next(iter(extra.values()))[:12]!r}",
                  partial(h.post_twilio, path, {**base, **extra}))
                 for extra in oddities]
    return junk


@pytest.mark.parametrize("path", [SMS, WHATSAPP, STATUS, TELEGRAM])
def test_junk_never_causes_a_server_error(harness: Harness, path: str) -> None:
    # Somewhere to be in the survey, and a sent message for status callbacks to find.
    harness.say("sms", "hello")
    harness.say("whatsapp", "hello")
    harness.say("telegram", "hello")
    failures = []
    for label, send in junk_requests(harness, path):
        response = send()
        if response.status_code >= 500:
            failures.append((label, response.status_code))
    harness.deliver()  # and whatever was accepted can be answered without crashing
    assert failures == []
