"""The web simulator: try any loaded survey as a participant, through the real service path.

Replies go through the outbox and the sender like any channel's; the web channel simply
holds them until the page collects them. Each browser gets its own random participant.
"""

from __future__ import annotations

import secrets
import uuid
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, session, url_for

from bot.web.context import current_runtime
from channels.base import EventKind, InboundMessage, numbered
from channels.local import WebChannel
from surveys.consultation import Consultation
from surveys.model import Survey

bp = Blueprint("simulator", __name__)
MAX_TEXT = 2000


@bp.get("/")
def index() -> Response:
    return redirect(url_for("simulator.page"))  # type: ignore[return-value]


@bp.get("/simulator")
def page() -> str:
    runtime = current_runtime()
    catalog = runtime.catalog.get()
    items: list[Survey | Consultation] = [*catalog.surveys.values(),
                                          *catalog.consultations.values()]
    surveys = sorted(items, key=lambda s: s.id)
    chosen = request.args.get("survey", "")
    return render_template("simulator.html", surveys=surveys, chosen=chosen)


def _address() -> str:
    if "sim" not in session:
        session["sim"] = secrets.token_urlsafe(12)
    return f"sim-{session['sim']}"


@bp.post("/simulator/api/message")
def message() -> tuple[Response, int]:
    # Requiring a JSON body means a cross-site form cannot post here (CORS preflight).
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="send a JSON object"), 400
    text, payload, start = (data.get(k, "") for k in ("text", "payload", "start"))
    if not all(isinstance(v, str) for v in (text, payload, start)):
        return jsonify(error="text, payload and start must be strings"), 400
    if len(text) > MAX_TEXT:
        return jsonify(error=f"text is longer than {MAX_TEXT} characters"), 400
    if data.get("restart"):
        session.pop("sim", None)
    kind: EventKind = "start" if start else ("button" if payload else "text")
    runtime = current_runtime()
    address = _address()
    inbound = InboundMessage("web", address, uuid.uuid4().hex, kind, text=text,
                             payload=payload, start_param=start)
    handled = runtime.service.handle(inbound)
    runtime.sender.deliver(handled.outbox_ids)
    channel = runtime.channels["web"]
    assert isinstance(channel, WebChannel)
    replies: list[dict[str, Any]] = []
    for out in channel.collect(address):
        replies.append({
            "text": out.text,
            "choices": [{"payload": c.payload, "label": c.label} for c in out.choices],
            "multiple": out.multiple,
            "sms": numbered(out),
        })
    return jsonify(replies=replies, participant=handled.participant), 200
