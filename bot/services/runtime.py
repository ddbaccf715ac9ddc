"""Build the application's objects from settings, once per process.

Web workers, the scheduler, `withus chat` and the tests all assemble the same pieces here,
so they share one service path.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.services import logs
from bot.services.catalog import CatalogCache
from bot.services.clock import utcnow
from bot.services.config import Settings
from bot.services.inbound import WithUsService
from bot.services.media import MediaSettings, build_store
from bot.services.sender import Pacer, Sender
from channels.base import Channel
from channels.local import SandboxChannel, WebChannel
from storage.db import make_engine, session_factory
from storage.media import MediaStore
from storage.pseudonyms import Pseudonymiser
from storage.vault import ContactVault
from surveys.organisation import Organisation
from surveys.redaction import Redactor


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    vault: ContactVault
    pseudonymiser: Pseudonymiser
    catalog: CatalogCache
    channels: dict[str, Channel]
    service: WithUsService
    sender: Sender
    clock: Callable[[], datetime] = field(default=utcnow)
    #: Set when new replies are queued, so an in-process sender loop delivers at once.
    outbox_signal: threading.Event = field(default_factory=threading.Event)
    #: Where voice notes and photos are kept, encrypted (bot/services/media.py).
    media_store: MediaStore | None = None

    def wake_sender(self) -> None:
        self.outbox_signal.set()

    def close(self) -> None:
        for channel in self.channels.values():
            closer = getattr(channel, "close", None)
            if callable(closer):
                closer()
        self.engine.dispose()


def provider_channels(settings: Settings) -> dict[str, Channel]:
    """The provider channels that have credentials; a channel without them is off."""
    channels: dict[str, Channel] = {}
    if settings.telegram_enabled:
        from channels.telegram import TelegramChannel

        channels["telegram"] = TelegramChannel(
            settings.telegram_bot_token, settings.telegram_webhook_secret,
            settings.telegram_api_base_url,
        )
    if settings.sms_enabled or settings.whatsapp_enabled:
        from channels.twilio import TwilioChannel

        twilio_channels: tuple[tuple[Literal["sms", "whatsapp"], str, bool], ...] = (
            ("sms", settings.twilio_sms_from, settings.sms_enabled),
            ("whatsapp", settings.twilio_whatsapp_from, settings.whatsapp_enabled),
        )
        for name, sender_number, enabled in twilio_channels:
            if enabled:
                channels[name] = TwilioChannel(
                    name,
                    settings.twilio_account_sid,
                    settings.twilio_auth_token,
                    settings.public_url,
                    from_number=sender_number,
                    messaging_service_sid=(
                        settings.twilio_messaging_service_sid if name == "sms" else ""
                    ),
                    api_base_url=settings.twilio_api_base_url,
                    template_content_sid=settings.twilio_whatsapp_template_sid,
                    default_region=settings.default_region,
                )
    return channels


SANDBOXABLE = ("sms", "whatsapp", "telegram")


def sandboxed(channels: dict[str, Channel]) -> list[str]:
    """The channels that deliver to the sandbox inbox, not to a provider."""
    return sorted(name for name, channel in channels.items()
                  if getattr(channel, "sandbox", False))


def build(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = utcnow,
    channels: dict[str, Channel] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    places: list[str] | None = None,
) -> Runtime:
    logs.use_key(settings.secret_key)  # the same day tags in every process
    engine = make_engine(settings.database_url)
    sessions = session_factory(engine)
    vault = ContactVault(settings.vault_keys)
    pseudonymiser = Pseudonymiser(settings.pseudonym_key)
    catalog = CatalogCache(sessions, settings.default_survey, clock,
                           Organisation(settings.org_name, settings.contact))
    all_channels: dict[str, Channel] = {
        # In production the simulator is a rehearsal by a signed-in organiser: test data.
        "web": WebChannel(test_data=settings.production)}
    all_channels.update(provider_channels(settings) if channels is None else channels)
    if settings.sandbox:  # rehearse without a provider: see bot/services/sandbox.py
        for name in SANDBOXABLE:
            all_channels.setdefault(name, SandboxChannel(name, settings.default_region))
    service = WithUsService(sessions, vault, pseudonymiser, catalog, all_channels, clock,
                            Redactor(settings.places() if places is None else places),
                            settings)
    twilio = Pacer(settings.rate_twilio, monotonic, sleep)  # one account limit for both
    pacers = {
        "telegram": Pacer(settings.rate_telegram, monotonic, sleep),
        # Telegram: "avoid more than one message per second in a chat", short bursts
        # allowed. A reply is at most three messages (thanks, a note, the next question).
        "telegram-chat": Pacer(1.0, monotonic, sleep, burst=3),
        "sms": twilio,
        "whatsapp": twilio,
    }
    sender = Sender(sessions, vault, all_channels, clock, pacers,
                    max_attempts=settings.max_send_attempts,
                    concurrency=settings.send_concurrency)
    return Runtime(settings, engine, sessions, vault, pseudonymiser, catalog, all_channels,
                   service, sender, clock,
                   media_store=build_store(MediaSettings.from_settings(settings)))
