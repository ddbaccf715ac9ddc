"""Fuzzing: whatever arrives, the webhooks answer below 500 and the engine stays sound.

Why: providers retry every 5xx, again and again, so one input that crashes a webhook
turns into an alert storm and a queue of retries; and a crash inside the engine would leave
a participant stuck mid-survey with a state nobody can load. The example tests show the
inputs we thought of. These throw everything else at the same code: random and hostile
form fields, random JSON updates, odd Unicode, huge bodies, and any sequence of events.

* Webhooks (through the real Flask app, real channels, the fake provider APIs): the status
  is never 5xx, and nothing is logged with a traceback or at ERROR level.
* Engine: `converse` never raises, the state it returns is plain JSON (the next message
  gets it back from the database, so it must survive the round trip), and an answer is
  only ever recorded for the question the participant had just been asked.

Examples per test: 200 by default, which keeps this file well under a minute in CI;
`HYPOTHESIS_PROFILE=benchmark` runs 10,000 per test (see benchmarks/README.md).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from twilio.request_validator import RequestValidator

from bot.services.runtime import Runtime, build
from bot.web.app import MAX_BODY_BYTES, create_app
from storage.db import upgrade
from surveys.conversation import AnswerGiven, Event
from surveys.engine import Catalog, converse
from surveys.loader import library_path, load_file, load_folder
from surveys.model import Survey
from tests.fakes import FakeTelegramAPI, FakeTwilioAPI
from tests.helpers import FakeClock, load_library, settings_for

pytestmark = [
    # channels.telegram installs these filters at import; pytest resets filters per module.
    pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates'"),
    pytest.mark.filterwarnings("ignore:.*`retry_after` will be of type"),
]

#: Examples per test: "benchmark" is the long run (≥ 10,000), anything else the CI run.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "")
EXAMPLES = 10_000 if PROFILE == "benchmark" else 200
fuzz = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a shared CI machine stalls now and then; a slow example is not a bug
    database=None,  # nothing written into the work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

PUBLIC = "https://withus.example.org"
ACCOUNT = "AC" + "f" * 32
AUTH = "fuzz-auth-token"
TOKEN = "7000000001:AAE-fuzz-token"
SECRET = "telegram-fuzz-secret-0123456789"
OUR_SMS = "+447700900001"
OUR_WHATSAPP = "whatsapp:+447700900002"
SMS, WHATSAPP = "/webhooks/twilio/sms", "/webhooks/twilio/whatsapp"
STATUS, TELEGRAM = "/webhooks/twilio/status", "/webhooks/telegram"
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)

# -- strategies ----------------------------------------------------------------------------


def _catalog() -> Catalog:
    items = [*load_folder(library_path()),
             *(load_file(p) for p in sorted((Path(__file__).parent / "data" / "surveys")
                                            .glob("*.yaml")))]
    surveys = {i.id: i for i in items if isinstance(i, Survey)}
    consultations = {i.id: i for i in items if not isinstance(i, Survey)}
    return Catalog(surveys, "fft", consultations)


CATALOG = _catalog()


def _vocabulary() -> tuple[list[str], list[str]]:
    """Words and button payloads that mean something to some survey."""
    words = ["HELP", "REPEAT", "BACK", "SKIP", "PAUSE", "STOP", "START", "MORE", "YES", "NO",
             "yes", "no", "1", "2", "3", "7", "10", "4/5", "two", "👍", "MYDATA", "DELETE",
             "TIME", "LATER", "LANGUAGE", "Cymraeg", "English", "morning", "hi again", "NO"]
    payloads = ["consent:yes", "consent:no", "quote:yes", "quote:no", "share:yes",
                "share:no", "delete:yes", "delete:no", "lang:cy", "lang:en", "time:morning",
                "time:evening", "survey:nope"]
    items: list[Any] = [*CATALOG.surveys.values(), *CATALOG.consultations.values()]
    for item in items:
        words.append(item.id)
        payloads.append(f"survey:{item.id}")
        for question in getattr(item, "questions", ()):
            for option in getattr(question, "options", ()):
                words.append(option.label.get() if hasattr(option.label, "get") else "")
                payloads.append(f"{question.id}={option.code}")
    return words, payloads


WORDS, PAYLOADS = _vocabulary()


#: Any Unicode a client can encode (lone surrogates cannot be sent as UTF-8 at all; they
#: are covered by the raw-bytes and JSON-escape cases).
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=80)
ODD_TEXT = st.sampled_from([
    "", " ", "\x00", "STOP", "stop ", "START", "yes", "YES", "no", "1", "2.", "6", "0", "-1",
    "👍", "👍🏽", "🙏", "HELP", "CYMORTH", "BACK", "YN ÔL", "SKIP", "PAUSE", "FFT", "fairpay",
    "MYDATA", "DELETE", "TIME", "LATER", "Cymraeg", "\u202eevil", "e\u0301", "ﬀ", "İ",
    "a\r\nb", "%00", "%FF", "&=&=", "+447700900123", "07700 900123", "whatsapp:+447700900123",
    "9" * 40, "1e308", "NaN", "inf", "null", "[]", "{}", "<Response/>", "' OR 1=1 --",
])  # fmt: skip
#: Big bodies: near and over the 64 KB limit once percent-encoded.
HUGE = st.builds(lambda unit, n: unit * n, st.sampled_from(["x", "é", "👍", "ab "]),
                 st.integers(1_000, MAX_BODY_BYTES // 2))
TEXT = st.one_of(ODD_TEXT, ANY_TEXT)
#: What people text: mostly words the surveys understand, so conversations get somewhere.
BODIES = st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS), ODD_TEXT, ANY_TEXT, HUGE)
#: A few people over and over (their conversations move on), and junk.
ADDRESSES = st.one_of(
    st.sampled_from(["+447700900123", "+447700900124", "07700900125", "+15005550006",
                     "72404", "WithUs", "+4407700900123"]),
    st.sampled_from(["", " ", "whatsapp:", "+", "+44", "whatsapp:+447700900123"]),
    ANY_TEXT,
)  # fmt: skip
SIDS = st.one_of(
    st.builds(lambda n: f"SM{n:032x}", st.integers(0, 40)),  # repeats: the dedupe path
    st.sampled_from(["", "SM", "SM" + "0" * 200, "MM\x00", "SM🙂"]),
    ANY_TEXT,
)
TWILIO_FIELDS = st.one_of(
    st.sampled_from([
        "MessageSid", "SmsMessageSid", "SmsSid", "From", "To", "Body", "NumMedia",
        "MediaContentType0", "MediaUrl0", "MediaContentType1", "ButtonPayload", "ButtonText",
        "AccountSid", "MessageStatus", "SmsStatus", "ErrorCode", "ProfileName", "WaId",
        "Latitude", "Longitude", "NumSegments", "ApiVersion",
    ]),
    ANY_TEXT,
)  # fmt: skip
NUMBERS_AS_TEXT = st.one_of(st.integers(-(10**30), 10**30).map(str), ODD_TEXT)


@st.composite
def twilio_forms(draw: st.DrawFn, whatsapp: bool, status: bool) -> dict[str, str]:
    """A webhook form: a plausible core, random extra fields, some fields missing."""
    sender = draw(ADDRESSES)
    if whatsapp and draw(st.integers(0, 4)):  # mostly the right prefix for the webhook
        sender = "whatsapp:" + sender.removeprefix("whatsapp:")
    form = {
        "MessageSid": draw(SIDS), "From": sender, "To": OUR_WHATSAPP if whatsapp else OUR_SMS,
        "Body": draw(BODIES), "AccountSid": ACCOUNT,
        "NumMedia": draw(st.one_of(st.just("0"), NUMBERS_AS_TEXT)),
    }  # fmt: skip
    if status:  # a delivery report, maybe for a message we sent
        form["MessageStatus"] = draw(st.one_of(st.sampled_from(
            ["queued", "sent", "delivered", "read", "undelivered", "failed"]), TEXT))
        if draw(st.booleans()):
            form["ErrorCode"] = draw(st.one_of(st.sampled_from(["21610", "30005"]),
                                               NUMBERS_AS_TEXT))
    if draw(st.integers(0, 2)) == 0:
        form.update(draw(st.dictionaries(TWILIO_FIELDS, st.one_of(TEXT, NUMBERS_AS_TEXT),
                                         max_size=6)))
    if draw(st.integers(0, 3)) == 0:
        for key in draw(st.lists(st.sampled_from(sorted(form)), max_size=3)):
            form.pop(key, None)
    return form


def _json_values(leaves: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaves,
        lambda children: st.lists(children, max_size=4)
        | st.dictionaries(st.one_of(st.sampled_from(["text", "data", "id", "chat", "from"]),
                                    ANY_TEXT), children, max_size=4),
        max_leaves=12,
    )


JSON_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False), ANY_TEXT, ODD_TEXT,
)  # fmt: skip
JSON_VALUES = _json_values(JSON_LEAVES)
CHAT_IDS = st.one_of(st.integers(-(2**63), 2**63), st.sampled_from([987654321, 987654322]),
                     JSON_VALUES)


@st.composite
def telegram_updates(draw: st.DrawFn) -> Any:
    """An update: mostly shaped like Telegram's, with any field swapped for junk."""
    chat = {"id": draw(CHAT_IDS), "type": draw(st.sampled_from(["private", "group", "x"])),
            "first_name": draw(ANY_TEXT)}
    sender = {"id": draw(CHAT_IDS), "is_bot": draw(st.booleans()), "first_name": "Sam"}
    message = {"message_id": draw(st.integers(-5, 2**40)), "date": draw(st.integers(0, 2**33)),
               "chat": chat, "from": sender, "text": draw(BODIES)}
    kind = draw(st.sampled_from(["message", "edited_message", "callback_query", "other"]))
    update: dict[str, Any] = {"update_id": draw(st.integers(-5, 2**40))}
    if kind == "callback_query":
        update[kind] = {"id": draw(ANY_TEXT), "from": sender, "chat_instance": "1",
                        "data": draw(st.one_of(TEXT, st.sampled_from(["consent:yes",
                                                                       "overall=good"]))),
                        "message": message}
    elif kind == "other":
        update.update(draw(st.dictionaries(ANY_TEXT, JSON_VALUES, max_size=3)))
    else:
        update[kind] = message
    for key, value in draw(st.dictionaries(st.sampled_from(
            ["text", "chat", "from", "date", "message_id", "entities", "photo", "voice",
             "caption", "contact", "location"]), JSON_VALUES, max_size=3)).items():
        message[key] = value
    if draw(st.booleans()):
        message["entities"] = [{"type": "bot_command", "offset": draw(st.integers(-2, 50)),
                                "length": draw(st.integers(-2, 50))}]
    return update if draw(st.integers(0, 9)) else draw(JSON_VALUES)


# -- the webhook side ----------------------------------------------------------------------


class Captured(logging.Handler):
    """Every record logged at WARNING or above while installed on the root logger."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def tracebacks(self) -> list[str]:
        return [f"{r.levelname} {r.name}: {r.getMessage()}" for r in self.records
                if r.exc_info or r.levelno >= logging.ERROR]


class Site:
    """One app and runtime for the whole module: building one per example would dominate."""

    def __init__(self, app: Flask, runtime: Runtime, twilio: FakeTwilioAPI) -> None:
        self.app = app
        self.runtime = runtime
        self.client: FlaskClient = app.test_client()
        self.validator = RequestValidator(twilio.auth_token)
        self.log = Captured()

    def post(self, path: str, **kwargs: Any) -> int:
        root = logging.getLogger()
        root.addHandler(self.log)
        try:
            return self.client.post(path, **kwargs).status_code
        finally:
            root.removeHandler(self.log)

    def check(self, status: int, what: str) -> None:
        if currently_in_test_context():  # --hypothesis-show-statistics: how deep they got
            event(f"status {status}")
        assert status < 500, f"{what} answered {status}"
        assert not self.log.tracebacks(), self.log.tracebacks()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    instance: Path = tmp_path_factory.mktemp("fuzz")
    url = f"sqlite:///{instance / 'withus.db'}"
    upgrade(url)
    with FakeTwilioAPI(ACCOUNT, AUTH) as twilio, FakeTelegramAPI(token=TOKEN) as telegram:
        runtime = build(
            settings_for(
                url, instance, public_url=PUBLIC, default_survey="fft",
                twilio_account_sid=ACCOUNT, twilio_auth_token=AUTH,
                twilio_sms_from=OUR_SMS, twilio_whatsapp_from=OUR_WHATSAPP,
                twilio_api_base_url=twilio.base_url, telegram_bot_token=TOKEN,
                telegram_webhook_secret=SECRET, telegram_api_base_url=telegram.base_url,
            ),
            clock=FakeClock(NOW), sleep=lambda _seconds: None,
        )  # fmt: skip
        try:
            load_library(runtime)
            yield Site(create_app(runtime=runtime), runtime, twilio)
        finally:
            runtime.close()


@fuzz
@given(data=st.data(), path=st.sampled_from([SMS, SMS, WHATSAPP, STATUS]),
       signing=st.sampled_from(["valid"] * 5 + ["forged", "missing", "wrong-url"]))
def test_twilio_webhooks_never_answer_5xx(site: Site, data: st.DataObject, path: str,
                                          signing: str) -> None:
    form = data.draw(twilio_forms(whatsapp=path == WHATSAPP, status=path == STATUS),
                     label="form")
    site.log.records.clear()
    headers = {}
    if signing != "missing":
        url = PUBLIC + (path if signing != "wrong-url" else SMS + "x")
        signature = site.validator.compute_signature(url, form)
        headers["X-Twilio-Signature"] = signature if signing != "forged" else signature[::-1]
    status = site.post(path, data=form, headers=headers)
    site.check(status, f"{path} with {sorted(form)}")


@fuzz
@given(path=st.sampled_from([SMS, WHATSAPP, STATUS, TELEGRAM]),
       body=st.one_of(st.binary(max_size=3000), BODIES.map(lambda t: t.encode("utf-8"))),
       content_type=st.sampled_from([
           "application/x-www-form-urlencoded", "application/json", "text/plain",
           "multipart/form-data; boundary=x", "application/x-www-form-urlencoded; charset=latin-1",
       ]),
       signed_as=st.dictionaries(TWILIO_FIELDS, ANY_TEXT, max_size=4))
def test_raw_bodies_never_answer_5xx(site: Site, path: str, body: bytes, content_type: str,
                                     signed_as: dict[str, str]) -> None:
    """Bytes no client library would produce, signed over what a lenient parser might
    make of them, so they get past the signature check as often as possible."""
    site.log.records.clear()
    headers = {"Content-Type": content_type,
               "X-Twilio-Signature": site.validator.compute_signature(PUBLIC + path, signed_as),
               "X-Telegram-Bot-Api-Secret-Token": SECRET}
    status = site.post(path, data=body, headers=headers)
    site.check(status, f"{path} with {len(body)} raw bytes as {content_type}")


@fuzz
@given(update=telegram_updates(), secret=st.sampled_from([SECRET, SECRET, SECRET, "", "x"]))
def test_telegram_webhook_never_answers_5xx(site: Site, update: Any, secret: str) -> None:
    site.log.records.clear()
    body = json.dumps(update, ensure_ascii=False).encode("utf-8")
    status = site.post(TELEGRAM, data=body, headers={
        "Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret,
    })  # fmt: skip
    site.check(status, "telegram update")


def test_the_webhook_fuzzing_would_notice_a_crash(site: Site,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """The checks above can fail: a crash in the service is a 500 with a traceback."""

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(site.runtime.service, "handle", crash)
    form = {"MessageSid": "SM" + "e" * 32, "From": "+447700900199", "Body": "hello"}
    headers = {"X-Twilio-Signature": site.validator.compute_signature(PUBLIC + SMS, form)}
    site.log.records.clear()
    status = site.post(SMS, data=form, headers=headers)
    with pytest.raises(AssertionError):
        site.check(status, "a crashing service")
    assert status == 500 and site.log.tracebacks()


# -- the engine ----------------------------------------------------------------------------


EVENTS = st.one_of(
    st.builds(lambda t: Event("text", text=t), st.one_of(st.sampled_from(WORDS), TEXT)),
    st.builds(lambda p: Event("button", payload=p), st.one_of(st.sampled_from(PAYLOADS),
                                                             ANY_TEXT)),
    st.builds(lambda m, t: Event("media", media_type=m, text=t),
              st.sampled_from(["image", "audio", "video", "file", "location", ""]), ODD_TEXT),
    st.builds(lambda s, t: Event("start", survey_id=s, text=t),
              st.sampled_from([*CATALOG.surveys, *CATALOG.consultations, "", "nope"]), ODD_TEXT),
    st.just(Event("timeout")),
)


def _is_json(value: Any) -> bool:
    """Plain JSON, as the database hands it back: no tuples, sets, NaN or non-str keys."""
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json(v) for k, v in value.items())
    return False


def _check_answers(before: dict[str, Any] | None, records: list[Any]) -> None:
    asked = before.get("q") if before else None
    for record in records:
        if isinstance(record, AnswerGiven):
            assert before is not None and asked is not None, "an answer before any question"
            assert record.question_id == asked, (record.question_id, asked)
            assert record.survey_id == before.get("survey"), (record.survey_id, before)
            if record.survey_id in CATALOG.surveys:
                assert asked in before.get("asked", []), (asked, before.get("asked"))


@fuzz
@given(events=st.lists(st.tuples(EVENTS, st.integers(0, 3 * 24 * 60)), max_size=40))
def test_the_engine_survives_any_sequence_of_inputs(events: list[tuple[Event, int]]) -> None:
    state: dict[str, Any] | None = None
    now = NOW
    for happening, minutes in events:
        now += timedelta(minutes=minutes)
        result = converse(CATALOG, state, happening, now)
        assert _is_json(result.state), result.state
        _check_answers(state, list(result.records))
        for reply in result.replies:
            assert isinstance(reply.text, str)
        # What the next message finds is what the database kept.
        state = json.loads(json.dumps(result.state, allow_nan=False))


def test_the_engine_check_would_notice_a_stray_answer() -> None:
    """The answer check can fail: an answer for a question nobody asked is caught."""
    stray = AnswerGiven("fft", 1, "why", "value", "hi")
    with pytest.raises(AssertionError):
        _check_answers({"survey": "fft", "q": "overall", "asked": ["overall"]}, [stray])
    with pytest.raises(AssertionError):
        _check_answers(None, [stray])
    assert not _is_json({"values": ("a", "b")}) and not _is_json({1: "x"})
