"""SMS and WhatsApp through Twilio: one module, because they share a client, a webhook
format, a signature scheme and error codes, and differ only in the details below.

* SMS has no buttons: choices go as numbered lines, and the text is made GSM-7 where that
  costs no meaning (`to_gsm`), so pasted curly quotes don't triple the price of every send.
  Twilio itself answers STOP on SMS, so the app must not send a second confirmation.
* WhatsApp has up to three quick-reply buttons (a Twilio Content API "twilio/quick-reply"
  created on the fly and cached), and a 24-hour window: a conversation we start must use
  an approved template, so without one a business-initiated send waits (`window_closed`).

Voice notes and photos arrive as `MediaUrl0..n`. They are fetched later, by the media
job, never inside the webhook (`fetch_media`): from Twilio's API host only, with the
account's HTTP basic auth, following Twilio's redirect to its media store, within a size
limit. SMS can carry them only where Twilio delivers MMS (the US and Canada).

Signatures are checked against the configured public URL, not the Host header, so it works
behind a TLS-terminating proxy. Phone numbers are personal data: errors carry Twilio's
error code only, never its message (which can quote the number).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode, urljoin, urlparse, urlsplit, urlunsplit

import phonenumbers
from requests import RequestException, Session
from requests import Timeout as RequestTimeout
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import add_port, remove_port
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from channels.base import (
    BadRequest,
    Channel,
    FetchedMedia,
    InboundMessage,
    MediaError,
    MediaRef,
    OutboundMessage,
    SendError,
    SendResult,
    WebRequest,
    numbered,
)
from channels.smstext import to_gsm
from channels.text import split_text

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Twilio-Signature"
#: Where Twilio posts delivery receipts; passed as StatusCallback on every send.
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"
WHATSAPP_PREFIX = "whatsapp:"

# Twilio's own SMS keywords, matched as Twilio does: the whole body, any case, trimmed.
OPT_OUT_KEYWORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "END", "QUIT", "REVOKE", "OPTOUT", "CANCEL"}
)
OPT_IN_KEYWORDS = frozenset({"START", "UNSTOP", "YES"})
#: Addresses whose normalised form each process remembers (`normalise_address`), and
#: signed URLs whose two spellings (with and without the port) it remembers (`verify`).
ADDRESS_CACHE_SIZE = 4096
URL_CACHE_SIZE = 64

# WhatsApp quick-reply limits: 3 buttons, 20-character titles, 200-character ids and a
# 1024-character body.
_QUICK_REPLY_TITLE, _QUICK_REPLY_ID, _QUICK_REPLY_BODY = 20, 200, 1024
_DEFAULT_RETRY_AFTER = 30.0  # seconds, when a 429 names no Retry-After
_UNSUBSCRIBED, _OUTSIDE_WINDOW, _TOO_MANY_REQUESTS = 21610, 63016, 20429
# Settling a send a dead sender left: how far back to look (a message split in parts is
# at most a few), and how far Twilio's clock and ours may disagree.
_RECONCILE_LOOKBACK = 20
_CLOCK_SKEW = timedelta(seconds=5)
#: Where a MediaUrl may point (with our credentials), and where Twilio may redirect it:
#: its own hosts and its media CDN, or the S3 bucket behind that CDN. Nothing else is
#: fetched, so a forged or mistaken URL cannot make us send our credentials, or fetch
#: from, anywhere else.
MEDIA_API_HOSTS = frozenset({"api.twilio.com"})
MEDIA_REDIRECT_SUFFIXES = (".twilio.com", ".twiliocdn.com")
MEDIA_S3_HOSTS = frozenset({"s3.amazonaws.com", "s3-external-1.amazonaws.com"})
MEDIA_S3_BUCKET = "/media.twiliocdn.com/"
MAX_MEDIA_REDIRECTS = 3
MAX_MEDIA = 10  # Twilio sends at most ten attachments a message


@dataclass(frozen=True)
class StatusUpdate:
    """A delivery receipt: queued, sent, delivered, read, undelivered or failed."""

    provider_message_id: str
    status: str
    error_code: int | None = None


def opt_out_keyword(body: str) -> bool:
    """True when Twilio treats this SMS as an opt-out (and has already confirmed it)."""
    return body.strip().upper() in OPT_OUT_KEYWORDS


def opt_in_keyword(body: str) -> bool:
    """True when Twilio treats this SMS as opting back in. "YES" is one: only act on it for
    someone who had opted out, or it is just an answer."""
    return body.strip().upper() in OPT_IN_KEYWORDS


class TwilioChannel(Channel):
    def __init__(
        self,
        name: Literal["sms", "whatsapp"],
        account_sid: str,
        auth_token: str,
        public_url: str,
        from_number: str = "",
        messaging_service_sid: str = "",
        api_base_url: str = "",
        template_content_sid: str = "",
        default_region: str = "GB",
    ) -> None:
        if name not in ("sms", "whatsapp"):
            raise ValueError("a Twilio channel is 'sms' or 'whatsapp'")
        if not from_number and not messaging_service_sid:
            raise ValueError("set a from number or a messaging service sid")
        self.name = name
        self.max_buttons = 3 if name == "whatsapp" else 0
        self.max_length = 1600
        #: WhatsApp carries voice notes and photos; SMS only as MMS, in a few countries,
        #: so SMS prompts never offer it.
        self.carries_media = name == "whatsapp"
        self._account = account_sid
        self._auth_token = auth_token
        #: Twilio confirms SMS opt-outs itself; on WhatsApp the app must do it.
        self.provider_confirms_opt_out = name == "sms"
        self._token = auth_token.encode("utf-8")
        self._public_url = public_url.rstrip("/")
        self._from = from_number
        self._service_sid = messaging_service_sid
        self._template_sid = template_content_sid
        self._region = default_region
        self._http = RebasedHttpClient(api_base_url)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        self._content_sids: dict[str, str] = {}  # quick-reply content, by hash of its content
        self._content_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TwilioChannel({self.name!r})"

    def provider_opt_out_word(self, body: str) -> bool:
        """Does Twilio act on this message as an opt-out (block us, and confirm it)?
        Only its own English words, on SMS: STOPIO or a WhatsApp STOP are ours to confirm."""
        return self.name == "sms" and opt_out_keyword(body)

    # -- inbound ---------------------------------------------------------------------------

    def verify(self, request: WebRequest) -> bool:
        """True when X-Twilio-Signature is the HMAC-SHA1 Twilio computes for this request.

        Exactly what twilio's `RequestValidator.validate` accepts for a form (the signed
        URL with or without its port, the fields sorted by name, each name followed by its
        value), computed more cheaply: the fields are joined once, the two URL spellings
        are remembered, and the second HMAC is computed only when the first does not
        match. tests/test_hot_path_twilio.py holds the two equal.
        """
        signature = request.header(SIGNATURE_HEADER)
        if not signature:
            return False
        url = self._public_url + request.path
        if request.query:  # as received; Twilio signs the URL it called, query included
            url += "?" + urlencode(request.query)
        if not signature.isascii():
            return False  # a base64 HMAC is ASCII (compare_digest refuses other text)
        form = request.form
        fields = "".join([name + form[name] for name in sorted(form)])
        return any(
            hmac.compare_digest(self._signature(variant + fields), signature)
            for variant in _signed_urls(url)
        )  # fmt: skip

    def _signature(self, signed: str) -> str:
        digest = hmac.new(self._token, signed.encode("utf-8"), hashlib.sha1).digest()
        return base64.b64encode(digest).decode("ascii")

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        form = request.form
        sid, sender = form.get("MessageSid", ""), form.get("From", "")
        if not sid or not sender:
            raise BadRequest("MessageSid and From are required")
        if sender.startswith(WHATSAPP_PREFIX) != (self.name == "whatsapp"):
            raise BadRequest(f"message for the wrong channel on the {self.name} webhook")
        common: dict[str, Any] = {
            "channel": self.name,
            "address": self.normalise_address(sender),
            "provider_message_id": sid,
        }
        body = form.get("Body", "")
        media = _media_type(form)
        common["media"] = _media_refs(form)
        if form.get("ButtonPayload"):
            return [
                InboundMessage(kind="button", payload=form["ButtonPayload"], text=body, **common)
            ]
        if media and not body.strip():
            return [InboundMessage(kind="media", media_type=media, **common)]
        # ProfileName and WaId are deliberately never read.
        return [InboundMessage(kind="text", text=body, media_type=media, **common)]

    def parse_status(self, request: WebRequest) -> StatusUpdate:
        """Read a StatusCallback (POST /webhooks/twilio/status)."""
        form = request.form
        sid = form.get("MessageSid", "")
        status = form.get("MessageStatus") or form.get("SmsStatus", "")
        if not sid or not status:
            raise BadRequest("MessageSid and MessageStatus are required")
        code = form.get("ErrorCode", "")
        numeric = code.isascii() and code.isdigit() and len(code) <= 6
        return StatusUpdate(sid, status, int(code) if numeric else None)

    def normalise_address(self, address: str) -> str:
        """E.164 for phone numbers (07700 900123 -> +447700900123); short codes and
        alphanumeric senders, which aren't phone numbers, as they are.

        A pure function of the address and the default region, remembered per process
        (bounded, in memory only): parsing costs more than anything else in `parse`, and a
        person sends several messages in a row.
        """
        return _normalise(address, self._region)

    def fetch_media(self, source: str, max_bytes: int, timeout: float) -> FetchedMedia:
        """The attachment at a MediaUrl: from api.twilio.com with the account's basic auth,
        then through at most a few redirects to Twilio's media hosts, without credentials.

        Refuses (for good) a URL on any other host, something bigger than `max_bytes`
        (by Content-Length before reading, or while reading); a timeout, a 5xx or a 429
        may succeed later.
        """
        url = source
        for hop in range(MAX_MEDIA_REDIRECTS + 1):
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            first = hop == 0
            if parts.scheme != "https" or not _media_host(host, parts.path, first=first):
                raise MediaError("foreign_host", "media URL is not on Twilio's media hosts",
                                 permanent=True)
            auth = (self._account, self._auth_token) if host in MEDIA_API_HOSTS else None
            try:
                status, headers, data = self._http.download(url, auth, max_bytes, timeout)
            except RequestTimeout:
                raise MediaError("timeout", "twilio media fetch timed out",
                                 permanent=False) from None
            except RequestException:
                raise MediaError("unavailable", "twilio media connection error",
                                 permanent=False) from None
            if status in (301, 302, 303, 307, 308) and headers.get("Location"):
                url = urljoin(url, headers["Location"])
                continue
            return _fetched(status, headers, data)
        raise MediaError("refused", "too many redirects fetching twilio media", permanent=True)

    # -- outbound --------------------------------------------------------------------------

    def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
        try:
            return self._send(self._address(address), message)
        except TwilioException as exc:
            error = _send_error(exc, self._http.retry_after())
        except RequestException:
            error = SendError("twilio connection error")
        # Raised outside the handler so the original (which may quote the number) isn't
        # even attached as __context__ for a logger or error tracker to print.
        raise error

    def accepted_since(
        self, address: str, since: datetime, known: Collection[str]
    ) -> list[str] | None:
        """Twilio lists what it accepted, newest first: ours to this address, created at
        or after `since`, that no outbox row has recorded (its sender died before it
        could). Only the active scheduler sends, one message at a time, and a new leader
        asks before it sends anything, so any such message is the one that was in flight.
        """
        try:
            found = self._client.messages.list(to=self._address(address),
                                               limit=_RECONCILE_LOOKBACK)
        except TwilioException as exc:
            error = _send_error(exc, self._http.retry_after())
        except RequestException:
            error = SendError("twilio connection error")
        else:
            # Twilio stamps whole seconds with its own clock: allow for both.
            cutoff = since.replace(microsecond=0) - _CLOCK_SKEW
            return [
                str(m.sid) for m in found
                if str(m.direction or "").startswith("outbound")
                and self._ours(m.from_, m.messaging_service_sid)
                and m.date_created is not None and m.date_created >= cutoff
                and str(m.sid) not in known
            ]  # fmt: skip
        raise error  # outside the handler, as in send()

    def _ours(self, sender: object, service_sid: object) -> bool:
        if self._from:
            return str(sender or "") == self._address(self._from)
        return str(service_sid or "") == self._service_sid

    def _send(self, to: str, message: OutboundMessage) -> list[SendResult]:
        if self.name == "whatsapp" and message.business_initiated:
            return [self._create(to, **self._template(message))]
        if self.name == "whatsapp" and (content_sid := self._quick_reply(message)):
            return [self._create(to, content_sid=content_sid)]
        text = numbered(message)
        if self.name == "sms":
            text = to_gsm(text)
        return [self._create(to, body=part) for part in split_text(text, self.max_length)]

    def _create(self, to: str, **fields: str) -> SendResult:
        # A from number wins; otherwise the Messaging Service picks the sender.
        if self._from:
            sender = {"from_": self._address(self._from)}
        else:
            sender = {"messaging_service_sid": self._service_sid}
        if self._public_url:
            sender["status_callback"] = self._public_url + STATUS_CALLBACK_PATH
        created = self._client.messages.create(to=to, **sender, **fields)
        return SendResult(str(created.sid))

    def _address(self, number: str) -> str:
        if self.name == "whatsapp" and not number.startswith(WHATSAPP_PREFIX):
            return WHATSAPP_PREFIX + number
        return number

    def _template(self, message: OutboundMessage) -> dict[str, str]:
        """Outside the 24-hour window only an approved template may open a conversation."""
        if not self._template_sid:
            raise SendError("no whatsapp template configured", window_closed=True)
        # Template variables may not contain newlines or long runs of spaces.
        text = " ".join(numbered(message).split())
        return {"content_sid": self._template_sid, "content_variables": json.dumps({"1": text})}

    def _quick_reply(self, message: OutboundMessage) -> str | None:
        """The content sid of a quick-reply for this message, or None to send plain text."""
        choices = message.choices
        if message.multiple or not 1 <= len(choices) <= self.max_buttons:
            return None
        if not 0 < len(message.text) <= _QUICK_REPLY_BODY or any(
            not 0 < len(c.label) <= _QUICK_REPLY_TITLE or not 0 < len(c.payload) <= _QUICK_REPLY_ID
            for c in choices
        ):
            return None  # WhatsApp would reject it; numbered text always works
        spec = {
            "body": message.text,
            "actions": [{"title": c.label, "id": c.payload} for c in choices],
        }
        key = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
        request = _ContentRequest(
            {
                "friendly_name": f"withus_quick_reply_{key[:16]}",
                "language": "en",
                "types": {"twilio/quick-reply": spec},
            }
        )
        with self._content_lock:
            if key not in self._content_sids:
                try:
                    created = self._client.content.v1.contents.create(request)
                except TwilioException as exc:
                    if _send_error(exc, 0).permanent:  # Twilio refused this content for good
                        log.warning("quick reply refused (%s): sending numbered text", _code(exc))
                        return None
                    raise
                self._content_sids[key] = str(created.sid)
            return self._content_sids[key]


def _send_error(exc: TwilioException, retry_after: float) -> SendError:
    """Map a Twilio error to what the outbox should do, by code and status only."""
    code, status = _code(exc), getattr(exc, "status", 0) or 0
    reason = f"twilio error {code}" if code else f"twilio http {status or 'error'}"
    if code == _UNSUBSCRIBED:
        return SendError(reason, permanent=True, opted_out=True)
    if code == _OUTSIDE_WINDOW:
        return SendError(reason, window_closed=True)
    if status == 429 or code == _TOO_MANY_REQUESTS:
        return SendError(reason, retry_after=retry_after)
    if status == 401:  # our credentials, not the person: keep the message and retry
        return SendError(reason)
    return SendError(reason, permanent=400 <= status < 500)


def _code(exc: TwilioException) -> int | None:
    code = getattr(exc, "code", None)
    return code if isinstance(code, int) else None


class RebasedHttpClient(TwilioHttpClient):
    """Twilio's HTTP client, sending every request to `base_url` (same path) when set.

    That points the real `Client` at a local fake in tests, or at a proxy. It also keeps
    the Retry-After header of the last 429 seen by this thread, which `TwilioRestException`
    drops.
    """

    def __init__(self, base_url: str = "", timeout: float = 30.0) -> None:
        super().__init__(timeout=timeout)
        self._base = urlsplit(base_url.rstrip("/")) if base_url else None
        self._local = threading.local()

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        if self._base is not None:
            parts = urlsplit(url)
            url = urlunsplit(
                (
                    self._base.scheme,
                    self._base.netloc,
                    self._base.path + parts.path,
                    parts.query,
                    "",
                )
            )
        response = super().request(
            method, url, params, data, headers, auth, timeout, allow_redirects
        )
        if response.status_code == 429:
            self._local.retry_after = _seconds(response.headers.get("Retry-After"))
        return response

    def retry_after(self) -> float:
        """Seconds to wait after this thread's last 429 (a default when Twilio gave none)."""
        return getattr(self._local, "retry_after", None) or _DEFAULT_RETRY_AFTER

    def download(self, url: str, auth: tuple[str, str] | None, max_bytes: int,
                 timeout: float) -> tuple[int, dict[str, str], bytes | None]:
        """GET `url` (rebased like every request) on this client's session, without
        following redirects, streaming: (status, headers, body), the body None when it
        is larger than `max_bytes`. The SDK's own `request` decodes bodies as text, which
        would corrupt a voice note, and reads them whole."""
        if self._base is not None:
            parts = urlsplit(url)
            url = urlunsplit((self._base.scheme, self._base.netloc,
                              self._base.path + parts.path, parts.query, ""))
        session = self.session or Session()
        with session.get(url, auth=auth, timeout=timeout, stream=True,
                         allow_redirects=False) as response:
            headers = dict(response.headers.items())
            declared = headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                return response.status_code, headers, None
            if response.status_code != 200:
                return response.status_code, headers, b""
            body = bytearray()
            for chunk in response.iter_content(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    return response.status_code, headers, None
            return response.status_code, headers, bytes(body)


class _ContentRequest(ContentList.ContentCreateRequest):
    """The SDK's request, minus the `null` it sends for every content type not used."""

    def to_dict(self) -> dict[str, Any]:
        return _without_nulls(super().to_dict())


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _seconds(value: object) -> float | None:
    try:
        return float(str(value)) if value is not None else None
    except ValueError:
        return None


def _media_refs(form: Any) -> tuple[MediaRef, ...]:
    """Every attachment's MediaUrl and content type, to fetch later if it is an answer."""
    count = form.get("NumMedia", "0")
    if not (count.isascii() and count.isdigit()):
        return ()
    refs = []
    for n in range(min(int(count), MAX_MEDIA)):
        url = form.get(f"MediaUrl{n}", "")
        content_type = form.get(f"MediaContentType{n}", "").lower()
        if url:
            refs.append(MediaRef(content_type.split("/", 1)[0], url, content_type))
    return tuple(refs)


def _media_host(host: str, path: str, *, first: bool) -> bool:
    """A MediaUrl must be on Twilio's API host; its redirects may also go to Twilio's
    media CDN or the S3 bucket behind it."""
    if host in MEDIA_API_HOSTS:
        return True
    if first:
        return False
    if host.endswith(MEDIA_REDIRECT_SUFFIXES):
        return True
    return host in MEDIA_S3_HOSTS and path.startswith(MEDIA_S3_BUCKET)


def _fetched(status: int, headers: dict[str, str], data: bytes | None) -> FetchedMedia:
    if data is None:
        raise MediaError("too_large", "media is larger than the limit", permanent=True)
    if status == 200:
        content_type = headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        return FetchedMedia(data, content_type)
    if status == 404:
        raise MediaError("not_found", "twilio has no such media (deleted?)", permanent=True)
    if status == 429 or status >= 500:
        raise MediaError("unavailable", f"twilio media http {status}", permanent=False)
    if status == 401:  # our credentials, not the person's media: worth trying again
        raise MediaError("refused", "twilio refused our credentials for media",
                         permanent=False)
    raise MediaError("refused", f"twilio media http {status}", permanent=True)


def _media_type(form: Any) -> str:
    """The kind of the first attachment ("image", "audio", ...), or "" for none."""
    count = form.get("NumMedia", "0")
    if count.isascii() and count.isdigit() and int(count) > 0:
        content_type = form.get("MediaContentType0", "").lower()
        if content_type in ("text/vcard", "text/x-vcard"):
            return "contact"
        major = content_type.split("/", 1)[0]
        return major if major in ("image", "audio", "video") else "document"
    if form.get("Latitude") and form.get("Longitude"):
        return "location"  # a WhatsApp location share
    return ""


@functools.lru_cache(maxsize=URL_CACHE_SIZE)
def _signed_urls(url: str) -> tuple[str, str]:
    """The URL as Twilio may have signed it: without its port, then with it (Twilio's
    back end is inconsistent about which; its validator accepts either)."""
    parsed = urlparse(url)  # as twilio's validator parses it
    return remove_port(parsed), add_port(parsed)


@functools.lru_cache(maxsize=ADDRESS_CACHE_SIZE)
def _normalise(address: str, region: str) -> str:
    """`TwilioChannel.normalise_address`, for `region`."""
    address = address.strip().removeprefix(WHATSAPP_PREFIX)
    if not address.startswith("+") and sum(c.isdigit() for c in address) <= 6:
        return address  # a short code (phonenumbers would call 72404 a possible number)
    try:
        number = phonenumbers.parse(address, region)
    except phonenumbers.NumberParseException:
        return address
    if not phonenumbers.is_possible_number(number):
        return address
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
