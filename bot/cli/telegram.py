"""`withus telegram`: connect the Telegram bot, by webhook or by polling.

In production Telegram posts every update to `WITHUS_PUBLIC_URL/webhooks/telegram` with
our secret token in a header; `set-webhook` registers that once. Trying WithUs out on a
laptop, or running it for a small group without a public HTTPS address, `poll` fetches
updates instead and feeds each one through exactly the path a webhook takes (parse, the
service, the outbox, the sender), so nothing behaves differently.

Registered in `bot.cli` with `main.add_command(telegram)`.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click

from bot.cli.common import EXIT_BAD_INPUT
from bot.cli.common import runtime as _runtime
from bot.cli.common import settings as _settings

if TYPE_CHECKING:
    from bot.services.config import Settings
    from bot.services.runtime import Runtime
    from channels.telegram import TelegramChannel

log = logging.getLogger(__name__)

#: Where the webhook blueprint receives Telegram updates (bot/web/webhooks.py).
WEBHOOK_PATH = "/webhooks/telegram"
#: Telegram accepts only these characters in a webhook secret token, 1 to 256 of them.
SECRET_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")
#: Seconds to wait after a failed poll before trying again, doubling up to the maximum.
RETRY_FIRST, RETRY_MAX = 2.0, 60.0


@click.group()
def telegram() -> None:
    """Connect the Telegram bot: register its webhook, or poll without one."""


@telegram.command("set-webhook")
def set_webhook() -> None:
    """Register the webhook address and secret with Telegram.

    Telegram will post every update to WITHUS_PUBLIC_URL/webhooks/telegram, sending
    TELEGRAM_WEBHOOK_SECRET back with each, which is how the webhook knows it is genuine.
    """
    settings = _telegram_settings()
    required = {"WITHUS_PUBLIC_URL": settings.public_url,
                "TELEGRAM_WEBHOOK_SECRET": settings.telegram_webhook_secret}
    missing = [name for name, value in required.items() if not value]
    if missing:
        _fail(f"set {' and '.join(missing)} first: Telegram needs an address to post "
              "updates to and a secret to prove they came from Telegram.")
    if not settings.public_url.startswith("https://"):
        _fail("WITHUS_PUBLIC_URL must start with https://: Telegram only posts to HTTPS "
              "webhooks. Without one, use `withus telegram poll`.")
    if not SECRET_TOKEN.fullmatch(settings.telegram_webhook_secret):
        _fail("TELEGRAM_WEBHOOK_SECRET may contain only letters, digits, '_' and '-' "
              "(at most 256): Telegram refuses anything else.")
    url = settings.public_url + WEBHOOK_PATH
    with _channel(settings) as channel:
        _call_telegram(lambda: channel.set_webhook(url, settings.telegram_webhook_secret))
    click.echo(f"Telegram will post updates to {url}")


@telegram.command("delete-webhook")
def delete_webhook() -> None:
    """Remove the webhook (needed before `poll`)."""
    settings = _telegram_settings()
    with _channel(settings) as channel:
        _call_telegram(channel.delete_webhook)
    click.echo("Telegram webhook deleted: updates wait until `withus telegram poll` "
               "fetches them, or a webhook is set again.")


@telegram.command()
@click.option("--once", is_flag=True,
              help="Fetch one batch of updates, handle it, send the replies and exit.")
@click.option("--timeout", default=30, show_default=True, type=click.IntRange(0, 50),
              help="Seconds each request waits for new updates (long polling).")
def poll(once: bool, timeout: int) -> None:
    """Fetch updates instead of receiving them by webhook.

    For local use and small groups without a public HTTPS address. Only one poller may
    run per bot, and not while a webhook is set (see `delete-webhook`). Ctrl-C stops.
    """
    settings = _telegram_settings()
    if not settings.telegram_webhook_secret:
        # The runtime turns Telegram on only with a webhook secret. Polling needs none,
        # so use a random one: it keeps the webhook closed in this process.
        settings = dataclasses.replace(settings,
                                       telegram_webhook_secret=secrets.token_urlsafe(32))
    runtime = _runtime(settings)
    stop = threading.Event()
    try:
        poller = Poller(runtime)
        with _stop_on_signals(stop):
            _poll_until_stopped(poller, stop, once, timeout)
        try:
            poller.confirm()
        except Exception as exc:  # only means fetching the last batch again next time
            log.warning("could not confirm Telegram updates", extra={
                "reason": type(exc).__name__})
    finally:
        runtime.close()


def _poll_until_stopped(poller: Poller, stop: threading.Event, once: bool,
                        timeout: int) -> None:
    delay = RETRY_FIRST
    while not stop.is_set():
        try:
            poller.poll_once(timeout)
        except Exception as exc:
            _conflict_is_fatal(exc)
            if once:
                raise click.ClickException(
                    f"could not fetch or handle Telegram updates ({type(exc).__name__})."
                ) from None
            # A network or database outage: keep the offset (nothing is lost) and retry.
            # By type only: exception texts can quote a message or a chat id.
            log.warning("telegram poll failed; retrying",
                        extra={"reason": type(exc).__name__, "retry_in": delay})
            stop.wait(delay)  # a signal ends the wait at once
            delay = min(delay * 2, RETRY_MAX)
            continue
        delay = RETRY_FIRST
        if once:
            return


class Poller:
    """Fetches a batch of updates and handles each as the webhook would.

    The offset moves past an update only once it has been handled, so a crash or a
    database outage means fetching it again, which the service ignores as a duplicate.
    An update that cannot be parsed is skipped: otherwise it would come back forever.
    """

    def __init__(self, runtime: Runtime) -> None:
        from channels.telegram import TelegramChannel

        channel = runtime.channels.get("telegram")
        if not isinstance(channel, TelegramChannel):
            raise click.ClickException("the Telegram channel is not configured.")
        self.runtime = runtime
        self.channel = channel
        self.offset: int | None = None

    def poll_once(self, timeout: int) -> int:
        """Fetch, handle and reply to one batch; returns how many updates it had."""
        from bot.web.webhooks import MALFORMED, sane

        updates = self.channel.get_updates(self.offset, timeout=timeout)
        for update in updates:
            update_id = update.get("update_id")
            try:
                messages = [sane(m) for m in self.channel.parse_update(update)]
            except MALFORMED as exc:
                log.warning("skipped a Telegram update that could not be read",
                            extra={"reason": type(exc).__name__})
                messages = []
            for message in messages:
                self.runtime.service.handle(message)
                if message.ack:
                    self.channel.acknowledge(message.ack)
            if isinstance(update_id, int) and not isinstance(update_id, bool):
                self.offset = max(self.offset or 0, update_id + 1)
        if updates:
            log.info("telegram updates polled", extra={"updates": len(updates)})
        self.runtime.sender.run_once()
        return len(updates)

    def confirm(self) -> None:
        """Tell Telegram which updates are done, so the next run does not fetch them again.

        Telegram confirms everything below the offset of a request; updates it returns
        are not confirmed by it, so anything newer waits for the next run, not lost.
        """
        if self.offset is not None:
            self.channel.get_updates(self.offset, timeout=0)


# -- helpers -------------------------------------------------------------------------------


def _telegram_settings() -> Settings:
    settings = _settings()
    if not settings.telegram_bot_token:
        _fail("set TELEGRAM_BOT_TOKEN first (BotFather gives it to you when you create "
              "the bot).")
    return settings


@contextmanager
def _channel(settings: Settings) -> Iterator[TelegramChannel]:
    from channels.telegram import TelegramChannel

    channel = TelegramChannel(settings.telegram_bot_token, settings.telegram_webhook_secret,
                              settings.telegram_api_base_url)
    try:
        yield channel
    finally:
        channel.close()


def _call_telegram(call: Callable[[], object]) -> None:
    """Run an administrative Bot API call; a refusal is a clear error, exit status 1."""
    from telegram.error import InvalidToken, TelegramError

    try:
        call()
    except InvalidToken:
        # PTB's message quotes the token itself: never print it.
        raise click.ClickException("Telegram rejected TELEGRAM_BOT_TOKEN.") from None
    except TelegramError as exc:
        raise click.ClickException(f"Telegram refused: {exc.message}") from None
    except TimeoutError:
        raise click.ClickException("Telegram did not answer in time.") from None


def _conflict_is_fatal(exc: Exception) -> None:
    """A webhook is set, or another poller runs: retrying cannot help, so stop."""
    from telegram.error import Conflict, InvalidToken

    if isinstance(exc, Conflict):
        raise click.ClickException(
            "Telegram will not give updates to this poller: a webhook is set (run "
            "`withus telegram delete-webhook`) or another poller is running."
        ) from None
    if isinstance(exc, InvalidToken):
        raise click.ClickException("Telegram rejected TELEGRAM_BOT_TOKEN.") from None


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM or Ctrl-C lets the current batch finish, then stops; a second Ctrl-C
    interrupts at once (a long poll can take `--timeout` seconds). Restored afterwards."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _fail(message: str) -> NoReturn:
    """The configuration is wrong (not the network): say what to set, exit status 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


COMMANDS: list[click.Command] = [telegram]
