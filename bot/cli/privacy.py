"""`withus purge`, `withus participants erase` and `withus redact`: privacy by command."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import click

from bot.cli.common import EXIT_BAD_INPUT, settings
from bot.cli.common import runtime as _runtime
from bot.services.config import ConfigError

#: What a pseudonym looks like: "p" and 24 base32 characters (see storage.pseudonyms).
PSEUDONYM = re.compile(r"^p[a-z2-7]{24}$")


@click.command()
def purge() -> None:
    """Delete what retention says is due: expired addresses and conversation state.

    Each survey's retention_days applies to the people who took part in it (the longest
    applies to someone in several surveys). Pseudonymised answers stay; voice notes and
    photos older than their survey's retention_days are deleted (transcripts stay). Also completes
    DELETE requests whose confirmation could not be sent within an hour, and forgets old
    provider message ids. The scheduler runs this every hour.
    """
    from bot.services.retention import purge as run_purge

    runtime = _runtime()
    try:
        counts = run_purge(runtime, runtime.clock())
    finally:
        runtime.close()
    click.echo(", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in counts.items()))


@click.group()
def participants() -> None:
    """Act on one participant, by pseudonym (never by phone number)."""


@participants.command("erase")
@click.argument("participant_id")
@click.option("--reason", default="", help="Why (e.g. 'asked by phone'); kept in the audit log.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def participants_erase(participant_id: str, reason: str, yes: bool) -> None:
    """Erase everything held about PARTICIPANT_ID: address, answers, consents, state,
    voice notes and photos (their files too).

    Leaves only an erasure record with counts and no identifier. Cannot be undone.
    """
    from bot.services.media_jobs import MediaJob
    from bot.services.privacy import erase_participant
    from storage.uow import UnitOfWork

    participant_id = participant_id.strip().lower()
    if not PSEUDONYM.match(participant_id):
        click.echo("error: a participant id looks like p followed by 24 letters and digits "
                   "(see the dashboard); phone numbers are never accepted here.", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if not yes:
        click.confirm(f"Erase {participant_id} and everything held about them? "
                      "This cannot be undone.", abort=True)
    runtime = _runtime()
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            try:
                erasure = erase_participant(uow, participant_id, runtime.clock(), "organiser",
                                            reason=reason.strip() or None)
            except LookupError:
                click.echo(f"error: no participant {participant_id} (already erased?)",
                           err=True)
                sys.exit(EXIT_BAD_INPUT)
            uow.commit()
        MediaJob(runtime).delete_queued()  # their voice notes and photos, from the store
    finally:
        runtime.close()
    click.echo(f"erased: {erasure.responses} responses, {erasure.answers} answers "
               f"(erasure record {erasure.id})")


@click.command()
@click.option("--places", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of local place names, one per line, used instead of WITHUS_PLACES_FILE.")
def redact(places: Path | None) -> None:
    """Read lines on stdin and print each one redacted, to test the settings.

    Uses the built-in UK gazetteer and first-name list, plus WITHUS_PLACES_FILE
    (or --places) for local places they do not know.
    """
    from surveys.redaction import Redactor

    config = settings()
    if places:
        config = dataclasses.replace(config, places_file=str(places))
    try:
        redactor = Redactor(config.places())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for line in sys.stdin:
        click.echo(redactor.redact(line.rstrip("\n")))


COMMANDS: list[click.Command] = [purge, participants, redact]
