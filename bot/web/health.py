"""GET /healthz: is the database reachable, and which channels are on."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from bot.web.context import current_runtime
from storage.db import check

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    runtime = current_runtime()
    database_ok = check(runtime.engine)
    body = {
        "status": "ok" if database_ok else "unavailable",
        "database": "ok" if database_ok else "unreachable",
        "channels": sorted(runtime.channels),
    }
    return jsonify(body), 200 if database_ok else 503
