"""The HTTP plumbing both fakes share: a threaded server on 127.0.0.1 and body decoding."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Mapping
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qsl

Reply = tuple[int, dict[str, str], bytes]


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client goes away mid-request, as a real provider's API would
    not: the fault harness kills the scheduler while its sends are in flight, and the
    standard library printed a traceback for each."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeServer:
    """A ThreadingHTTPServer on a free port of 127.0.0.1, served from a daemon thread.

    Use as a context manager, or call `start()` / `stop()`. Subclasses implement `handle`.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        #: Seconds each answer takes, as a real provider's would (100-300 ms for Twilio).
        self.latency = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def handle(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        raise NotImplementedError

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fake server is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Self:
        if self._server is None:
            self._server = _QuietServer(("127.0.0.1", 0), _handler_for(self))
            self._server.daemon_threads = True
            self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _handler_for(fake: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the real APIs

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {key: value for key, value in self.headers.items()}
            if fake.latency:
                time.sleep(fake.latency)
            status, extra, payload = fake.handle(self.command, self.path, headers, body)
            self.send_response(status)
            for key, value in {"Content-Type": "application/json", **extra}.items():
                self.send_header(key, value)
            if "Content-Length" not in extra:  # a fake may announce another length
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_DELETE = _serve

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

    return Handler


def decode_body(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """Form-encoded, multipart or JSON request body as a dict (form values stay strings)."""
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if not body:
        return {}
    if content_type.startswith("application/json"):
        data = json.loads(body)
        return data if isinstance(data, dict) else {"": data}
    if content_type.startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
        )
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            if isinstance(name, str) and isinstance(payload, bytes):
                fields[name] = payload.decode("utf-8", "replace")
        return fields
    return dict(parse_qsl(body.decode(), keep_blank_values=True))


def json_reply(status: int, data: object, headers: dict[str, str] | None = None) -> Reply:
    return status, headers or {}, json.dumps(data).encode()
