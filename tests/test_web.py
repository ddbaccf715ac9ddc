"""The web app: health check and the simulator, through Flask's test client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.services.config import ConfigError, Settings
from bot.services.runtime import Runtime
from bot.web.app import create_app
from bot.web.simulator import MAX_PER_MINUTE
from storage.exports import count_rows
from storage.models import Answer, Response
from tests.browser.seed import PASSWORD, add_user
from tests.helpers import FakeClock, make_runtime


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(database_url, tmp_path, clock=FakeClock())
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    app = create_app(runtime=runtime)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def test_healthz_reports_database_and_channels(client: FlaskClient) -> None:
    reply = client.get("/healthz")
    assert reply.status_code == 200
    assert reply.json == {"status": "ok", "database": "ok", "channels": ["web"]}


def test_healthz_is_503_when_the_database_is_gone(tmp_path: Path) -> None:
    runtime = make_runtime(f"sqlite:///{tmp_path / 'gone.db'}", tmp_path, clock=FakeClock())
    runtime.engine.dispose()
    (tmp_path / "gone.db").unlink()
    (tmp_path / "gone.db").mkdir()  # a directory where the database file was: unopenable
    reply = create_app(runtime=runtime).test_client().get("/healthz")
    assert reply.status_code == 503 and reply.json["database"] == "unreachable"


def test_the_simulator_page_lists_the_surveys(client: FlaskClient) -> None:
    page = client.get("/simulator").get_data(as_text=True)
    for title in ("Your experience of care", "Caring for someone", "Working in care"):
        assert title in page
    assert "<script src=" not in page  # no CDN, nothing external
    assert client.get("/").status_code == 302


def test_a_survey_can_be_completed_in_the_simulator(client: FlaskClient,
                                                    runtime: Runtime) -> None:
    language = client.post("/simulator/api/message", json={"start": "fft"}).json
    assert [c["label"] for c in language["replies"][0]["choices"]] == ["English", "Cymraeg"]
    first = client.post("/simulator/api/message", json={"payload": "lang:en"}).json
    assert first["replies"][1]["choices"][0] == {"payload": "consent:yes", "label": "Yes, I agree"}
    client.post("/simulator/api/message", json={"payload": "consent:yes"})
    question = client.post("/simulator/api/message", json={"text": "1"}).json["replies"][0]
    assert question["text"].startswith("What was good")
    quote = client.post("/simulator/api/message", json={"text": "All good"}).json
    assert quote["replies"][0]["choices"] == [{"payload": "quote:yes", "label": "Yes"},
                                              {"payload": "quote:no", "label": "No"}]
    client.post("/simulator/api/message", json={"payload": "quote:no"})
    last = client.post("/simulator/api/message", json={"payload": "share:yes"}).json
    assert last["replies"][0]["text"].startswith("Thank you.")
    assert first["replies"][1]["sms"].endswith("1 Yes, I agree\n2 No, thank you\n\nReply 1 or 2")
    with runtime.sessions() as session:
        assert session.scalars(select(Response.status)).one() == "completed"
        assert len(session.scalars(select(Answer)).all()) == 2


@pytest.mark.parametrize(("body", "kwargs", "status"), [
    ("not json", {"content_type": "text/plain"}, 400),
    ('["a list"]', {"content_type": "application/json"}, 400),
    ('{"text": 5}', {"content_type": "application/json"}, 400),
    ('{"text": "' + "x" * 2001 + '"}', {"content_type": "application/json"}, 400),
    ("x" * 70_000, {"content_type": "application/json"}, 413),
])
def test_the_simulator_refuses_bad_input_with_4xx(client: FlaskClient, body: str,
                                                  kwargs: dict, status: int) -> None:
    assert client.post("/simulator/api/message", data=body, **kwargs).status_code == status


# --- the simulator in production ---------------------------------------------------------

def production_app(database_url: str, tmp_path: Path, clock: FakeClock,
                   **overrides: object) -> tuple[Runtime, Flask]:
    rt = make_runtime(database_url, tmp_path, clock=clock, env="production", **overrides)
    add_user(rt, "org@example.org", "organiser")
    return rt, create_app(runtime=rt)


def https_client(app: Flask) -> FlaskClient:
    """Production session cookies are Secure: talk to the app over HTTPS."""
    client = app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    return client


def sign_in(client: FlaskClient) -> None:
    login = client.get("/dashboard/login").get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert found
    reply = client.post("/dashboard/login", data={
        "email": "org@example.org", "password": PASSWORD, "csrf_token": found.group(1)})
    assert reply.status_code == 302, reply.get_data(as_text=True)


def test_the_simulator_is_off_in_production_by_default(database_url: str,
                                                       tmp_path: Path) -> None:
    """Off is what Settings.from_env gives production when WITHUS_SIMULATOR is unset
    (the next test); here, what off means."""
    rt, app = production_app(database_url, tmp_path, FakeClock(), simulator=False)
    try:
        client = https_client(app)
        assert client.get("/simulator").status_code == 404
        assert client.post("/simulator/api/message", json={"start": "fft"}).status_code == 404
        sign_in(client)  # signed in or not: it is not there
        assert client.get("/simulator").status_code == 404
        assert client.post("/simulator/api/message", json={"start": "fft"}).status_code == 404
        with rt.sessions() as session:
            assert session.scalars(select(Response)).all() == []
    finally:
        rt.close()


def test_the_simulator_setting_is_read_from_the_environment(tmp_path: Path) -> None:
    base = {"WITHUS_INSTANCE_PATH": str(tmp_path)}
    assert Settings.from_env(base).simulator is True  # development
    production = {**base, "WITHUS_ENV": "production", "WITHUS_DATABASE_URL": "sqlite://",
                  "WITHUS_SECRET_KEY": "k" * 40, "WITHUS_PSEUDONYM_KEY": "p" * 40,
                  "WITHUS_VAULT_KEYS": Fernet.generate_key().decode()}
    assert Settings.from_env(production).simulator is False
    assert Settings.from_env({**production, "WITHUS_SIMULATOR": "on"}).simulator is True
    with pytest.raises(ConfigError, match="WITHUS_SIMULATOR must be on or off"):
        Settings.from_env({**production, "WITHUS_SIMULATOR": "maybe"})


def test_the_simulator_switched_on_in_production_is_for_signed_in_users_and_test_data(
        database_url: str, tmp_path: Path) -> None:
    rt, app = production_app(database_url, tmp_path, FakeClock(), simulator=True)
    try:
        anonymous = https_client(app)
        refused = anonymous.post("/simulator/api/message", json={"start": "fft"})
        assert refused.status_code == 401 and "sign in" in refused.json["error"]
        page = anonymous.get("/simulator")
        assert page.status_code == 302 and page.location.startswith("/dashboard/login")
        with rt.sessions() as session:
            assert session.scalars(select(Response)).all() == []

        client = https_client(app)
        sign_in(client)
        assert client.get("/simulator").status_code == 200
        for body in ({"start": "fft"}, {"payload": "lang:en"}, {"payload": "consent:yes"},
                     {"text": "1"}, {"text": "All good"}, {"payload": "quote:no"}):
            assert client.post("/simulator/api/message", json=body).status_code == 200
        last = client.post("/simulator/api/message", json={"payload": "share:yes"}).json
        assert last["replies"][0]["text"].startswith("Thank you.")
        with rt.sessions() as session:
            stored = session.scalars(select(Response)).one()
            assert (stored.channel, stored.status, stored.is_test) == ("web", "completed", True)
            assert count_rows(session, "fft") == 0  # out of exports unless asked
            assert count_rows(session, "fft", include_test=True) == 1
        survey = client.get("/dashboard/surveys/fft").get_data(as_text=True)
        assert "<strong>1 test response</strong>" in survey
        assert "is left out of these figures" in survey
        included = client.get("/dashboard/surveys/fft?test=include").get_data(as_text=True)
        assert "These figures include <strong>1 test response</strong>" in included
    finally:
        rt.close()


def test_the_simulator_in_production_is_rate_limited_per_user(
        database_url: str, tmp_path: Path) -> None:
    clock = FakeClock()
    rt, app = production_app(database_url, tmp_path, clock, simulator=True)
    try:
        client = https_client(app)
        sign_in(client)
        for _ in range(MAX_PER_MINUTE):
            assert client.post("/simulator/api/message",
                               json={"text": "hello"}).status_code == 200
        over = client.post("/simulator/api/message", json={"text": "hello"})
        assert over.status_code == 429 and int(over.headers["Retry-After"]) > 0
        # Another browser of the same person shares the limit.
        other = https_client(app)
        sign_in(other)
        assert other.post("/simulator/api/message", json={"text": "hi"}).status_code == 429
        clock.advance(minutes=1, seconds=1)
        assert client.post("/simulator/api/message", json={"text": "hello"}).status_code == 200
    finally:
        rt.close()


def test_development_keeps_the_simulator_open_without_signing_in(
        client: FlaskClient, runtime: Runtime) -> None:
    assert runtime.settings.simulator and not runtime.settings.production
    assert client.get("/simulator").status_code == 200
    for _ in range(MAX_PER_MINUTE + 5):  # no sign-in, no limit, real responses
        assert client.post("/simulator/api/message", json={"start": "fft"}).status_code == 200
    with runtime.sessions() as session:
        assert {r.is_test for r in session.scalars(select(Response))} == {False}
