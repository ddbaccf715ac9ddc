"""Provider webhooks: Telegram, Twilio SMS, Twilio WhatsApp and Twilio status callbacks.

Every request is verified before anything in it is used (403 and nothing stored when it
fails), parsed into plain messages (400 when malformed), and handled through the service
layer exactly once per provider message id. A database outage answers 503 so the
provider retries later; nothing here answers 500 for bad input, because a provider
retries a 5xx again and again, and a burst of junk should cost us a log line, not alerts.
"""

from __future__ import annotations

import dataclasses
import logging
import traceback
from pathlib import Path
from urllib.parse import parse_qsl

from flask import Blueprint, Response, request
from sqlalchemy import String
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.web.context import current_runtime
from channels.base import BadRequest, Channel, InboundMessage, WebRequest
from storage.models import InboundMessage as InboundRow

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
#: Twilio's status callback error codes that mean "this person has opted out".
OPTED_OUT_CODES = frozenset({21610})
#: The longest provider message id the database can hold (Twilio's are 34 characters,
#: Telegram's are numbers); anything longer is not from a provider.
_ID_TYPE = InboundRow.__table__.c.provider_message_id.type
MAX_PROVIDER_ID = _ID_TYPE.length if isinstance(_ID_TYPE, String) and _ID_TYPE.length else 128
#: The longest media reference (a Twilio MediaUrl, a Telegram file id) a provider sends.
MAX_MEDIA_SOURCE = 2048
#: Twilio error codes are five digits; a longer one is not from Twilio.
MAX_ERROR_CODE = 999_999
_FORM = "application/x-www-form-urlencoded"
#: What parsing a malformed request raises: our BadRequest (a ValueError), int() on a
#: malformed number, a JSON field of the wrong type that the provider library let through
#: (TypeError, AttributeError), and JSON nested deeply enough to exhaust the recursion
#: limit. Each is the request's fault, so 400, not a 500 the provider would retry.
MALFORMED = (ValueError, TypeError, AttributeError, RecursionError)


def snapshot() -> WebRequest:
    """The Flask request as a plain object, so channels never import Flask.

    The raw body is read (and cached) before the form: parsing the form first would
    consume the stream and leave `body` empty. Werkzeug decodes a form leniently (bad
    UTF-8 becomes replacement characters or stays percent-encoded), so a urlencoded body
    is parsed strictly here: providers send UTF-8, and anything else is a malformed
    request, never an answer to store with mangled characters. That strict parse is also
    the form (the first value of each field, as `request.form` gives it), so the body is
    not parsed a second time.
    """
    body = request.get_data(cache=True)  # 413 when over MAX_CONTENT_LENGTH
    if request.mimetype == _FORM:
        try:
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
        except UnicodeDecodeError:
            raise BadRequest("form body is not UTF-8") from None
        form: dict[str, str] = {}
        for key, value in fields:
            form.setdefault(key, value)
    else:
        form = {k: v for k, v in request.form.items()}
    return WebRequest(
        method=request.method,
        path=request.path,
        headers=dict(request.headers.items()),
        body=body,
        form=form,
        query={k: v for k, v in request.args.items()},
    )


def sane(message: InboundMessage) -> InboundMessage:
    """The message, made storable, or `BadRequest` when no provider would have sent it.

    PostgreSQL cannot store NUL in text or lone UTF-16 surrogates (which JSON's "\\ud800"
    escapes can smuggle in), and the inbound id column has a length: each of these would
    otherwise fail deep inside the transaction as a 500 that the provider retries.
    """
    fields = {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}
    for name, value in fields.items():
        if isinstance(value, str) and not _encodable(value):
            raise BadRequest(f"{name} is not valid Unicode")
    if "\x00" in message.address:
        raise BadRequest("NUL in an address")
    if not _storable_id(message.provider_message_id):
        raise BadRequest("provider message id is empty, too long or has a NUL")
    for ref in message.media:  # encrypted and kept until fetched: it must be storable
        if not (0 < len(ref.source) <= MAX_MEDIA_SOURCE and _encodable(ref.source)
                and _encodable(ref.content_type)) or "\x00" in ref.source:
            raise BadRequest("a media reference is empty, too long or not valid Unicode")
    # NUL never means anything in a message: drop it rather than lose the answer.
    cleaned = {
        name: fields[name].replace("\x00", "")
        for name in ("text", "payload", "start_param", "media_type")
        if "\x00" in fields[name]
    }
    return dataclasses.replace(message, **cleaned) if cleaned else message


def _storable_id(provider_id: str) -> bool:
    return 0 < len(provider_id) <= MAX_PROVIDER_ID and "\x00" not in provider_id


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _plain(status: int, text: str = "") -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _twiml() -> Response:
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


def _receive(name: str, ok: Response) -> Response:
    runtime = current_runtime()
    channel = runtime.channels.get(name)
    if channel is None:
        return _plain(404, f"the {name} channel is not configured")
    try:
        incoming = snapshot()
        if not channel.verify(incoming):
            log.warning("webhook verification failed", extra={"channel": name})
            return _plain(403, "forbidden")
        messages = [sane(message) for message in channel.parse(incoming)]
        blocked = getattr(channel, "blocked_chat", None)
        blocker = blocked(incoming) if callable(blocked) else None
    except MALFORMED as exc:
        _rejected(name, exc)
        return _plain(400, "bad request")
    try:
        if blocker:  # they blocked the bot: the same as STOP, without a reply
            runtime.service.opt_out(name, blocker)
        for message in messages:
            handled = runtime.service.handle(message)
            if message.ack:
                _acknowledge(channel, message.ack)
            if not handled.duplicate:
                runtime.wake_sender()
    except (OperationalError, PoolTimeout):
        log.exception("database unavailable", extra={"channel": name})
        return _plain(503, "try again later")
    return ok


def _rejected(channel: str, exc: BaseException) -> None:
    """Log a refused request without its content: our own BadRequest texts are safe, but
    other exceptions quote the input ("invalid literal for int(): '...'"), so those are
    logged by type and the line that raised, which is enough to find a parsing bug."""
    if isinstance(exc, BadRequest):
        log.info("webhook rejected", extra={"channel": channel, "reason": str(exc)[:100]})
        return
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
    log.warning(
        "webhook rejected: the parser failed on malformed input",
        extra={"channel": channel, "reason": type(exc).__name__, "where": where},
    )


def _acknowledge(channel: Channel, ack: str) -> None:
    acknowledge = getattr(channel, "acknowledge", None)
    if callable(acknowledge):
        try:
            acknowledge(ack)  # stops the button's spinner; harmless if it fails
        except Exception:
            log.warning("callback acknowledgement failed", exc_info=True)


@bp.post("/telegram")
def telegram() -> Response:
    # Telegram retries any non-2xx forever, so an unusable update gets a quiet 200
    # (the channel returns no messages for it).
    return _receive("telegram", _plain(200))


@bp.post("/twilio/sms")
def twilio_sms() -> Response:
    return _receive("sms", _twiml())


@bp.post("/twilio/whatsapp")
def twilio_whatsapp() -> Response:
    return _receive("whatsapp", _twiml())


@bp.post("/twilio/status")
def twilio_status() -> Response:
    runtime = current_runtime()
    channel = runtime.channels.get("sms") or runtime.channels.get("whatsapp")
    if channel is None:
        return _plain(404, "twilio is not configured")
    try:
        incoming = snapshot()
        if not channel.verify(incoming):
            log.warning("webhook verification failed", extra={"channel": "twilio-status"})
            return _plain(403, "forbidden")
        update = channel.parse_status(incoming)  # type: ignore[attr-defined]
        if not _storable_id(update.provider_message_id) or not _encodable(update.status):
            raise BadRequest("malformed message id or status")
        if update.error_code is not None and not 0 <= update.error_code <= MAX_ERROR_CODE:
            raise BadRequest("error code out of range")
    except MALFORMED as exc:
        _rejected("twilio-status", exc)
        return _plain(400, "bad request")
    try:
        runtime.service.record_status(
            update.provider_message_id,
            update.status,
            update.error_code,
            opted_out=update.error_code in OPTED_OUT_CODES,
        )
    except (OperationalError, PoolTimeout):
        log.exception("database unavailable", extra={"channel": "twilio-status"})
        return _plain(503, "try again later")
    return _plain(204)
