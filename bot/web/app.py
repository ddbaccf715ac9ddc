"""The Flask application factory: the one module that assembles the web app.

Only entry points import it (`withus serve`, gunicorn's workers, tests). Blueprints get
the runtime from `app.extensions` (`bot.web.context`), never from here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask, Request, Response, jsonify
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from bot.services.config import Settings
from bot.services.runtime import Runtime, build
from bot.web.context import EXTENSION

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # no provider sends more; bigger bodies are refused with 413
WEBHOOK_PREFIX = "/webhooks/"


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, except on provider webhooks, which get none.

    Why: a provider never sends our cookie and nothing on a webhook reads or writes the
    session, yet opening and saving one (building a signing serializer, looking for the
    cookie) cost about 4 % of a web worker on the webhook hot path. Returning None makes
    Flask use its null session, which can be read (it is empty) but not written.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(WEBHOOK_PREFIX):
            return None
        return super().open_session(app, request)


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Create the web app. Pass `runtime` to share one (tests, `withus serve`)."""
    if runtime is None:
        runtime = build(settings or Settings.from_env())
    # Templates and static files are the application's own: bot/templates, bot/static.
    app = Flask(__name__, root_path=str(Path(__file__).resolve().parent.parent))
    app.config.update(
        SECRET_KEY=runtime.settings.secret_key,
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=runtime.settings.production,
    )
    app.extensions[EXTENSION] = runtime
    app.session_interface = SessionInterface()
    if runtime.settings.trusted_proxies > 0:
        # Behind a load balancer every request comes from its address: take the client's
        # from the hops we trust, or sign-in rate limits would lump all clients together.
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = runtime.settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    from flask_wtf.csrf import CSRFProtect

    from bot import dashboard
    from bot.web.health import bp as health
    from bot.web.simulator import bp as simulator
    from bot.web.simulator import message as simulator_message
    from bot.web.webhooks import bp as webhooks

    app.register_blueprint(health)
    app.register_blueprint(simulator)
    app.register_blueprint(webhooks)
    # Every form posts a CSRF token; providers' webhooks cannot, and the simulator's JSON
    # endpoint needs none (a JSON content type cannot be sent cross-site without CORS).
    csrf = CSRFProtect(app)
    csrf.exempt(webhooks)
    csrf.exempt(simulator_message)
    dashboard.init_app(app)

    @app.errorhandler(413)
    def too_large(_error: Exception) -> tuple[Response, int]:
        return jsonify(error="request body too large"), 413

    @app.errorhandler(Exception)
    def crashed(error: Exception) -> tuple[Response, int]:
        from werkzeug.exceptions import HTTPException

        if isinstance(error, HTTPException):
            return jsonify(error=error.description), error.code or 500
        log.exception("unhandled error")
        return jsonify(error="internal error"), 500

    return app

