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

from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import Session

from bot.dashboard import bp, current_runtime
from bot.dashboard.forms import ButtonForm, CodeForm, LoginForm
from bot.services.accounts import (  # noqa: F401 (hash_password: for bot.cli)
    PASSWORDS,
    REQUIRE_TWO_FACTOR,
    Accounts,
    PasswordTooShort,
    check_password,
    hash_password,
)
from storage.repositories.dashboard import DashboardRepository

F = TypeVar("F", bound=Callable[..., Any])

WINDOW = timedelta(minutes=15)
MAX_ACCOUNT_FAILURES = 5
MAX_CLIENT_FAILURES = 20
#: Verified against when the email is unknown, so that takes as long as a wrong password.
_DUMMY_HASH = PASSWORDS.hash("not a real password, only for timing")
#: How long the code page waits after the right password before signing in again.
CODE_WAIT = timedelta(minutes=5)
#: The session's copy of the account's session epoch, set by `sign_in`.
EPOCH = "account_epoch"
#: When this session signed in and when it was last used (POSIX seconds, runtime clock).
SIGNED_IN_AT = "signed_in_at"
LAST_SEEN = "last_seen"
#: What a half-signed-in session (right password, code not yet given) keeps.
PENDING = "two_factor_pending"
#: Pages a signed-in person may still reach while they must change a temporary password
#: or set up two-factor sign-in first.
GATE_OPEN = frozenset({"dashboard.login", "dashboard.logout", "dashboard.login_code",
                       "dashboard.account", "dashboard.two_factor",
                       "dashboard.accept_invite"})


@dataclass(frozen=True)
class DashboardUser:
    """The signed-in person as Flask-Login sees them: id, email, role and what they must
    do before anything else, nothing more."""

    id: int
    email: str
    role: str
    #: The account's session epoch when this session signed in (see bot.services.accounts).
    epoch: int = 0
    must_change_password: bool = False
    #: Two-factor sign-in is required for everyone and this account has not set it up.
    must_set_up_two_factor: bool = False
    has_two_factor: bool = False
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


def _within_limits() -> bool:
    """The session signed in less than WITHUS_SESSION_HOURS ago and was used less than
    WITHUS_SESSION_IDLE_MINUTES ago (checked here on the server, not left to the cookie's
    expiry, which the browser keeps and a copied cookie does not)."""
    runtime = current_runtime()
    now = runtime.clock().timestamp()
    signed_in_at, last_seen = session.get(SIGNED_IN_AT), session.get(LAST_SEEN)
    if not (isinstance(signed_in_at, (int, float)) and isinstance(last_seen, (int, float))):
        return False
    settings = runtime.settings
    return (now - signed_in_at < settings.session_hours * 3600
            and now - last_seen < settings.session_idle_minutes * 60)


def load_user(user_id: str) -> DashboardUser | None:
    """Flask-Login's loader: a disabled or deleted account, a session from before the
    account was disabled, its password reset, its role changed or the person signed out,
    and a session past its absolute or idle limit are all signed out on the next click."""
    epoch = session.get(EPOCH)
    if not (user_id.isdigit() and len(user_id) < 20 and isinstance(epoch, int)):
        return None
    if not _within_limits():
        return None
    session[LAST_SEEN] = current_runtime().clock().timestamp()
    with database() as (repo, _db_session):
        user, required = repo.user_with_setting(int(user_id), REQUIRE_TWO_FACTOR)
        if user is None or user.disabled_at is not None or user.session_epoch != epoch:
            return None
        return dashboard_user(user, bool(required))


def dashboard_user(user: Any, two_factor_required: bool) -> DashboardUser:
    return DashboardUser(user.id, user.email, user.role, user.session_epoch,
                         user.must_change_password,
                         two_factor_required and user.totp_enabled_at is None,
                         user.totp_enabled_at is not None)


def sign_in(user: DashboardUser) -> None:
    """Sign `user` in on this session (and keep the epoch the loader will check)."""
    login_user(user)
    now = current_runtime().clock().timestamp()
    session[EPOCH] = user.epoch
    session[SIGNED_IN_AT] = session[LAST_SEEN] = now
    session.permanent = True


@bp.before_request
def forms_only() -> None:
    """Every dashboard form is sent as a form. A JSON body would reach Flask-WTF, which
    reads JSON as the form and fails on anything but an object: refuse it with a 400."""
    if request.method == "POST" and request.is_json:
        abort(400)


@bp.before_request
def first_things_first() -> Any:
    """A temporary password is changed, and two-factor set up when everyone must have it,
    before any other page: each page sends the person to the one they must see first."""
    if request.endpoint in GATE_OPEN or not current_user.is_authenticated:
        return None
    if current_user.must_change_password:
        return redirect(url_for("dashboard.account"))
    if current_user.must_set_up_two_factor:
        return redirect(url_for("dashboard.two_factor"))
    return None


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
                target = safe_next(request.args.get("next"))
                # A fresh session: nothing from before signing in carries over (fixation).
                session.clear()
                if user.totp_enabled_at is not None:
                    # The password was right; the code page finishes signing in.
                    if new_hash:
                        repo.update_user(user.id, password_hash=new_hash)
                    db_session.commit()
                    session[PENDING] = {"id": user.id, "epoch": user.session_epoch,
                                        "at": now.timestamp(), "next": target}
                    return redirect(url_for("dashboard.login_code"))
                repo.signed_in(user.id, now, new_hash)
                required = Accounts(db_session, now).two_factor_required()
                signed = dashboard_user(user, required)
                db_session.commit()
                sign_in(signed)
                return redirect(target)
    return render_template("dashboard/login.html", form=form, error=error), (
        401 if error else 200)


@bp.route("/login/code", methods=["GET", "POST"])
def login_code() -> Any:
    """Sign-in's second step for an account with two-factor on: the code from the app.

    Wrong codes are counted like wrong passwords: 5 for the account (and 20 from one
    client address) in 15 minutes, then 429."""
    runtime = current_runtime()
    now = runtime.clock()
    pending = session.get(PENDING)
    if (not isinstance(pending, dict) or not isinstance(pending.get("at"), int | float)
            or now.timestamp() - pending["at"] > CODE_WAIT.total_seconds()):
        session.pop(PENDING, None)
        flash("Please sign in again.", "info")
        return redirect(url_for("dashboard.login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        account_key, client_key = _code_keys(int(pending["id"]))
        with database() as (repo, db_session):
            failures = repo.failures_since([account_key, client_key], now - WINDOW)
            if (failures.get(account_key, 0) >= MAX_ACCOUNT_FAILURES
                    or failures.get(client_key, 0) >= MAX_CLIENT_FAILURES):
                abort(429)
            user = repo.user(int(pending["id"]))
            accounts = Accounts(db_session, now, vault=runtime.vault)
            if (user is None or user.disabled_at is not None
                    or user.session_epoch != pending.get("epoch")
                    or user.totp_enabled_at is None):
                session.pop(PENDING, None)
                return redirect(url_for("dashboard.login"))
            if accounts.check_code(user.id, form.code.data or ""):
                repo.record_attempt(account_key, now, True)
                repo.clear_failures(account_key)
                repo.signed_in(user.id, now)
                signed = dashboard_user(user, accounts.two_factor_required())
                db_session.commit()
                target = safe_next(str(pending.get("next") or ""))
                session.clear()
                sign_in(signed)
                return redirect(target)
            repo.record_attempt(account_key, now, False)
            repo.record_attempt(client_key, now, False)
            db_session.commit()
            error = "That code is not right. Type the 6 digits your app shows now."
    elif request.method == "POST":
        error = "Type the 6 digits your authenticator app shows."
    return render_template("dashboard/login_code.html", form=form, error=error), (
        401 if error else 200)


def _code_keys(user_id: int) -> tuple[str, str]:
    """Attempt keys for codes: per account (by id) and per client address."""
    secret = current_runtime().settings.secret_key.encode()

    def key(text: str) -> str:
        return hmac.new(secret, text.encode(), hashlib.sha256).hexdigest()

    return key(f"code:{user_id}"), key("client:" + (request.remote_addr or ""))


@bp.post("/logout")
@signed_in
def logout() -> Any:
    form = ButtonForm()
    if form.validate_on_submit():
        # Signing out ends every session of this account, so a copy of the cookie taken
        # before (another browser, a stolen one) stops working too.
        with database() as (repo, db_session):
            repo.end_sessions(current_user.id)
            db_session.commit()
        logout_user()
        session.clear()
        flash("You have signed out.", "info")
    return redirect(url_for("dashboard.login"))
