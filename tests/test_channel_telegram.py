"""The Telegram channel: parsing literal updates, and sending through the real
python-telegram-bot `Bot` to a fake Bot API on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from channels.base import BadRequest, Choice, OutboundMessage, SendError, WebRequest
from channels.telegram import TelegramChannel
from channels.text import utf16_length
from tests.fakes import FakeTelegramAPI

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
# channels.telegram installs these two filters at import, but pytest restores the warning
# filters after collecting a module, so repeat them here.
pytestmark = [
    pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates'"),
    pytest.mark.filterwarnings("ignore:.*`retry_after` will be of type"),
]

TOKEN = "7000000001:AAE-test-token-not-real"
SECRET = "webhook-secret-0123456789"
CHAT = 5550001  # the person's chat id: must never show up in errors or logs
PERSON = {"id": CHAT, "is_bot": False, "first_name": "Sam", "language_code": "en-GB"}
PRIVATE = {"id": CHAT, "first_name": "Sam", "type": "private"}


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeTelegramAPI]:
    with FakeTelegramAPI(token=TOKEN) as api:
        yield api


@pytest.fixture(scope="module")
def channel(fake_api: FakeTelegramAPI) -> Iterator[TelegramChannel]:
    telegram = TelegramChannel(TOKEN, SECRET, api_base_url=fake_api.base_url, timeout=10)
    yield telegram
    telegram.close()


@pytest.fixture
def api(fake_api: FakeTelegramAPI) -> FakeTelegramAPI:
    fake_api.reset()
    return fake_api


def webhook(body: bytes | dict[str, Any], secret: str | None = SECRET) -> WebRequest:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WebRequest("POST", "/webhooks/telegram", headers, data)


# -- verify ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configured", "header", "expected"),
    [
        (SECRET, SECRET, True),
        (SECRET, "webhook-secret-0123456780", False),  # forged
        (SECRET, None, False),  # missing
        (SECRET, "", False),
        ("", "", False),  # no secret configured: never trust
        ("", "anything", False),
    ],
)
def test_verify(configured: str, header: str | None, expected: bool) -> None:
    telegram = TelegramChannel(TOKEN, configured, api_base_url="http://127.0.0.1:9")
    assert telegram.verify(webhook({"update_id": 1}, secret=header)) is expected


def test_verify_header_name_is_case_insensitive() -> None:
    telegram = TelegramChannel(TOKEN, SECRET, api_base_url="http://127.0.0.1:9")
    request = WebRequest("POST", "/", {"x-telegram-bot-api-secret-token": SECRET}, b"{}")
    assert telegram.verify(request)


# -- parse: literal updates as Telegram sends them ---------------------------------------


def message(update_id: int, **fields: Any) -> dict[str, Any]:
    base = {"message_id": 11, "from": PERSON, "chat": PRIVATE, "date": 1732356000}
    return {"update_id": update_id, "message": {**base, **fields}}


PARSE_CASES: list[tuple[str, dict[str, Any], dict[str, str] | None]] = [
    (
        "text",
        message(900001, text="Yes, most days"),
        {"kind": "text", "text": "Yes, most days", "provider_message_id": "900001"},
    ),
    (
        "start",
        message(
            900002, text="/start", entities=[{"type": "bot_command", "offset": 0, "length": 6}]
        ),
        {"kind": "start", "start_param": "", "text": ""},
    ),
    (
        "start with deep link",
        message(
            900003, text="/start fft", entities=[{"type": "bot_command", "offset": 0, "length": 6}]
        ),
        {"kind": "start", "start_param": "fft"},
    ),
    (
        "start addressed to the bot",
        message(900004, text="/start@WithUsTestBot carers-week"),
        {"kind": "start", "start_param": "carers-week"},
    ),
    ("other command", message(900005, text="/help"), {"kind": "text", "text": "help"}),
    ("command with words", message(900006, text="/stop now"), {"kind": "text", "text": "stop now"}),
    ("emoji", message(900007, text="👍🏽 yes"), {"kind": "text", "text": "👍🏽 yes"}),
    ("right to left", message(900008, text="نعم، كل يوم"), {"kind": "text", "text": "نعم، كل يوم"}),
    (
        "button",
        {
            "update_id": 900009,
            "callback_query": {
                "id": "4382bfdwdsb323b2d9",
                "from": PERSON,
                "message": {
                    "message_id": 12,
                    "from": {"id": 7000000001, "is_bot": True, "first_name": "WithUs"},
                    "chat": PRIVATE,
                    "date": 1732356001,
                    "text": "How often do you care for someone?",
                    "reply_markup": {
                        "inline_keyboard": [[{"text": "Every day", "callback_data": "q1:daily"}]]
                    },
                },
                "chat_instance": "-8061239911022224051",
                "data": "q1:daily",
            },
        },
        {"kind": "button", "payload": "q1:daily", "ack": "4382bfdwdsb323b2d9", "text": ""},
    ),
    (
        "button without its message",
        {
            "update_id": 900010,
            "callback_query": {
                "id": "99",
                "from": PERSON,
                "chat_instance": "1",
                "data": "q1:weekly",
                "inline_message_id": "AAAA",
            },
        },
        {"kind": "button", "payload": "q1:weekly", "address": str(CHAT)},
    ),
    (
        "voice",
        message(
            900011,
            voice={
                "duration": 4,
                "mime_type": "audio/ogg",
                "file_id": "AwACAgQAAxkBAAIB",
                "file_unique_id": "AgADxx",
                "file_size": 12034,
            },
        ),
        {"kind": "media", "media_type": "voice", "text": ""},
    ),
    (
        "photo with caption",
        message(
            900012,
            photo=[
                {"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 67},
                {"file_id": "p2", "file_unique_id": "u2", "width": 1280, "height": 960},
            ],
            caption="my garden",
        ),
        {"kind": "media", "media_type": "photo", "text": "my garden"},
    ),
    (
        "sticker",
        message(
            900013,
            sticker={
                "file_id": "s1",
                "file_unique_id": "su1",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "emoji": "😊",
            },
        ),
        {"kind": "media", "media_type": "sticker"},
    ),
    (
        "document",
        message(
            900014,
            document={"file_id": "d1", "file_unique_id": "du1", "file_name": "care-plan.pdf"},
        ),
        {"kind": "media", "media_type": "document"},
    ),
    (
        "animation (also carries a document)",
        message(
            900015,
            animation={
                "file_id": "a1",
                "file_unique_id": "au1",
                "width": 320,
                "height": 240,
                "duration": 2,
            },
            document={"file_id": "a1", "file_unique_id": "au1"},
        ),
        {"kind": "media", "media_type": "animation"},
    ),
    (
        "location",
        message(900016, location={"latitude": 51.48, "longitude": -3.18}),
        {"kind": "media", "media_type": "location"},
    ),
    (
        "contact",
        message(
            900017,
            contact={"phone_number": "+447700900123", "first_name": "Jo", "user_id": 5550002},
        ),
        {"kind": "media", "media_type": "contact"},
    ),
    ("poll or dice: nothing to answer", message(900018, dice={"emoji": "🎲", "value": 3}), None),
    (
        "edited message",
        {
            "update_id": 900019,
            "edited_message": {
                "message_id": 11,
                "from": PERSON,
                "chat": PRIVATE,
                "date": 1732356000,
                "edit_date": 1732356100,
                "text": "No, actually",
            },
        },
        None,
    ),
    (
        "group message",
        {
            "update_id": 900020,
            "message": {
                "message_id": 5,
                "from": PERSON,
                "chat": {"id": -1001234567890, "title": "Carers group", "type": "supergroup"},
                "date": 1732356000,
                "text": "hello bot",
            },
        },
        None,
    ),
    (
        "channel post",
        {
            "update_id": 900021,
            "channel_post": {
                "message_id": 3,
                "sender_chat": {"id": -1009876543210, "title": "News", "type": "channel"},
                "chat": {"id": -1009876543210, "title": "News", "type": "channel"},
                "date": 1732356000,
                "text": "Announcement",
            },
        },
        None,
    ),
    (
        "blocked (my_chat_member)",
        {
            "update_id": 900022,
            "my_chat_member": {
                "chat": PRIVATE,
                "from": PERSON,
                "date": 1732356200,
                "old_chat_member": {
                    "user": {"id": 7000000001, "is_bot": True, "first_name": "WithUs"},
                    "status": "member",
                },
                "new_chat_member": {
                    "user": {"id": 7000000001, "is_bot": True, "first_name": "WithUs"},
                    "status": "kicked",
                    "until_date": 0,
                },
            },
        },
        None,
    ),
    ("junk: no update_id", {"hello": "world"}, None),
    ("junk: update_id a string", {"update_id": "900023", "message": {"text": "hi"}}, None),
    ("junk: message not an object", {"update_id": 900024, "message": "hi"}, None),
    ("junk: message without a chat", {"update_id": 900025, "message": {"text": "hi"}}, None),
    ("junk: bool update_id", {"update_id": True}, None),
]


@pytest.mark.parametrize(
    ("update", "expected"),
    [pytest.param(u, e, id=name) for name, u, e in PARSE_CASES],
)
def test_parse(update: dict[str, Any], expected: dict[str, str] | None) -> None:
    telegram = TelegramChannel(TOKEN, SECRET, api_base_url="http://127.0.0.1:9")
    events = telegram.parse(webhook(update))
    if expected is None:
        assert events == []
        return
    assert len(events) == 1
    event = dataclasses.asdict(events[0])
    defaults = {"channel": "telegram", "address": str(CHAT)}
    assert {k: event[k] for k in {**defaults, **expected}} == {**defaults, **expected}


@pytest.mark.parametrize("body", [b"not json", b"", b"[1, 2]", b'"text"', b"\xff\xfe{"])
def test_parse_rejects_a_body_that_is_not_a_json_object(body: bytes) -> None:
    telegram = TelegramChannel(TOKEN, SECRET, api_base_url="http://127.0.0.1:9")
    with pytest.raises(BadRequest):
        telegram.parse(webhook(body))


def test_blocked_chat() -> None:
    telegram = TelegramChannel(TOKEN, SECRET, api_base_url="http://127.0.0.1:9")
    cases = {name: update for name, update, _ in PARSE_CASES}
    assert telegram.blocked_chat(cases["blocked (my_chat_member)"]) == str(CHAT)
    assert telegram.blocked_chat(webhook(cases["blocked (my_chat_member)"])) == str(CHAT)
    assert telegram.blocked_chat(cases["text"]) is None
    assert telegram.blocked_chat({"update_id": 1, "my_chat_member": "junk"}) is None


def test_inbound_repr_hides_the_chat_id() -> None:
    telegram = TelegramChannel(TOKEN, SECRET, api_base_url="http://127.0.0.1:9")
    [event] = telegram.parse(webhook(message(900030, text="private words")))
    assert str(CHAT) not in repr(event) and "private" not in repr(event)
    assert TOKEN not in repr(telegram)


# -- send, through the real Bot ----------------------------------------------------------

QUESTION = OutboundMessage(
    "How often do you care for someone?",
    choices=[Choice("q1:daily", "Every day"), Choice("q1:weekly", "Most weeks")],
)


def test_send_with_buttons(channel: TelegramChannel, api: FakeTelegramAPI) -> None:
    results = channel.send(str(CHAT), QUESTION)
    [sent] = api.messages
    assert sent["chat_id"] == str(CHAT)
    assert sent["text"] == "How often do you care for someone?"
    assert sent["reply_markup"] == {
        "inline_keyboard": [
            [{"text": "Every day", "callback_data": "q1:daily"}],
            [{"text": "Most weeks", "callback_data": "q1:weekly"}],
        ]
    }
    assert [r.provider_message_id for r in results] == ["1"]


@pytest.mark.parametrize(
    "outbound",
    [
        pytest.param(dataclasses.replace(QUESTION, multiple=True), id="multiple choice"),
        pytest.param(
            OutboundMessage("Pick", choices=[Choice(f"c{i}", f"Option {i}") for i in range(9)]),
            id="more than 8 choices",
        ),
        pytest.param(
            OutboundMessage("Pick", choices=[Choice("x" * 65, "Too long a payload")]),
            id="callback data over 64 bytes",
        ),
    ],
)
def test_send_numbered_when_buttons_wont_do(
    channel: TelegramChannel, api: FakeTelegramAPI, outbound: OutboundMessage
) -> None:
    channel.send(str(CHAT), outbound)
    [sent] = api.messages
    assert "reply_markup" not in sent
    assert sent["text"].startswith(outbound.text + "\n\n1 ")


def test_send_splits_long_text_with_buttons_on_the_last_part(
    channel: TelegramChannel, api: FakeTelegramAPI
) -> None:
    long_text = "Caring can be tiring, and it is fine to say so. " * 120  # 5,760 chars
    results = channel.send(str(CHAT), dataclasses.replace(QUESTION, text=long_text.strip()))
    assert len(results) == 2 == len(api.messages)
    first, last = api.messages
    assert all(len(m["text"]) <= 4096 for m in api.messages)
    assert first["text"].endswith(".") and "reply_markup" not in first
    assert "reply_markup" in last
    assert [r.provider_message_id for r in results] == ["1", "2"]


def test_send_measures_length_like_telegram(channel: TelegramChannel, api: FakeTelegramAPI) -> None:
    channel.send(str(CHAT), OutboundMessage("😀" * 3000))  # 6,000 UTF-16 units
    assert [utf16_length(m["text"]) for m in api.messages] == [4096, 1904]


def test_rate_limit_means_retry_after(channel: TelegramChannel, api: FakeTelegramAPI) -> None:
    api.fail_next("rate_limit", retry_after=7)
    with pytest.raises(SendError) as caught:
        channel.send(str(CHAT), QUESTION)
    assert caught.value.retry_after == 7
    assert not caught.value.permanent


@pytest.mark.parametrize(
    ("kind", "reason", "permanent", "opted_out"),
    [
        ("blocked", "bot was blocked by the user", True, True),
        ("deactivated", "user is deactivated", True, True),
        ("chat_not_found", "chat not found", True, False),
        ("server_error", "telegram network error", False, False),
        ("unauthorized", "telegram rejected the bot token", False, False),
    ],
)
def test_send_errors(
    channel: TelegramChannel,
    api: FakeTelegramAPI,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    reason: str,
    permanent: bool,
    opted_out: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    api.fail_next(kind)
    with pytest.raises(SendError) as caught:
        channel.send(str(CHAT), QUESTION)
    error = caught.value
    assert (error.reason, error.permanent, error.opted_out) == (reason, permanent, opted_out)
    assert error.__context__ is None and error.__cause__ is None
    for text in (str(error), repr(error), caplog.text):
        assert str(CHAT) not in text and TOKEN not in text


def test_network_failure_is_retryable() -> None:
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    telegram = TelegramChannel(TOKEN, SECRET, api_base_url=f"http://127.0.0.1:{port}", timeout=10)
    try:
        with pytest.raises(SendError) as caught:
            telegram.send(str(CHAT), QUESTION)
    finally:
        telegram.close()
    assert not caught.value.permanent and caught.value.retry_after is None
    assert str(port) not in caught.value.reason


def test_acknowledge(channel: TelegramChannel, api: FakeTelegramAPI) -> None:
    channel.acknowledge("4382bfdwdsb323b2d9")
    assert api.calls("answerCallbackQuery") == [{"callback_query_id": "4382bfdwdsb323b2d9"}]


def test_acknowledge_never_raises(channel: TelegramChannel, api: FakeTelegramAPI) -> None:
    api.fail_next("server_error", method="answerCallbackQuery")
    channel.acknowledge("too-old")
    channel.acknowledge("")  # nothing to acknowledge: no call
    assert len(api.calls("answerCallbackQuery")) == 1


def test_webhook_administration(channel: TelegramChannel, api: FakeTelegramAPI) -> None:
    assert channel.set_webhook("https://withus.example/webhooks/telegram", SECRET)
    assert channel.delete_webhook()
    [params] = api.calls("setWebhook")
    assert params["url"] == "https://withus.example/webhooks/telegram"
    assert params["secret_token"] == SECRET
    assert params["allowed_updates"] == ["message", "callback_query", "my_chat_member"]
    assert len(api.calls("deleteWebhook")) == 1


def test_polling_feeds_the_same_parser(channel: TelegramChannel, api: FakeTelegramAPI) -> None:
    api.push_update(message(900040, text="/start fft"))
    api.push_update({"update_id": 900041, "message": "junk PTB cannot read"})
    updates = channel.get_updates(offset=None, timeout=1)
    assert [u["update_id"] for u in updates] == [900040, 900041]
    events = [event for u in updates for event in channel.parse_update(u)]
    assert [(e.kind, e.start_param) for e in events] == [("start", "fft")]
    # The next offset confirms both; a later poll sees nothing new.
    assert channel.get_updates(offset=900042, timeout=0) == []


def test_close_then_use_again(fake_api: FakeTelegramAPI) -> None:
    fake_api.reset()
    telegram = TelegramChannel(TOKEN, SECRET, api_base_url=fake_api.base_url, timeout=10)
    telegram.send(str(CHAT), OutboundMessage("one"))
    telegram.close()
    telegram.close()
    telegram.send(str(CHAT), OutboundMessage("two"))
    telegram.close()
    assert [m["text"] for m in fake_api.messages] == ["one", "two"]
