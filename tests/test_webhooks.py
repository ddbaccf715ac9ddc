"""The provider webhooks through the Flask app: literal payloads in, stored effects and
replies out.

Courier-style: each row of `CASES` is a request exactly as Twilio or Telegram sends it (or
as an attacker might), the status we must answer, what must be stored, and what the fake
provider must receive once the sender has run. The channels are the real ones, talking to
the fake Twilio and Telegram APIs on 127.0.0.1 through the real client libraries.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import pytest
import requests
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from bot.web.app import MAX_BODY_BYTES
from tests.webhook_harness import (
    ACCOUNT,
    CHAT,
    LANGUAGE,
    LANGUAGE_SMS,
    OUR_SMS,
    OUR_WHATSAPP,
    OVERALL,
    OVERALL_SMS,
    PERSON,
    PHOTO_IN_WORDS,
    PUBLIC,
    QUOTE_SMS,
    SECRET,
    SMS,
    STATUS,
    STOPPED,
    SURVEY_CHANNELS,
    TELEGRAM,
    TELEGRAM_WARNINGS,
    VOICE_IN_WORDS,
    WELCOME_BACK,
    WHATSAPP,
    WHY,
    Harness,
    fake_providers_fixture,
    harness_fixture,
    tg_button,
    tg_text,
    twilio_form,
)

pytestmark = TELEGRAM_WARNINGS
fakes = fake_providers_fixture(SURVEY_CHANNELS)
harness = harness_fixture()


# -- literal payloads ----------------------------------------------------------------------


def without(form: Mapping[str, str], *keys: str) -> dict[str, str]:
    return {k: v for k, v in form.items() if k not in keys}


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
         (PHOTO_IN_WORDS, OVERALL_SMS), before=AT_OVERALL),
    Case("whatsapp: a voice note is a marker too",
         Twilio(WHATSAPP, twilio_form("", SID, f"whatsapp:{PERSON}", OUR_WHATSAPP,
                                      NumMedia="1", MediaContentType0="audio/ogg")), 200,
         Stored(inbound=1, answers=(("overall", "media", {"media": "audio"}),)),
         (VOICE_IN_WORDS, OVERALL_SMS), before=AT_OVERALL),
    Case("sms: empty body", Twilio(SMS, twilio_form("", SID)), 200, Stored(inbound=1),
         ("Sorry, I didn't understand. Please reply with a number from 1 to 6.",),
         before=AT_OVERALL),
    Case("sms: 10,000 characters keep 5,000, cut at a word, and the person is told",
         Twilio(SMS, twilio_form("Carers. " * 1250, SID)), 200,
         Stored(inbound=1, answers=(("why", "value", ("Carers. " * 625).rstrip()),)),
         ('That was longer than we can keep in one answer (5000 characters). We kept it up '
          'to "Carers. Carers. Carers. Carers.".', QUOTE_SMS), before=AT_WHY),
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
    Case("telegram: a message without a chat is a quiet 200",
         Telegram({"update_id": 900006, "message": {
             k: v for k, v in tg_text(0, "hello")["message"].items() if k != "chat"}}), 200),
    Case("telegram: a sender PTB refuses (no is_bot): the words are read from the raw JSON",
         Telegram({"update_id": 900007, "message": {
             **tg_text(0, "Good")["message"], "from": {"id": 4242, "first_name": "Sam"}}}),
         200, Stored(inbound=1, answers=(("overall", "value", "good"),)), (WHY,),
         before=AT_OVERALL),
    Case("telegram: a photo's caption is the answer, the photo a marker beside it",
         Telegram({"update_id": 900008, "message": {
             **{k: v for k, v in tg_text(0, "")["message"].items() if k != "text"},
             "caption": "2", "photo": [{"file_id": "AgACAgQ", "file_unique_id": "AQAD",
                                        "width": 90, "height": 90}]}}),
         200, Stored(inbound=1, answers=(("overall", "value", "good"),
                                         ("overall", "media", {"media": "photo"}))), (WHY,),
         before=AT_OVERALL),
    Case("telegram: a location is named as what it is",
         Telegram({"update_id": 900009, "message": {
             **{k: v for k, v in tg_text(0, "")["message"].items() if k != "text"},
             "location": {"latitude": 51.48, "longitude": -3.18}}}),
         200, Stored(inbound=1, answers=(("overall", "media", {"media": "location"}),)),
         ("We got a location, but we don't use locations. Please answer in words.",
          OVERALL + "\n[Very good | Good | Neither good nor poor | Poor | Very poor | "
          "Don't know]"),
         before=AT_OVERALL),
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
