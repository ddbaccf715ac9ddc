"""Provider webhooks: Telegram, Twilio SMS, Twilio WhatsApp and Twilio status callbacks.

Every request is verified before anything is read from it (403 and nothing stored when it
fails), parsed into plain messages (400 when malformed), and handled through the service
layer exactly once per provider message id. A database outage answers 503 so the
provider retries later; nothing here answers 500 for bad input.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, request
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from bot.app import current_runtime
from channels.base import BadRequest, Channel, WebRequest

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
#: Twilio's status callback error codes that mean "this person has opted out".
OPTED_OUT_CODES = frozenset({21610})


def snapshot() -> WebRequest:
    """The Flask request as a plain object, so channels never import Flask."""
    try:
        form = {k: v for k, v in request.form.items()}
    except UnicodeDecodeError:
        raise BadRequest("form body is not UTF-8") from None
    return WebRequest(
        method=request.method,
        path=request.path,
        headers=dict(request.headers.items()),
        body=request.get_data(cache=True),
        form=form,
        query={k: v for k, v in request.args.items()},
    )


def _plain(status: int, text: str = "") -> Response:
    return Response(text, status=status, mimetype="text/plain")


def _twiml() -> Response:
    return Response(EMPTY_TWIML, status=200, mimetype="text/xml")


def _channel(name: str) -> Channel | None:
    return current_runtime().channels.get(name)


def _receive(name: str, ok: Response) -> Response:
    channel = _channel(name)
    if channel is None:
        return _plain(404, f"the {name} channel is not configured")
    runtime = current_runtime()
    try:
        incoming = snapshot()
        if not channel.verify(incoming):
            log.warning("webhook verification failed", extra={"channel": name})
            return _plain(403, "forbidden")
        messages = channel.parse(incoming)
    except BadRequest as exc:
        log.info("webhook rejected", extra={"channel": name, "reason": str(exc)[:100]})
        return _plain(400, "bad request")
    try:
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
            return _plain(403, "forbidden")
        update = channel.parse_status(incoming)  # type: ignore[attr-defined]
    except BadRequest:
        return _plain(400, "bad request")
    try:
        runtime.service.record_status(update.provider_message_id, update.status,
                                      update.error_code, opted_out=update.error_code
                                      in OPTED_OUT_CODES)
    except (OperationalError, PoolTimeout):
        return _plain(503, "try again later")
    return _plain(204)
