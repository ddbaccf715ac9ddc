"""The Twilio channels (SMS, WhatsApp): signatures computed by Twilio's own validator,
literal webhook forms, and sends through the real `twilio.rest.Client` to a fake API."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.request_validator import RequestValidator

from channels.base import BadRequest, Choice, OutboundMessage, SendError, WebRequest
from channels.smstext import encoding
from channels.twilio import TwilioChannel, opt_in_keyword, opt_out_keyword
from tests.fakes import FakeTwilioAPI

os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

SID = "AC" + "1f" * 16
TOKEN = "b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0"
PUBLIC = "https://withus.example"
OURS = "+447700900000"
PERSON = "+447700900123"  # must never show up in errors or logs
NATIONAL = "7700900123"  # ...nor in its national form


@pytest.fixture(scope="module")
def fake_api() -> Iterator[FakeTwilioAPI]:
    with FakeTwilioAPI(SID, TOKEN) as api:
        yield api


@pytest.fixture
def api(fake_api: FakeTwilioAPI) -> FakeTwilioAPI:
    fake_api.reset()
    return fake_api


def make(name: str = "sms", api: FakeTwilioAPI | None = None, **kwargs: Any) -> TwilioChannel:
    base = api.base_url if api is not None else "http://127.0.0.1:9"
    settings: dict[str, Any] = {"from_number": OURS, "api_base_url": base, **kwargs}
    return TwilioChannel(name, SID, TOKEN, PUBLIC, **settings)  # type: ignore[arg-type]


def form_request(
    form: dict[str, str],
    signature: str | None = None,
    path: str = "/webhooks/twilio/sms",
    query: dict[str, str] | None = None,
) -> WebRequest:
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return WebRequest("POST", path, headers, urlencode(form).encode(), form, query or {})


# -- verify ------------------------------------------------------------------------------

FORM = {
    "MessageSid": "SM" + "a" * 32,
    "AccountSid": SID,
    "From": PERSON,
    "To": OURS,
    "Body": "Yes",
    "NumMedia": "0",
}
URL = f"{PUBLIC}/webhooks/twilio/sms"


def sign(url: str, form: dict[str, str], token: str = TOKEN) -> str:
    return str(RequestValidator(token).compute_signature(url, form))


@pytest.mark.parametrize(
    ("signed_url", "signed_form", "token", "query", "expected"),
    [
        pytest.param(URL, FORM, TOKEN, None, True, id="valid"),
        pytest.param(URL, FORM, "f" * 32, None, False, id="forged: other token"),
        pytest.param(URL, {**FORM, "Body": "No"}, TOKEN, None, False, id="forged: other body"),
        pytest.param(URL.replace("https", "http"), FORM, TOKEN, None, False, id="wrong scheme"),
        pytest.param(URL.replace("withus", "evil"), FORM, TOKEN, None, False, id="wrong host"),
        pytest.param(URL + "?c=1", FORM, TOKEN, {"c": "1"}, True, id="query string"),
        pytest.param(URL, FORM, TOKEN, {"c": "1"}, False, id="query added after signing"),
        pytest.param(
            URL.replace(".example/", ".example:443/"), FORM, TOKEN, None, True, id="explicit port"
        ),
    ],
)
def test_verify(
    signed_url: str,
    signed_form: dict[str, str],
    token: str,
    query: dict[str, str] | None,
    expected: bool,
) -> None:
    signature = sign(signed_url, signed_form, token)
    assert make().verify(form_request(FORM, signature, query=query)) is expected


def test_verify_uses_the_public_url_not_the_host_header() -> None:
    # Behind a TLS-terminating proxy the app sees http://10.0.0.5:8000; Twilio signed https.
    headers = {"Host": "10.0.0.5:8000", "X-Twilio-Signature": sign(URL, FORM)}
    request = WebRequest("POST", "/webhooks/twilio/sms", headers, b"", FORM)
    assert make().verify(request)
    trailing_slash = TwilioChannel("sms", SID, TOKEN, PUBLIC + "/", from_number=OURS)
    assert trailing_slash.verify(request)


def test_fake_builds_signed_webhooks_the_channel_accepts(fake_api: FakeTwilioAPI) -> None:
    form = fake_api.inbound_form(f"whatsapp:{PERSON}", "Every day", to=f"whatsapp:{OURS}")
    url = f"{PUBLIC}/webhooks/twilio/whatsapp"
    request = form_request(form, fake_api.sign(url, form), path="/webhooks/twilio/whatsapp")
    channel = TwilioChannel("whatsapp", fake_api.account_sid, fake_api.auth_token, PUBLIC, OURS)
    assert channel.verify(request)
    [event] = channel.parse(request)
    assert (event.kind, event.text, event.address) == ("text", "Every day", PERSON)


@pytest.mark.parametrize("signature", [None, ""])
def test_verify_missing_signature(signature: str | None) -> None:
    assert not make().verify(form_request(FORM, signature))


# -- parse: literal webhook forms --------------------------------------------------------


def inbound(**fields: str) -> dict[str, str]:
    base = {
        "ToCountry": "GB",
        "SmsMessageSid": "SM" + "b" * 32,
        "NumMedia": "0",
        "SmsSid": "SM" + "b" * 32,
        "SmsStatus": "received",
        "Body": "",
        "To": OURS,
        "NumSegments": "1",
        "MessageSid": "SM" + "b" * 32,
        "AccountSid": SID,
        "From": PERSON,
        "ApiVersion": "2010-04-01",
    }
    return {**base, **fields}


def whatsapp(**fields: str) -> dict[str, str]:
    return inbound(
        **{
            "From": f"whatsapp:{PERSON}",
            "To": f"whatsapp:{OURS}",
            "ProfileName": "Samira Q. Carer",
            "WaId": PERSON.lstrip("+"),
            "MessageType": "text",
            **fields,
        }
    )


LONG = "I look after my mum. " * 476 + "Thanks"  # 10,002 characters

PARSE_CASES: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
    ("sms text", "sms", inbound(Body="Yes, most days"), {"kind": "text", "text": "Yes, most days"}),
    ("sms empty body", "sms", inbound(), {"kind": "text", "text": ""}),
    ("sms 10,000 characters", "sms", inbound(Body=LONG), {"kind": "text", "text": LONG}),
    ("emoji", "sms", inbound(Body="👍🏽 yes 😀"), {"kind": "text", "text": "👍🏽 yes 😀"}),
    ("arabic", "sms", inbound(Body="نعم، كل يوم"), {"kind": "text", "text": "نعم، كل يوم"}),
    ("hebrew", "sms", inbound(Body="כן, כל יום"), {"kind": "text", "text": "כן, כל יום"}),
    ("welsh", "sms", inbound(Body="Ydw, bob dydd ŵ"), {"kind": "text", "text": "Ydw, bob dydd ŵ"}),
    (
        "mms picture only",
        "sms",
        inbound(
            NumMedia="1",
            MediaContentType0="image/jpeg",
            MediaUrl0=f"https://api.twilio.com/2010-04-01/Accounts/{SID}/Messages/MM1/Media/ME1",
        ),
        {"kind": "media", "media_type": "image", "text": ""},
    ),
    (
        "picture with a caption reads as text",
        "sms",
        inbound(Body="my garden", NumMedia="1", MediaContentType0="image/png"),
        {"kind": "text", "text": "my garden", "media_type": "image"},
    ),
    (
        "whatsapp text",
        "whatsapp",
        whatsapp(Body="Every day"),
        {"kind": "text", "text": "Every day", "channel": "whatsapp"},
    ),
    (
        "whatsapp voice note",
        "whatsapp",
        whatsapp(NumMedia="1", MediaContentType0="audio/ogg", MediaUrl0="https://x/ME1"),
        {"kind": "media", "media_type": "audio", "channel": "whatsapp"},
    ),
    (
        "whatsapp pdf",
        "whatsapp",
        whatsapp(NumMedia="1", MediaContentType0="application/pdf"),
        {"kind": "media", "media_type": "document"},
    ),
    (
        "whatsapp contact card",
        "whatsapp",
        whatsapp(NumMedia="1", MediaContentType0="text/vcard"),
        {"kind": "media", "media_type": "contact"},
    ),
    (
        "whatsapp location",
        "whatsapp",
        whatsapp(Latitude="51.48", Longitude="-3.18", MessageType="location"),
        {"kind": "media", "media_type": "location"},
    ),
    (
        "whatsapp quick reply",
        "whatsapp",
        whatsapp(Body="Every day", ButtonText="Every day", ButtonPayload="q1:daily"),
        {"kind": "button", "payload": "q1:daily", "text": "Every day"},
    ),
]


@pytest.mark.parametrize(
    ("name", "form", "expected"),
    [pytest.param(name, form, expected, id=case) for case, name, form, expected in PARSE_CASES],
)
def test_parse(name: str, form: dict[str, str], expected: dict[str, str]) -> None:
    [event] = make(name).parse(form_request(form))
    fields = dataclasses.asdict(event)
    defaults = {"channel": name, "address": PERSON, "provider_message_id": "SM" + "b" * 32}
    assert {k: fields[k] for k in {**defaults, **expected}} == {**defaults, **expected}
    # The WhatsApp display name is personal data we never take.
    assert "Samira" not in repr(fields) and PERSON not in repr(event)


@pytest.mark.parametrize(
    ("name", "form"),
    [
        pytest.param("sms", {k: v for k, v in inbound().items() if k != "MessageSid"}, id="no sid"),
        pytest.param("sms", {k: v for k, v in inbound().items() if k != "From"}, id="no From"),
        pytest.param("sms", {}, id="empty form"),
        pytest.param("sms", whatsapp(Body="hi"), id="whatsapp on the sms webhook"),
        pytest.param("whatsapp", inbound(Body="hi"), id="sms on the whatsapp webhook"),
    ],
)
def test_parse_rejects(name: str, form: dict[str, str]) -> None:
    with pytest.raises(BadRequest) as caught:
        make(name).parse(form_request(form))
    assert PERSON not in str(caught.value)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (PERSON, PERSON),
        (f"whatsapp:{PERSON}", PERSON),
        ("07700 900123", PERSON),  # national format, default region GB
        ("+44 (0)7700 900123", PERSON),
        ("+1 415 555 2671", "+14155552671"),
        ("72404", "72404"),  # a short code
        ("WithUs", "WithUs"),  # an alphanumeric sender
    ],
)
def test_normalise_address(address: str, expected: str) -> None:
    assert make().normalise_address(address) == expected


@pytest.mark.parametrize(
    ("body", "out", "back_in"),
    [
        ("STOP", True, False),
        (" stop \n", True, False),
        ("Unsubscribe", True, False),
        ("end", True, False),
        ("quit", True, False),
        ("STOPALL", True, False),
        ("revoke", True, False),
        ("optout", True, False),
        ("cancel", True, False),
        ("STOP.", False, False),  # Twilio matches the whole body only
        ("please stop", False, False),
        ("START", False, True),
        ("unstop", False, True),
        ("yes", False, True),
        ("No", False, False),
        ("", False, False),
    ],
)
def test_opt_keywords(body: str, out: bool, back_in: bool) -> None:
    assert opt_out_keyword(body) is out
    assert opt_in_keyword(body) is back_in


def test_only_sms_has_provider_opt_out_confirmation() -> None:
    assert make("sms").provider_confirms_opt_out
    assert not make("whatsapp").provider_confirms_opt_out
    assert (make("sms").max_buttons, make("whatsapp").max_buttons) == (0, 3)
    assert make("sms").max_length == make("whatsapp").max_length == 1600


def test_parse_status(fake_api: FakeTwilioAPI) -> None:
    channel = make()
    delivered = channel.parse_status(
        form_request(fake_api.status_form("SM" + "c" * 32, "delivered"))
    )
    assert (delivered.provider_message_id, delivered.status, delivered.error_code) == (
        "SM" + "c" * 32,
        "delivered",
        None,
    )
    failed = channel.parse_status(form_request(fake_api.status_form("SM1", "undelivered", 30007)))
    assert (failed.status, failed.error_code) == ("undelivered", 30007)
    with pytest.raises(BadRequest):
        channel.parse_status(form_request({"MessageStatus": "sent"}))


# -- send, through the real Client -------------------------------------------------------

QUESTION = OutboundMessage(
    "How often do you care for someone? It\u2019s fine to say \u201cnot sure\u201d.",
    choices=[Choice("q1:daily", "Every day"), Choice("q1:weekly", "Most weeks")],
)


def test_sms_sends_numbered_gsm_text(api: FakeTwilioAPI) -> None:
    results = make("sms", api).send(PERSON, QUESTION)
    [sent] = api.messages
    assert sent["Body"] == (
        'How often do you care for someone? It\'s fine to say "not sure".\n\n'
        "1 Every day\n2 Most weeks\n\nReply 1 or 2"
    )
    assert encoding(sent["Body"]) == "GSM-7"
    assert (sent["To"], sent["From"]) == (PERSON, OURS)
    assert sent["StatusCallback"] == f"{PUBLIC}/webhooks/twilio/status"
    assert "MessagingServiceSid" not in sent
    assert [r.provider_message_id for r in results] == [sent["sid"]]
    assert sent["sid"].startswith("SM") and len(sent["sid"]) == 34


def test_sms_through_a_messaging_service(api: FakeTwilioAPI) -> None:
    make("sms", api, from_number="", messaging_service_sid="MG" + "d" * 32).send(
        PERSON, OutboundMessage("Hello")
    )
    [sent] = api.messages
    assert sent["MessagingServiceSid"] == "MG" + "d" * 32 and "From" not in sent


def test_sms_splits_long_text(api: FakeTwilioAPI) -> None:
    text = "Caring can be tiring, and it is fine to say so. " * 50  # 2,400 chars
    results = make("sms", api).send(PERSON, OutboundMessage(text.strip()))
    assert len(results) == 2 == len(api.messages)
    assert all(len(m["Body"]) <= 1600 for m in api.messages)
    assert [r.provider_message_id for r in results] == [m["sid"] for m in api.messages]


def test_whatsapp_quick_reply(api: FakeTwilioAPI) -> None:
    channel = make("whatsapp", api)
    channel.send(PERSON, QUESTION)
    channel.send(PERSON, QUESTION)  # the same question again: content is reused
    [content] = api.contents
    assert content["types"] == {
        "twilio/quick-reply": {
            "body": QUESTION.text,
            "actions": [
                {"title": "Every day", "id": "q1:daily"},
                {"title": "Most weeks", "id": "q1:weekly"},
            ],
        }
    }
    assert "variables" not in content  # no nulls sent for unused fields
    first, second = api.messages
    assert first["ContentSid"] == second["ContentSid"] == content["sid"]
    assert (first["To"], first["From"]) == (f"whatsapp:{PERSON}", f"whatsapp:{OURS}")
    assert "Body" not in first


@pytest.mark.parametrize(
    "outbound",
    [
        pytest.param(dataclasses.replace(QUESTION, multiple=True), id="multiple choice"),
        pytest.param(
            OutboundMessage("Pick", choices=[Choice(f"c{i}", f"Option {i}") for i in range(4)]),
            id="four choices",
        ),
        pytest.param(
            OutboundMessage("Pick", choices=[Choice("a", "A label far too long for a button")]),
            id="label over 20 characters",
        ),
        pytest.param(OutboundMessage("No choices at all"), id="no choices"),
    ],
)
def test_whatsapp_numbered_when_quick_replies_wont_do(
    api: FakeTwilioAPI, outbound: OutboundMessage
) -> None:
    make("whatsapp", api).send(PERSON, outbound)
    [sent] = api.messages
    assert api.contents == [] and "ContentSid" not in sent
    assert sent["Body"].startswith(outbound.text)


def test_whatsapp_falls_back_to_text_when_content_is_refused(api: FakeTwilioAPI) -> None:
    api.fail_next(21656, endpoint="content")
    make("whatsapp", api).send(PERSON, QUESTION)
    [sent] = api.messages
    assert sent["Body"].endswith("1 Every day\n2 Most weeks\n\nReply 1 or 2")
    assert "\u2019" in sent["Body"]  # WhatsApp text isn't squeezed into GSM-7


def test_whatsapp_business_initiated_uses_the_template(api: FakeTwilioAPI) -> None:
    channel = make("whatsapp", api, template_content_sid="HX" + "e" * 32)
    invitation = OutboundMessage(
        "Hello again.\n\nCould you answer 3 questions?", business_initiated=True
    )
    channel.send(PERSON, invitation)
    [sent] = api.messages
    assert sent["ContentSid"] == "HX" + "e" * 32
    assert json.loads(sent["ContentVariables"]) == {
        "1": "Hello again. Could you answer 3 questions?"  # no newlines in a variable
    }


def test_whatsapp_business_initiated_without_template_waits(api: FakeTwilioAPI) -> None:
    with pytest.raises(SendError) as caught:
        make("whatsapp", api).send(PERSON, dataclasses.replace(QUESTION, business_initiated=True))
    assert caught.value.window_closed and not caught.value.permanent
    assert api.requests == []


@pytest.mark.parametrize(
    ("name", "kind", "expected"),
    [
        (
            "sms",
            "unsubscribed",
            {"permanent": True, "opted_out": True, "reason": "twilio error 21610"},
        ),
        ("whatsapp", "window_closed", {"window_closed": True, "permanent": False}),
        ("sms", "rate_limit", {"retry_after": 30.0, "permanent": False}),
        ("sms", "invalid_number", {"permanent": True, "opted_out": False}),
        ("sms", "server_error", {"permanent": False, "retry_after": None}),
        ("sms", 30003, {"permanent": True}),  # any other 4xx
    ],
)
def test_send_errors(
    api: FakeTwilioAPI,
    caplog: pytest.LogCaptureFixture,
    name: str,
    kind: str | int,
    expected: dict[str, Any],
) -> None:
    caplog.set_level(logging.DEBUG)
    api.fail_next(kind)
    with pytest.raises(SendError) as caught:
        make(name, api).send(PERSON, OutboundMessage("Hello"))
    error = caught.value
    assert {k: getattr(error, k) for k in expected} == expected
    assert error.__context__ is None and error.__cause__ is None
    for text in (str(error), repr(error), error.reason, caplog.text):
        assert NATIONAL not in text


def test_rate_limit_honours_retry_after_header(api: FakeTwilioAPI) -> None:
    api.fail_next("rate_limit", retry_after=7)
    with pytest.raises(SendError) as caught:
        make("sms", api).send(PERSON, OutboundMessage("Hello"))
    assert caught.value.retry_after == 7


def test_wrong_credentials_are_not_the_persons_fault(api: FakeTwilioAPI) -> None:
    channel = TwilioChannel("sms", SID, "wrong-token", PUBLIC, OURS, api_base_url=api.base_url)
    with pytest.raises(SendError) as caught:
        channel.send(PERSON, OutboundMessage("Hello"))
    assert caught.value.reason == "twilio error 20003" and not caught.value.permanent


def test_connection_error_is_retryable() -> None:
    with socket.socket() as sock:  # a port with nobody listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    channel = make("sms", api_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(SendError) as caught:
        channel.send(PERSON, OutboundMessage("Hello"))
    assert caught.value.reason == "twilio connection error"
    assert not caught.value.permanent and caught.value.__context__ is None


def test_channel_repr_is_safe() -> None:
    assert repr(make("whatsapp")) == "TwilioChannel('whatsapp')"


# -- settling a send a dead sender left ------------------------------------------------------


def test_accepted_since_finds_only_our_unrecorded_messages_to_that_person(
    api: FakeTwilioAPI,
) -> None:
    """After a kill -9 the new leader asks Twilio whether the message in flight arrived:
    our messages to that person, created since the send began, that no row recorded."""
    sms, whatsapp = make("sms", api), make("whatsapp", api)
    before = datetime.now(UTC)
    [recorded] = sms.send(PERSON, OutboundMessage("Thank you."))
    [in_flight] = sms.send(PERSON, OutboundMessage("Next question?"))
    sms.send("+447700900124", OutboundMessage("Someone else"))
    whatsapp.send(PERSON, OutboundMessage("Same person, other channel"))
    known = {recorded.provider_message_id}
    assert sms.accepted_since(PERSON, before, known) == [in_flight.provider_message_id]
    assert sms.accepted_since(PERSON, before, known | {in_flight.provider_message_id}) == []
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert sms.accepted_since(PERSON, later, set()) == []
    other_sender = make("sms", api, from_number="+447700900555")
    assert other_sender.accepted_since(PERSON, before, set()) == []


def test_accepted_since_reports_an_unreachable_provider_without_the_number(
    api: FakeTwilioAPI,
) -> None:
    api.fail_next("server_error")
    with pytest.raises(SendError) as caught:
        make("sms", api).accepted_since(PERSON, datetime.now(UTC), set())
    assert NATIONAL not in str(caught.value) and caught.value.__context__ is None
