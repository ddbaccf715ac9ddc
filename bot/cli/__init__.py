"""The `withus` command. Users and scripts rely on these command names: keep them stable.

One module per command group sits beside this one; each lists its commands in `COMMANDS`,
and `main` adds them. What they share (settings, the runtime, exit codes) is in
`bot.cli.common`.
"""

from __future__ import annotations

import click

from bot.cli import (
    chat,
    consultation,
    db,
    keys,
    media,
    outreach,
    privacy,
    safeguarding,
    serve,
    surveys,
    telegram,
    users,
)
from bot.cli.common import EXIT_BAD_INPUT
from bot.services import logs

__all__ = ["EXIT_BAD_INPUT", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--log-format", type=click.Choice(["json", "text"]), default=None,
              help="Log format on stderr (default: WITHUS_LOG_FORMAT or json).")
def main(log_format: str | None) -> None:
    """WithUs: hear from carers, care workers and people who draw on care, by text.

    Configuration comes from the environment (see the README). Locally, secrets are
    generated once into ./instance; with WITHUS_ENV=production they must be set.
    """
    import os

    logs.configure(log_format or os.environ.get("WITHUS_LOG_FORMAT", "json"))


for _module in (db, surveys, chat, serve, privacy, keys, media, telegram, users, outreach,
                consultation, safeguarding):
    for _command in _module.COMMANDS:
        main.add_command(_command)
