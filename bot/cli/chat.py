"""`withus chat`: take part in a survey in the terminal, through a real channel's path."""

from __future__ import annotations

import sys
import uuid

import click

from bot.cli.common import EXIT_BAD_INPUT, runtime, settings


@click.command()
@click.argument("survey_id")
@click.option("--address", default="console-user", show_default=True,
              help="Who you are, e.g. a test phone number. Kept only in the vault.")
def chat(survey_id: str, address: str) -> None:
    """Take part in a survey in the terminal, through the same path as a real channel.

    Type replies and press Enter; Ctrl-D ends. Works with piped input too.
    """
    from bot.services.runtime import build
    from channels.base import InboundMessage
    from channels.local import ConsoleChannel

    config = settings()
    runtime(config).close()  # migrate first (locally)
    console = ConsoleChannel(sys.stdout, config.default_region)
    running = build(config, channels={"console": console})
    try:
        if running.catalog.get().item(survey_id.lower()) is None:
            click.echo(f"error: survey '{survey_id}' is not loaded. Load it with "
                       "`withus surveys load PATH`, see `withus surveys list`.", err=True)
            sys.exit(EXIT_BAD_INPUT)
        interactive = sys.stdin.isatty()

        def say(kind: str, text: str = "") -> None:
            message = InboundMessage("console", address, uuid.uuid4().hex,
                                     kind,  # type: ignore[arg-type]
                                     text=text, start_param=survey_id.lower())
            handled = running.service.handle(message)
            running.sender.deliver(handled.outbox_ids)

        say("start")
        while True:
            if interactive:
                click.echo("> ", nl=False)
            line = sys.stdin.readline()
            if not line:
                break
            if line.strip():
                say("text", line.rstrip("\n"))
    finally:
        running.close()


COMMANDS: list[click.Command] = [chat]
