"""`withus db upgrade`: create or migrate the database."""

from __future__ import annotations

import click

from bot.cli.common import settings


@click.group()
def db() -> None:
    """Create and migrate the database."""
@db.command("upgrade")
def db_upgrade() -> None:
    """Create the database or migrate it to the latest schema."""
    from storage.db import current_revision, upgrade

    config = settings()
    config.instance_path.mkdir(parents=True, exist_ok=True)
    upgrade(config.database_url)
    click.echo(f"database at revision {current_revision(config.database_url)}")


COMMANDS: list[click.Command] = [db]
