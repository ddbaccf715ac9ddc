"""Accounts and signing in: argon2 password hashes, Flask-Login sessions, rate limiting.

Sign-in attempts are counted in the database (not in memory) so the limit holds across
several web workers: at most 5 failures per account and 20 per client address in 15
minutes. A wrong email and a wrong password get the same answer, after the same amount of
work, so the form cannot be used to find out who has an account.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import Session

from bot.dashboard import bp, current_runtime
from bot.dashboard.forms import ButtonForm, LoginForm
from storage.repositories.dashboard import DashboardRepository

F = TypeVar("F", bound=Callable[..., Any])

#: Argon2id with the library's defaults (RFC 9106's second recommended option).
PASSWORDS = PasswordHasher()
MIN_PASSWORD_LENGTH = 12
WINDOW = timedelta(minutes=15)
MAX_ACCOUNT_FAILURES = 5
MAX_CLIENT_FAILURES = 20
#: Verified against when the email is unknown, so that takes as long as a wrong password.
_DUMMY_HASH = PASSWORDS.hash("not a real password, only for timing")


class PasswordTooShort(ValueError):
    pass


def hash_password(password: str) -> str:
    """An argon2id hash of `password`; refuses passwords shorter than 12 characters."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooShort(
            f"use at least {MIN_PASSWORD_LENGTH} characters (three random words work well)")
    return PASSWORDS.hash(password)


def check_password(password_hash: str, password: str) -> tuple[bool, str | None]:
    """(matches, a new hash if the stored one uses weaker settings than today's)."""
    try:
        PASSWORDS.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False, None
    if PASSWORDS.check_needs_rehash(password_hash):
        return True, PASSWORDS.hash(password)
    return True, None


@dataclass(frozen=True)
class DashboardUser:
    """The signed-in person as Flask-Login sees them: id, email and role, nothing more."""

    id: int
    email: str
    role: str
    is_authenticated: bool = True
    is_active: bool = True
    is_anonymous: bool = False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_organiser(self) -> bool:
        return self.role == "organiser"


@contextmanager
def database() -> Iterator[tuple[DashboardRepository, Session]]:
    """A repository on a new session; commit explicitly, anything else is rolled back.

    Closing the session rolls back what was not committed and detaches the objects it
    loaded, which keep their values for the template.
    """
    with current_runtime().sessions() as db_session:
        yield DashboardRepository(db_session), db_session


def load_user(user_id: str) -> DashboardUser | None:
    """Flask-Login's loader: a disabled or deleted account is signed out on its next click."""
    try:
        wanted = int(user_id)
    except ValueError:
        return None
    with database() as (repo, _session):
        user = repo.user(wanted)
        if user is None or user.disabled_at is not None:
            return None
        return DashboardUser(user.id, user.email, user.role)


def signed_in(view: F) -> F:
    """Any signed-in account (organiser or reviewer) may use this view."""
    wrapped = login_required(view)
    wrapped.required_role = "reviewer"
    return wrapped


def organiser_only(view: F) -> F:
    """Only organisers: exports, the audit log, anything near contact details.

    Marked on the function so a test can find every such view and check that a reviewer
    is refused each one.
    """
    @functools.wraps(view)
    def check(*args: Any, **kwargs: Any) -> Any:
        if getattr(current_user, "role", None) != "organiser":
            abort(403)
        return view(*args, **kwargs)

    wrapped = login_required(check)
    wrapped.required_role = "organiser"
    return wrapped


def _attempt_keys(email: str) -> tuple[str, str]:
    """Keys for the account and the client, keyed hashes so the table holds no emails."""
    secret = current_runtime().settings.secret_key.encode()

    def key(text: str) -> str:
        return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()

    return key("account:" + email.strip().lower()), key("client:" + (request.remote_addr or ""))


def safe_next(target: str | None) -> str:
    """Where to go after signing in: only a path inside the dashboard, never another site."""
    if target:
        parts = urlsplit(target)
        if (not parts.scheme and not parts.netloc and parts.path.startswith("/dashboard")
                and "\\" not in target and not target.startswith("//")):
            return target
    return url_for("dashboard.surveys")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if any(ord(c) < 32 or ord(c) == 127 for c in request.args.get("next", "")):
        abort(400)  # a line break in a redirect is header injection: refuse the link
    form = LoginForm()
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("dashboard.surveys"))
    error = None
    if form.validate_on_submit():
        runtime = current_runtime()
        now = runtime.clock()
        account_key, client_key = _attempt_keys(form.email.data or "")
        with database() as (repo, db_session):
            failures = repo.failures_since([account_key, client_key], now - WINDOW)
            if (failures.get(account_key, 0) >= MAX_ACCOUNT_FAILURES
                    or failures.get(client_key, 0) >= MAX_CLIENT_FAILURES):
                abort(429)
            user = repo.user_by_email(form.email.data or "")
            password = form.password.data or ""
            if user is None or user.disabled_at is not None:
                check_password(_DUMMY_HASH, password)  # same work as a real check
                ok, new_hash = False, None
            else:
                ok, new_hash = check_password(user.password_hash, password)
            if not ok or user is None:
                repo.record_attempt(account_key, now, False)
                repo.record_attempt(client_key, now, False)
                repo.prune_attempts(now - timedelta(days=1))
                db_session.commit()
                error = "That email address and password do not match an account."
            else:
                repo.record_attempt(account_key, now, True)
                repo.clear_failures(account_key)
                repo.signed_in(user.id, now, new_hash)
                db_session.commit()
                target = safe_next(request.args.get("next"))
                # A fresh session: nothing from before signing in carries over (fixation).
                session.clear()
                login_user(DashboardUser(user.id, user.email, user.role))
                session.permanent = True
                return redirect(target)
    return render_template("dashboard/login.html", form=form, error=error), (
        401 if error else 200)


@bp.post("/logout")
@signed_in
def logout() -> Any:
    form = ButtonForm()
    if form.validate_on_submit():
        logout_user()
        session.clear()
        flash("You have signed out.", "info")
    return redirect(url_for("dashboard.login"))
