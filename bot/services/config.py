"""Settings from the environment, with safe local defaults and strict production rules.

Locally, missing secrets are generated once into the instance folder so `make run` just
works. In production (`WITHUS_ENV=production`) a missing secret stops startup: silently
generating a new pseudonym key there would split every participant in two, and a new
vault key would make every stored address unreadable.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.fernet import Fernet

log = logging.getLogger(__name__)

SECRETS_FILE = "secrets.json"


class ConfigError(RuntimeError):
    """Configuration that would make WithUs unsafe or unable to start."""


@dataclass(frozen=True)
class Settings:
    env: str
    instance_path: Path
    database_url: str
    secret_key: str
    pseudonym_key: bytes
    vault_keys: tuple[str, ...]
    default_survey: str | None = None
    public_url: str = ""
    default_region: str = "GB"
    timezone: str = "Europe/London"
    quiet_hours: str = "21:00-08:00"
    min_cell: int = 10
    telegram_bot_token: str = ""
    telegram_webhook_secret: str = ""
    telegram_api_base_url: str = "https://api.telegram.org"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_sms_from: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_whatsapp_from: str = ""
    twilio_whatsapp_template_sid: str = ""
    twilio_api_base_url: str = ""
    rate_telegram: float = 25.0
    rate_twilio: float = 10.0
    max_send_attempts: int = 8
    #: Sends in flight at once from the scheduler (never two to one person).
    send_concurrency: int = 4
    #: Addresses or networks of the reverse proxies in front of the web workers, whose
    #: X-Forwarded-For and X-Forwarded-Proto are believed. Empty: none are (anyone can
    #: send those headers), which is right when nothing sits in front.
    trusted_proxies: tuple[str, ...] = ()
    log_format: str = "json"
    places_file: str = ""
    #: SMS, WhatsApp and Telegram without a provider deliver to the sandbox inbox instead
    #: of waiting. On by default in development, off in production (WITHUS_SANDBOX).
    sandbox: bool = False
    #: Messages this close together at a free-text question are one answer (seconds;
    #: 0 turns joining off).
    join_seconds: float = 8.0
    #: A message this soon after a free-text answer that does not answer the next
    #: question is added to that answer (seconds; 0 turns it off).
    follow_on_seconds: float = 120.0
    #: Who is writing, in the first message a newcomer gets (WITHUS_ORG_NAME).
    org_name: str = "WithUs"
    #: How to reach a person, named at the end of HELP (WITHUS_CONTACT), e.g. "call Sam
    #: on 01632 960123". Empty: HELP names no one.
    contact: str = ""
    #: The web simulator (/simulator): on in development; in production off unless
    #: WITHUS_SIMULATOR=on, and then for signed-in dashboard users only.
    simulator: bool = True
    #: A dashboard sign-in lasts this long at most (WITHUS_SESSION_HOURS) ...
    session_hours: float = 12.0
    #: ... and ends after this long without a click (WITHUS_SESSION_IDLE_MINUTES).
    session_idle_minutes: float = 120.0
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token and self.telegram_webhook_secret)

    @property
    def sms_enabled(self) -> bool:
        return bool(
            self.twilio_account_sid and self.twilio_auth_token
            and (self.twilio_sms_from or self.twilio_messaging_service_sid)
        )

    @property
    def whatsapp_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token
                    and self.twilio_whatsapp_from)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        mode = env.get("WITHUS_ENV", "development").strip().lower() or "development"
        instance = Path(env.get("WITHUS_INSTANCE_PATH") or Path.cwd() / "instance").resolve()
        generated = _local_secrets(instance, mode == "production", env)
        database_url = env.get("WITHUS_DATABASE_URL") or (
            f"sqlite:///{instance / 'withus.db'}"
        )
        if mode == "production" and "WITHUS_DATABASE_URL" not in env:
            raise ConfigError("WITHUS_DATABASE_URL must be set when WITHUS_ENV=production.")
        vault_keys = tuple(k.strip() for k in generated["WITHUS_VAULT_KEYS"].split(",")
                           if k.strip())
        for key in vault_keys:
            try:
                Fernet(key.encode())
            except (ValueError, TypeError):
                raise ConfigError(
                    "WITHUS_VAULT_KEYS must be comma-separated Fernet keys "
                    "(generate one with `withus keys generate`)."
                ) from None
        pseudonym_key = generated["WITHUS_PSEUDONYM_KEY"].encode()
        if len(pseudonym_key) < 32:
            raise ConfigError("WITHUS_PSEUDONYM_KEY must be at least 32 characters long.")
        return cls(
            env=mode,
            instance_path=instance,
            database_url=database_url,
            secret_key=generated["WITHUS_SECRET_KEY"],
            pseudonym_key=pseudonym_key,
            vault_keys=vault_keys,
            default_survey=env.get("WITHUS_DEFAULT_SURVEY") or None,
            public_url=env.get("WITHUS_PUBLIC_URL", "").rstrip("/"),
            default_region=env.get("WITHUS_DEFAULT_REGION", "GB") or "GB",
            timezone=env.get("WITHUS_TIMEZONE", "Europe/London") or "Europe/London",
            quiet_hours=env.get("WITHUS_QUIET_HOURS", "21:00-08:00"),
            min_cell=_int(env, "WITHUS_MIN_CELL", 10),
            telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN", ""),
            telegram_webhook_secret=env.get("TELEGRAM_WEBHOOK_SECRET", ""),
            telegram_api_base_url=(
                env.get("TELEGRAM_API_BASE_URL") or "https://api.telegram.org"
            ).rstrip("/"),
            twilio_account_sid=env.get("TWILIO_ACCOUNT_SID", ""),
            twilio_auth_token=env.get("TWILIO_AUTH_TOKEN", ""),
            twilio_sms_from=env.get("TWILIO_SMS_FROM", ""),
            twilio_messaging_service_sid=env.get("TWILIO_MESSAGING_SERVICE_SID", ""),
            twilio_whatsapp_from=env.get("TWILIO_WHATSAPP_FROM", ""),
            twilio_whatsapp_template_sid=env.get("TWILIO_WHATSAPP_TEMPLATE_SID", ""),
            twilio_api_base_url=env.get("TWILIO_API_BASE_URL", "").rstrip("/"),
            rate_telegram=_float(env, "WITHUS_RATE_TELEGRAM", 25.0),
            rate_twilio=_float(env, "WITHUS_RATE_TWILIO", 10.0),
            max_send_attempts=_int(env, "WITHUS_MAX_SEND_ATTEMPTS", 8),
            trusted_proxies=_proxies(env.get("WITHUS_TRUSTED_PROXIES", "")),
            send_concurrency=_int(env, "WITHUS_SEND_CONCURRENCY", 4),
            log_format=env.get("WITHUS_LOG_FORMAT", "json"),
            places_file=env.get("WITHUS_PLACES_FILE", ""),
            sandbox=_switch(env, "WITHUS_SANDBOX", mode != "production"),
            join_seconds=_seconds(env, "WITHUS_JOIN_SECONDS", 8.0),
            follow_on_seconds=_seconds(env, "WITHUS_FOLLOW_ON_SECONDS", 120.0),
            org_name=env.get("WITHUS_ORG_NAME", "").strip() or "WithUs",
            contact=env.get("WITHUS_CONTACT", "").strip(),
            simulator=_switch(env, "WITHUS_SIMULATOR", mode != "production"),
            session_hours=_positive(env, "WITHUS_SESSION_HOURS", 12.0),
            session_idle_minutes=_positive(env, "WITHUS_SESSION_IDLE_MINUTES", 120.0),
        )

    def places(self) -> list[str]:
        """Local place names for redaction (care homes, surgeries, wards), one per line."""
        if not self.places_file:
            return []
        try:
            lines = Path(self.places_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"WITHUS_PLACES_FILE cannot be read ({exc.strerror}).") from None
        return [x.strip() for x in lines if x.strip() and not x.lstrip().startswith("#")]


SECRET_NAMES = ("WITHUS_SECRET_KEY", "WITHUS_PSEUDONYM_KEY", "WITHUS_VAULT_KEYS")


def _new_secret(name: str) -> str:
    if name == "WITHUS_VAULT_KEYS":
        return Fernet.generate_key().decode()
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def _local_secrets(instance: Path, production: bool, env: Mapping[str, str]) -> dict[str, str]:
    """The three secrets: from the environment, else (locally) from the instance folder."""
    missing = [name for name in SECRET_NAMES if not env.get(name)]
    if missing and production:
        raise ConfigError(
            "WITHUS_ENV=production needs these secrets set in the environment: "
            + ", ".join(missing)
            + ". Keep them outside the database and back them up: losing "
            "WITHUS_PSEUDONYM_KEY or WITHUS_VAULT_KEYS cannot be undone."
        )
    found = {name: env[name] for name in SECRET_NAMES if env.get(name)}
    if not missing:
        return found
    path = instance / SECRETS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        stored = json.loads(path.read_text(encoding="utf-8"))
    changed = False
    for name in missing:
        if name not in stored:
            stored[name] = _new_secret(name)
            changed = True
        found[name] = stored[name]
    if changed:
        instance.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2), encoding="utf-8")
        path.chmod(0o600)
        log.warning("generated local secrets for development",
                    extra={"path": str(path), "names": sorted(missing)})
    return found


def _switch(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name, "").strip().lower()
    if not value:
        return default
    if value in ("on", "yes", "true", "1"):
        return True
    if value in ("off", "no", "false", "0"):
        return False
    raise ConfigError(f"{name} must be on or off, not {value!r}.")


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number.") from None


def _proxies(value: str) -> tuple[str, ...]:
    """WITHUS_TRUSTED_PROXIES: comma-separated IP addresses or networks (10.0.0.0/24)."""
    if value.strip() in ("", "0"):
        return ()
    if value.strip().isdigit():
        raise ConfigError("WITHUS_TRUSTED_PROXIES lists the proxies' addresses or networks "
                          "(e.g. 10.0.0.5 or 10.0.0.0/24), not how many there are.")
    proxies = tuple(part.strip() for part in value.split(",") if part.strip())
    for proxy in proxies:
        try:
            ipaddress.ip_network(proxy)
        except ValueError:
            raise ConfigError(f"WITHUS_TRUSTED_PROXIES: {proxy!r} is not an IP address or "
                              "network such as 10.0.0.5 or 10.0.0.0/24.") from None
    return proxies


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A window in seconds: 0 turns it off."""
    try:
        value = float(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds.") from None
    if not 0 <= value <= 3600:
        raise ConfigError(f"{name} must be between 0 (off) and 3600 seconds.")
    return value


def _positive(env: Mapping[str, str], name: str, default: float) -> float:
    """A length of time above zero."""
    try:
        value = float(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name} must be a number.") from None
    if not 0 < value < 10**6:
        raise ConfigError(f"{name} must be more than 0.")
    return value


def _float(env: Mapping[str, str], name: str, default: float) -> float:
    try:
        value = float(env.get(name) or default)
    except ValueError:
        raise ConfigError(f"{name} must be a number.") from None
    if value <= 0:
        raise ConfigError(f"{name} must be greater than zero.")
    return value
