"""Accounts through the service and Flask's test client, on both databases.

An organiser invites someone by a one-time link (48 hours, once) or a temporary password
(changed at the first sign-in), changes a role, disables (their sessions end at once) and
re-enables, resets a password (their other sessions end); the last organiser is always kept.
Everyone can change their own password and turn on two-factor sign-in; an organiser can
require it for everyone. Codes come from pyotp, as an authenticator app makes them. Nothing
here is mocked: the real service, repositories, vault and Flask-Login.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from bot.services.accounts import AccountError, Accounts
from bot.services.runtime import Runtime
from bot.web.app import create_app
from storage.models import User
from storage.repositories.dashboard import DashboardRepository
from tests.browser.seed import PASSWORD, add_user
from tests.helpers import FakeClock, make_runtime

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
ORGANISER, REVIEWER = "org@example.org", "rev@example.org"
NEW_PASSWORD = "another three words"
LINK = re.compile(r'id="invite-link"[^>]*>[^<]*(/dashboard/invite/[A-Za-z0-9_-]+)<')
TEMPORARY = re.compile(r'id="temporary-password"[^>]*value="([a-z0-9-]+)"')


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    rt = make_runtime(database_url, tmp_path, clock=clock, channels={})
    add_user(rt, ORGANISER, "organiser")
    add_user(rt, REVIEWER, "reviewer")
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime=runtime)


def client_of(app: Flask) -> FlaskClient:
    return app.test_client()


def token(client: FlaskClient, path: str = "/dashboard/login") -> str:
    found = TOKEN.search(client.get(path).get_data(as_text=True))
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def sign_in(app: Flask, email: str, password: str = PASSWORD) -> tuple[FlaskClient,
                                                                         TestResponse]:
    client = client_of(app)
    reply = client.post("/dashboard/login", data={
        "email": email, "password": password, "csrf_token": token(client)})
    return client, reply


def signed_in(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    client, reply = sign_in(app, email, password)
    assert reply.status_code == 302, reply.get_data(as_text=True)
    return client


def post(client: FlaskClient, path: str, data: dict[str, str] | None = None,
         page: str = "/dashboard/accounts") -> TestResponse:
    return client.post(path, data={**(data or {}), "csrf_token": token(client, page)})


def act(client: FlaskClient, user_id: int, action: str, **fields: str) -> TestResponse:
    """Press a button on one person's card on the Accounts page."""
    return post(client, f"/dashboard/accounts/{user_id}", {"action": action, **fields})


def user(runtime: Runtime, email: str) -> User:
    with runtime.sessions() as session:
        found = DashboardRepository(session).user_by_email(email)
        assert found is not None
        return found


def can_see(client: FlaskClient, path: str = "/dashboard/") -> bool:
    return client.get(path).status_code == 200


# --- the service, as the command line and the page both use it ---------------------------

def test_the_service_refuses_bad_input_in_plain_words(runtime: Runtime) -> None:
    with runtime.sessions() as session:
        accounts = Accounts(session, runtime.clock())
        refusals = {
            "unknown": lambda: accounts.disable("nobody@example.org"),
            "role": lambda: accounts.set_role(REVIEWER, "admin"),
            "email": lambda: accounts.invite("not an email", "reviewer"),
            "taken": lambda: accounts.invite(REVIEWER.upper(), "reviewer"),
            "short": lambda: accounts.add("new@example.org", "reviewer", "short"),
            "last": lambda: accounts.disable(ORGANISER),
            "demote": lambda: accounts.set_role(ORGANISER, "lead"),
        }
        messages = {}
        for name, refuse in refusals.items():
            with pytest.raises(AccountError) as raised:
                refuse()
            messages[name] = str(raised.value)
    assert messages == {
        "unknown": "there is no account for nobody@example.org (see `withus users list`)",
        "role": "'admin' is not a role: use one of organiser, reviewer, lead",
        "email": "'not an email' does not look like an email address",
        "taken": "there is already an account for rev@example.org",
        "short": "use at least 12 characters (three random words work well)",
        "last": "org@example.org is the last organiser who can sign in; add or enable "
                "another organiser first",
        "demote": "org@example.org is the last organiser who can sign in; add or enable "
                  "another organiser first",
    }
    assert user(runtime, ORGANISER).disabled_at is None


# --- invite links -----------------------------------------------------------------------

def invite(client: FlaskClient, email: str, role: str = "reviewer",
           how: str = "link") -> TestResponse:
    return post(client, "/dashboard/accounts",
                {"action": "invite", "email": email, "role": role, "how": how})


def test_an_invite_link_works_once_and_for_48_hours(app: Flask, runtime: Runtime,
                                                    clock: FakeClock) -> None:
    organiser = signed_in(app, ORGANISER)
    reply = invite(organiser, "New.Person@example.org", "lead")
    assert reply.status_code == 201
    html = reply.get_data(as_text=True)
    found = LINK.search(html)
    assert found, html
    path = found.group(1)
    assert "until 25 November 2026 at 14:00 UTC" in html
    # Until the link is used, no password signs in to the account.
    assert sign_in(app, "new.person@example.org")[1].status_code == 401
    assert "Invited: the link works until 25 Nov 2026 14:00 UTC" in organiser.get(
        "/dashboard/accounts").get_data(as_text=True)

    stranger = client_of(app)
    page = stranger.get(path)
    assert page.status_code == 200 and "new.person@example.org" in page.get_data(as_text=True)
    different = stranger.post(path, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD + "x",
                                          "csrf_token": token(stranger, path)})
    assert different.status_code == 400
    assert "The two passwords are not the same" in different.get_data(as_text=True)
    short = stranger.post(path, data={"new": "short", "confirm": "short",
                                      "csrf_token": token(stranger, path)})
    assert short.status_code == 400 and "at least 12 characters" in short.get_data(as_text=True)
    done = stranger.post(path, data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD,
                                     "csrf_token": token(stranger, path)})
    assert (done.status_code, done.location) == (302, "/dashboard/login")
    lead = signed_in(app, "new.person@example.org", NEW_PASSWORD)
    assert "Signed in as new.person@example.org (lead)" in lead.get(
        "/dashboard/").get_data(as_text=True)

    # Once only: the same link again is a clear 404 page, and cannot set another password.
    again = client_of(app)
    used = again.get(path)
    assert used.status_code == 404 and "This link does not work" in used.get_data(as_text=True)
    assert again.post(path, data={"new": "a fourth set of words", "confirm":
                                  "a fourth set of words"}).status_code in (400, 404)
    assert signed_in(app, "new.person@example.org", NEW_PASSWORD)

    # A second invite: its link has expired after 48 hours.
    found = LINK.search(invite(organiser, "late@example.org").get_data(as_text=True))
    assert found
    clock.advance(hours=48, seconds=1)
    late = client_of(app)
    assert late.get(found.group(1)).status_code == 404
    # A new link for the account replaces it and works (the organiser's session has
    # ended in those 48 hours: they sign in again).
    late_user = user(runtime, "late@example.org")
    organiser = signed_in(app, ORGANISER)
    fresh = act(organiser, late_user.id, "link")
    found = LINK.search(fresh.get_data(as_text=True))
    assert found and late.get(found.group(1)).status_code == 200
    # A forged token is the same 404, never a 500.
    for forged in ("x" * 43, "%00", "a" * 300):
        assert client_of(app).get(f"/dashboard/invite/{forged}").status_code == 404


def test_a_temporary_password_must_be_changed_first(app: Flask, runtime: Runtime) -> None:
    organiser = signed_in(app, ORGANISER)
    found = TEMPORARY.search(invite(organiser, "temp@example.org", how="password")
                             .get_data(as_text=True))
    assert found
    temporary = found.group(1)
    person = signed_in(app, "temp@example.org", temporary)
    # Every page sends them to choose their own password first.
    for path in ("/dashboard/", "/dashboard/audit"):
        reply = person.get(path)
        assert (reply.status_code, reply.location) == (302, "/dashboard/account")
    assert "You signed in with a temporary password" in person.get(
        "/dashboard/account").get_data(as_text=True)
    wrong = post(person, "/dashboard/account", {"action": "password",
        "current": "not the temporary one", "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        page="/dashboard/account")
    assert wrong.status_code == 400
    assert "Your current password is not right." in wrong.get_data(as_text=True)
    changed = post(person, "/dashboard/account", {"action": "password",
        "current": temporary, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        page="/dashboard/account")
    assert changed.status_code == 302
    assert can_see(person)  # this session carries on
    assert sign_in(app, "temp@example.org", temporary)[1].status_code == 401
    assert not user(runtime, "temp@example.org").must_change_password


def test_changing_your_password_ends_your_other_sessions(app: Flask) -> None:
    laptop = signed_in(app, REVIEWER)
    phone = signed_in(app, REVIEWER)
    changed = post(laptop, "/dashboard/account", {"action": "password",
        "current": PASSWORD, "new": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        page="/dashboard/account")
    assert changed.status_code == 302
    assert can_see(laptop)
    assert phone.get("/dashboard/").status_code == 302  # back to sign in
    assert signed_in(app, REVIEWER, NEW_PASSWORD)


def test_disabling_ends_open_sessions_at_once(app: Flask, runtime: Runtime) -> None:
    organiser = signed_in(app, ORGANISER)
    reviewer = signed_in(app, REVIEWER)
    assert can_see(reviewer)
    rev = user(runtime, REVIEWER)
    reply = act(organiser, rev.id, "disable")
    assert reply.status_code == 302
    assert reviewer.get("/dashboard/").status_code == 302
    assert reviewer.get("/dashboard/").location.startswith("/dashboard/login")
    assert sign_in(app, REVIEWER)[1].status_code == 401
    # Enabling lets them sign in again, but the old session stays ended.
    assert act(organiser, rev.id, "enable").status_code == 302
    assert reviewer.get("/dashboard/").status_code == 302
    assert can_see(signed_in(app, REVIEWER))


def test_a_password_reset_ends_their_sessions(app: Flask, runtime: Runtime) -> None:
    organiser = signed_in(app, ORGANISER)
    reviewer = signed_in(app, REVIEWER)
    rev = user(runtime, REVIEWER)
    reply = act(organiser, rev.id, "password")
    found = TEMPORARY.search(reply.get_data(as_text=True))
    assert reply.status_code == 200 and found
    assert reviewer.get("/dashboard/").status_code == 302
    assert sign_in(app, REVIEWER)[1].status_code == 401
    fresh = signed_in(app, REVIEWER, found.group(1))
    assert fresh.get("/dashboard/").location == "/dashboard/account"
    assert can_see(organiser)  # the organiser's own session is untouched


def test_role_changes_and_the_last_organiser(app: Flask, runtime: Runtime) -> None:
    organiser = signed_in(app, ORGANISER)
    reviewer = signed_in(app, REVIEWER)
    rev, org = user(runtime, REVIEWER), user(runtime, ORGANISER)
    assert reviewer.get("/dashboard/accounts").status_code == 403
    assert act(organiser, rev.id, "role", role="organiser").status_code == 302
    # A role change ends their sessions: the new role applies from their next sign-in.
    assert reviewer.get("/dashboard/accounts").location.startswith("/dashboard/login")
    assert signed_in(app, REVIEWER).get("/dashboard/accounts").status_code == 200
    assert can_see(organiser)
    assert act(organiser, rev.id, "role", role="lead").status_code == 302
    refused = act(organiser, org.id, "disable")
    assert refused.status_code == 400
    assert ("Not changed: org@example.org is the last organiser who can sign in"
            in refused.get_data(as_text=True))
    demoted = act(organiser, org.id, "role", role="reviewer")
    assert demoted.status_code == 400
    assert ("Not changed: org@example.org is the last organiser who can sign in"
            in demoted.get_data(as_text=True))
    assert user(runtime, ORGANISER).role == "organiser"
    # A role that does not exist, an account that does not exist, a forged or missing token.
    assert act(organiser, rev.id, "role", role="admin").status_code == 400
    assert post(organiser, "/dashboard/accounts/999999", {"action": "disable"}).status_code == 400
    assert organiser.post(f"/dashboard/accounts/{rev.id}",
                          data={"action": "disable"}).status_code == 400
    assert organiser.post(f"/dashboard/accounts/{rev.id}",
                          data={"action": "disable", "csrf_token": "forged"}).status_code == 400
    assert act(organiser, rev.id, "explode").status_code == 400
    assert post(organiser, f"/dashboard/accounts/{2**40}", {"action": "disable"}).status_code == 404
    assert post(organiser, "/dashboard/accounts", {
        "action": "invite", "email": "x@example.org", "role": "reviewer",
        "how": "carrier pigeon"}
    ).status_code == 400
    big = post(organiser, "/dashboard/accounts", {
        "action": "invite", "email": "a" * 100_000 + "@example.org", "role": "reviewer",
        "how": "link"})
    assert big.status_code == 413
    assert user(runtime, REVIEWER).disabled_at is None


# --- two-factor sign-in ------------------------------------------------------------------

def turn_on_two_factor(client: FlaskClient, clock: FakeClock) -> pyotp.TOTP:
    page = client.get("/dashboard/account/two-factor").get_data(as_text=True)
    found = re.search(r'id="secret"[^>]*>([A-Z2-7 ]+)<', page)
    assert found and 'src="data:image/svg+xml;base64,' in page
    totp = pyotp.TOTP(found.group(1).replace(" ", ""))
    wrong = post(client, "/dashboard/account/two-factor", {"code": "000000"},
                 page="/dashboard/account/two-factor")
    assert wrong.status_code == 400
    reply = post(client, "/dashboard/account/two-factor",
                 {"code": totp.at(clock())}, page="/dashboard/account/two-factor")
    assert reply.status_code == 302
    return totp


def test_two_factor_sign_in(app: Flask, runtime: Runtime, clock: FakeClock) -> None:
    reviewer = signed_in(app, REVIEWER)
    totp = turn_on_two_factor(reviewer, clock)
    stored = user(runtime, REVIEWER)
    assert stored.totp_enabled_at is not None and stored.totp_secret is not None
    assert totp.secret.encode() not in stored.totp_secret  # encrypted with the vault's key
    # Once on, the setup page (and its secret) is not shown again.
    assert reviewer.get("/dashboard/account/two-factor").location == "/dashboard/account"

    clock.advance(minutes=1)
    client, reply = sign_in(app, REVIEWER)
    assert (reply.status_code, reply.location) == (302, "/dashboard/login/code")
    assert client.get("/dashboard/").status_code == 302  # not signed in yet
    wrong = post(client, "/dashboard/login/code", {"code": "123456"},
                 page="/dashboard/login/code")
    assert wrong.status_code == 401 and "That code is not right" in wrong.get_data(as_text=True)
    ok = post(client, "/dashboard/login/code", {"code": totp.at(clock())},
              page="/dashboard/login/code")
    assert (ok.status_code, ok.location) == (302, "/dashboard/")
    assert can_see(client)
    # The same code does not work twice.
    again, _ = sign_in(app, REVIEWER)
    replay = post(again, "/dashboard/login/code", {"code": totp.at(clock())},
                  page="/dashboard/login/code")
    assert replay.status_code == 401
    # Wrong codes are limited like wrong passwords: the sixth attempt is refused outright.
    for _ in range(4):
        assert post(again, "/dashboard/login/code", {"code": "000000"},
                    page="/dashboard/login/code").status_code == 401
    assert post(again, "/dashboard/login/code", {"code": totp.at(clock())},
                page="/dashboard/login/code").status_code == 429
    # A half-signed-in session expires: after 5 minutes it is back to the password.
    clock.advance(minutes=20)
    later, _ = sign_in(app, REVIEWER)
    clock.advance(minutes=6)
    assert later.get("/dashboard/login/code").location == "/dashboard/login"


def test_an_organiser_can_require_two_factor_for_everyone(app: Flask, runtime: Runtime,
                                                          clock: FakeClock) -> None:
    organiser = signed_in(app, ORGANISER)
    reviewer = signed_in(app, REVIEWER)
    reply = post(organiser, "/dashboard/accounts", {"action": "two-factor", "required": "y"})
    assert reply.status_code == 302
    # Both are sent to set it up before anything else, the organiser included.
    for client in (organiser, reviewer):
        assert client.get("/dashboard/").location == "/dashboard/account/two-factor"
    turn_on_two_factor(reviewer, clock)
    assert can_see(reviewer)
    # The organiser sets it up too, then turns the rule off; and an organiser can turn it
    # off for someone who lost their phone.
    turn_on_two_factor(organiser, clock)
    rev = user(runtime, REVIEWER)
    off = post(organiser, "/dashboard/account", {"action": "two-factor-off"},
               page="/dashboard/account")
    assert off.status_code == 400  # required for everyone: not their own choice
    assert act(organiser, rev.id, "two-factor").status_code == 302
    assert user(runtime, REVIEWER).totp_enabled_at is None
    assert reviewer.get("/dashboard/").location == "/dashboard/account/two-factor"
    assert post(organiser, "/dashboard/accounts", {"action": "two-factor"}).status_code == 302
    assert can_see(reviewer)


def test_two_factor_secrets_rotate_with_the_vault_keys(runtime: Runtime) -> None:
    from storage.errors import VaultDecryptionError
    from storage.vault import ContactVault, generate_key

    new_key = generate_key()
    both = ContactVault([new_key, *runtime.settings.vault_keys])
    with runtime.sessions() as session:
        secret = Accounts(session, runtime.clock(), vault=runtime.vault).start_two_factor(
            user(runtime, REVIEWER).id)
        assert DashboardRepository(session).rotate_two_factor(both.rotate) == 1
        session.commit()
    stored = user(runtime, REVIEWER).totp_secret
    assert stored is not None
    assert ContactVault([new_key]).decrypt(stored) == secret  # the new key alone reads it
    with pytest.raises(VaultDecryptionError):
        runtime.vault.decrypt(stored)


def test_an_organiser_cannot_disable_or_reset_themselves_on_the_page(
        app: Flask, runtime: Runtime) -> None:
    add_user(runtime, "second@example.org", "organiser")
    organiser = signed_in(app, ORGANISER)
    org = user(runtime, ORGANISER)
    for action, message in (("disable", "you cannot disable your own account"),
                            ("password", "change your own password on Your account")):
        reply = act(organiser, org.id, action)
        assert reply.status_code == 400
        assert message in reply.get_data(as_text=True)
    assert can_see(organiser)
    assert user(runtime, ORGANISER).disabled_at is None


def test_a_json_body_is_a_400_not_a_500(app: Flask) -> None:
    organiser = signed_in(app, ORGANISER)
    csrf = token(organiser, "/dashboard/account")
    for path in ("/dashboard/account/two-factor", "/dashboard/accounts",
                 "/dashboard/surveys/fft/answers/themes"):
        reply = organiser.post(path, data=b"0", headers={
            "Content-Type": "application/json", "X-CSRFToken": csrf})
        assert reply.status_code == 400, path


# --- session limits and signing out ------------------------------------------------------

def test_a_cookie_copied_before_signing_out_no_longer_works(app: Flask) -> None:
    browser = signed_in(app, REVIEWER)
    other = signed_in(app, REVIEWER)  # another browser of the same person
    copied = browser.get_cookie("session")
    assert copied is not None and can_see(browser)
    out = post(browser, "/dashboard/logout", page="/dashboard/")
    assert out.location.startswith("/dashboard/login")
    replay = client_of(app)
    replay.set_cookie("session", copied.value)
    assert replay.get("/dashboard/").location.startswith("/dashboard/login")
    assert other.get("/dashboard/").location.startswith("/dashboard/login")
    assert can_see(signed_in(app, REVIEWER))


def test_a_session_ends_after_the_absolute_limit_even_when_busy(
        app: Flask, clock: FakeClock) -> None:
    client = signed_in(app, REVIEWER)
    for _ in range(11):  # a click every hour for 11 hours: never idle
        clock.advance(hours=1)
        assert can_see(client)
    clock.advance(minutes=59)
    assert can_see(client)
    clock.advance(minutes=1)  # 12 hours after signing in
    assert client.get("/dashboard/").location.startswith("/dashboard/login")


def test_a_forged_old_sign_in_time_is_refused(app: Flask, clock: FakeClock) -> None:
    """A cookie signed with the app's own key, claiming a sign-in 720 hours ago (the
    attack needs the key; this checks the server, not the cookie's expiry, decides)."""
    client = signed_in(app, REVIEWER)
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    cookie = client.get_cookie("session")
    assert cookie is not None
    data = serializer.loads(cookie.value)
    now = clock().timestamp()
    forged = client_of(app)
    forged.set_cookie("session", serializer.dumps({**data, "signed_in_at": now - 720 * 3600,
                                                    "last_seen": now}))
    assert forged.get("/dashboard/").location.startswith("/dashboard/login")
    kept = client_of(app)
    kept.set_cookie("session", serializer.dumps({**data, "last_seen": now}))
    assert can_see(kept)  # the same cookie with its real sign-in time still works
    stripped = client_of(app)
    stripped.set_cookie("session", serializer.dumps(
        {k: v for k, v in data.items() if k not in ("signed_in_at", "last_seen")}))
    assert stripped.get("/dashboard/").location.startswith("/dashboard/login")


def test_an_idle_session_ends_and_an_active_one_carries_on(
        app: Flask, clock: FakeClock) -> None:
    idle, active = signed_in(app, REVIEWER), signed_in(app, ORGANISER)
    clock.advance(minutes=119)
    assert can_see(active)
    assert can_see(idle)
    clock.advance(minutes=119)
    assert can_see(active)
    clock.advance(minutes=1)  # 120 minutes since idle's last click
    assert idle.get("/dashboard/").location.startswith("/dashboard/login")
    assert can_see(active)


def test_session_limits_follow_the_settings(database_url: str, tmp_path: Path,
                                           clock: FakeClock) -> None:
    rt = make_runtime(database_url, tmp_path, clock=clock, channels={},
                      session_hours=1.0, session_idle_minutes=10.0)
    try:
        add_user(rt, REVIEWER, "reviewer")
        app = create_app(runtime=rt)
        assert app.permanent_session_lifetime.total_seconds() == 3600
        client = signed_in(app, REVIEWER)
        clock.advance(minutes=9)
        assert can_see(client)
        clock.advance(minutes=10)
        assert client.get("/dashboard/").location.startswith("/dashboard/login")
    finally:
        rt.close()


def test_the_cookie_lifetime_is_twelve_hours_by_default(app: Flask) -> None:
    assert app.permanent_session_lifetime.total_seconds() == 12 * 3600
