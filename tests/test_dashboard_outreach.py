"""The dashboard's outreach pages through Flask's test client, on both databases.

An organiser invites a cohort and follows its progress, and writes, previews and sends a
share-back; a reviewer is refused all of it; every form needs its CSRF token. The work is
done by `bot.services.outreach`, unmocked; tokens are scraped from the pages as a browser
sends them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.services import outreach
from bot.services.runtime import Runtime
from bot.web.app import create_app
from storage.models import Invitation, OutboxMessage, Response, ShareBack
from tests.browser.seed import FFT_PEOPLE, seed
from tests.helpers import ORGANISER, REVIEWER, STAFF, FakeClock, dashboard_runtime, token
from tests.helpers import signed_in as sign_in

#: Ofcom's drama range: valid London numbers that are never a real person's.
NUMBERS = [f"020 7946 {n:04d}" for n in range(100)]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))  # a Monday afternoon, GMT


@pytest.fixture
def runtime(database_url: str, tmp_path: Path, clock: FakeClock) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path, STAFF, clock=clock, channels={},
                           sandbox=True) as rt:
        yield rt


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    return create_app(runtime=runtime)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def page(client: FlaskClient, path: str) -> str:
    reply = client.get(path)
    assert reply.status_code == 200, (path, reply.status_code)
    return reply.get_data(as_text=True)


def count(runtime: Runtime, model: type) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def import_cohort(runtime: Runtime, name: str, people: int, first: int = 1) -> None:
    text = "name,phone\n" + "".join(f"person {n},{NUMBERS[n]}\n"
                                    for n in range(first, first + people))
    outreach.import_contacts(runtime, text, "sms", name)


def shareback_rows(runtime: Runtime) -> list[OutboxMessage]:
    with runtime.sessions() as session:
        return list(session.scalars(select(OutboxMessage)
                                    .where(OutboxMessage.kind == "shareback")))


# --- invitations -----------------------------------------------------------------------------


def test_an_organiser_invites_a_cohort_and_sees_its_progress(client: FlaskClient,
                                                             runtime: Runtime) -> None:
    import_cohort(runtime, "leeds", 12)
    sign_in(client, ORGANISER)
    home = page(client, "/dashboard/")
    assert 'href="/dashboard/invitations"' in home and 'href="/dashboard/sharebacks"' in home
    form = page(client, "/dashboard/invitations")
    assert '<label for="cohort">Cohort</label>' in form
    assert "leeds (12 people)" in form and "No invitations yet." in form
    reply = client.post("/dashboard/invitations", data={
        "survey": "fft", "cohort": "leeds", "at": "",
        "csrf_token": token(client, "/dashboard/invitations")})
    assert reply.status_code == 302 and reply.location == "/dashboard/invitations/1"
    scheduled = page(client, "/dashboard/invitations/1")
    assert "Invitation scheduled for 23 Nov 2026, 14:00" in scheduled
    assert "Cancel this invitation" in scheduled

    outreach.queue_due_invitations(runtime)
    progress = page(client, "/dashboard/invitations/1")
    assert re.search(r"Waiting to go</th>\s*<td class=\"num\">12</td>", progress)
    for label in ("Sent", "Delivered", "Failed", "Opted out", "Not needed"):
        assert re.search(rf"{label}</th>\s*<td class=\"num\">0</td>", progress), label
    assert "Cancel this invitation" not in progress  # it has gone out
    listing = page(client, "/dashboard/invitations")
    assert "leeds" in listing and "queued" in listing and "No invitations yet." not in listing


def test_links_to_the_invitation_form_choose_the_survey_and_cohort(
        client: FlaskClient, runtime: Runtime) -> None:
    import_cohort(runtime, "bradford", 2)
    import_cohort(runtime, "leeds", 2, first=10)
    sign_in(client, ORGANISER)
    chosen = page(client, "/dashboard/invitations?survey=fft&cohort=leeds")
    assert '<option value="leeds" selected>' in chosen
    assert '<option value="fft" selected>' in chosen
    assert '<option value="bradford" selected>' not in chosen
    unknown = page(client, "/dashboard/invitations?survey=nope&cohort=%3Cb%3E")
    assert " selected>" not in unknown  # an unknown name chooses nothing
    status = page(client, "/dashboard/surveys/fft/status")
    assert 'href="/dashboard/invitations?survey=fft"' in status


def test_small_counts_on_the_progress_page_are_suppressed(client: FlaskClient,
                                                          runtime: Runtime) -> None:
    import_cohort(runtime, "york", 3)
    outreach.schedule_invitation(runtime, "fft", "york")
    outreach.queue_due_invitations(runtime)
    sign_in(client, ORGANISER)
    progress = page(client, "/dashboard/invitations/1")
    assert "fewer than 10" in progress
    assert not re.search(r'class="num">3</td>', progress)
    assert "york (fewer than 10 people)" in page(client, "/dashboard/invitations")


def test_a_later_invitation_can_be_cancelled(client: FlaskClient, runtime: Runtime) -> None:
    import_cohort(runtime, "leeds", 12)
    sign_in(client, ORGANISER)
    reply = client.post("/dashboard/invitations", data={
        "survey": "fft", "cohort": "leeds", "at": "2026-11-24T10:30",
        "csrf_token": token(client, "/dashboard/invitations")})
    assert reply.status_code == 302
    assert "Scheduled to go on 24 Nov 2026, 10:30" in page(client, reply.location)
    cancel = client.post("/dashboard/invitations/1/cancel",
                         data={"csrf_token": token(client, reply.location)})
    assert cancel.status_code == 302
    assert "Invitation cancelled" in page(client, reply.location)
    assert outreach.queue_due_invitations(runtime, datetime(2026, 11, 25, tzinfo=UTC)) == []


def test_a_bad_invitation_is_explained_and_nothing_is_stored(client: FlaskClient,
                                                             runtime: Runtime) -> None:
    import_cohort(runtime, "leeds", 12)
    sign_in(client, ORGANISER)
    csrf = token(client, "/dashboard/invitations")
    past = client.post("/dashboard/invitations", data={
        "survey": "fft", "cohort": "leeds", "at": "2026-11-01T10:00", "csrf_token": csrf})
    assert past.status_code == 400 and "already passed" in past.get_data(as_text=True)
    unknown = client.post("/dashboard/invitations", data={
        "survey": "fft", "cohort": "nobody", "csrf_token": csrf})
    assert unknown.status_code == 400 and 'role="alert"' in unknown.get_data(as_text=True)
    assert count(runtime, Invitation) == 0
    assert client.get("/dashboard/invitations/99").status_code == 404


# --- roles and CSRF ------------------------------------------------------------------------


OUTREACH_PAGES = [
    ("GET", "/dashboard/invitations"), ("POST", "/dashboard/invitations"),
    ("GET", "/dashboard/invitations/1"), ("POST", "/dashboard/invitations/1/cancel"),
    ("GET", "/dashboard/sharebacks"), ("POST", "/dashboard/sharebacks"),
    ("GET", "/dashboard/sharebacks/1"), ("POST", "/dashboard/sharebacks/1/edit"),
    ("POST", "/dashboard/sharebacks/1/send"),
]


def test_a_reviewer_is_refused_every_outreach_page(app: Flask, client: FlaskClient,
                                                   runtime: Runtime) -> None:
    import_cohort(runtime, "leeds", 12)
    outreach.schedule_invitation(runtime, "fft", "leeds")
    outreach.draft_shareback(runtime, "fft", "Most of you said staff were kind.")
    sign_in(client, REVIEWER)
    home = page(client, "/dashboard/")
    assert "/dashboard/invitations" not in home and "/dashboard/sharebacks" not in home
    csrf = token(client, "/dashboard/")
    for method, path in OUTREACH_PAGES:
        reply = client.open(path, method=method, data={
            "csrf_token": csrf, "survey": "fft", "cohort": "leeds", "text": "Hello"})
        assert reply.status_code == 403, (method, path, reply.status_code)
    assert count(runtime, Invitation) == 1 and count(runtime, ShareBack) == 1
    assert outreach.invitation_progress(runtime, 1).status == "scheduled"
    # Each is marked so test_dashboard's sweep of organiser pages covers it too.
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(("/dashboard/invitations", "/dashboard/sharebacks")):
            assert getattr(app.view_functions[rule.endpoint], "required_role", "") \
                == "organiser", rule


def test_csrf_is_enforced_on_every_outreach_form(client: FlaskClient,
                                                 runtime: Runtime) -> None:
    import_cohort(runtime, "leeds", 12)
    outreach.schedule_invitation(runtime, "fft", "leeds", at=datetime(2026, 11, 24, 9, 0))
    outreach.draft_shareback(runtime, "fft", "Most of you said staff were kind.")
    sign_in(client, ORGANISER)
    data = {"survey": "fft", "cohort": "leeds", "text": "Changed"}
    for _method, path in OUTREACH_PAGES:
        if _method != "POST":
            continue
        for forged in ({}, {"csrf_token": "forged"}):
            reply = client.post(path, data={**data, **forged})
            assert reply.status_code == 400, (path, forged)
            assert "did not come from this site" in reply.get_data(as_text=True)
    assert count(runtime, Invitation) == 1 and count(runtime, ShareBack) == 1
    assert outreach.invitation_progress(runtime, 1).status == "scheduled"
    assert outreach.preview_shareback(runtime, 1).text.startswith("Most of you")
    assert shareback_rows(runtime) == []
    good = client.post("/dashboard/invitations", data={
        **data, "csrf_token": token(client, "/dashboard/invitations")})
    assert good.status_code == 302 and count(runtime, Invitation) == 2


# --- share-backs -----------------------------------------------------------------------------


def said_yes(runtime: Runtime, yes: int) -> set[str]:
    """The first `yes` FFT respondents asked to hear back; the rest said no. Their ids."""
    seed(runtime, "fft", FFT_PEOPLE)
    with runtime.sessions() as session:
        responses = list(session.scalars(select(Response).where(Response.survey_id == "fft")
                                          .order_by(Response.id)))
        for n, response in enumerate(responses):
            response.share_back = n < yes
        session.commit()
        return {r.participant_id for r in responses[:yes]}


def test_a_share_back_with_an_identifying_figure_cannot_be_sent(client: FlaskClient,
                                                               runtime: Runtime) -> None:
    wanted = said_yes(runtime, 10)
    sign_in(client, ORGANISER)
    reply = client.post("/dashboard/sharebacks", data={
        "survey": "fft", "text": "3 of you said nobody came on Sunday.",
        "csrf_token": token(client, "/dashboard/sharebacks")})
    assert reply.status_code == 302 and reply.location == "/dashboard/sharebacks/1"
    preview = page(client, "/dashboard/sharebacks/1")
    assert "3 of you said nobody came on Sunday.\n\nReply STOP" in preview
    assert "It cannot be sent yet" in preview and "fewer than 10 people" in preview
    assert "/dashboard/sharebacks/1/send" not in preview  # no send button
    refused = client.post("/dashboard/sharebacks/1/send",
                          data={"csrf_token": token(client, "/dashboard/sharebacks/1")})
    assert refused.status_code == 302
    assert "Nothing was sent" in page(client, "/dashboard/sharebacks/1")
    assert shareback_rows(runtime) == []

    edit = client.post("/dashboard/sharebacks/1/edit", data={
        "text": "Some of you said nobody came on Sunday. What happens next: the group "
                "meets on 14 January to plan changes.",
        "csrf_token": token(client, "/dashboard/sharebacks/1")})
    assert edit.status_code == 302
    ready = page(client, "/dashboard/sharebacks/1")
    assert "It cannot be sent yet" not in ready
    assert re.search(r"People who will receive it</dt><dd>10</dd>", ready)
    assert "Send it to 10 people" in ready

    sent = client.post("/dashboard/sharebacks/1/send",
                       data={"csrf_token": token(client, "/dashboard/sharebacks/1")})
    assert sent.status_code == 302
    after = page(client, "/dashboard/sharebacks/1")
    assert "Share-back queued for 10 people" in after
    assert "It cannot be changed or sent again" in after
    rows = shareback_rows(runtime)
    assert {row.participant_id for row in rows} == wanted and len(rows) == 10
    assert all(row.payload["text"].startswith("Some of you said") for row in rows)
    again = client.post("/dashboard/sharebacks/1/send",
                        data={"csrf_token": token(client, "/dashboard/sharebacks")})
    assert again.status_code == 302 and len(shareback_rows(runtime)) == 10


def test_the_number_of_recipients_is_suppressed(client: FlaskClient,
                                                runtime: Runtime) -> None:
    wanted = said_yes(runtime, 4)
    sign_in(client, ORGANISER)
    client.post("/dashboard/sharebacks", data={
        "survey": "fft", "text": "Most of you said staff were kind.",
        "csrf_token": token(client, "/dashboard/sharebacks")})
    preview = page(client, "/dashboard/sharebacks/1")
    assert re.search(r'People who will receive it</dt><dd class="suppressed">fewer than 10',
                     preview)
    assert "Send it to fewer than 10 people" in preview
    client.post("/dashboard/sharebacks/1/send",
                data={"csrf_token": token(client, "/dashboard/sharebacks/1")})
    assert "queued for fewer than 10 people" in page(client, "/dashboard/sharebacks/1")
    assert {row.participant_id for row in shareback_rows(runtime)} == wanted
