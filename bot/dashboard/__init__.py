"""The organiser dashboard: sign-in, survey results, themes and notes, exports.

Organisers run surveys and may export raw rows; reviewers (coproduction group members)
see only suppressed, pseudonymised, redacted views, and tag themes and write notes.
Nobody here ever sees the contact vault. Every count shown goes through
`surveys.suppression`.

`init_app` wires it into the Flask app: Flask-Login, the blueprint, HTML error pages and
strict security headers. CSRF protection is app-wide (Flask-WTF's CSRFProtect, set up in
`bot.web.app`), so every form here carries a token.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, Response, current_app, render_template
from flask_login import LoginManager
from werkzeug.exceptions import HTTPException

from bot.services.runtime import Runtime

# Templates are the app's own (bot/templates/dashboard/), static files bot/static/.
bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")

#: How long a signed-in session lasts before signing in again.
SESSION_LIFETIME = timedelta(hours=12)

#: Nothing on these pages comes from anywhere but this server: no CDN, no inline script.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def current_runtime() -> Runtime:
    """The runtime of the app handling the current request (set by the app factory)."""
    runtime: Runtime = current_app.extensions["withus"]
    return runtime


def init_app(app: Flask) -> None:
    """Register the dashboard and its sign-in handling on `app`."""
    # Importing these registers their routes on bp (and the consultation pages' blueprint,
    # nested in bp so that they share its headers, error pages and sign-in).
    from bot.dashboard import auth, consultation, outreach, safeguarding, views  # noqa: F401

    app.config.setdefault("PERMANENT_SESSION_LIFETIME", SESSION_LIFETIME)
    # The token lives as long as the session: a reviewer reading for an hour can still save.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    # No "remember me" cookie is ever set, but if one were it would be as strict.
    app.config.setdefault("REMEMBER_COOKIE_HTTPONLY", True)
    app.config.setdefault("REMEMBER_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("REMEMBER_COOKIE_SECURE", app.config.get("SESSION_COOKIE_SECURE"))

    login = LoginManager()
    login.login_view = "dashboard.login"
    login.login_message = "Please sign in to see that page."
    login.login_message_category = "info"
    login.user_loader(auth.load_user)
    login.init_app(app)
    app.register_blueprint(bp)


@bp.after_request
def security_headers(response: Response) -> Response:
    """Dashboard pages hold survey answers: never cached, framed or sent a referrer."""
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(HTTPException)
def error_page(error: HTTPException) -> tuple[str, int]:
    """People get a page in plain English, not the JSON the webhooks answer with."""
    code = error.code or 500
    messages = {
        400: "Something in that request was not right. If you were sending a form, go back, "
             "reload the page and try again.",
        403: "Your account cannot do that. Organisers can; ask one if you need it done.",
        404: "There is nothing here. The survey or answer may have been removed.",
        429: "Too many attempts to sign in. Wait 15 minutes and try again.",
    }
    message = messages.get(code, error.description or "Something went wrong.")
    if getattr(error, "description", "") and "CSRF" in str(error.description):
        message = ("This form had expired or did not come from this site. Go back, reload "
                   "the page and try again.")
    return render_template("dashboard/error.html", code=code, message=message), code
