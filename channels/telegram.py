"""Telegram: inline-keyboard buttons, deep-link starts, one long-lived Bot.

python-telegram-bot is asyncio-only, and the rest of WithUs is synchronous (Flask, a
scheduler). `asyncio.run()` per call would build and tear down a loop each time and break
the Bot's keep-alive connections, which belong to the loop that opened them. So the channel
owns one event loop in one daemon thread, and every Bot call is submitted to it.

Voice notes, audio files and photos carry a file id; the media job fetches them later
(`fetch_media`: getFile, then the download), never the webhook.

Telegram retries a webhook delivery until it gets a 2xx, so anything we cannot use (edits,
group chats, unknown update types, even malformed updates) is ignored with `[]` rather than
rejected; only a body that isn't JSON at all is a `BadRequest`.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
import threading
import warnings
from collections.abc import Callable, Coroutine, Mapping
from datetime import timedelta
from typing import Any, TypeVar

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram import error as tg
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning, PTBUserWarning

from channels.base import (
    BadRequest,
    Channel,
    FetchedMedia,
    InboundMessage,
    MediaError,
    MediaRef,
    OutboundMessage,
    SendError,
    SendResult,
    WebRequest,
    numbered,
)
from channels.text import split_text, utf16_length

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Message fields that make a message "media", most specific first (an animation also
#: carries a `document`, a venue also carries a `location`).
MEDIA_FIELDS = (
    "voice", "audio", "video", "video_note", "animation", "photo",
    "document", "sticker", "location", "contact",
)  # fmt: skip
#: The update types we subscribe to: messages, button presses, and block/unblock events.
ALLOWED_UPDATES = ("message", "callback_query", "my_chat_member")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
_MAX_CALLBACK_DATA = 64  # bytes, Telegram's limit for a button's callback_data

# Two PTB warnings about choices made on purpose here, silenced narrowly and once, because
# `warnings.catch_warnings()` is not thread-safe: we fetch raw updates (see get_updates),
# and we accept `retry_after` both as seconds and as the coming timedelta.
warnings.filterwarnings("ignore", "Please use 'Bot.getUpdates'", PTBUserWarning)
warnings.filterwarnings("ignore", ".*`retry_after` will be of type", PTBDeprecationWarning)


SEND_CONNECTIONS = 8  # at least the scheduler's WITHUS_SEND_CONCURRENCY


class TelegramChannel(Channel):
    name = "telegram"
    max_buttons = 8  # one inline button per row; more than this becomes a wall of buttons
    max_length = 4096
    carries_media = True

    def __init__(
        self,
        token: str,
        webhook_secret: str,
        api_base_url: str = "https://api.telegram.org",
        timeout: float = 30.0,
    ) -> None:
        base = api_base_url.rstrip("/")
        # PTB's default pool is one connection: the scheduler sends several at once.
        request = HTTPXRequest(connection_pool_size=SEND_CONNECTIONS, pool_timeout=timeout)
        self._bot = Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
                        request=request)
        self._secret = webhook_secret
        self._timeout = timeout
        self._loop = _LoopThread("telegram-bot")
        _quiet_library_logs()

    def __repr__(self) -> str:  # the Bot holds the token: keep it out of reprs
        return "TelegramChannel()"

    # -- inbound ---------------------------------------------------------------------------

    def verify(self, request: WebRequest) -> bool:
        """The secret token Telegram echoes back, compared in constant time."""
        given = request.header(SECRET_HEADER)
        if not self._secret or given is None:
            return False
        return hmac.compare_digest(given.encode(), self._secret.encode())

    def parse(self, request: WebRequest) -> list[InboundMessage]:
        return self.parse_update(_json_object(request.body))

    def parse_update(self, data: Mapping[str, Any]) -> list[InboundMessage]:
        """Parse one raw update dict, from the webhook or from `get_updates` (polling)."""
        update, reason = self._update(data)
        if update is None:
            return self._raw(data, reason) if reason else []
        if update.callback_query is not None:
            return self._button(update)
        if update.message is not None:  # not edited_message, channel_post, ...
            return self._message(update, update.message)
        return []

    def blocked_chat(self, update: WebRequest | Mapping[str, Any]) -> str | None:
        """The chat id when this update says the person blocked the bot, else None.

        Telegram sends `my_chat_member` with status "kicked" for a private chat when the
        person blocks the bot; the service layer treats that like an opt-out.
        """
        data = _json_object(update.body) if isinstance(update, WebRequest) else update
        member = data.get("my_chat_member")
        if not isinstance(member, Mapping):
            return None
        chat, new = member.get("chat"), member.get("new_chat_member")
        if not isinstance(chat, Mapping) or not isinstance(new, Mapping):
            return None
        if chat.get("type") == "private" and new.get("status") == "kicked" and "id" in chat:
            return str(chat["id"])
        return None

    def _update(self, data: Mapping[str, Any]) -> tuple[Update | None, str]:
        """The update as PTB builds it, or None and why not ("" for no update id)."""
        update_id = data.get("update_id")
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return None, ""
        try:
            return Update.de_json(dict(data), self._bot), ""
        except Exception as exc:  # any shape PTB can't read: never an error for Telegram
            # PTB's reasons name fields ("missing 1 required positional argument:
            # 'is_bot'"), never values; scrubbed anyway. The update id is not personal.
            return None, f"{type(exc).__name__}: {_scrub(str(exc))}"

    def _raw(self, data: Mapping[str, Any], reason: str) -> list[InboundMessage]:
        """A message PTB would not build (a field it insists on is missing): read the chat
        id and the words from the raw JSON, so the person's message is not lost."""
        update_id = _update_tag(data["update_id"])
        raw = data.get("message")
        chat = raw.get("chat") if isinstance(raw, Mapping) else None
        chat_id = chat.get("id") if isinstance(chat, Mapping) else None
        if (not isinstance(raw, Mapping) or not isinstance(chat, Mapping)
                or not isinstance(chat_id, int) or isinstance(chat_id, bool)
                or chat.get("type", "private") != "private"):
            log.warning("ignored a Telegram update that could not be read (update %s): %s",
                        update_id, reason)
            return []
        log.warning("read a Telegram update from its raw JSON (update %s): %s",
                    update_id, reason)
        common: dict[str, Any] = {"channel": self.name, "address": str(chat_id),
                                  "provider_message_id": str(update_id)}
        text = raw.get("text")
        if isinstance(text, str):
            return [_text_event(text, common)]
        media = next((f for f in MEDIA_FIELDS if raw.get(f)), None)
        caption = raw.get("caption")
        caption = caption if isinstance(caption, str) else ""
        if media is None:
            return []
        return [InboundMessage(kind="media", media_type=media, text=caption, **common)]

    def _message(self, update: Update, message: Message) -> list[InboundMessage]:
        if getattr(message, "chat", None) is None:
            log.warning("ignored a Telegram message without a chat (update %s)",
                        _update_tag(update.update_id))
            return []  # nobody to answer: a quiet 200, or Telegram retries forever
        if message.chat.type != "private":
            return []  # the bot is not for groups: answering there would expose people
        common: dict[str, Any] = {
            "channel": self.name,
            "address": str(message.chat.id),
            "provider_message_id": str(update.update_id),
        }
        if isinstance(message.text, str):
            return [_text_event(message.text, common)]
        media = next((f for f in MEDIA_FIELDS if getattr(message, f, None)), None)
        if media is None:
            return []  # service messages and exotic content (polls, dice): nothing to answer
        return [
            InboundMessage(kind="media", media_type=media, text=message.caption or "",
                           media=_media_refs(message), **common)
        ]

    def _button(self, update: Update) -> list[InboundMessage]:
        query = update.callback_query
        if query is None or not isinstance(query.data, str):
            return []  # game callbacks carry no data
        if query.message is not None:
            if query.message.chat.type != "private":
                return []
            address = str(query.message.chat.id)
        else:
            address = str(query.from_user.id)
        return [
            InboundMessage(
                channel=self.name,
                address=address,
                provider_message_id=str(update.update_id),
                kind="button",
                payload=query.data,
                ack=query.id,
            )
        ]

    def fetch_media(self, source: str, max_bytes: int, timeout: float) -> FetchedMedia:
        """getFile for the file id, then download it, if Telegram says it is small enough
        (the Bot API serves files up to 20 MB). The content type is the sender's claim,
        which the caller checks against the bytes."""

        async def download() -> bytes:
            found = await self._bot.get_file(source, read_timeout=timeout)
            if found.file_size is not None and found.file_size > max_bytes:
                raise MediaError("too_large", "telegram file is larger than the limit",
                                 permanent=True)
            data = bytes(await found.download_as_bytearray(read_timeout=timeout))
            if len(data) > max_bytes:
                raise MediaError("too_large", "telegram file is larger than the limit",
                                 permanent=True)
            return data

        try:
            return FetchedMedia(self._run(download, timeout=timeout + self._timeout), "")
        except (TimeoutError, tg.TimedOut):
            error = MediaError("timeout", "telegram file download timed out", permanent=False)
        except tg.BadRequest:  # a wrong or expired file id, or a file too big for bots
            error = MediaError("refused", "telegram refused the file id", permanent=True)
        except (tg.Forbidden, tg.InvalidToken):
            error = MediaError("refused", "telegram refused the download", permanent=False)
        except tg.TelegramError:
            error = MediaError("unavailable", "telegram network error", permanent=False)
        raise error  # outside the handler: no __context__ carrying a URL with the token

    # -- outbound --------------------------------------------------------------------------

    def send(self, address: str, message: OutboundMessage) -> list[SendResult]:
        markup = self._keyboard(message)
        text = message.text if markup is not None else numbered(message)
        parts = split_text(text, self.max_length, utf16_length)
        chat_id = _chat_id(address)

        async def send_parts() -> list[SendResult]:
            results = []
            for index, part in enumerate(parts, start=1):
                sent = await self._bot.send_message(
                    chat_id, part, reply_markup=markup if index == len(parts) else None
                )
                results.append(SendResult(str(sent.message_id)))
            return results

        try:
            return self._run(send_parts)
        except (tg.TelegramError, TimeoutError) as exc:
            error = _send_error(exc)
        raise error  # outside the handler: no __context__ carrying the original along

    def acknowledge(self, callback_query_id: str) -> None:
        """Answer a button press so the spinner on the button stops. Never raises: a lost
        acknowledgement only means a spinner, which must not cost the person their answer."""
        if not callback_query_id:
            return
        try:
            self._run(lambda: self._bot.answer_callback_query(callback_query_id))
        except (tg.TelegramError, TimeoutError) as exc:
            log.warning("could not acknowledge a Telegram button press: %s", type(exc).__name__)

    def _keyboard(self, message: OutboundMessage) -> InlineKeyboardMarkup | None:
        choices = message.choices
        if not choices or message.multiple or len(choices) > self.max_buttons:
            return None
        if any(not 0 < len(c.payload.encode()) <= _MAX_CALLBACK_DATA for c in choices):
            return None  # Telegram would reject the keyboard; numbered text always works
        rows = [[InlineKeyboardButton(c.label, callback_data=c.payload)] for c in choices]
        return InlineKeyboardMarkup(rows)

    # -- administration (CLI) --------------------------------------------------------------

    def set_webhook(self, url: str, secret: str) -> bool:
        return self._run(
            lambda: self._bot.set_webhook(
                url, secret_token=secret or None, allowed_updates=list(ALLOWED_UPDATES)
            )
        )

    def delete_webhook(self) -> bool:
        return self._run(self._bot.delete_webhook)

    def get_updates(self, offset: int | None = None, timeout: int = 30) -> list[dict[str, Any]]:
        """Long-poll for raw update dicts, to feed to `parse_update` (no webhook needed).

        Raw JSON rather than `Bot.get_updates`: that parses the whole batch, so one update
        PTB cannot read would fail every poll and wedge the poller on the same offset.
        """
        kwargs = {"offset": offset, "timeout": timeout, "allowed_updates": list(ALLOWED_UPDATES)}
        result = self._run(
            lambda: self._bot.do_api_request(
                "getUpdates", api_kwargs=kwargs, read_timeout=timeout + 10
            ),
            timeout=timeout + self._timeout,
        )
        return [item for item in result if isinstance(item, dict)]

    def close(self) -> None:
        """Close the Bot's connections and stop the loop thread. Safe to call twice; the
        channel starts again on next use."""
        self._loop.stop(self._bot.shutdown, self._timeout)

    def _run(self, call: Callable[[], Coroutine[Any, Any, T]], timeout: float = 0) -> T:
        async def ready_then_call() -> T:
            await self._bot.initialize()  # once: fetches the bot's own user (getMe)
            return await call()

        return self._loop.run(ready_then_call(), timeout or self._timeout)


class _LoopThread:
    """One asyncio event loop in one daemon thread, started on first use."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._started())
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    def stop(self, final: Callable[[], Coroutine[Any, Any, Any]], timeout: float) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        try:
            asyncio.run_coroutine_threadsafe(final(), loop).result(timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)
            loop.close()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("body is not JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body is not a JSON object")
    return data


def _media_refs(message: Message) -> tuple[MediaRef, ...]:
    """The file id of a voice note, audio file or photo (its largest size)."""
    if message.voice is not None:
        voice = message.voice
        return (MediaRef("voice", voice.file_id, voice.mime_type or "audio/ogg",
                         voice.file_size),)
    if message.audio is not None:
        audio = message.audio
        return (MediaRef("audio", audio.file_id, audio.mime_type or "", audio.file_size),)
    if message.photo:
        photo = max(message.photo, key=lambda size: size.width * size.height)
        return (MediaRef("photo", photo.file_id, "image/jpeg", photo.file_size),)
    return ()


def _text_event(text: str, common: dict[str, Any]) -> InboundMessage:
    """Plain text, or a /command: /start carries the deep-link argument ("/start fft");
    other commands read as words ("/help" -> "help") so the survey can answer them."""
    words = text[1:].split(maxsplit=1) if text.startswith("/") else []
    if not words:
        return InboundMessage(kind="text", text=text, **common)
    command = words[0].split("@", 1)[0]  # "/start@WithUsBot" in some clients
    argument = words[1].strip() if len(words) > 1 else ""
    if command.lower() == "start":
        return InboundMessage(kind="start", start_param=argument, **common)
    return InboundMessage(kind="text", text=f"{command} {argument}".strip(), **common)


def _update_tag(update_id: int) -> str:
    """An update id for the logs, grouped in threes ("900_001_234"): it is not personal
    data, and grouped it is not mistaken for a chat id by the log scrubber."""
    return f"{update_id:_}"


def _chat_id(address: str) -> int | str:
    return int(address) if address.lstrip("-").isdigit() else address


def _send_error(exc: Exception) -> SendError:
    """A SendError with a generic reason: Telegram's text passes through `_scrub` only."""
    if isinstance(exc, tg.RetryAfter):
        return SendError("telegram rate limit", retry_after=_retry_seconds(exc))
    if isinstance(exc, tg.Forbidden):  # blocked, deactivated, never started the bot
        reason = _scrub(exc.message.removeprefix("Forbidden: ")) or "telegram forbidden"
        return SendError(reason, permanent=True, opted_out=True)
    if isinstance(exc, tg.BadRequest):  # before NetworkError: BadRequest subclasses it
        return SendError(_scrub(exc.message) or "telegram bad request", permanent=True)
    if isinstance(exc, tg.InvalidToken):  # our configuration, not the person: keep retrying
        return SendError("telegram rejected the bot token")
    if isinstance(exc, TimeoutError | tg.TimedOut):
        return SendError("telegram timed out")
    if isinstance(exc, tg.ChatMigrated):  # a group became a supergroup: not a person
        return SendError("telegram chat migrated", permanent=True)
    return SendError("telegram network error")


def _retry_seconds(exc: tg.RetryAfter) -> float:
    value: Any = exc.retry_after  # seconds in PTB 22, a timedelta with PTB_TIMEDELTA=1
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _scrub(text: str) -> str:
    """Provider text made safe for logs: no URLs (they hold the token), no long numbers."""
    text = re.sub(r"https?://\S+", "<url>", text)
    text = re.sub(r"[+-]?\d{5,}", "<number>", text)
    return text.strip()[:200].lower()


def _quiet_library_logs() -> None:
    """httpx logs every request URL at INFO, and the URL contains the bot token; PTB logs
    request parameters (chat ids, texts) at DEBUG. Raise them to WARNING unless the
    application has configured those loggers itself."""
    for name in ("httpx", "telegram"):
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)
