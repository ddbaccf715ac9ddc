"""The web app: health check and the simulator, through Flask's test client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.services.runtime import Runtime
from bot.web.app import create_app
from storage.models import Answer, Response
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
