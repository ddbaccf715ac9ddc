"""The consultation pages of the dashboard: moderation, quotes, results and downloads,
through Flask's test client with real sign-in and real CSRF tokens. Both databases."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from docx import Document
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, select

from bot.dashboard.auth import hash_password
from bot.services.runtime import Runtime
from bot.web.app import create_app
from storage.models import AuditEvent, Statement
from storage.repositories.consultations import ConsultationRepository
from storage.repositories.dashboard import DashboardRepository
from tests.consultation_sim import START, build_runtime, simulate
from tests.helpers import FakeClock

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "a long enough test password"
ORGANISER, REVIEWER = "org@example.org", "rev@example.org"
PAGE = "/dashboard/consultations/fairpay"


@pytest.fixture
def runtime(engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    clock = FakeClock(START)
    rt = build_runtime(engine.url.render_as_string(hide_password=False), tmp_path, clock)
    simulate(rt, clock, participants=24, seed=3, moderate_every=100)  # leave a queue
    with rt.sessions() as session:
        users = DashboardRepository(session)
        for email, role in ((ORGANISER, "organiser"), (REVIEWER, "reviewer")):
            users.add_user(email, hash_password(PASSWORD), role, clock.now)
        session.commit()
    yield rt
    rt.close()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime=runtime)


def sign_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    login = client.get("/dashboard/login").get_data(as_text=True)
    found = TOKEN.search(login)
    assert found
    reply = client.post("/dashboard/login", data={"email": email, "password": PASSWORD,
                                                  "csrf_token": found.group(1)})
    assert reply.status_code == 302
    return client


def token(client: FlaskClient) -> str:
    found = TOKEN.search(client.get(PAGE).get_data(as_text=True))
    assert found
    return found.group(1)


def test_every_page_needs_an_account(app: Flask) -> None:
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("dashboard.consultations."):
            view = app.view_functions[rule.endpoint]
            assert getattr(view, "required_role", None) in ("reviewer", "organiser"), rule
    reply = app.test_client().get(PAGE)
    assert reply.status_code == 302 and reply.location.startswith("/dashboard/login")


def test_a_reviewer_moderates_and_chooses_quotes(app: Flask, runtime: Runtime) -> None:
    client = sign_in(app, REVIEWER)
    with runtime.sessions() as session:
        queue = ConsultationRepository(session).queue("fairpay")
    assert len(queue) >= 3
    page = client.get(PAGE).get_data(as_text=True)
    assert f"Statements people wrote ({len(queue)} waiting for a reviewer)" in page
    assert "Download the vote matrix" not in page  # organisers only
    first, second, third = queue[:3]
    csrf = token(client)
    base = f"{PAGE}/statements"
    assert client.post(f"{base}/{first.id}", data={"decision": "approve",
                                                   "csrf_token": csrf}).status_code == 302
    assert client.post(f"{base}/{second.id}", data={
        "decision": "edit", "text": "  Reworded   by a reviewer. ", "csrf_token": csrf,
    }).status_code == 302
    assert client.post(f"{base}/{third.id}", data={
        "decision": "reject", "reason": "off topic", "csrf_token": csrf}).status_code == 302
    assert client.post(f"{base}/{third.id}", data={"decision": "approve"}).status_code == 400
    with runtime.sessions() as session:
        rows = {s.id: s for s in session.scalars(select(Statement))}
        events = list(session.scalars(select(AuditEvent).where(
            AuditEvent.action.like("statement.%"))))
    assert rows[first.id].status == "approved" and rows[first.id].moderated_by is not None
    assert (rows[second.id].status, rows[second.id].text) == ("approved",
                                                              "Reworded by a reviewer.")
    assert rows[third.id].status == "rejected"
    assert sorted(e.action for e in events) == ["statement.approve", "statement.edit",
                                                "statement.reject"]
    page = client.get(PAGE).get_data(as_text=True)
    assert "Reworded by a reviewer." in page
    with runtime.sessions() as session:
        view = next(v for v in ConsultationRepository(session).views("fairpay") if v.quote_ok)
    reply = client.post(f"{PAGE}/quotes/{view.answer_id}", data={"chosen": "1",
                                                                 "csrf_token": csrf})
    assert reply.status_code == 302
    with runtime.sessions() as session:
        assert any(v.quote_chosen for v in ConsultationRepository(session).views("fairpay")
                   if v.answer_id == view.answer_id)
    assert client.post(f"{PAGE}/quotes/999999", data={"chosen": "1",
                                                      "csrf_token": csrf}).status_code == 404


def test_the_draft_downloads_and_only_organisers_export_votes(app: Flask,
                                                               runtime: Runtime) -> None:
    reviewer = sign_in(app, REVIEWER)
    docx = reviewer.get(f"{PAGE}/draft.docx")
    assert docx.status_code == 200 and "attachment" in docx.headers["Content-Disposition"]
    assert Document(io.BytesIO(docx.data)).paragraphs[0].text.startswith("Draft response:")
    markdown = reviewer.get(f"{PAGE}/draft.md").get_data(as_text=True)
    assert markdown.startswith("# Draft response: Fair pay agreement")
    csrf = token(reviewer)
    assert reviewer.post(f"{PAGE}/export/votes.csv",
                         data={"csrf_token": csrf}).status_code == 403
    organiser = sign_in(app, ORGANISER)
    csrf = token(organiser)
    matrix = organiser.post(f"{PAGE}/export/participants-votes.csv",
                            data={"csrf_token": csrf, "reason": "for the analysis group"})
    assert matrix.status_code == 200
    assert matrix.get_data(as_text=True).startswith(
        "participant,group-id,n-comments,n-votes,n-agree,n-disagree,")
    assert organiser.post(f"{PAGE}/export/secrets.csv",
                          data={"csrf_token": csrf}).status_code == 404
    with runtime.sessions() as session:
        audit = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "consultation.export")).one()
    assert audit.reason == "for the analysis group" and audit.detail == {
        "file": "participants-votes.csv", "statements": "approved"}
    assert organiser.get("/dashboard/consultations/nope").status_code == 404
    listing = organiser.get("/dashboard/consultations/").get_data(as_text=True)
    assert "Fair pay for care workers" in listing


def test_moderation_pages_filters_and_bulk_decisions(app: Flask, runtime: Runtime) -> None:
    with runtime.sessions() as session:
        now = runtime.clock()
        for n in range(30):
            session.add(Statement(consultation_id="fairpay", question_id="pay",
                                  text=f"Extra statement number {n}", seed=False,
                                  status="pending", created_at=now))
        session.commit()
        waiting = len(ConsultationRepository(session).queue("fairpay"))
    assert waiting > 25
    client = sign_in(app, REVIEWER)
    first = client.get(PAGE).get_data(as_text=True)
    assert first.count('name="ids"') == 25  # 25 a page
    assert f"Waiting: {waiting} statements, page 1 of 2" in first
    assert 'value="reject" class="danger">Reject</button>' in first
    second = client.get(f"{PAGE}?show=waiting&page=2").get_data(as_text=True)
    assert second.count('name="ids"') == waiting - 25
    ids = re.findall(r'name="ids" value="(\d+)"', first)[:3]
    csrf = token(client)
    reply = client.post(f"{PAGE}/statements/bulk", data={
        "decision": "reject", "ids": ids, "reason": "off topic", "csrf_token": csrf})
    assert reply.status_code == 302
    rejected = client.get(f"{PAGE}?show=rejected").get_data(as_text=True)
    assert "Rejected: 3 statements." in rejected and 'name="ids"' not in rejected
    approve = client.post(f"{PAGE}/statements/bulk", data={
        "decision": "approve", "ids": re.findall(r'name="ids" value="(\d+)"', second),
        "csrf_token": csrf})
    assert approve.status_code == 302
    with runtime.sessions() as session:
        statuses = {s.id: s.status for s in session.scalars(select(Statement))}
        events = session.scalars(select(AuditEvent.action).where(
            AuditEvent.action == "statement.reject")).all()
    assert all(statuses[int(i)] == "rejected" for i in ids) and len(events) == 3
    bad = [client.post(f"{PAGE}/statements/bulk", data=data) for data in (
        {"decision": "reject", "ids": ids},  # no CSRF token
        {"decision": "delete", "ids": ids, "csrf_token": csrf},
        {"decision": "approve", "ids": ["x"], "csrf_token": csrf},
        {"decision": "approve", "ids": ["999999"], "csrf_token": csrf})]
    assert [r.status_code for r in bad] == [400, 400, 400, 404]
    repeats = client.get(f"{PAGE}?show=repeats").get_data(as_text=True)
    assert "Possible repeats:" in repeats
    assert client.get(f"{PAGE}?show=nonsense&page=x").status_code == 200


def test_views_get_themes_and_the_draft_counts_them(app: Flask, runtime: Runtime) -> None:
    client = sign_in(app, REVIEWER)
    csrf = token(client)
    assert client.post(f"{PAGE}/themes", data={"name": "Travel time",
                                               "csrf_token": csrf}).status_code == 302
    with runtime.sessions() as session:
        views = ConsultationRepository(session).views("fairpay")
        theme = next(t for t in DashboardRepository(session).themes("fairpay")
                     if t.name == "Travel time")
    tagged = views[:3]
    for view in tagged:
        reply = client.post(f"{PAGE}/views/{view.answer_id}/themes",
                            data={"theme": theme.id, "csrf_token": csrf})
        assert reply.status_code == 302
    page = client.get(PAGE).get_data(as_text=True)
    assert 'aria-label="Remove theme Travel time"' in page
    markdown = client.get(f"{PAGE}/draft.md").get_data(as_text=True)
    themes = markdown[markdown.index("Themes in what people said"):]
    assert "Travel time" in themes.split("\n#")[0]
    assert client.post(f"{PAGE}/views/999999/themes", data={
        "theme": theme.id, "csrf_token": csrf}).status_code == 404
    assert client.post(f"{PAGE}/views/{tagged[0].answer_id}/themes", data={
        "theme": theme.id}).status_code == 400  # no CSRF token
    removed = client.post(f"{PAGE}/views/{tagged[0].answer_id}/themes", data={
        "theme": theme.id, "remove": "1", "csrf_token": csrf})
    assert removed.status_code == 302
