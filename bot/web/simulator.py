"""The web simulator: try any loaded survey as a participant, through the real service path.

Replies go through the outbox and the sender like any channel's; the web channel simply
holds them until the page collects them. Each browser gets its own random participant.

In production the simulator is off unless WITHUS_SIMULATOR=on (then the page and its API
are 404s). When on there, only a signed-in dashboard user may use it, at most
`MAX_PER_MINUTE` messages a minute each (counted in the database, so across workers), and
what it stores is test data, left out of figures and exports unless asked for. In
development anyone on the machine may use it, as the README's quick start does.

The sandbox inbox (/simulator/sandbox, organisers only) shows what cohort members on a
channel with no provider would have got, and lets an organiser reply as them
(`bot.services.sandbox`).
"""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm

from bot.dashboard.auth import database, organiser_only
from bot.services import sandbox as sandboxes
from bot.web.context import current_runtime
from channels.base import EventKind, InboundMessage, numbered
from channels.local import WebChannel
from surveys.consultation import Consultation
from surveys.model import Survey

bp = Blueprint("simulator", __name__)
MAX_TEXT = 2000
#: Messages a signed-in user may send through the simulator per minute in production.
MAX_PER_MINUTE = 30
MINUTE = timedelta(minutes=1)


def _guard(api: bool) -> Response | tuple[Response, int] | None:
    """None when this request may use the simulator; else the answer to give."""
    settings = current_runtime().settings
    if not settings.simulator:
        abort(404)
    if not settings.production:
        return None
    if not current_user.is_authenticated:
        if api:
            return jsonify(error="sign in to the dashboard to use the simulator"), 401
        return redirect(url_for("dashboard.login", next=request.path))  # type: ignore[return-value]
    return None


def _over_limit() -> int:
    """Count this message against the signed-in user's limit; seconds to wait, or 0."""
    if not current_runtime().settings.production:
        return 0
    now = current_runtime().clock()
    key = f"simulator:{current_user.id}"
    with database() as (repo, db_session):
        sent = repo.failures_since([key], now - MINUTE).get(key, 0)
        if sent >= MAX_PER_MINUTE:
            return int(MINUTE.total_seconds())
        repo.record_attempt(key, now, False)
        repo.prune_attempts(now - timedelta(days=1))
        db_session.commit()
    return 0


@bp.get("/")
def index() -> Response:
    return redirect(url_for("simulator.page"))  # type: ignore[return-value]


@bp.get("/simulator")
def page() -> Any:
    refused = _guard(api=False)
    if refused is not None:
        return refused
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
    refused = _guard(api=True)
    if refused is not None:
        return refused if isinstance(refused, tuple) else (refused, 302)
    # Requiring a JSON body means a cross-site form cannot post here (CORS preflight).
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return jsonify(error="send a JSON object"), 400
    text, payload, start = (data.get(k, "") for k in ("text", "payload", "start"))
    if not all(isinstance(v, str) for v in (text, payload, start)):
        return jsonify(error="text, payload and start must be strings"), 400
    if len(text) > MAX_TEXT:
        return jsonify(error=f"text is longer than {MAX_TEXT} characters"), 400
    wait = _over_limit()
    if wait:
        reply = jsonify(error=f"at most {MAX_PER_MINUTE} messages a minute; try again soon")
        reply.headers["Retry-After"] = str(wait)
        return reply, 429
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


# --- the sandbox inbox ------------------------------------------------------------------------


@bp.get("/simulator/sandbox")
@organiser_only
def sandbox() -> str:
    runtime = current_runtime()
    people = sandboxes.people(runtime)
    chosen = request.args.get("person", "")
    number = int(chosen) if chosen.isdigit() else (people[0].number if people else 0)
    view = None
    if number:
        try:
            view = sandboxes.conversation(runtime, number)
        except sandboxes.SandboxError:
            abort(404)
    return render_template(
        "sandbox.html", people=people, view=view,
        sandboxed=sandboxes.sandboxed(runtime.channels), form=FlaskForm(),
        max_reply=sandboxes.MAX_REPLY,
        can_reply=view is not None and view.person.channel in sandboxes.sandboxed(
            runtime.channels),
    )


@bp.post("/simulator/sandbox/<int:number>/reply")
@organiser_only
def sandbox_reply(number: int) -> Response:
    if not FlaskForm().validate_on_submit():
        abort(400)
    text = request.form.get("text", "")
    payload = request.form.get("payload", "")
    try:
        sandboxes.reply_as(current_runtime(), number, text, payload)
    except sandboxes.SandboxError as exc:
        flash(f"Not sent: {exc}.", "error")
        return redirect(url_for("simulator.sandbox"))  # type: ignore[return-value]
    return redirect(url_for("simulator.sandbox", person=number) + "#latest")  # type: ignore[return-value]
