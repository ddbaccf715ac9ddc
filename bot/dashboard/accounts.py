"""Accounts: who may sign in to the dashboard (organisers only), your own password and
two-factor sign-in (everyone), and the page a one-time invite link opens.

The work is `bot.services.accounts`'s, exactly as `withus users` does it, so the page and
the command line refuse the same things in the same words (an unknown account, a role that
does not exist, leaving no organiser who can sign in). A one-time link or a temporary
password is shown once, on the page that made it, and never stored: only a hash of the
link's token is kept, and the temporary password is hashed like any other.
"""

from __future__ import annotations

import base64
import functools
import io
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from bot.dashboard import bp, current_runtime
from bot.dashboard.auth import (
    MAX_ACCOUNT_FAILURES,
    WINDOW,
    _attempt_keys,
    dashboard_user,
    database,
    organiser_only,
    sign_in,
    signed_in,
)
from bot.dashboard.forms import (
    ButtonForm,
    ChangePasswordForm,
    ChoosePasswordForm,
    CodeForm,
    InviteForm,
    RequireTwoFactorForm,
    RoleForm,
)
from bot.services.accounts import AccountError, Accounts, Invite

#: A sentence for each role, on the page and in the invite form.
ROLE_HELP = {
    "organiser": "everything, including exports, contacts and accounts",
    "reviewer": "a coproduction group member: sees suppressed results, tags themes and "
                "writes notes",
    "lead": "a safeguarding lead: what a reviewer sees, and the safeguarding queue",
}


def _accounts(db_session: Any) -> Accounts:
    runtime = current_runtime()
    return Accounts(db_session, runtime.clock(), actor_id=current_user.id,
                    via="dashboard", vault=runtime.vault)


def _link(invite: Invite) -> str:
    base = current_runtime().settings.public_url or request.host_url.rstrip("/")
    return base + url_for("dashboard.accept_invite", token=invite.token)


def _accounts_page(*, form: InviteForm | None = None, error: str | None = None,
                   made: dict[str, str] | None = None, status: int = 200) -> Any:
    now = current_runtime().clock()
    with database() as (repo, db_session):
        users = repo.users()
        invites = repo.open_invites(now)
        required = Accounts(db_session, now).two_factor_required()
        without = sum(1 for user in users
                      if user.totp_enabled_at is None and user.disabled_at is None)
    return render_template(
        "dashboard/accounts.html", users=users, invites=invites, form=form or InviteForm(),
        error=error, made=made, required=required, without=without, role_help=ROLE_HELP,
        require_form=RequireTwoFactorForm(required=required), button=ButtonForm(),
        role_form=RoleForm()), status


def _form_error(form: Any) -> str:
    """The first thing wrong with a form, in words (a missing token is a stale page)."""
    if "csrf_token" in form.errors:
        abort(400)
    for name, problems in form.errors.items():
        label = getattr(getattr(form, name, None), "label", None)
        return f"{label.text if label else name}: {problems[0]}"
    return "Something in the form was not right."


@bp.route("/accounts", methods=["GET", "POST"])
@organiser_only
def accounts() -> Any:
    """The list; a POST invites someone (action=invite) or sets the two-factor rule
    (action=two-factor)."""
    if request.method == "GET":
        return _accounts_page()
    action = request.form.get("action", "")
    if action == "two-factor":
        return require_two_factor()
    if action != "invite":
        abort(400)
    return invite_account()


def invite_account() -> Any:
    form = InviteForm()
    if not form.validate_on_submit():
        return _accounts_page(form=form, error=_form_error(form), status=400)
    email, role = form.email.data or "", form.role.data or ""
    with database() as (_repo, db_session):
        accounts = _accounts(db_session)
        try:
            if form.how.data == "password":
                user, password = accounts.add_with_temporary_password(email, role)
                made = {"email": user.email, "password": password}
            else:
                invite = accounts.invite(email, role)
                made = {"email": invite.email, "link": _link(invite),
                        "expires": f"{invite.expires_at:%d %B %Y at %H:%M} UTC"}
        except AccountError as exc:
            refused: str | None = f"Not added: {exc}."
        else:
            refused = None
            db_session.commit()
    # Rendered after the write is committed or rolled back: the page reads on its own.
    if refused:
        return _accounts_page(form=form, error=refused, status=400)
    return _accounts_page(made=made, form=InviteForm(formdata=None), status=201)


def _change(user_id: int, change: str) -> Any:
    """Apply one change named by the button pressed; errors come back to the page."""
    form = RoleForm() if change == "role" else ButtonForm()
    if not form.validate_on_submit():
        return _accounts_page(error=_form_error(form), status=400)
    made = None
    with database() as (_repo, db_session):
        accounts = _accounts(db_session)
        try:
            email = accounts.get(user_id).email
            if user_id == current_user.id and change == "password":
                raise AccountError("change your own password on Your account")
            if user_id == current_user.id and change == "disable":
                # The last organiser hears that first: it is the reason that matters most.
                accounts.keep_an_organiser(accounts.get(user_id), disable=True)
                raise AccountError("you cannot disable your own account; another organiser "
                                   "can")
            if change == "role":
                accounts.set_role(email, form.role.data or "")
                message = f"{email} is now {form.role.data}."
            elif change == "disable":
                accounts.disable(email)
                message = f"{email} can no longer sign in; their open sessions have ended."
            elif change == "enable":
                accounts.enable(email)
                message = f"{email} can sign in again."
            elif change == "password":
                user, password = accounts.reset_password(email)
                made = {"email": user.email, "password": password}
                message = ""
            elif change == "link":
                invite = accounts.new_link(email)
                made = {"email": invite.email, "link": _link(invite),
                        "expires": f"{invite.expires_at:%d %B %Y at %H:%M} UTC"}
                message = ""
            else:  # "two-factor"
                accounts.remove_two_factor(user_id)
                message = f"Two-factor sign-in is off for {email}."
        except AccountError as exc:
            refused: str | None = f"Not changed: {exc}."
        else:
            refused = None
            db_session.commit()
    if refused:
        return _accounts_page(error=refused, status=400)
    if made:
        return _accounts_page(made=made, form=InviteForm(formdata=None))
    flash(message, "info")
    return redirect(url_for("dashboard.accounts"))


#: What the buttons on one person's card do (the form's `action` field).
CHANGES = frozenset({"role", "disable", "enable", "password", "link", "two-factor"})


@bp.post("/accounts/<int:user_id>")
@organiser_only
def account_change(user_id: int) -> Any:
    change = request.form.get("action", "")
    if change not in CHANGES:
        abort(400)
    return _change(user_id, change)


def require_two_factor() -> Any:
    form = RequireTwoFactorForm()
    if not form.validate_on_submit():
        return _accounts_page(error=_form_error(form), status=400)
    with database() as (_repo, db_session):
        _accounts(db_session).require_two_factor(bool(form.required.data))
        db_session.commit()
    flash("Everyone must now use two-factor sign-in; those without it set it up when they "
          "next sign in." if form.required.data else
          "Two-factor sign-in is now each person's choice.", "info")
    return redirect(url_for("dashboard.accounts"))


# --- a one-time link ----------------------------------------------------------------------

@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str) -> Any:
    """Choose a password through a one-time link; then sign in as usual."""
    form = ChoosePasswordForm()
    with database() as (_repo, db_session):
        accounts = Accounts(db_session, current_runtime().clock(), via="dashboard")
        user = accounts.invited(token)
        if user is None:
            db_session.rollback()
            return render_template("dashboard/invite.html", form=form, email=None), 404
        email, error = user.email, None
        if form.validate_on_submit():
            if form.new.data != form.confirm.data:
                error = "The two passwords are not the same. Type them again."
            else:
                try:
                    accounts.accept(token, form.new.data or "")
                except AccountError as exc:
                    error = f"That password cannot be used: {exc}."
                else:
                    db_session.commit()
                    flash("Your password is set. Sign in with it now.", "info")
                    return redirect(url_for("dashboard.login"))
        elif request.method == "POST":
            error = _form_error(form)
    return render_template("dashboard/invite.html", form=form, email=email,
                           error=error), 400 if error else 200


# --- your own account -------------------------------------------------------------------

def _account_page(*, error: str | None = None, status: int = 200) -> Any:
    return render_template("dashboard/account.html", form=ChangePasswordForm(),
                           button=ButtonForm(), error=error), status


@bp.route("/account", methods=["GET", "POST"])
@signed_in
def account() -> Any:
    """Your account; a POST changes your password (action=password) or turns two-factor
    sign-in off (action=two-factor-off)."""
    if request.method == "GET":
        return _account_page()
    action = request.form.get("action", "")
    if action == "two-factor-off":
        return two_factor_off()
    if action != "password":
        abort(400)
    return change_password()


def change_password() -> Any:
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _account_page(error=_form_error(form), status=400)
    if form.new.data != form.confirm.data:
        return _account_page(error="The two new passwords are not the same. Type them again.",
                             status=400)
    runtime = current_runtime()
    now = runtime.clock()
    account_key, client_key = _attempt_keys(current_user.email)
    with database() as (repo, db_session):
        # A wrong current password counts as a failed sign-in: the form cannot be used to
        # guess it faster than the sign-in page can.
        if repo.failures_since([account_key], now - WINDOW).get(
                account_key, 0) >= MAX_ACCOUNT_FAILURES:
            abort(429)
        accounts = _accounts(db_session)
        try:
            accounts.change_own_password(current_user.id, form.current.data or "",
                                                 form.new.data or "")
        except AccountError as exc:
            if "current password" in str(exc):
                repo.record_attempt(account_key, now, False)
                repo.record_attempt(client_key, now, False)
                db_session.commit()
            db_session.rollback()
            return _account_page(error=str(exc).rstrip(".") + ".", status=400)
        user = accounts.get(current_user.id)
        signed = dashboard_user(user, accounts.two_factor_required())
        db_session.commit()
    # This session carries on under the new epoch; every other one has ended.
    sign_in(signed)
    flash("Your password is changed. Anywhere else you were signed in has been signed out.",
          "info")
    return redirect(url_for("dashboard.surveys"))


@bp.route("/account/two-factor", methods=["GET", "POST"])
@signed_in
def two_factor() -> Any:
    """Set up two-factor sign-in: a QR code and the secret, until a code confirms it."""
    if request.method == "POST":
        return two_factor_confirm()
    if current_user.has_two_factor:
        return redirect(url_for("dashboard.account"))
    with database() as (_repo, db_session):
        accounts = _accounts(db_session)
        secret = accounts.pending_secret(current_user.id)
        if secret is None:
            secret = accounts.start_two_factor(current_user.id)
            db_session.commit()
    return _two_factor_page(secret)


def _two_factor_page(secret: str, *, error: str | None = None, status: int = 200) -> Any:
    uri = Accounts.provisioning_uri(secret, current_user.email)
    return render_template("dashboard/two_factor.html", secret=secret, qr=_qr(uri),
                           grouped=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                           form=CodeForm(), error=error), status


@functools.lru_cache(maxsize=32)
def _qr(text: str) -> str:
    """The QR code of `text` as an SVG data URI (drawn here: no image leaves the server).
    Kept for a page reloaded while the same secret waits to be confirmed."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8,
                        border=2)
    out = io.BytesIO()
    image.save(out)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def two_factor_confirm() -> Any:
    form = CodeForm()
    if current_user.has_two_factor:
        return redirect(url_for("dashboard.account"))
    with database() as (_repo, db_session):
        accounts = _accounts(db_session)
        secret = accounts.pending_secret(current_user.id)
        if secret is None:
            return redirect(url_for("dashboard.two_factor"))
        if not form.validate_on_submit():
            db_session.rollback()  # the page must not wait on this session's lock
            return _two_factor_page(secret, error=_form_error(form), status=400)
        if not accounts.confirm_two_factor(current_user.id, form.code.data or ""):
            db_session.rollback()
            return _two_factor_page(
                secret, error="That code is not right. Type the 6 digits your app shows "
                              "now (they change every 30 seconds).", status=400)
        user = accounts.get(current_user.id)
        signed = dashboard_user(user, accounts.two_factor_required())
        db_session.commit()
    sign_in(signed)
    flash("Two-factor sign-in is on. Next time you sign in, WithUs asks for a code from "
          "your app.", "info")
    return redirect(url_for("dashboard.account"))


def two_factor_off() -> Any:
    form = ButtonForm()
    if not form.validate_on_submit():
        abort(400)
    with database() as (_repo, db_session):
        accounts = _accounts(db_session)
        if accounts.two_factor_required():
            db_session.rollback()
            return _account_page(error="Everyone must use two-factor sign-in here, so it "
                                       "cannot be turned off. An organiser can reset it if "
                                       "you lose your phone.", status=400)
        accounts.remove_two_factor(current_user.id)
        user = accounts.get(current_user.id)
        signed = dashboard_user(user, False)
        db_session.commit()
    sign_in(signed)
    flash("Two-factor sign-in is off.", "info")
    return redirect(url_for("dashboard.account"))
