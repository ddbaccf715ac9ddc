"""`withus media fetch` and `withus media status`: voice notes and photos sent as answers."""

from __future__ import annotations

import click

from bot.cli.common import runtime as build_runtime


@click.group()
def media() -> None:
    """Voice notes and photos sent as answers (the scheduler fetches them by itself)."""


@media.command("fetch")
def media_fetch() -> None:
    """Fetch and store the voice notes and photos that are due now, once, and delete
    the files erasure and retention queued."""
    from bot.services.media_jobs import MediaJob

    runtime = build_runtime()
    try:
        report = MediaJob(runtime).run_once(limit=100)
    finally:
        runtime.close()
    click.echo(f"stored {report.stored}, will retry {report.retried}, not kept "
               f"{report.failed}, files deleted {report.deleted}")


@media.command("status")
def media_status() -> None:
    """How many voice notes and photos are waiting, stored, not kept (and why), expired."""
    from bot.services.media import PROBLEMS
    from bot.services.media_jobs import store_of
    from storage.repositories.media import MediaRepository
    from storage.uow import UnitOfWork

    runtime = build_runtime()
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            counts = MediaRepository(uow.session).status_counts()
        where = store_of(runtime).describe()
    finally:
        runtime.close()
    click.echo(f"media store: {where}")
    if not counts:
        click.echo("no voice notes or photos yet")
    for (status, problem), n in sorted(counts.items()):
        why = f" ({problem}: {PROBLEMS.get(problem, problem)})" if problem else ""
        click.echo(f"{status:9} {n:6}{why}")


COMMANDS: list[click.Command] = [media]
