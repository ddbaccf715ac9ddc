"""A fake Telegram Bot API: enough of it for python-telegram-bot's real `Bot` to talk to.

with FakeTelegramAPI(token="123:abc") as fake:
    channel = TelegramChannel("123:abc", "secret", api_base_url=fake.base_url)
    channel.send("42", OutboundMessage("Hello"))
    assert fake.messages[0]["text"] == "Hello"
    fake.fail_next("blocked")          # the next sendMessage answers 403
    fake.push_update({...})            # served by the next getUpdates
    file_id = fake.add_file(b"OggS...", "voice/file_1.oga")  # getFile, then the download
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from .server import FakeServer, Reply, decode_body, json_reply

BOT_USER = {
    "id": 7000000001,
    "is_bot": True,
    "first_name": "WithUs",
    "username": "WithUsTestBot",
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}

#: Failure kinds for `fail_next`: HTTP status and Telegram's description.
FAILURES: dict[str, tuple[int, str]] = {
    "rate_limit": (429, "Too Many Requests: retry after {retry_after}"),
    "blocked": (403, "Forbidden: bot was blocked by the user"),
    "deactivated": (403, "Forbidden: user is deactivated"),
    "chat_not_found": (400, "Bad Request: chat not found"),
    "unauthorized": (401, "Unauthorized"),
    "server_error": (500, "Internal Server Error"),
}
# Parameters PTB sends as JSON strings inside a form body.
_JSON_FIELDS = {"reply_markup", "allowed_updates", "entities", "link_preview_options"}
_PATH = re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>\w+)$")
_FILE = re.compile(r"^/file/bot(?P<token>[^/]+)/(?P<path>.+)$")


@dataclass
class FakeFile:
    data: bytes
    path: str
    #: What getFile reports (None: the real size).
    size: int | None = None


@dataclass(frozen=True)
class TelegramCall:
    method: str
    params: dict[str, Any]


class FakeTelegramAPI(FakeServer):
    """Records every call in `requests`; `token` (when given) must match the URL's token."""

    def __init__(self, token: str | None = None) -> None:
        super().__init__()
        self.token = token
        self._updates_ready = threading.Condition(self.lock)
        self.reset()

    def reset(self) -> None:
        """Forget calls, queued updates and planned failures."""
        with self.lock:
            self.requests: list[TelegramCall] = []
            self.updates: list[dict[str, Any]] = []
            self._failures: list[tuple[str, str, int]] = []  # (method, kind, retry_after)
            self._next_message_id = 1
            self.files: dict[str, FakeFile] = {}
            self.downloads: list[str] = []

    @property
    def bot_base_url(self) -> str:
        """What to pass to `Bot(token, base_url=...)` directly."""
        return f"{self.base_url}/bot"

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Parameters of every sendMessage, in order (`reply_markup` decoded from JSON)."""
        return self.calls("sendMessage")

    def calls(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [call.params for call in self.requests if call.method == method]

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue a raw update for getUpdates (wakes a waiting long poll)."""
        with self.lock:
            self.updates.append(update)
            self._updates_ready.notify_all()

    def fail_next(
        self, kind: str = "rate_limit", count: int = 1, method: str = "sendMessage",
        retry_after: int = 3,
    ) -> None:  # fmt: skip
        """Make the next `count` calls of `method` fail; `kind` is a key of FAILURES."""
        if kind not in FAILURES:
            raise ValueError(f"unknown failure kind {kind!r}; use one of {sorted(FAILURES)}")
        with self.lock:
            self._failures += [(method, kind, retry_after)] * count

    def add_file(self, data: bytes, path: str = "voice/file_0.oga",
                 size: int | None = None) -> str:
        """Keep a file as Telegram does; returns its file id (for an update's voice,
        audio or photo). `size` is what getFile reports, if not the real size."""
        with self.lock:
            file_id = f"AwACAgQAAxkBAAI{len(self.files):04d}" + "x" * 20
            self.files[file_id] = FakeFile(data, path, size)
        return file_id

    # -- the server side -------------------------------------------------------------------

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        download = _FILE.match(unquote(path.split("?", 1)[0]))  # httpx escapes the ":"
        if download is not None:
            return self._download(download["token"], download["path"])
        match = _PATH.match(path.split("?", 1)[0])
        if match is None:
            return _error(404, "Not Found")
        if self.token is not None and match["token"] != self.token:
            return _error(401, "Unauthorized")
        api_method, params = match["method"], decode_body(headers, body)
        for key in _JSON_FIELDS & params.keys():
            if isinstance(params[key], str):
                params[key] = json.loads(params[key])
        with self.lock:
            self.requests.append(TelegramCall(api_method, params))
            failure = next((f for f in self._failures if f[0] == api_method), None)
            if failure is not None:
                self._failures.remove(failure)
        if failure is not None:
            return _failure(failure[1], failure[2])
        if api_method == "getUpdates":
            return _ok(self._get_updates(params))
        if api_method == "sendMessage":
            return _ok(self._send_message(params))
        if api_method == "getMe":
            return _ok(BOT_USER)
        if api_method == "getFile":
            return self._get_file(str(params.get("file_id", "")))
        if api_method in ("answerCallbackQuery", "setWebhook", "deleteWebhook"):
            return _ok(True)
        return _error(404, "Not Found: method not found")

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            message_id, self._next_message_id = self._next_message_id, self._next_message_id + 1
        chat_id = str(params.get("chat_id", "0"))
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": BOT_USER,
            "chat": {
                "id": int(chat_id) if chat_id.lstrip("-").isdigit() else 0,
                "type": "private",
                "first_name": "Test",
            },
            "date": int(time.time()),
            "text": params.get("text", ""),
        }
        if isinstance(params.get("reply_markup"), dict):
            message["reply_markup"] = params["reply_markup"]
        return message

    def _get_file(self, file_id: str) -> Reply:
        with self.lock:
            found = self.files.get(file_id)
        if found is None:
            return _error(400, "Bad Request: invalid file_id")
        size = found.size if found.size is not None else len(found.data)
        return _ok({"file_id": file_id, "file_unique_id": file_id[-8:], "file_size": size,
                    "file_path": found.path})

    def _download(self, token: str, path: str) -> Reply:
        if self.token is not None and token != self.token:
            return _error(401, "Unauthorized")
        with self.lock:
            self.downloads.append(path)
            found = next((f for f in self.files.values() if f.path == path), None)
        if found is None:
            return _error(404, "Not Found")
        return 200, {"Content-Type": "application/octet-stream"}, found.data

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Like Telegram: updates below `offset` are confirmed and dropped; wait up to
        `timeout` seconds for one to arrive."""
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        with self.lock:
            while True:
                self.updates = [u for u in self.updates if u.get("update_id", 0) >= offset]
                remaining = deadline - time.monotonic()
                if self.updates or remaining <= 0:
                    return list(self.updates[: int(params.get("limit") or 100)])
                self._updates_ready.wait(remaining)


def _ok(result: object) -> Reply:
    return json_reply(200, {"ok": True, "result": result})


def _error(status: int, description: str, **parameters: Any) -> Reply:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return json_reply(status, body)


def _failure(kind: str, retry_after: int) -> Reply:
    status, description = FAILURES[kind]
    if kind == "rate_limit":
        return _error(status, description.format(retry_after=retry_after), retry_after=retry_after)
    return _error(status, description)
