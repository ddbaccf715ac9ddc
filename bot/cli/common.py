"""What every `withus` command shares: settings, the runtime, exit codes.

Commands import the runtime inside their functions, so `withus --help` stays fast.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click

from bot.services.config import ConfigError, Settings
from bot.services.runtime import Runtime

#: Exit code for input that cannot be used (a bad file, an unknown id): documented.
EXIT_BAD_INPUT = 2


def settings() -> Settings:
    """Settings from the environment; a configuration error is a clear message, exit 1."""
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def runtime(config: Settings | None = None, migrate: bool | None = None) -> Runtime:
    """Build the runtime; locally, bring the database schema up to date first."""
    from bot.services.runtime import build
    from storage.db import upgrade

    config = config or settings()
    if migrate if migrate is not None else not config.production:
        config.instance_path.mkdir(parents=True, exist_ok=True)
        upgrade(config.database_url)
    try:
        return build(config)
    except ConfigError as exc:  # e.g. the media store's settings
        raise click.ClickException(str(exc)) from None


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr for long work, only when stderr is a terminal (never in
    a log file or a pipe). Yields `update(steps, total)`: `steps` more are done, of
    `total` (which may change as the work finds out how much there is)."""
    stream = sys.stderr
    if not stream.isatty():
        yield lambda steps, total: None
        return
    with click.progressbar(length=1, label=label, file=stream) as bar:
        def update(steps: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(steps)

        yield update
