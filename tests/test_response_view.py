"""One response's full view (bot/dashboard/response_view.py): by its number, organisers
only, audited, every answer with its themes and notes and the other replies, and never a
phone number, chat id or pseudonym."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from bot.services.runtime import Runtime
from storage.models import AuditEvent, Response
from storage.repositories.dashboard import DashboardRepository
from storage.repositories.kept import KeptRepository
from tests.browser.seed import PHOTO, SKIP, Person, seed
from tests.helpers import ORGANISER, REVIEWER, STAFF, dashboard_client, dashboard_runtime, sign_in
from tests.test_dashboard import page

LEAD = "lead@example.org"
ADDRESS = "+447700900123"


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path, {**STAFF, LEAD: "lead"}) as rt:
        yield rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return dashboard_client(runtime)


@pytest.fixture
def numbers(runtime: Runtime) -> list[int]:
    """Three carers; the second is the one looked at: tagged, noted, with another reply."""
    seed(runtime, "carers", [Person({"hours": "under_20", "assessment": "yes"})])
    seed(runtime, "carers", [Person({
        "hours": "h50_plus", "helps": ["family", "breaks"],
        "missing": "Someone to sit with Mum on Tuesdays.", "time_for_me": 2,
        "time_wish": PHOTO, "assessment": SKIP}, channel="whatsapp", quote_ok=True,
        address=ADDRESS)])
    seed(runtime, "carers", [Person({"hours": "not_sure"})])
    with runtime.sessions() as session:
        ids = list(session.scalars(select(Response.id).where(Response.survey_id == "carers")
                                   .order_by(Response.id)))
        repo = DashboardRepository(session)
        from storage.models import Answer
        words = session.scalar(select(Answer.id).where(Answer.response_id == ids[1],
                                                       Answer.question_id == "missing"))
        assert words is not None
        theme = repo.create_theme("carers", "Respite", None, runtime.clock())
        repo.tag(words, theme, None, runtime.clock())
        repo.add_note(words, None, "Ask the council about sitting services.", runtime.clock())
        pid = session.scalar(select(Response.participant_id).where(Response.id == ids[1]))
        assert pid is not None
        KeptRepository(session).add_other(pid, ids[1], "carers", "done",
                                          "Thanks, that was easy.", runtime.clock())
        session.commit()
    return ids


def test_an_organiser_sees_one_response_whole(client: FlaskClient, runtime: Runtime,
                                              numbers: list[int]) -> None:
    sign_in(client, ORGANISER)
    html = page(client, f"/dashboard/surveys/carers/responses/{numbers[1]}")
    text = " ".join(html.split())
    assert f"Response {numbers[1]}</h1>" in text
    assert "50 hours or more" in text
    assert "Family or friends; Breaks or respite" in text
    assert "Someone to sit with Mum on Tuesdays." in text
    assert "Respite" in text and "Ask the council about sitting services." in text
    assert "Sent a photo" in text  # time_wish
    assert "Skipped" in text  # assessment
    assert "Thanks, that was easy." in text and "At: after finishing" in text
    assert "<dd>WhatsApp</dd>" in text and "Yes, without their name" in text
    # Never the person: not the number, not the pseudonym.
    with runtime.sessions() as session:
        pid = session.scalar(select(Response.participant_id).where(Response.id == numbers[1]))
    assert pid is not None and pid not in html
    assert ADDRESS not in html and ADDRESS.lstrip("+") not in html
    # Walk on through the survey's responses.
    assert f"/dashboard/surveys/carers/responses/{numbers[0]}" in html
    assert f"/dashboard/surveys/carers/responses/{numbers[2]}" in html


def test_every_view_of_a_response_is_audited(client: FlaskClient, runtime: Runtime,
                                             numbers: list[int]) -> None:
    sign_in(client, ORGANISER)
    page(client, f"/dashboard/surveys/carers/responses/{numbers[0]}")
    with runtime.sessions() as session:
        events = list(session.scalars(select(AuditEvent)
                                      .where(AuditEvent.action == "view_response")))
    assert [(e.subject, e.detail) for e in events] == [("carers", {"response": numbers[0]})]


@pytest.mark.parametrize("email", [REVIEWER, LEAD])
def test_reviewers_and_leads_cannot_open_a_response(client: FlaskClient, numbers: list[int],
                                                    email: str) -> None:
    sign_in(client, email)
    assert client.get(f"/dashboard/surveys/carers/responses/{numbers[1]}").status_code == 403
    assert client.get(f"/dashboard/surveys/carers/responses?number={numbers[1]}"
                      ).status_code == 403
    # Nor do they see response numbers beside the written answers.
    for n in numbers:
        html = page(client, "/dashboard/surveys/carers")
        assert f"/responses/{n}" not in html
    assert "Response number" not in page(client, "/dashboard/surveys/carers")


def test_the_number_form_and_what_it_refuses(client: FlaskClient, numbers: list[int]) -> None:
    sign_in(client, ORGANISER)
    found = client.get(f"/dashboard/surveys/carers/responses?number=%23{numbers[1]}")
    assert found.status_code == 302
    assert found.headers["Location"].endswith(f"/dashboard/surveys/carers/responses/{numbers[1]}")
    for bad in ("", "abc", "-1", "0", "99999999999999999999", "+447700900123"):
        assert client.get("/dashboard/surveys/carers/responses",
                          query_string={"number": bad}).status_code == 400, bad
    # A response of another survey, one that does not exist, a number too big to exist.
    seed_other = client.get(f"/dashboard/surveys/fft/responses/{numbers[1]}")
    assert seed_other.status_code == 404
    assert client.get("/dashboard/surveys/carers/responses/999999").status_code == 404
    assert client.get("/dashboard/surveys/carers/responses/99999999999999").status_code == 404
    assert client.get("/dashboard/surveys/nothing/responses/1").status_code == 404


def test_written_answers_link_to_their_response_for_organisers(
        client: FlaskClient, runtime: Runtime) -> None:
    seed(runtime, "fft", [Person({"overall": "good", "why": f"Kind staff, {n}."})
                          for n in range(10)])
    sign_in(client, ORGANISER)
    html = page(client, "/dashboard/surveys/fft?question=why")
    with runtime.sessions() as session:
        ids = list(session.scalars(select(Response.id).where(Response.survey_id == "fft")))
    assert all(f"/dashboard/surveys/fft/responses/{n}" in html for n in ids)
