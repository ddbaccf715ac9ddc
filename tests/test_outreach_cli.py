"""`withus contacts`, `invite`, `invitations` and `sharebacks` as organisers use them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from bot.cli.outreach import COMMANDS, contacts, invitations, invite, sharebacks
from tests.conftest_db import TEST_VAULT_KEY
from tests.helpers import FakeClock, make_runtime


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> Iterator[dict[str, str | None]]:
    make_runtime(database_url, tmp_path, clock=FakeClock(), channels={}).close()  # surveys
    yield {
        "WITHUS_DATABASE_URL": database_url, "WITHUS_INSTANCE_PATH": str(tmp_path / "inst"),
        "WITHUS_VAULT_KEYS": TEST_VAULT_KEY, "WITHUS_SECRET_KEY": "test",
        "WITHUS_PSEUDONYM_KEY": "a-test-pseudonym-key-that-is-long-enough",
        "WITHUS_ENV": None, "WITHUS_QUIET_HOURS": None, "WITHUS_TIMEZONE": None,
        "TWILIO_ACCOUNT_SID": None, "TELEGRAM_BOT_TOKEN": None, "WITHUS_SANDBOX": None,
        "WITHUS_LOG_LEVEL": None,
    }


def run(command: object, args: list[str], env: dict[str, str | None], stdin: str = "") -> Result:
    return CliRunner().invoke(command, args, env=env, input=stdin)  # type: ignore[arg-type]


def test_the_commands_are_exported_for_registration() -> None:
    assert [c.name for c in COMMANDS] == ["contacts", "invite", "invitations", "sharebacks"]


def test_import_reports_invalid_lines_and_a_summary_without_numbers(
    env: dict[str, str | None], tmp_path: Path
) -> None:
    csv = tmp_path / "carers.csv"
    # Ofcom's drama numbers: mobiles 07700 900xxx and a London landline, never anyone's.
    csv.write_text("Name,Mobile\nAnn,07700 900001\nBea,nope\nCal,07700 900002\n"
                   "Dee,+44 7700 900001\nEve,07700 9000\nFay,020 7946 0003\n")
    result = run(contacts, ["import", str(csv), "--channel", "sms", "--cohort", "leeds"], env)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "note: sms has no provider here, so messages to this cohort go to the sandbox inbox "
        "(a rehearsal) until one is set up.",
        "line 3: not a phone number, skipped",
        "line 6: not a valid GB number (for other countries start with +), skipped",
        "line 7: a landline, which cannot receive text messages; imported, but check it",
    ]
    assert result.stdout == ("cohort leeds: imported 3, duplicates 1, invalid 2, "
                             "landlines 1\n")
    assert "7700" not in result.output and "7946" not in result.output
    again = run(contacts, ["import", str(csv), "--channel", "sms", "--cohort", "leeds"], env)
    assert "imported 0, duplicates 1, invalid 2, already in the cohort 3" in again.stdout
    listing = run(contacts, ["cohorts"], env)
    assert listing.stdout == "leeds\t3 members\t0 opted out\n"


def test_an_import_with_nothing_usable_makes_no_cohort_and_exits_2(
    env: dict[str, str | None], tmp_path: Path
) -> None:
    csv = tmp_path / "bad.csv"
    csv.write_text("phone\nnope\n07700 9000\n")
    result = run(contacts, ["import", str(csv), "--channel", "sms", "--cohort", "empty"], env)
    assert result.exit_code == 2
    assert "line 2: not a phone number, skipped" in result.stderr
    assert ("error: nothing imported: no line of the file holds a valid number, so cohort "
            "empty was not created") in result.stderr
    assert run(contacts, ["cohorts"], env).stdout.startswith("no cohorts yet")


def test_remove_a_member_and_delete_a_cohort(env: dict[str, str | None],
                                             tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("07700 900001\n07700 900002\n")
    run(contacts, ["import", str(csv), "--channel", "sms", "--cohort", "leeds"], env)
    removed = run(contacts, ["remove", "leeds", "--stdin"], env, stdin="+44 7700 900002\n")
    assert removed.exit_code == 0, removed.output
    assert removed.stdout == "removed one person from cohort leeds\n"
    again = run(contacts, ["remove", "leeds", "--stdin"], env, stdin="07700 900002\n")
    assert again.exit_code == 2
    assert "error: that number is not in cohort leeds" in again.stderr
    assert "7700" not in again.output
    unknown = run(contacts, ["remove", "york", "--stdin"], env, stdin="07700 900002\n")
    assert unknown.exit_code == 2 and "there is no cohort called 'york'" in unknown.stderr
    assert run(contacts, ["cohorts"], env).stdout == "leeds\t1 members\t0 opted out\n"
    run(invite, ["fft", "--cohort", "leeds", "--at", "2031-01-06T09:30"], env)
    deleted = run(contacts, ["delete-cohort", "leeds", "--yes"], env)
    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout == ("deleted cohort leeds (1 members); cancelled 1 invitations, "
                              "stopped 0 waiting messages\n")
    assert run(contacts, ["delete-cohort", "leeds", "--yes"], env).exit_code == 2
    assert run(contacts, ["cohorts"], env).stdout.startswith("no cohorts yet")


def test_invite_schedules_and_can_be_followed_and_cancelled(env: dict[str, str | None],
                                                            tmp_path: Path) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("020 7946 0001\n020 7946 0002\n")
    run(contacts, ["import", str(csv), "--channel", "sms", "--cohort", "leeds"], env)
    missing = run(invite, ["fft", "--cohort", "york"], env)
    assert missing.exit_code == 2
    assert "there is no cohort called 'york' (cohorts: leeds)" in missing.stderr
    later = run(invite, ["fft", "--cohort", "leeds", "--at", "2031-01-06T09:30"], env)
    assert later.exit_code == 0, later.output
    invitation_id = later.stdout.split()[1].rstrip(":")  # ids count on across tests on PG
    assert later.stdout.splitlines() == [
        f"invitation {invitation_id}: fft to leeds (2 people), at 6 Jan 2031 09:30 GMT",
        "sms: 2 people; there is no provider for sms here, so their messages go to the "
        "sandbox inbox (Sandbox in the dashboard's menu, /simulator/sandbox), not to "
        "anyone's phone: a rehearsal",
        "note: no scheduler is running, so nothing goes until `withus serve` or "
        "`withus scheduler` is started",
        f"follow it with: withus invitations show {invitation_id}",
    ]
    shown = run(invitations, ["show", invitation_id], env)
    assert "scheduled" in shown.stdout
    assert "queued 0, sent 0, delivered 0, failed 0, opted out 0" in shown.stdout
    assert run(invitations, ["cancel", invitation_id], env).exit_code == 0
    assert run(invitations, ["cancel", invitation_id], env).exit_code == 2
    assert "cancelled" in run(invitations, ["list"], env).stdout
    bad = run(invite, ["fft", "--cohort", "leeds", "--at", "next tuesday"], env)
    assert bad.exit_code == 2 and "use ISO 8601" in bad.output


def test_a_share_back_with_a_small_count_is_shown_with_the_problem_and_not_sent(
    env: dict[str, str | None]
) -> None:
    drafted = run(sharebacks, ["draft", "fft", "--text", "2 of you mentioned nights."], env)
    assert drafted.exit_code == 0, drafted.output
    assert "to 0 people who asked to hear back (0 finished the survey)" in drafted.stdout
    assert "2 of you mentioned nights.\n\nReply STOP if you'd rather not hear from us." in (
        drafted.stdout
    )
    assert 'problem: "2" looks like a count of fewer than 10 people' in drafted.stderr
    shareback_id = drafted.stdout.split()[1]
    sent = run(sharebacks, ["send", shareback_id, "--yes"], env)
    assert sent.exit_code == 2
    assert "could identify people" in sent.stderr


def test_without_a_provider_or_the_sandbox_an_invitation_is_refused_with_the_reason(
    env: dict[str, str | None], tmp_path: Path
) -> None:
    """As in production: real contacts are never quietly sent to a sandbox."""
    off = {**env, "WITHUS_SANDBOX": "off"}
    csv = tmp_path / "c.csv"
    csv.write_text("020 7946 0001\n020 7946 0002\n")
    imported = run(contacts, ["import", str(csv), "--channel", "sms", "--cohort", "leeds"], off)
    assert imported.exit_code == 0, imported.output
    assert imported.stderr.splitlines()[0] == (
        "warning: sms is not set up here (see the README's configuration); invitations to "
        "this cohort are refused until it is, or until WITHUS_SANDBOX=on lets you rehearse.")
    refused = run(invite, ["fft", "--cohort", "leeds"], off)
    assert refused.exit_code == 2
    assert refused.stderr == (
        "error: sms has no provider configured here, so the invitation could not reach 2 "
        "people in 'leeds'. Set up the provider (see the README's configuration), or set "
        "WITHUS_SANDBOX=on to rehearse in the sandbox, where nothing reaches a real phone\n")
    assert "no invitations yet" in run(invitations, ["list"], off).stdout


def test_an_invitation_returns_at_once_saying_when_and_where_it_goes(
    env: dict[str, str | None], tmp_path: Path
) -> None:
    csv = tmp_path / "c.csv"
    csv.write_text("020 7946 0001\n")
    run(contacts, ["import", str(csv), "--channel", "sms", "--cohort", "leeds"], env)
    now = run(invite, ["fft", "--cohort", "leeds"], env)  # no scheduler: must not wait
    assert now.exit_code == 0, now.output
    assert "sms: 1 person; there is no provider for sms here" in now.stdout
    assert "nothing has moved" not in now.output
    assert now.stdout.splitlines()[-1].startswith("follow it with: withus invitations show")
