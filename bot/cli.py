"""The `withus` command. Users and scripts rely on these command names: keep them stable."""

from __future__ import annotations

import dataclasses
import hashlib
import signal
import sys
import uuid
from pathlib import Path
from types import FrameType

import click

from bot import logs
from bot.config import ConfigError, Settings

EXIT_BAD_INPUT = 2


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _runtime(settings: Settings | None = None, migrate: bool | None = None):  # type: ignore[no-untyped-def]
    """Build the runtime; locally, bring the database schema up to date first."""
    from bot.runtime import build
    from storage.db import upgrade

    settings = settings or _settings()
    if migrate if migrate is not None else not settings.production:
        settings.instance_path.mkdir(parents=True, exist_ok=True)
        upgrade(settings.database_url)
    return build(settings)


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


# --- database ---------------------------------------------------------------------------


@main.group()
def db() -> None:
    """Create and migrate the database."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Create the database or migrate it to the latest schema."""
    from storage.db import current_revision, upgrade

    settings = _settings()
    settings.instance_path.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    click.echo(f"database at revision {current_revision(settings.database_url)}")


# --- surveys ----------------------------------------------------------------------------


@main.group()
def surveys() -> None:
    """Load, list and check survey files."""


@surveys.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def surveys_load(path: Path) -> None:
    """Validate and store one survey file, or every .yaml file in a folder.

    Every file is checked before any is stored: a bad file loads nothing.
    """
    from bot.consultation import store_seeds
    from storage.repositories import SurveyVersionConflict
    from storage.uow import UnitOfWork
    from surveys.consultation import Consultation
    from surveys.loader import SurveyError, load_file, load_folder

    try:
        loaded = load_folder(path) if path.is_dir() else [load_file(path)]
    except SurveyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if not loaded:
        click.echo(f"error: no .yaml survey files in {path}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    runtime = _runtime()
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            results = []
            for survey in loaded:
                source = Path(survey.source_path).read_text(encoding="utf-8")
                sha = hashlib.sha256(source.encode()).hexdigest()
                new = uow.surveys.store(survey.id, survey.version, survey.title.get(), source,
                                        sha, runtime.clock())
                if isinstance(survey, Consultation):  # its seed statements, approved
                    store_seeds(uow.session, survey, runtime.clock())
                results.append((survey, new))
            uow.commit()
    except SurveyVersionConflict as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        runtime.close()
    for survey, new in results:
        state = "loaded" if new else "unchanged"
        click.echo(f"{state}: {survey.id} v{survey.version} ({survey.title.get()})")


@surveys.command("list")
def surveys_list() -> None:
    """One line per survey: id, title, version, completed responses."""
    from storage.uow import UnitOfWork

    runtime = _runtime()
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            rows = sorted((d.survey_id, d.title, d.version) for d in uow.surveys.latest_all())
            completed = uow.responses.counts_by_survey()
    finally:
        runtime.close()
    if not rows:
        click.echo("no surveys loaded (try: withus surveys load surveys/library)")
        return
    for survey_id, title, version in rows:
        click.echo(f"{survey_id}\t{title}\tv{version}\t{completed.get(survey_id, 0)} completed")


# --- talking to it ----------------------------------------------------------------------


@main.command()
@click.argument("survey_id")
@click.option("--address", default="console-user", show_default=True,
              help="Who you are, e.g. a test phone number. Kept only in the vault.")
def chat(survey_id: str, address: str) -> None:
    """Take part in a survey in the terminal, through the same path as a real channel.

    Type replies and press Enter; Ctrl-D ends. Works with piped input too.
    """
    from bot.runtime import build
    from channels.base import InboundMessage
    from channels.local import ConsoleChannel

    settings = _settings()
    _runtime(settings).close()  # migrate first (locally)
    console = ConsoleChannel(sys.stdout, settings.default_region)
    runtime = build(settings, channels={"console": console})
    try:
        if runtime.catalog.get().item(survey_id.lower()) is None:
            click.echo(f"error: survey '{survey_id}' is not loaded. Load it with "
                       "`withus surveys load PATH`, see `withus surveys list`.", err=True)
            sys.exit(EXIT_BAD_INPUT)
        interactive = sys.stdin.isatty()

        def say(kind: str, text: str = "") -> None:
            message = InboundMessage("console", address, uuid.uuid4().hex,
                                     kind,  # type: ignore[arg-type]
                                     text=text, start_param=survey_id.lower())
            handled = runtime.service.handle(message)
            runtime.sender.deliver(handled.outbox_ids)

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
        runtime.close()


# --- running it -------------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run everything in one process for local use: web app, simulator, scheduler."""
    from werkzeug.serving import run_simple

    from bot.app import create_app
    from bot.privacy import safeguarding_warnings
    from bot.scheduler import Scheduler

    runtime = _runtime()
    for warning in safeguarding_warnings(runtime.settings):
        click.echo(f"warning: {warning}", err=True)
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


@main.command()
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--bind", default="127.0.0.1:8000", show_default=True)
@click.option("--timeout", default=30, show_default=True, type=int)
def web(workers: int, bind: str, timeout: int) -> None:
    """Run production web workers under gunicorn (no scheduler, no sender)."""
    from bot.gunicorn import run

    run(workers=workers, bind=bind, timeout=timeout)


@main.command()
def scheduler() -> None:
    """Run the one scheduler: the outbox sender and periodic jobs."""
    from bot.scheduler import Scheduler

    runtime = _runtime()
    worker = Scheduler(runtime)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.start()
    worker.wait()
    runtime.close()


@main.command()
@click.option("--places", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A file of local place names, one per line (care homes, wards...).")
def redact(places: Path | None) -> None:
    """Read lines on stdin and print each one redacted, to test the settings.

    Uses WITHUS_PLACES_FILE unless --places is given.
    """
    from surveys.redaction import Redactor

    settings = _settings()
    if places:
        settings = dataclasses.replace(settings, places_file=str(places))
    try:
        redactor = Redactor(settings.places())
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    for line in sys.stdin:
        click.echo(redactor.redact(line.rstrip("\n")))


# --- keys --------------------------------------------------------------------------------


@main.group()
def keys() -> None:
    """Manage the contact vault's encryption keys."""


@keys.command("generate")
def keys_generate() -> None:
    """Print a new Fernet key (put it first in WITHUS_VAULT_KEYS)."""
    from storage.vault import generate_key

    click.echo(generate_key())


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every vault entry under the newest key; older keys can then be dropped."""
    from storage.errors import VaultDecryptionError
    from storage.uow import UnitOfWork

    runtime = _runtime()
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            count = uow.vault.rotate_all()
            uow.commit()
    except VaultDecryptionError:
        raise click.ClickException(
            "vault entries could not be rotated: they cannot be decrypted with "
            "WITHUS_VAULT_KEYS. Keep the old key "
            "in the list (after the new one) until `withus keys rotate` has finished."
        ) from None
    finally:
        runtime.close()
    click.echo(f"re-encrypted {count} vault entries under the newest key")


def _register() -> None:
    """Command groups that live in their own modules."""
    from bot.cli_consultation import COMMANDS as CONSULTATION
    from bot.cli_dashboard import COMMANDS as DASHBOARD
    from bot.cli_outreach import COMMANDS as OUTREACH
    from bot.cli_privacy import COMMANDS as PRIVACY
    from bot.cli_surveys import SURVEY_COMMANDS
    from bot.telegram_cli import telegram

    main.add_command(telegram)
    for command in [*PRIVACY, *OUTREACH, *CONSULTATION, *DASHBOARD]:
        main.add_command(command)
    for command in SURVEY_COMMANDS:
        surveys.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    main()
