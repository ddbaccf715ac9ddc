"""`withus safeguarding check|list|acknowledge`: test a phrase, see the queue, act on it."""

from __future__ import annotations

import sys

import click

from bot.cli.common import EXIT_BAD_INPUT
from bot.cli.common import runtime as build_runtime


@click.group()
def safeguarding() -> None:
    """Possible disclosures of harm: test the rules, list and acknowledge flags."""


@safeguarding.command("check")
@click.option("--why", is_flag=True, help="Also print the rule that matched, after a tab.")
def check(why: bool) -> None:
    """Read lines on stdin; print one line each: self_harm, abuse, neglect or -.

    Uses the built-in rules and WITHUS_SAFEGUARDING_RULES, exactly as every incoming
    message is checked. Touches no database: a lead can try a new phrase anywhere.
    """
    from bot.services.safeguarding import detector

    rules = detector(None)
    for line in sys.stdin:
        found = rules.screen(line.rstrip("\n"))
        if found is None:
            click.echo("-")
        elif why:
            click.echo(f"{found.category}\t{'; '.join(found.phrases)}")
        else:
            click.echo(found.category)


@safeguarding.command("list")
@click.option("--all", "show_all", is_flag=True, help="Acknowledged flags too.")
def list_flags(show_all: bool) -> None:
    """One line per flag, newest first: id, time (UTC), category, survey, status.

    The words are not printed: read them on the dashboard.
    """
    from storage.repositories.safeguarding import SafeguardingRepository

    runtime = build_runtime()
    try:
        with runtime.sessions() as session:
            rows = SafeguardingRepository(session, runtime.vault).rows(
                open_only=not show_all, limit=10_000)
    finally:
        runtime.close()
    for row in rows:
        flag = row.flag
        status = "acknowledged" if flag.acknowledged_at else "open"
        if flag.contact_wanted_at:
            status += ", asked to be contacted"
        click.echo("\t".join([str(flag.id), f"{flag.created_at:%Y-%m-%d %H:%M}",
                              ",".join(flag.categories), flag.survey_id or "-", status]))
    if not rows:
        click.echo("no open safeguarding flags" if not show_all else "no safeguarding flags",
                   err=True)


@safeguarding.command("acknowledge")
@click.argument("flag_id", type=int)
@click.option("--note", required=True, help="What was done about it (kept with the flag).")
def acknowledge(flag_id: int, note: str) -> None:
    """Mark flag FLAG_ID as dealt with, with a note. Audit-logged as the command line."""
    from bot.services.safeguarding import acknowledge_flag
    from storage.uow import UnitOfWork

    if not note.strip():
        click.echo("error: say what was done (--note)", err=True)
        sys.exit(EXIT_BAD_INPUT)
    runtime = build_runtime()
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            try:
                acknowledge_flag(uow, flag_id, None, note, runtime.clock(),
                                 settings=runtime.settings)
            except LookupError:
                click.echo(f"error: no safeguarding flag {flag_id}", err=True)
                sys.exit(EXIT_BAD_INPUT)
            uow.commit()
    finally:
        runtime.close()
    click.echo(f"acknowledged flag {flag_id}")


COMMANDS: list[click.Command] = [safeguarding]
