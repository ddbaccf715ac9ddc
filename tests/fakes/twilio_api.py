"""A fake Twilio REST API (Messages and Content) for the real `twilio.rest.Client`.

    with FakeTwilioAPI(ACCOUNT_SID, AUTH_TOKEN) as fake:
        channel = TwilioChannel("sms", ACCOUNT_SID, AUTH_TOKEN, "https://withus.example",
                                from_number="+447700900000", api_base_url=fake.base_url)
        channel.send("+447700900123", OutboundMessage("Hello"))
        assert fake.messages[0]["Body"] == "Hello"
        fake.fail_next("unsubscribed")     # the next Messages.json answers error 21610

It also builds signed webhook requests (`inbound_form`, `status_form`, `sign`) for tests
of the webhook side, and serves media as Twilio does (`add_media`): a MediaUrl on
api.twilio.com that needs the account's basic auth and answers 307 to a media CDN URL,
which needs none.
"""

from __future__ import annotations

import base64
import hmac
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

from twilio.request_validator import RequestValidator

from channels.smstext import segments

from .server import FakeServer, Reply, decode_body, json_reply

ACCOUNT_SID = "AC" + "0" * 32  # the defaults, for tests that don't care
AUTH_TOKEN = "test-auth-token"
#: Failure kinds for `fail_next`: HTTP status, Twilio error code, message.
FAILURES: dict[str, tuple[int, int, str]] = {
    "rate_limit": (429, 20429, "Too Many Requests"),
    "unsubscribed": (400, 21610, "Attempt to send to unsubscribed recipient"),
    "window_closed": (
        400,
        63016,
        "Failed to send freeform message because you are outside the allowed window.",
    ),  # fmt: skip
    # Twilio really does quote the number here: good for testing that we scrub it.
    "invalid_number": (400, 21211, "The 'To' number {to} is not a valid phone number."),
    "unauthorized": (401, 20003, "Authenticate"),
    "server_error": (500, 20500, "Internal Server Error"),
}
_MESSAGES = re.compile(r"^/2010-04-01/Accounts/(?P<sid>\w+)/Messages(?:/(?P<msg>\w+))?\.json$")
_MEDIA = re.compile(r"^/2010-04-01/Accounts/(?P<sid>\w+)/Messages/\w+/Media/(?P<media>\w+)$")
#: Where media is redirected to, as Twilio redirects to its media CDN (no auth there).
CDN_HOST = "mms.twiliocdn.com"
CDN_PREFIX = "/media-cdn/"


@dataclass
class FakeMedia:
    data: bytes
    content_type: str
    redirect: bool = True
    #: Seconds the CDN waits before answering (to make a fetch time out).
    delay: float = 0.0
    #: Content-Length to announce instead of the real one (None: the real one).
    declared_length: int | None = None


@dataclass(frozen=True)
class TwilioCall:
    method: str
    path: str
    params: dict[str, Any]


class FakeTwilioAPI(FakeServer):
    """Records calls in `requests`, sent messages in `messages`, content in `contents`."""

    def __init__(
        self,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
    ) -> None:
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.reset()

    def reset(self) -> None:
        """Forget calls, messages, content and planned failures."""
        with self.lock:
            self.requests: list[TwilioCall] = []
            self.messages: list[dict[str, Any]] = []
            self.contents: list[dict[str, Any]] = []
            self._created: dict[str, str] = {}  # sid -> date_created, as Twilio formats it
            self._failures: list[tuple[str, str | int, int | None]] = []
            self.media: dict[str, FakeMedia] = {}
            #: (path, had basic auth) for every media request, API and CDN alike.
            self.media_requests: list[tuple[str, bool]] = []

    def fail_next(
        self, kind: str | int = "rate_limit", count: int = 1, endpoint: str = "messages",
        retry_after: int | None = None,
    ) -> None:  # fmt: skip
        """Fail the next `count` calls to `endpoint` ("messages" or "content").

        `kind` is a key of FAILURES or any Twilio error code (answered with HTTP 400).
        `retry_after` adds a Retry-After header (Twilio rarely sends one).
        """
        if isinstance(kind, str) and kind not in FAILURES:
            raise ValueError(f"unknown failure kind {kind!r}; use one of {sorted(FAILURES)}")
        with self.lock:
            self._failures += [(endpoint, kind, retry_after)] * count

    # -- building webhook requests, as Twilio would send them ------------------------------

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        """The X-Twilio-Signature Twilio would send for this URL and form."""
        return str(RequestValidator(self.auth_token).compute_signature(url, dict(params)))

    def inbound_form(
        self, from_: str, body: str = "", to: str = "+447700900000", **extra: str
    ) -> dict[str, str]:
        """A realistic incoming-message webhook form (extra fields override or add)."""
        form = {
            "ToCountry": "GB", "SmsMessageSid": (sid := _sid("SM")), "NumMedia": "0",
            "SmsSid": sid, "SmsStatus": "received", "Body": body, "To": to,
            "NumSegments": "1", "MessageSid": sid, "AccountSid": self.account_sid,
            "From": from_, "ApiVersion": "2010-04-01",
        }  # fmt: skip
        return {**form, **extra}

    def status_form(
        self, message_sid: str, status: str, error_code: int | None = None
    ) -> dict[str, str]:
        """A message status callback form (queued, sent, delivered, undelivered, failed)."""
        form = {
            "MessageSid": message_sid, "SmsSid": message_sid, "MessageStatus": status,
            "SmsStatus": status, "AccountSid": self.account_sid, "ApiVersion": "2010-04-01",
        }  # fmt: skip
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
        return form

    def add_media(self, data: bytes, content_type: str, *, redirect: bool = True,
                  delay: float = 0.0, declared_length: int | None = None) -> str:
        """Serve `data` as an attachment; returns its MediaUrl, as a webhook carries it."""
        media_sid = _sid("ME")
        with self.lock:
            self.media[media_sid] = FakeMedia(data, content_type, redirect, delay,
                                              declared_length)
        return (f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Messages/"
                f"{_sid('MM')}/Media/{media_sid}")

    def media_form(self, urls_and_types: list[tuple[str, str]]) -> dict[str, str]:
        """The webhook fields for these attachments (NumMedia, MediaUrlN, MediaContentTypeN)."""
        form = {"NumMedia": str(len(urls_and_types))}
        for n, (url, content_type) in enumerate(urls_and_types):
            form |= {f"MediaUrl{n}": url, f"MediaContentType{n}": content_type}
        return form

    # -- the server side -------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        path, _, query = path.partition("?")
        if method == "GET" and (path.startswith(CDN_PREFIX) or _MEDIA.match(path)):
            return self._serve_media(path, headers)
        params = decode_body(headers, body)
        with self.lock:
            self.requests.append(TwilioCall(method, path, params))
        if not self._authorised(headers):
            return _error(*FAILURES["unauthorized"][:2], "Authenticate")
        endpoint = "content" if path.startswith("/v1/Content") else "messages"
        with self.lock:
            failure = next((f for f in self._failures if f[0] == endpoint), None)
            if failure is not None:
                self._failures.remove(failure)
        if failure is not None:
            return _failure(failure[1], failure[2], str(params.get("To", "")))
        if endpoint == "content" and method == "POST" and path == "/v1/Content":
            return self._create_content(params)
        match = _MESSAGES.match(path)
        if match is None or match["sid"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        if method == "POST" and match["msg"] is None:
            return self._create_message(params)
        if method == "GET" and match["msg"] is None:
            return self._list_messages(dict(parse_qsl(query)))
        if method == "GET" and match["msg"] is not None:
            found = [m for m in self.messages if m["sid"] == match["msg"]]
            if found:
                return json_reply(200, self._message_json(found[0]))
        return _error(404, 20404, "The requested resource was not found")

    def _serve_media(self, path: str, headers: Mapping[str, str]) -> Reply:
        authorised = self._authorised(headers)
        with self.lock:
            self.media_requests.append((path, "authorization" in {k.lower() for k in headers}))
        if path.startswith(CDN_PREFIX):
            found = self.media.get(path.removeprefix(CDN_PREFIX))
            if found is None:
                return 404, {"Content-Type": "text/plain"}, b"not found"
            return self._media_body(found)
        match = _MEDIA.match(path)
        assert match is not None
        if not authorised:
            return _error(*FAILURES["unauthorized"][:2], "Authenticate")
        found = self.media.get(match["media"])
        if found is None or match["sid"] != self.account_sid:
            return _error(404, 20404, "The requested resource was not found")
        if found.redirect:
            location = f"https://{CDN_HOST}{CDN_PREFIX}{match['media']}"
            return 307, {"Location": location, "Content-Type": "text/plain"}, b""
        return self._media_body(found)

    @staticmethod
    def _media_body(found: FakeMedia) -> Reply:
        if found.delay:
            time.sleep(found.delay)
        headers = {"Content-Type": found.content_type}
        if found.declared_length is not None:
            headers["Content-Length"] = str(found.declared_length)
        return 200, headers, found.data

    def _authorised(self, headers: Mapping[str, str]) -> bool:
        given = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        expected = (
            "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        )
        return hmac.compare_digest(given.encode(), expected.encode())

    def _create_message(self, params: dict[str, Any]) -> Reply:
        if not params.get("To"):
            return _error(400, 21604, "A 'To' phone number is required.")
        if not params.get("From") and not params.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not params.get("Body") and not params.get("ContentSid"):
            return _error(400, 21619, "A text message body or media urls must be specified.")
        record = {**params, "sid": _sid("SM")}
        with self.lock:
            self.messages.append(record)
            self._created[record["sid"]] = formatdate(usegmt=True)
        return json_reply(201, self._message_json(record))

    def _list_messages(self, query: dict[str, str]) -> Reply:
        """GET Messages.json: newest first, filtered by To and From, one page."""
        size = int(query.get("PageSize", "50")) if query.get("PageSize", "").isdigit() else 50
        with self.lock:
            found = [m for m in reversed(self.messages)
                     if all(m.get(key) == query[key] for key in ("To", "From") if key in query)]
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        return json_reply(200, {
            "messages": [self._message_json(m) for m in found[:size]],
            "page": 0, "page_size": size, "start": 0, "end": max(0, min(size, len(found)) - 1),
            "uri": uri, "first_page_uri": uri, "next_page_uri": None,
            "previous_page_uri": None,
        })  # fmt: skip

    def _message_json(self, record: dict[str, Any]) -> dict[str, Any]:
        sid = record["sid"]
        now = self._created.get(sid) or formatdate(usegmt=True)
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        return {
            "account_sid": self.account_sid, "api_version": "2010-04-01",
            "body": record.get("Body", ""), "date_created": now, "date_sent": None,
            "date_updated": now, "direction": "outbound-api", "error_code": None,
            "error_message": None, "from": record.get("From"),
            "messaging_service_sid": record.get("MessagingServiceSid"), "num_media": "0",
            "num_segments": str(segments(record.get("Body", ""))), "price": None,
            "price_unit": "USD", "sid": sid, "status": "queued", "to": record["To"],
            "subresource_uris": {"media": f"{uri}/Media.json"}, "uri": f"{uri}.json",
        }  # fmt: skip

    def _create_content(self, params: dict[str, Any]) -> Reply:
        types = params.get("types")
        if not isinstance(types, dict) or not any(types.values()):
            return _error(
                400, 20001, "Invalid types. At least one content type definition is required"
            )
        record = {**params, "sid": _sid("HX"), "account_sid": self.account_sid}
        record["url"] = f"https://content.twilio.com/v1/Content/{record['sid']}"
        with self.lock:
            self.contents.append(record)
        return json_reply(201, record)


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    body = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return json_reply(status, body, headers)


def _failure(kind: str | int, retry_after: int | None, to: str) -> Reply:
    status, code, message = FAILURES[kind] if isinstance(kind, str) else (400, kind, "Error")
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return _error(status, code, message.format(to=to), headers)
