"""Security headers on every response, and error pages people can read.

Issue 18 found the consultation pages and their downloads without a CSP, X-Frame-Options,
Cache-Control or Referrer-Policy (the approve and reject buttons rendered inside a
same-site frame), and their 403 and 404 pages coming back as JSON. The app factory now
sets the headers on every response; this walks every rule in the URL map, with and
without a session, with every method it accepts, and checks each answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.routing import Rule

from bot.services.runtime import Runtime
from bot.web.app import create_app
from tests.browser.seed import add_user
from tests.helpers import FakeClock, make_runtime
from tests.test_consultation_dashboard import PASSWORD, sign_in

ORGANISER, REVIEWER = "org@example.org", "rev@example.org"
#: A value for each URL argument, so that most routes find something real.
ARGUMENTS = {"survey_id": "fft", "consultation_id": "fairpay", "filename": "dashboard.css",
             "fmt": "md", "name": "statements.csv"}
HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
PAGE_TEXT = "Sorry, that did not work"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(f"sqlite:///{tmp_path / 'withus.db'}", tmp_path, clock=FakeClock())
    add_user(rt, ORGANISER, "organiser", PASSWORD)
    add_user(rt, REVIEWER, "reviewer", PASSWORD)
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime=runtime)


def url_for_rule(rule: Rule) -> str:
    path = rule.rule
    for argument in rule.arguments:
        converter = rule._converters[argument]  # noqa: SLF001 (werkzeug has no public way)
        value = "1" if type(converter).__name__ in ("BoundedInteger", "IntegerConverter") \
            else ARGUMENTS.get(argument, "x")
        path = re.sub(rf"<(?:[^:<>]+:)?{argument}>", value, path)
    return path


def check(reply_headers: dict[str, str], where: str) -> None:
    for name, value in HEADERS.items():
        assert reply_headers.get(name) == value, f"{where}: {name} is {reply_headers.get(name)}"
    policy = reply_headers.get("Content-Security-Policy", "")
    assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy, where
    assert "object-src 'none'" in policy, where
    assert reply_headers.get("Content-Type", "").count("charset") <= 1, where


def test_every_route_sends_the_security_headers(app: Flask) -> None:
    clients = {"anonymous": app.test_client(), "organiser": sign_in(app, ORGANISER),
               "reviewer": sign_in(app, REVIEWER)}
    seen = set()
    for rule in app.url_map.iter_rules():
        url = url_for_rule(rule)
        for method in sorted((rule.methods or set()) - {"OPTIONS"}):
            for who, client in clients.items():
                reply = client.open(url, method=method, data={"x": "1"})
                where = f"{who} {method} {url} ({rule.endpoint}) -> {reply.status_code}"
                assert reply.status_code < 500, where
                check(dict(reply.headers), where)
                seen.add(rule.endpoint.split(".")[0])
    # Every room of the app was walked: nothing new can slip past unchecked.
    assert seen >= {"dashboard", "simulator", "health", "webhooks", "static"}
    assert any(r.endpoint.startswith("dashboard.consultations.")
               for r in app.url_map.iter_rules())


@pytest.mark.parametrize("path", ["/nope", "/dashboard/nope", "/webhooks/nope",
                                  "/static/nope.css", "/dashboard/consultations/nope"])
def test_unknown_paths_send_the_headers_too(app: Flask, path: str) -> None:
    reply = sign_in(app, ORGANISER).get(path)
    assert reply.status_code == 404
    check(dict(reply.headers), path)


def test_error_pages_are_pages_for_people_and_json_for_programs(app: Flask) -> None:
    reviewer = sign_in(app, REVIEWER)
    for path, code, method in [
        ("/dashboard/consultations/nope", 404, "GET"),
        ("/dashboard/audit", 403, "GET"),  # organisers only
        ("/dashboard/nope", 404, "GET"),
        ("/nope", 404, "GET"),
        ("/simulator", 405, "DELETE"),
        ("/dashboard/surveys/fft", 405, "POST"),
        ("/dashboard/surveys/fft/themes", 400, "POST"),  # no CSRF token
        ("/dashboard/surveys/fft/answers/99999999999999999999999/notes", 404, "POST"),
    ]:
        reply = reviewer.open(path, method=method)
        assert reply.status_code == code, (path, reply.status_code)
        assert reply.mimetype == "text/html", (path, reply.mimetype)
        assert PAGE_TEXT in reply.get_data(as_text=True), path
    for path, code, method in [("/webhooks/nope", 404, "POST"),
                               ("/healthz", 405, "POST"),
                               ("/simulator/api/message", 405, "GET")]:
        reply = reviewer.open(path, method=method)
        assert (reply.status_code, reply.mimetype) == (code, "application/json"), path
        assert "error" in reply.get_json()


def test_a_crash_is_a_plain_page_without_a_traceback(app: Flask, runtime: Runtime,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def crash(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("secret detail from deep inside")

    monkeypatch.setattr(runtime.catalog, "get", crash)
    reply = sign_in(app, ORGANISER).get("/dashboard/consultations/")
    assert reply.status_code == 500 and reply.mimetype == "text/html"
    body = reply.get_data(as_text=True)
    assert PAGE_TEXT in body and "secret detail" not in body and "Traceback" not in body
    check(dict(reply.headers), "a crash")


def test_only_the_simulator_page_allows_inline_script(app: Flask) -> None:
    policies = {path: app.test_client().get(path).headers["Content-Security-Policy"]
                for path in ("/simulator", "/dashboard/login", "/healthz")}
    assert "'unsafe-inline'" in policies["/simulator"]
    assert "'unsafe-inline'" not in policies["/dashboard/login"] + policies["/healthz"]


def test_https_requests_are_told_to_stay_on_https(app: Flask) -> None:
    plain = app.test_client().get("/healthz")
    secure = app.test_client().get("/healthz", base_url="https://withus.example.org")
    assert "Strict-Transport-Security" not in plain.headers
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
