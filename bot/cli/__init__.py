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
              help="Log format on stderr (default: WITHUS_LOG_FORMAT, else text on a "
                   "terminal and JSON otherwise).")
@click.option("-v", "--verbose", is_flag=True,
              help="Log what is happening (info) on stderr, not only warnings and errors "
                   "(or set WITHUS_LOG_LEVEL=debug|info|warning|error).")
def main(log_format: str | None, verbose: bool) -> None:
    """WithUs: hear from carers, care workers and people who draw on care, by text.

    Configuration comes from the environment (see the README). Locally, secrets are
    generated once into ./instance; with WITHUS_ENV=production they must be set.

    Commands print their results on stdout and problems on stderr. Logs go to stderr
    at warning and above unless --verbose; `withus serve`, `scheduler` and `web` log
    at info.
    """
    try:
        level, chosen = logs.choose_level(verbose)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    logs.configure(logs.choose_format(log_format), level, chosen=chosen)


for _module in (db, surveys, chat, serve, privacy, keys, media, telegram, users, outreach,
                consultation, safeguarding):
    for _command in _module.COMMANDS:
        main.add_command(_command)
