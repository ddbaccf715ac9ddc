"""The Flask application factory: the one module that assembles the web app.

Only entry points import it (`withus serve`, gunicorn's workers, tests). Blueprints get
the runtime from `app.extensions` (`bot.web.context`), never from here.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Request, Response, jsonify, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter, ValidationError

from bot.services.config import Settings
from bot.services.runtime import Runtime, build
from bot.web.context import EXTENSION
from storage.types import MAX_ID

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024  # no provider sends more; bigger bodies are refused with 413
WEBHOOK_PREFIX = "/webhooks/"
#: Paths that answer programs, not people: their errors are JSON, every other one a page.
JSON_PREFIXES = (WEBHOOK_PREFIX, "/healthz", "/simulator/api/")

#: Nothing the app serves comes from anywhere but this server: no CDN, no inline script,
#: never framed (the approve and reject buttons must not be clickjacked), no plugins.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
#: The simulator's single page still has its script and styles inline (it builds every
#: message with textContent, never HTML); moving them to bot/static would let it use the
#: policy above. Everything else it may do is as strict.
INLINE_POLICY = CONTENT_SECURITY_POLICY.replace(
    "script-src 'self'", "script-src 'self' 'unsafe-inline'").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'")
INLINE_PAGES = frozenset({"simulator.page"})

#: What an error page says, in plain English.
ERROR_MESSAGES = {
    400: "Something in that request was not right. If you were sending a form, go back, "
         "reload the page and try again.",
    403: "Your account cannot do that. Organisers can; ask one if you need it done.",
    404: "There is nothing here. The survey or answer may have been removed.",
    405: "That page cannot be used that way. Go back and use its links and buttons.",
    413: "That was too much to send at once. Send less, or ask an organiser to use the "
         "command line.",
    429: "Too many attempts to sign in. Wait 15 minutes and try again.",
    500: "Something went wrong on our side. It has been logged; try again in a minute.",
}


class BoundedInteger(IntegerConverter):
    """`<int:...>` in a URL, up to MAX_ID: a bigger number is a 404, not a 500."""

    def to_python(self, value: str) -> int:
        number = int(super().to_python(value))
        if number > MAX_ID:
            raise ValidationError()
        return number


class TrustedProxies:
    """X-Forwarded-For and X-Forwarded-Proto, believed only from the proxies listed in
    WITHUS_TRUSTED_PROXIES (gunicorn's `forwarded_allow_ips` is the same list).

    When the request comes from one of them, the client is the nearest address in
    X-Forwarded-For that is not itself a trusted proxy, and the scheme is the one the
    proxy saw. From anyone else both headers are ignored: they can be forged.
    """

    def __init__(self, app: Any, proxies: Iterable[str]) -> None:
        self.app = app
        self.networks = [ipaddress.ip_network(p) for p in proxies]

    def trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.trusted(environ.get("REMOTE_ADDR", "")):
            hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",")]
            for hop in reversed([h for h in hops if h]):
                environ["REMOTE_ADDR"] = hop
                if not self.trusted(hop):
                    break
            proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[-1].strip().lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)


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
    app.url_map.converters["int"] = BoundedInteger  # before any route is added
    if runtime.settings.trusted_proxies:
        # Behind a load balancer every request comes from its address: take the client's
        # from the proxies we trust, or sign-in rate limits would lump all clients together.
        app.wsgi_app = TrustedProxies(  # type: ignore[method-assign]
            app.wsgi_app, runtime.settings.trusted_proxies)

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
    # Before CSRF reads the body: the survey upload page may take more than the rest.
    from bot.dashboard.publishing import upload_limit
    app.before_request(upload_limit)
    csrf = CSRFProtect(app)
    csrf.exempt(webhooks)
    csrf.exempt(simulator_message)
    dashboard.init_app(app)

    app.after_request(security_headers)
    app.register_error_handler(Exception, error_response)
    return app



def security_headers(response: Response) -> Response:
    """The one place that sets security headers, on every response the app serves: pages,
    downloads, JSON, webhooks, health checks, static files and error pages alike.

    Answers and contact details must never be cached, framed, sniffed into another type or
    sent on as a referrer."""
    headers = response.headers
    headers["Content-Security-Policy"] = (INLINE_POLICY if request.endpoint in INLINE_PAGES
                                          else CONTENT_SECURITY_POLICY)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cache-Control"] = "no-store"
    if request.is_secure:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def error_response(error: Exception) -> tuple[Response | str, int]:
    """Errors for people as a page in plain English, for programs (webhooks, the health
    check, the simulator's API) as JSON. A crash is logged with its traceback; the reply
    never carries one."""
    if isinstance(error, HTTPException):
        code = error.code or 500
        description = error.description or ""
    else:
        log.exception("unhandled error")
        code, description = 500, "internal error"
    if request.path.startswith(JSON_PREFIXES):
        if code == 413:
            description = "request body too large"
        return jsonify(error=description), code
    message = ERROR_MESSAGES.get(code, description or ERROR_MESSAGES[500])
    if "CSRF" in description:
        message = ("This form had expired or did not come from this site. Go back, reload "
                   "the page and try again.")
    try:
        return render_template("dashboard/error.html", code=code, message=message), code
    except Exception:  # the page itself failed (the database is down, say): plain words
        log.exception("the error page failed")
        return (f"<!doctype html><title>{code}</title><h1>Sorry, that did not work</h1>"
                f"<p>{ERROR_MESSAGES[500]}</p>"), code
