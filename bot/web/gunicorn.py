"""Run the web app under gunicorn from inside `withus web`, without a separate config file.

Each worker builds its own app (and database pool) after the fork: connections must never
be shared across processes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gunicorn.app.base import BaseApplication


class WebApplication(BaseApplication):
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from bot.web.app import create_app

        return create_app()


def options(workers: int, bind: str, timeout: int = 30,
            trusted_proxies: Sequence[str] = ()) -> dict[str, Any]:
    """gunicorn's settings. Only the proxies in WITHUS_TRUSTED_PROXIES may tell gunicorn
    the scheme (X-Forwarded-Proto) or use the PROXY protocol; by default nobody may, since
    anyone can send those headers."""
    trusted = ",".join(trusted_proxies)
    return {
        "workers": workers,
        "bind": bind,
        "timeout": timeout,
        "preload_app": False,
        "accesslog": None,  # request lines would carry nothing useful and cost time
        "forwarded_allow_ips": trusted,
        "proxy_allow_ips": trusted,
    }


def run(workers: int, bind: str, timeout: int = 30,
        trusted_proxies: Sequence[str] = ()) -> None:
    WebApplication(options(workers, bind, timeout, trusted_proxies)).run()
