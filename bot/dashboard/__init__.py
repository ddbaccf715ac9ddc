"""The organiser dashboard: sign-in, survey results, themes and notes, exports.

Organisers run surveys and may export raw rows; reviewers (coproduction group members)
see only suppressed, pseudonymised, redacted views, and tag themes and write notes.
Nobody here ever sees the contact vault. Every count shown goes through
`surveys.suppression`.

`init_app` wires it into the Flask app: Flask-Login and the blueprint. Security headers,
HTML error pages and CSRF protection are app-wide, set up in `bot.web.app`, so every
page and download here has them and every form carries a token.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, current_app
from flask_login import LoginManager

from bot.services.runtime import Runtime

# Templates are the app's own (bot/templates/dashboard/), static files bot/static/.
bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


def current_runtime() -> Runtime:
    """The runtime of the app handling the current request (set by the app factory)."""
    runtime: Runtime = current_app.extensions["withus"]
    return runtime


def init_app(app: Flask) -> None:
    """Register the dashboard and its sign-in handling on `app`."""
    # Importing these registers their routes on bp (and the consultation pages' blueprint,
    # nested in bp so that they share its headers, error pages and sign-in).
    from bot.dashboard import (  # noqa: F401
        accounts,
        auth,
        consultation,
        contacts,
        crosstab,
        media,
        outreach,
        publishing,
        response_view,
        safeguarding,
        suggestions,
        summary,
        themes,
        views,
    )

    # The cookie's own lifetime follows the setting (the server checks it too, see
    # auth.load_user). Assigned, not setdefault: Flask's 31-day default would win.
    settings = app.extensions["withus"].settings
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=settings.session_hours)
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
