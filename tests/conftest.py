"""Shared test setup: no real network, golden-file updates, and the database fixtures."""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

import pytest

pytest_plugins = ["tests.conftest_db"]

# Local fake provider servers only: never let a proxy setting route them elsewhere.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true",
                     help="rewrite the golden transcripts from the current behaviour")


_real_connect = socket.socket.connect


def _guarded_connect(self: socket.socket, address: Any) -> Any:
    # Like python-telegram-bot's suite: fail loudly on any real network access.
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        try:
            local = ipaddress.ip_address(host).is_loopback
        except ValueError:
            local = host == "localhost"
        if not local:
            raise RuntimeError(f"tests must not reach the network (tried {host})")
    return _real_connect(self, address)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print how many tests ran on each database, so a skipped PostgreSQL run is visible.

    Under pytest-xdist the controller prints it: every worker's reports reach it."""
    if hasattr(terminalreporter.config, "workerinput"):
        return  # an xdist worker: its terminal is not shown, the controller counts for it
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            nodeid = getattr(report, "nodeid", "")
            if getattr(report, "when", "call") not in ("call", "setup"):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            for db in ("sqlite", "postgres"):
                if f"[{db}" in nodeid or f"-{db}]" in nodeid or f"-{db}-" in nodeid:
                    counts.setdefault(db, {}).setdefault(outcome, 0)
                    counts[db][outcome] += 1
    if counts:
        terminalreporter.write_sep("-", "tests per database")
        for db in ("sqlite", "postgres"):
            figures = counts.get(db, {})
            terminalreporter.write_line(
                f"{db:9} " + ", ".join(f"{n} {k}" for k, n in sorted(figures.items()))
                if figures else f"{db:9} none ran"
            )
