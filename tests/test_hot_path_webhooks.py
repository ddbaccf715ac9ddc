"""`snapshot` parses a urlencoded body once, strictly, and that is the form: it must be
exactly the form Flask would have given (first value of each field) for every body it
accepts, and refuse what is not UTF-8 as before."""

from __future__ import annotations

import pytest
from flask import Flask, request

from bot.web.app import SessionInterface
from bot.web.webhooks import snapshot
from channels.base import BadRequest

FORM = "application/x-www-form-urlencoded"
BODIES = [
    b"",
    b"Body=1&From=%2B447700900123&MessageSid=SM1",
    b"Body=Hello+there%21&Body=second&From=x",  # a repeated field: the first counts
    b"Body=&NumMedia=0&Empty",  # blank values and a bare name
    b"Body=%C3%A9t%C3%A9+%F0%9F%91%8D&To=%2B44",  # UTF-8, percent-encoded
    "Body=caf\u00e9 direct".encode(),  # UTF-8, raw
    b"a=1;b=2&c=%3D%26",  # ';' is not a separator
    b"Body=100%25+sure&x=%zz",  # a stray '%' stays as it is
]


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("content_type", [FORM, FORM + "; charset=utf-8"])
def test_the_form_is_what_flask_would_parse(body: bytes, content_type: str) -> None:
    app = Flask(__name__)
    with app.test_request_context("/webhooks/twilio/sms?x=1", method="POST", data=body,
                                  content_type=content_type):
        snap = snapshot()
        assert snap.form == {k: v for k, v in request.form.items()}
        assert snap.body == body and snap.query == {"x": "1"}


@pytest.mark.parametrize("body", [b"Body=%C3%28", b"Body=\xff\xfe"])
def test_a_body_that_is_not_utf8_is_refused(body: bytes) -> None:
    app = Flask(__name__)
    with app.test_request_context("/", method="POST", data=body, content_type=FORM), \
            pytest.raises(BadRequest, match="not UTF-8"):
        snapshot()


def test_other_content_types_use_flasks_form() -> None:
    app = Flask(__name__)
    with app.test_request_context("/", method="POST", data={"Body": "hi", "Body2": "yo"}):
        assert snapshot().form == {"Body": "hi", "Body2": "yo"}  # multipart
    with app.test_request_context("/", method="POST", json={"Body": "hi"}):
        assert snapshot().form == {}


def test_webhooks_get_no_cookie_session_and_every_other_page_keeps_its_own() -> None:
    app = Flask(__name__)
    app.secret_key = "test"
    interface = SessionInterface()
    signed = interface.get_signing_serializer(app)
    assert signed is not None
    cookie = f"session={signed.dumps({'user_id': 7})}"
    for path in ("/webhooks/twilio/sms", "/webhooks/telegram"):
        with app.test_request_context(path, method="POST", headers={"Cookie": cookie}):
            assert interface.open_session(app, request) is None  # Flask's null session
    with app.test_request_context("/dashboard/", headers={"Cookie": cookie}):
        session = interface.open_session(app, request)
        assert session is not None and session.get("user_id") == 7
