"""`withus users add | list | disable | enable | set-role | reset-password` and
`withus export`: dashboard accounts and exports from the terminal.

Passwords are never taken as an
argument, where they would land in shell history and `ps`: they are prompted for, or read
from standard input with `--password-stdin` for scripts.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click

from bot.cli.common import EXIT_BAD_INPUT, progress_bar
from bot.cli.common import runtime as _runtime

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")




@click.group()
def users() -> None:
    """Dashboard accounts for organisers and reviewers."""


@users.command("add")
@click.argument("email")
@click.option("--role", type=click.Choice(["organiser", "reviewer", "lead"]), required=True,
              help="organiser: everything, including exports. reviewer: a coproduction "
                   "group member who sees suppressed results, tags themes and writes notes. "
                   "lead: a safeguarding lead: what a reviewer sees, and the safeguarding "
                   "queue.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input.")
def users_add(email: str, role: str, password_stdin: bool) -> None:
    """Create a dashboard account. Prompts for the password unless --password-stdin."""
    from bot.dashboard.auth import PasswordTooShort, hash_password
    from storage.repositories.dashboard import DashboardRepository

    if not EMAIL.match(email):
        click.echo(f"error: '{email}' does not look like an email address", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        password_hash = hash_password(password)
    except PasswordTooShort as exc:
        click.echo(f"error: that password is too short: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    runtime = _runtime()
    try:
        with runtime.sessions() as session:
            repo = DashboardRepository(session)
            if repo.user_by_email(email) is not None:
                click.echo(f"error: there is already an account for {email.lower()}", err=True)
                sys.exit(EXIT_BAD_INPUT)
            repo.add_user(email, password_hash, role, runtime.clock())
            session.commit()
    finally:
        runtime.close()
    click.echo(f"added {role} {email.strip().lower()}")


@users.command("list")
def users_list() -> None:
    """One line per account: email, role, last sign-in."""
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
        click.echo(f"{user.email}\t{user.role}\tlast signed in {last}{state}")


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _change(email: str, what: str, *, role: str | None = None, disable: bool | None = None,
            password_hash: str | None = None) -> None:
    """Apply one change to an account, never leaving no organiser who can sign in."""
    from storage.repositories.dashboard import DashboardRepository

    runtime = _runtime()
    try:
        with runtime.sessions() as session:
            repo = DashboardRepository(session)
            user = repo.user_by_email(email)
            if user is None:
                _fail(f"there is no account for {email.strip().lower()} "
                      "(see `withus users list`)")
                return
            loses_organiser = user.role == "organiser" and user.disabled_at is None and (
                disable is True or (role is not None and role != "organiser"))
            if loses_organiser and repo.active_organisers() <= 1:
                _fail(f"{user.email} is the last organiser who can sign in; add or enable "
                      "another organiser first")
            values: dict[str, object] = {}
            if role is not None:
                values["role"] = role
            if disable is not None:
                values["disabled_at"] = runtime.clock() if disable else None
            if password_hash is not None:
                values["password_hash"] = password_hash
            repo.update_user(user.id, **values)
            repo.audit(None, what, user.email, runtime.clock(),
                       detail={"via": "command line", **({"role": role} if role else {})})
            session.commit()
            email = user.email
    finally:
        runtime.close()
    click.echo(f"{what} {email}" + (f" (now {role})" if role else ""))


@users.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Stop an account signing in; its open dashboard sessions end at their next click."""
    _change(email, "disabled", disable=True)


@users.command("enable")
@click.argument("email")
def users_enable(email: str) -> None:
    """Let a disabled account sign in again."""
    _change(email, "enabled", disable=False)


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=click.Choice(["organiser", "reviewer", "lead"]))
def users_set_role(email: str, role: str) -> None:
    """Change an account's role: organiser, reviewer or lead (safeguarding)."""
    _change(email, "changed role of", role=role)


@users.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the new password from the first line of standard input.")
def users_reset_password(email: str, password_stdin: bool) -> None:
    """Set a new password for an account. Prompts for it unless --password-stdin."""
    from bot.dashboard.auth import PasswordTooShort, hash_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    try:
        password_hash = hash_password(password)
    except PasswordTooShort as exc:
        _fail(f"that password is too short: {exc}")
        return
    _change(email, "reset the password of", password_hash=password_hash)


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
    click.echo(f"wrote {written} responses to {output} and the data dictionary to {dictionary}")
    if left_out:
        click.echo(f"left out {left_out} test responses from the sandbox "
                   "(add --include-test to include them)")


COMMANDS: list[click.Command] = [users, export]
