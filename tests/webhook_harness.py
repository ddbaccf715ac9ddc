"""The Flask app's webhooks driven as Twilio and Telegram drive them, against fake providers.

A runtime's real channels talk to the fake Twilio and Telegram APIs (tests.fakes) on
127.0.0.1 through the real client libraries. Requests come in as the providers send them:
Twilio forms signed with twilio's RequestValidator, Telegram updates with the secret token
header. After each message the sender runs, as in production, and the tests read what the
fakes received. Shared by the webhook, channel end-to-end and consultation channel tests.

In a test module:

    pytestmark = TELEGRAM_WARNINGS
    fakes = fake_providers_fixture(SURVEY_CHANNELS)
    harness = harness_fixture()
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from werkzeug.test import TestResponse

from bot.services.runtime import Runtime, build
from bot.web.app import create_app
from storage.db import upgrade
from storage.models import Answer, Consent, InboundMessage, OutboxMessage, Participant
from tests.fakes import FakeTelegramAPI, FakeTwilioAPI
from tests.helpers import FakeClock, load_library, settings_for

#: pytestmark for modules that run the Telegram channel: channels.telegram installs these
#: filters at import, and pytest resets filters per module.
TELEGRAM_WARNINGS = [
    pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates'"),
    pytest.mark.filterwarnings("ignore:.*`retry_after` will be of type"),
]

PUBLIC = "https://withus.example.org"  # the public_url Twilio signs requests for
TOKEN = "7000000001:AAE-webhook-test-token"
SECRET = "telegram-webhook-secret-0123456789"
ACCOUNT = "AC" + "7" * 32
AUTH = "webhook-test-auth-token"
OUR_SMS = "+447700900001"
OUR_WHATSAPP = "whatsapp:+447700900002"
PERSON = "+447700900123"  # Ofcom's drama range: never a real person
CHAT = 987654321

#: As a default `signature` or `secret`: what the provider itself would send.
VALID = "valid"

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
PHOTO_IN_WORDS = "Thank you for the photo. We can't use photos here, so please answer in words."
VOICE_IN_WORDS = ("Thank you for the voice note. We can't use voice notes here, so please answer "
                  "in words.")
WELCOME_BACK = "Welcome back. You will get messages from us again."
STOPPED = "You won't get any more messages from us. Text START if you want to join in again."


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


def tg_button(update_id: int, data: str, query_id: str = "4382bfdwdsb323b2d9",
              chat: int = CHAT) -> dict[str, Any]:
    """A press of an inline keyboard button under one of our messages."""
    return {
        "update_id": update_id,
        "callback_query": {
            "id": query_id, "from": {**USER, "id": chat}, "chat_instance": "-8061239911022224051",
            "data": data,
            "message": {
                "message_id": 12, "chat": {**PRIVATE, "id": chat}, "date": 1795428001,
                "text": OVERALL,
                "from": {"id": 7000000001, "is_bot": True, "first_name": "WithUs"},
            },
        },
    }  # fmt: skip


# -- what the fakes received ---------------------------------------------------------------


def quick_reply(twilio: FakeTwilioAPI, sent: Mapping[str, Any]
                ) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """The body and (title, id) buttons of a WhatsApp quick reply; None for plain text."""
    if "ContentSid" not in sent:
        return None
    contents = {c["sid"]: c for c in twilio.contents}
    spec = contents[sent["ContentSid"]]["types"]["twilio/quick-reply"]
    return spec["body"], tuple((a["title"], a["id"]) for a in spec["actions"])


def inline_keyboard(sent: Mapping[str, Any]) -> list[list[tuple[str, str]]]:
    """The (label, callback data) buttons of a Telegram message, row by row."""
    rows = (sent.get("reply_markup") or {}).get("inline_keyboard", [])
    return [[(button["text"], button["callback_data"]) for button in row] for row in rows]


# -- the runtime: real channels pointed at the fakes ---------------------------------------


@dataclass(frozen=True)
class ChannelConfig:
    """The channel settings a test runtime gets; its fakes check the same credentials."""

    telegram_token: str
    telegram_secret: str
    twilio_account: str
    twilio_auth: str
    sms_from: str
    whatsapp_from: str = ""  # no WhatsApp number
    default_survey: str | None = None


#: The `fft` survey on all three channels (the webhook and channel end-to-end tests).
SURVEY_CHANNELS = ChannelConfig(TOKEN, SECRET, ACCOUNT, AUTH, OUR_SMS, OUR_WHATSAPP,
                                default_survey="fft")


@dataclass(frozen=True)
class FakeProviders:
    """Both fake APIs, running, and the credentials they accept."""

    config: ChannelConfig
    twilio: FakeTwilioAPI
    telegram: FakeTelegramAPI

    def settings(self) -> dict[str, object]:
        """Settings overrides that point the runtime's channels at these fakes."""
        return {
            "telegram_bot_token": self.config.telegram_token,
            "telegram_webhook_secret": self.config.telegram_secret,
            "telegram_api_base_url": self.telegram.base_url,
            "twilio_account_sid": self.config.twilio_account,
            "twilio_auth_token": self.config.twilio_auth,
            "twilio_sms_from": self.config.sms_from,
            "twilio_whatsapp_from": self.config.whatsapp_from,
            "twilio_api_base_url": self.twilio.base_url,
            "public_url": PUBLIC,
            "default_survey": self.config.default_survey,
        }


@contextmanager
def serve_fakes(config: ChannelConfig) -> Iterator[FakeProviders]:
    with (FakeTwilioAPI(config.twilio_account, config.twilio_auth) as twilio,
          FakeTelegramAPI(token=config.telegram_token) as telegram):
        yield FakeProviders(config, twilio, telegram)


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


@contextmanager
def open_runtime(engine: Engine, instance: Path, fakes: FakeProviders,
                 load: Callable[[Runtime], None] = load_library,
                 **overrides: object) -> Iterator[Runtime]:
    """A runtime on `engine`'s (migrated, empty) database with `load` run on it (the
    example surveys by default) and real channels pointed at the fakes; `overrides` are
    further settings."""
    fakes.twilio.reset()
    fakes.telegram.reset()
    url = engine.url.render_as_string(hide_password=False)
    upgrade(url)  # already at head: a quick check
    ticks = SimulatedTime()
    runtime = build(settings_for(url, instance, **(fakes.settings() | overrides)),
                    clock=FakeClock(), monotonic=ticks.monotonic, sleep=ticks.sleep)
    try:
        load(runtime)
        yield runtime
    finally:
        runtime.close()


# -- requests as the providers send them ---------------------------------------------------


class WebhookClient:
    """The Flask app of one runtime, posting to its webhooks as the fake providers would."""

    def __init__(self, runtime: Runtime, fakes: FakeProviders) -> None:
        self.runtime = runtime
        self.config = fakes.config
        self.twilio = fakes.twilio
        self.telegram = fakes.telegram
        app = create_app(runtime=runtime)
        app.config["TESTING"] = True
        self.app = app
        self.client: FlaskClient = app.test_client()
        self._ids = itertools.count(1)  # fresh message sids and update ids

    def post_twilio(
        self,
        path: str,
        form: Mapping[str, str],
        *,
        signature: str | None = VALID,
        base_url: str = "http://localhost",
    ) -> TestResponse:
        """POST a form; `signature` is VALID, None (no header) or the header itself."""
        headers = {}
        if signature == VALID:
            headers["X-Twilio-Signature"] = self.twilio.sign(PUBLIC + path, form)
        elif signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.client.post(path, data=dict(form), headers=headers, base_url=base_url)

    def post_telegram(self, update: Mapping[str, Any] | bytes,
                      secret: str | None = VALID) -> TestResponse:
        """POST an update; `secret` is VALID (the configured one), None (no header) or the
        header itself."""
        body = update if isinstance(update, bytes) else json.dumps(update).encode()
        headers = {"Content-Type": "application/json"}
        if secret == VALID:
            headers["X-Telegram-Bot-Api-Secret-Token"] = self.config.telegram_secret
        elif secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        return self.client.post(TELEGRAM, data=body, headers=headers)

    def deliver(self) -> None:
        self.runtime.sender.run_once()

    # One valid message from the person, accepted, then the sender runs, as in production.

    def send_sms(self, body: str, sender: str = PERSON, **extra: str) -> None:
        form = twilio_form(body, self._sid(), sender, self.config.sms_from,
                           AccountSid=self.config.twilio_account, **extra)
        self._accepted(self.post_twilio(SMS, form))

    def send_whatsapp(self, body: str, sender: str = PERSON, **extra: str) -> None:
        form = twilio_form(body, self._sid(), f"whatsapp:{sender}", self.config.whatsapp_from,
                           AccountSid=self.config.twilio_account, **extra)
        self._accepted(self.post_twilio(WHATSAPP, form))

    def send_telegram(self, text: str, chat: int = CHAT) -> None:
        self._accepted(self.post_telegram(tg_text(self._update_id(), text, chat)))

    def press_button(self, data: str, chat: int = CHAT) -> None:
        update_id = self._update_id()
        self._accepted(self.post_telegram(tg_button(update_id, data, f"cb{update_id}", chat)))

    def _sid(self) -> str:
        return f"SM{next(self._ids):032x}"

    def _update_id(self) -> int:
        return 10_000 + next(self._ids)  # clear of the literal ids tests use (9000xx)

    def _accepted(self, response: TestResponse) -> None:
        assert response.status_code == 200, response.get_data(as_text=True)
        self.deliver()


@dataclass
class Counts:
    participants: int
    inbound: int
    outbox: int
    consents: int
    answers: list[tuple[str, str, Any]]


class Harness(WebhookClient):
    """A person taking the `fft` survey, and what it stored and what the fakes received."""

    def say(self, channel: str, text: str) -> None:
        """One valid message from PERSON (or CHAT) on `channel`, then the sender runs."""
        if channel == "telegram":
            self.send_telegram(text)
        elif channel == "sms":
            self.send_sms(text)
        else:
            self.send_whatsapp(text)

    def replies(self) -> list[str]:
        """Every message the fakes received, rendered like the golden transcripts:
        the text, then "[a | b]" for buttons."""
        out = []
        for sent in self.twilio.messages:
            buttons = quick_reply(self.twilio, sent)
            if buttons is None:
                out.append(sent["Body"])
            else:
                body, actions = buttons
                out.append(f"{body}\n[{' | '.join(title for title, _ in actions)}]")
        for sent in self.telegram.messages:
            labels = " | ".join(label for row in inline_keyboard(sent) for label, _ in row)
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


# -- fixtures ------------------------------------------------------------------------------
# pytest finds fixtures among a test module's names. Building them here and assigning them
# there (`fakes = fake_providers_fixture(...)`) shares them without an import that linters
# would call unused and that every test argument would appear to redefine.


def fake_providers_fixture(config: ChannelConfig) -> object:
    """A `fakes` fixture: both fake APIs, started once per test module."""

    @pytest.fixture(scope="module", name="fakes")
    def fixture() -> Iterator[FakeProviders]:
        with serve_fakes(config) as fakes:
            yield fakes

    return fixture


def harness_fixture() -> object:
    """A `harness` fixture: a Harness on the test's database and the module's `fakes`."""

    @pytest.fixture(name="harness")
    def fixture(engine: Engine, tmp_path: Path, fakes: FakeProviders) -> Iterator[Harness]:
        with open_runtime(engine, tmp_path, fakes) as runtime:
            yield Harness(runtime, fakes)

    return fixture
