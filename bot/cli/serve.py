"""`withus serve`, `withus web` and `withus scheduler`: running WithUs."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

import click

from bot.cli.common import runtime as build_runtime
from bot.cli.common import settings
from bot.services import logs
from bot.services.config import Settings


def _warn(config: Settings, surveys: list[Any] | None = None) -> None:
    """What safeguarding still needs (a local contact, someone to alert), on stderr."""
    from bot.services.safeguarding import safeguarding_warnings

    for warning in safeguarding_warnings(config, surveys or ()):
        click.echo(f"warning: {warning}", err=True)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run everything in one process for local use: web app, simulator, scheduler."""
    from werkzeug.serving import run_simple

    from bot.services.scheduler import Scheduler
    from bot.web.app import create_app

    logs.server_defaults()
    runtime = build_runtime()
    _warn(runtime.settings, list(runtime.catalog.get().surveys.values()))
    app = create_app(runtime=runtime)
    scheduler = Scheduler(runtime)
    scheduler.start()
    click.echo(f"WithUs is running on http://{host}:{port}/ (simulator) "
               f"and http://{host}:{port}/healthz", err=True)
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        scheduler.stop()
        runtime.close()


@click.command()
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--timeout", default=30, show_default=True, type=int)
def web(workers: int, bind: str, timeout: int) -> None:
    """Run production web workers under gunicorn (no scheduler, no sender)."""
    from bot.web.gunicorn import run

    logs.server_defaults()
    config = settings()
    _warn(config)
    run(workers=workers, bind=bind, timeout=timeout, trusted_proxies=config.trusted_proxies)


@click.command()
def scheduler() -> None:
    """Run the one scheduler: the outbox sender and periodic jobs."""
    from bot.services.scheduler import Scheduler

    logs.server_defaults()
    runtime = build_runtime()
    _warn(runtime.settings, list(runtime.catalog.get().surveys.values()))
    worker = Scheduler(runtime)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.start()
    worker.wait()
    runtime.close()


COMMANDS: list[click.Command] = [serve, web, scheduler]
