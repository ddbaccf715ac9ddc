"""`withus users` as an organiser runs it: every command and its bad input, exit 2."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.users import users
from bot.dashboard.auth import check_password
from storage.repositories.dashboard import DashboardRepository
from tests.conftest_db import TEST_VAULT_KEY
from tests.helpers import FakeClock, make_runtime

PASSWORD = "three random words"


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str | None]]:
    make_runtime(database_url, tmp_path, clock=FakeClock(), channels={}).close()
    yield {
        "WITHUS_DATABASE_URL": database_url, "WITHUS_INSTANCE_PATH": str(tmp_path / "inst"),
        "WITHUS_VAULT_KEYS": TEST_VAULT_KEY, "WITHUS_SECRET_KEY": "test",
        "WITHUS_PSEUDONYM_KEY": "a-test-pseudonym-key-that-is-long-enough",
        "WITHUS_ENV": None, "TWILIO_ACCOUNT_SID": None, "TELEGRAM_BOT_TOKEN": None,
    }


def run(args: list[str], env: dict[str, str | None], stdin: str = "") -> Result:
    return CliRunner().invoke(users, args, env=env, input=stdin)  # type: ignore[arg-type]


def add(env: dict[str, str | None], email: str, role: str) -> None:
    result = run(["add", email, "--role", role, "--password-stdin"], env, PASSWORD + "\n")
    assert result.exit_code == 0, result.output


def listing(env: dict[str, str | None]) -> list[list[str]]:
    result = run(["list"], env)
    assert result.exit_code == 0, result.output
    return [line.split("\t") for line in result.stdout.splitlines()]


def test_disable_enable_and_set_role(env: dict[str, str | None]) -> None:
    add(env, "Org@Example.org", "organiser")
    add(env, "rev@example.org", "reviewer")
    result = run(["disable", "rev@example.org"], env)
    assert (result.exit_code, result.stdout) == (0, "disabled rev@example.org\n")
    assert listing(env)[1] == ["rev@example.org", "reviewer",
                               "last signed in never (disabled)"]
    assert run(["enable", "REV@example.org"], env).stdout == "enabled rev@example.org\n"
    assert listing(env)[1][2] == "last signed in never"
    for role in ("lead", "organiser", "reviewer"):
        changed = run(["set-role", "rev@example.org", role], env)
        assert changed.stdout == f"changed role of rev@example.org (now {role})\n"
        assert listing(env)[1][1] == role


def test_the_last_organiser_cannot_be_disabled_or_demoted(env: dict[str, str | None]) -> None:
    add(env, "org@example.org", "organiser")
    for args in (["disable", "org@example.org"], ["set-role", "org@example.org", "reviewer"]):
        result = run(args, env)
        assert result.exit_code == 2
        assert result.stderr == ("error: org@example.org is the last organiser who can sign "
                                 "in; add or enable another organiser first\n")
    assert listing(env) == [["org@example.org", "organiser", "last signed in never"]]
    add(env, "two@example.org", "organiser")
    run(["disable", "two@example.org"], env)
    assert run(["disable", "org@example.org"], env).exit_code == 2  # two is disabled
    run(["enable", "two@example.org"], env)
    assert run(["disable", "org@example.org"], env).exit_code == 0
    assert run(["set-role", "two@example.org", "lead"], env).exit_code == 2


def test_unknown_email_and_wrong_role_are_exit_2(env: dict[str, str | None]) -> None:
    add(env, "org@example.org", "organiser")
    for command in (["disable"], ["enable"], ["set-role"], ["reset-password"]):
        args = [*command, "nobody@example.org"] + (["lead"] if command == ["set-role"] else [])
        result = run(args + (["--password-stdin"] if command == ["reset-password"] else []),
                     env, PASSWORD + "\n")
        assert result.exit_code == 2, args
        assert result.stderr == ("error: there is no account for nobody@example.org "
                                 "(see `withus users list`)\n")
    wrong = run(["set-role", "org@example.org", "admin"], env)
    assert wrong.exit_code == 2
    assert "'admin' is not one of 'organiser', 'reviewer', 'lead'" in wrong.output
    again = run(["add", "org@example.org", "--role", "reviewer", "--password-stdin"], env,
                PASSWORD + "\n")
    assert again.exit_code == 2 and "already an account" in again.stderr


def test_reset_password(env: dict[str, str | None], database_url: str, tmp_path: Path) -> None:
    add(env, "org@example.org", "organiser")
    short = run(["reset-password", "org@example.org", "--password-stdin"], env, "short\n")
    assert short.exit_code == 2 and "too short" in short.stderr
    done = run(["reset-password", "org@example.org", "--password-stdin"], env,
               "a brand new passphrase\n")
    assert done.stdout == "reset the password of org@example.org\n"
    rt = make_runtime(database_url, tmp_path / "check", clock=FakeClock(), channels={})
    try:
        with rt.sessions() as session:
            user = DashboardRepository(session).user_by_email("org@example.org")
            assert user is not None
            assert check_password(user.password_hash, "a brand new passphrase")[0]
            assert not check_password(user.password_hash, PASSWORD)[0]
    finally:
        rt.close()


def test_a_disabled_user_is_signed_out_at_their_next_click(
    env: dict[str, str | None], database_url: str, tmp_path: Path
) -> None:
    import re

    from bot.web.app import create_app
    from tests.browser.seed import PASSWORD as SEED_PASSWORD
    from tests.browser.seed import add_user

    rt = make_runtime(database_url, tmp_path / "web", clock=FakeClock(), channels={})
    try:
        add_user(rt, "org@example.org", "organiser")
        add_user(rt, "rev@example.org", "reviewer")
        client = create_app(runtime=rt).test_client()
        login = client.get("/dashboard/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
        signed = client.post("/dashboard/login", data={
            "email": "rev@example.org", "password": SEED_PASSWORD, "csrf_token": token})
        assert signed.status_code == 302
        assert client.get("/dashboard/").status_code == 200
        assert run(["disable", "rev@example.org"], env).exit_code == 0
        after = client.get("/dashboard/")
        assert after.status_code == 302 and "/dashboard/login" in after.headers["Location"]
        login = client.get("/dashboard/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', login).group(1)  # type: ignore[union-attr]
        again = client.post("/dashboard/login", data={
            "email": "rev@example.org", "password": SEED_PASSWORD, "csrf_token": token})
        assert again.status_code == 401
    finally:
        rt.close()


def test_temporary_passwords_and_two_factor_off(env: dict[str, str | None], database_url: str,
                                               tmp_path: Path) -> None:
    add(env, "org@example.org", "organiser")
    made = run(["add", "temp@example.org", "--role", "reviewer", "--temporary-password"], env)
    assert made.exit_code == 0, made.output
    lines = made.stdout.splitlines()
    assert lines[0] == "added reviewer temp@example.org"
    assert lines[2] == "(they choose their own when they first sign in)"
    temporary = lines[1].removeprefix("temporary password: ")
    assert len(temporary) == 19
    reset = run(["reset-password", "org@example.org", "--temporary-password"], env)
    assert reset.exit_code == 0
    assert reset.stdout.startswith("reset the password of org@example.org\n"
                                   "temporary password: ")
    rt = make_runtime(database_url, tmp_path / "check", clock=FakeClock(), channels={})
    try:
        with rt.sessions() as session:
            repo = DashboardRepository(session)
            temp, org = repo.user_by_email("temp@example.org"), repo.user_by_email(
                "org@example.org")
            assert temp is not None and org is not None
            assert check_password(temp.password_hash, temporary)[0]
            assert temp.must_change_password and org.must_change_password
            assert org.session_epoch == 1  # the reset ended the organiser's sessions
            repo.update_user(temp.id, totp_secret=rt.vault.encrypt("JBSWY3DPEHPK3PXP"),
                             totp_enabled_at=rt.clock())
            session.commit()
    finally:
        rt.close()
    assert listing(env)[1] == ["temp@example.org", "reviewer",
                               "last signed in never (two-factor)"]
    off = run(["two-factor-off", "TEMP@example.org"], env)
    assert (off.exit_code, off.stdout) == (0, "turned off two-factor for temp@example.org\n")
    assert listing(env)[1][2] == "last signed in never"
    unknown = run(["two-factor-off", "nobody@example.org"], env)
    assert unknown.exit_code == 2 and "there is no account for" in unknown.stderr
    bad = run(["add", "not-an-email", "--role", "reviewer", "--temporary-password"], env)
    assert (bad.exit_code, bad.stderr) == (
        2, "error: 'not-an-email' does not look like an email address\n")


def test_disabling_yourself_as_the_last_organiser_is_refused(
        env: dict[str, str | None]) -> None:
    add(env, "me@example.org", "organiser")
    add(env, "rev@example.org", "reviewer")
    result = run(["disable", "me@example.org"], env)
    assert result.exit_code == 2
    assert "me@example.org is the last organiser who can sign in" in result.stderr
    assert listing(env)[0] == ["me@example.org", "organiser", "last signed in never"]
