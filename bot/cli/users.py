"""`withus users add | list | disable | enable | set-role | reset-password |
two-factor-off` and `withus export`: dashboard accounts and exports from the terminal.

Every change goes through `bot.services.accounts`, as the dashboard's Accounts page does,
so both refuse the same things (unknown account, unknown role, leaving no organiser).
Passwords are never taken as an
argument, where they would land in shell history and `ps`: they are prompted for, or read
from standard input with `--password-stdin` for scripts.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click

from bot.cli.common import EXIT_BAD_INPUT, progress_bar
from bot.cli.common import runtime as _runtime
from bot.services.accounts import (
    AccountError,
    Accounts,
    PasswordTooShort,
    hash_password,
    normal_email,
)


@click.group()
def users() -> None:
    """Dashboard accounts: organisers, reviewers and safeguarding leads.

    The dashboard's Accounts page makes the same changes (and can invite by a one-time
    link). No change may leave no organiser who can sign in.
    """


ROLE_HELP = ("organiser: everything, including exports and accounts. reviewer: a "
             "coproduction group member who sees suppressed results, tags themes and "
             "writes notes. lead: a safeguarding lead: what a reviewer sees, and the "
             "safeguarding queue.")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _read_password(password_stdin: bool, prompt: str) -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))


def _apply(change: Callable[[Accounts], str]) -> None:
    """Run one change through the accounts service (the dashboard's Accounts page uses the
    same one), commit it, and print what it did; a refused change is exit 2."""
    runtime = _runtime()
    try:
        with runtime.sessions() as session:
            try:
                done = change(Accounts(session, runtime.clock(), via="command line",
                                       vault=runtime.vault))
            except AccountError as exc:
                _fail(str(exc))
                return
            session.commit()
    finally:
        runtime.close()
    click.echo(done)


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["organiser", "reviewer", "lead"]), required=True,
              help=ROLE_HELP)
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
@click.option("--temporary-password", is_flag=True,
              help="Make up a temporary password and print it, to give to the person; "
                   "they must choose their own when they first sign in.")
def users_add(email: str, role: str, password_stdin: bool, temporary_password: bool) -> None:
    """Create a dashboard account. Prompts for the password unless --password-stdin or
    --temporary-password. (The dashboard's Accounts page can also invite someone with a
    one-time link.)"""
    try:
        normal_email(email)
    except AccountError as exc:
        _fail(str(exc))
    if temporary_password:
        def add_temporary(accounts: Accounts) -> str:
            user, password = accounts.add_with_temporary_password(email, role)
            return (f"added {role} {user.email}\ntemporary password: {password}\n"
                    "(they choose their own when they first sign in)")
        _apply(add_temporary)
        return
    password = _read_password(password_stdin, "Password")
    try:
        hash_password(password)
    except PasswordTooShort as exc:
        _fail(f"that password is too short: {exc}")

    def add(accounts: Accounts) -> str:
        user = accounts.add(email, role, password)
        return f"added {role} {user.email}"
    _apply(add)


@users.command("list")
def users_list() -> None:
    """One line per account: email, role, last sign-in, and whether it is disabled or
    has two-factor sign-in on."""
    from storage.repositories.dashboard import DashboardRepository

    runtime = _runtime()
    try:
        with runtime.sessions() as session:
            accounts = DashboardRepository(session).users()
    finally:
        runtime.close()
    for user in accounts:
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        state = " (disabled)" if user.disabled_at else ""
        state += " (two-factor)" if user.totp_enabled_at else ""
        click.echo(f"{user.email}\t{user.role}\tlast signed in {last}{state}")


@users.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Stop an account signing in; its open dashboard sessions end at once."""
    _apply(lambda accounts: f"disabled {accounts.disable(email).email}")


@users.command("enable")
@click.argument("email")
def users_enable(email: str) -> None:
    """Let a disabled account sign in again."""
    _apply(lambda accounts: f"enabled {accounts.enable(email).email}")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(["organiser", "reviewer", "lead"]))
def users_set_role(email: str, role: str) -> None:
    """Change an account's role: organiser, reviewer or lead (safeguarding)."""
    _apply(lambda accounts:
           f"changed role of {accounts.set_role(email, role).email} (now {role})")


@users.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the new password from the first line of standard input.")
@click.option("--temporary-password", is_flag=True,
              help="Make up a temporary password and print it; they must choose their "
                   "own when they next sign in.")
def users_reset_password(email: str, password_stdin: bool, temporary_password: bool) -> None:
    """Set a new password for an account and end its open sessions. Prompts for it unless
    --password-stdin or --temporary-password."""
    password: str | None = None
    if not temporary_password:
        password = _read_password(password_stdin, "New password")
        try:
            hash_password(password)
        except PasswordTooShort as exc:
            _fail(f"that password is too short: {exc}")

    def reset(accounts: Accounts) -> str:
        user, new = accounts.reset_password(email, password)
        if password is None:
            return (f"reset the password of {user.email}\ntemporary password: {new}\n"
                    "(they choose their own when they next sign in)")
        return f"reset the password of {user.email}"
    _apply(reset)


@users.command("two-factor-off")
@click.argument("email")
def users_two_factor_off(email: str) -> None:
    """Turn off two-factor sign-in for an account (a lost phone); they set it up again
    at their next sign-in if everyone must use it."""
    _apply(lambda accounts:
           f"turned off two-factor for {accounts.remove_two_factor(accounts.find(email).id).email}")


@click.command()
@click.argument("survey_id")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "jsonl"]), default="csv",
              show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The file to write. The data dictionary is written beside it.")
@click.option("--random-ids", is_flag=True,
              help="Identify each response by a random id made for this export only, "
                   "instead of the participant's pseudonym.")
@click.option("--reason", default="", help="Why the export is needed (kept in the audit log).")
@click.option("--force", is_flag=True,
              help="Replace the file (and its data dictionary) if it already exists.")
@click.option("--include-test", is_flag=True,
              help="Include test responses (rehearsals in the sandbox), marked in a "
                   "column of their own. Left out by default.")
def export(survey_id: str, fmt: str, output: Path, random_ids: bool, reason: str,
           force: bool, include_test: bool) -> None:
    """Export a survey's responses: one row per response, a data dictionary beside it.

    CSV is UTF-8 with a byte-order mark, so Excel opens it right. Each export is
    recorded in the audit log. Exports never contain phone numbers or chat ids. An
    existing file is never replaced without --force (exit 2). Test responses from
    the sandbox are left out unless --include-test.
    """
    from storage.exports import ExportPlan, count_rows, dictionary_csv, load_versions
    from storage.exports import export as run_export
    from storage.repositories.dashboard import DashboardRepository

    dictionary = output.with_name(f"{output.stem}.dictionary.csv")
    existing = [path for path in (output, dictionary) if path.exists()]
    if existing and not force:
        click.echo(f"error: {existing[0]} already exists; choose another --output, or add "
                   "--force to replace it", err=True)
        sys.exit(EXIT_BAD_INPUT)
    runtime = _runtime()
    try:
        with runtime.sessions() as session:
            versions = load_versions(session, survey_id)
            if not versions:
                click.echo(f"error: survey '{survey_id}' is not loaded "
                           "(see `withus surveys list`)", err=True)
                sys.exit(EXIT_BAD_INPUT)
            total = count_rows(session, survey_id, include_test=include_test)
            left_out = 0 if include_test else count_rows(
                session, survey_id, include_test=True) - total
            DashboardRepository(session).audit(
                None, "export", survey_id, runtime.clock(), reason=reason or None,
                detail={"format": fmt, "ids": "random" if random_ids else "pseudonym",
                        "via": "command line", **({"test": True} if include_test else {})})
            session.commit()
        plan = ExportPlan(versions, random_ids=random_ids, include_test=include_test)
        output.parent.mkdir(parents=True, exist_ok=True)
        dictionary.write_bytes(dictionary_csv(plan))
        with progress_bar(f"exporting {survey_id}") as update:
            def advance(rows: int) -> None:
                update(rows, total)

            if fmt == "xlsx":
                written = run_export(runtime.sessions, plan, "xlsx", sys.stdout.buffer,
                                     xlsx_path=output, progress=advance)
            else:
                with output.open("wb") as out:
                    written = run_export(runtime.sessions, plan, fmt,  # type: ignore[arg-type]
                                         out, progress=advance)
    finally:
        runtime.close()
    noun = "response" if written == 1 else "responses"
    click.echo(f"wrote {written:,} {noun} to {output} and the data dictionary to {dictionary}")
    if left_out:
        tests = "test response" if left_out == 1 else "test responses"
        click.echo(f"left out {left_out:,} {tests} from the sandbox "
                   "(add --include-test to include them)")


COMMANDS: list[click.Command] = [users, export]
