"""X-Forwarded-Proto and X-Forwarded-For are believed only from the proxies listed in
WITHUS_TRUSTED_PROXIES (issue 18, finding 8: gunicorn trusted them from anyone).

Through real gunicorn (`withus web` on a loopback port): a client that is not a listed
proxy cannot claim the request came over HTTPS (the app would then send HSTS and mark
its cookies for HTTPS only); a listed proxy can. The app's own handling of
X-Forwarded-For is checked through the test client.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.services.config import ConfigError, Settings
from bot.web.app import TrustedProxies
from bot.web.gunicorn import options

WITHUS = Path(sys.executable).with_name("withus")
COMMAND = [str(WITHUS)] if WITHUS.exists() else [sys.executable, "-m", "bot.cli"]


def settings(tmp_path: Path, value: str | None) -> Settings:
    env = {"WITHUS_INSTANCE_PATH": str(tmp_path)}
    if value is not None:
        env["WITHUS_TRUSTED_PROXIES"] = value
    return Settings.from_env(env)


def test_no_proxy_is_trusted_unless_listed(tmp_path: Path) -> None:
    assert settings(tmp_path, None).trusted_proxies == ()
    assert settings(tmp_path, "0").trusted_proxies == ()
    assert settings(tmp_path, " 10.0.0.5, 10.1.0.0/16 ,::1").trusted_proxies == (
        "10.0.0.5", "10.1.0.0/16", "::1")
    for wrong in ("1", "load-balancer", "10.0.0.5/24"):
        with pytest.raises(ConfigError, match="WITHUS_TRUSTED_PROXIES"):
            settings(tmp_path, wrong)
    assert options(2, "127.0.0.1:8000")["forwarded_allow_ips"] == ""
    assert options(2, "127.0.0.1:8000")["proxy_allow_ips"] == ""
    assert options(2, "x", trusted_proxies=("10.0.0.5", "10.1.0.0/16"))[
        "forwarded_allow_ips"] == "10.0.0.5,10.1.0.0/16"


def test_forwarded_headers_count_only_from_a_listed_proxy() -> None:
    seen: dict[str, str] = {}

    def app(environ: dict[str, str], start_response: object) -> list[bytes]:
        seen.update(addr=environ["REMOTE_ADDR"], scheme=environ["wsgi.url_scheme"])
        return []

    wrapped = TrustedProxies(app, ["10.0.0.0/24"])

    def call(peer: str, forwarded_for: str, proto: str = "https") -> tuple[str, str]:
        wrapped({"REMOTE_ADDR": peer, "wsgi.url_scheme": "http",
                 "HTTP_X_FORWARDED_FOR": forwarded_for, "HTTP_X_FORWARDED_PROTO": proto}, None)
        return seen["addr"], seen["scheme"]

    assert call("203.0.113.9", "198.51.100.1") == ("203.0.113.9", "http")  # not a proxy
    assert call("10.0.0.7", "198.51.100.1") == ("198.51.100.1", "https")
    # The client is the nearest address that is not one of ours, whatever came before it.
    assert call("10.0.0.7", "1.2.3.4, 198.51.100.1, 10.0.0.8") == ("198.51.100.1", "https")
    assert call("10.0.0.7", "", "gopher") == ("10.0.0.7", "http")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def web(tmp_path: Path) -> Iterator[object]:
    started: list[subprocess.Popen[bytes]] = []

    def start(trusted: str | None) -> str:
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("WITHUS_")}
        env.update(WITHUS_INSTANCE_PATH=str(tmp_path / "instance"),
                   WITHUS_DATABASE_URL=f"sqlite:///{tmp_path / 'withus.db'}",
                   NO_PROXY="127.0.0.1,localhost")
        if trusted is not None:
            env["WITHUS_TRUSTED_PROXIES"] = trusted
        process = subprocess.Popen([*COMMAND, "web", "--workers", "1", "--bind",
                                    f"127.0.0.1:{port}"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        started.append(process)
        url = f"http://127.0.0.1:{port}/healthz"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                return url
            except OSError:
                time.sleep(0.2)
        raise AssertionError("withus web did not start")

    yield start
    for process in started:
        process.terminate()
        process.wait(timeout=10)


def hsts(url: str) -> str | None:
    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https",
                                                   "X-Forwarded-For": "198.51.100.1"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        return reply.headers.get("Strict-Transport-Security")


@pytest.mark.slow
def test_gunicorn_believes_x_forwarded_proto_only_from_a_listed_proxy(web: object) -> None:
    assert callable(web)
    assert hsts(web(None)) is None  # 127.0.0.1 is not a listed proxy: plain HTTP
    assert hsts(web("127.0.0.1")) == "max-age=31536000"  # now it is: HTTPS
