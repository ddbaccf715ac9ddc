"""The contacts pages through Flask's test client, on both databases.

An organiser uploads a contacts file and gets the command line's line-by-line report; a
file with nothing usable makes no cohort; a landline in an SMS cohort is reported; the
cohorts page counts members and opt-outs; one person is found by number and removed; a
cohort is deleted with its waiting invitation. No page ever shows a number. A reviewer is
refused every page. The work is `bot.services.outreach`'s, unmocked.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from bot.services import outreach
from bot.services.runtime import Runtime
from storage.models import Cohort, CohortMember, Invitation, Participant
from tests.helpers import (
    ORGANISER,
    REVIEWER,
    STAFF,
    FakeClock,
    dashboard_client,
    dashboard_runtime,
    token,
)
from tests.helpers import signed_in as sign_in

#: Ofcom's drama mobiles (07700 900xxx) and a London drama landline: never anyone's.
FILE = ("Name,Mobile\n"
        "Ann,07700 900001\n"          # 2
        "Bea,not a number\n"          # 3
        "Cal,+44 7700 900002\n"       # 4
        "Dee,020 7946 0003\n"         # 5: a landline
        "Eve,(07700) 900-001\n"       # 6: Ann again
        "Fay,07700 9000\n")           # 7: too short
PIDS_SHOWN = re.compile(r"\bp[a-z2-7]{24}\b")


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    with dashboard_runtime(database_url, tmp_path, STAFF,
                           clock=FakeClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC)),
                           channels={}, sandbox=True) as rt:
        yield rt


@pytest.fixture
def client(runtime: Runtime) -> FlaskClient:
    return dashboard_client(runtime)


def count(runtime: Runtime, model: type) -> int:
    with runtime.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def upload(client: FlaskClient, text: str | bytes, cohort: str = "carers",
           channel: str = "sms", **extra: str) -> tuple[int, str]:
    data = text.encode() if isinstance(text, str) else text
    reply = client.post("/dashboard/contacts", data={
        "csrf_token": token(client, "/dashboard/contacts"), "channel": channel,
        "cohort": cohort, "file": (io.BytesIO(data), "carers.csv"), **extra,
    }, content_type="multipart/form-data")
    return reply.status_code, reply.get_data(as_text=True)


def assert_no_numbers(html: str) -> None:
    for fragment in ("7700", "900001", "900002", "7946", "0003"):
        assert fragment not in html, fragment


def test_an_upload_gives_the_command_lines_report_line_by_line(
    client: FlaskClient, runtime: Runtime
) -> None:
    sign_in(client, ORGANISER)
    status, html = upload(client, FILE)
    assert status == 200
    assert ("cohort carers: imported 3, duplicates 1, invalid 2, landlines 1") in html
    lines = re.findall(r"<li>(line \d+: [^<]*)</li>", html)
    assert lines == [
        "line 3: not a phone number, skipped",
        "line 5: a landline, which cannot receive text messages; imported, but check it",
        "line 7: not a valid GB number (for other countries start with +), skipped",
    ]
    assert_no_numbers(html)
    # The same file through the service the command line uses gives the same lines.
    report = outreach.import_contacts(runtime, FILE, "sms", "again")
    assert report.lines() == lines
    assert count(runtime, Cohort) == 2
    assert count(runtime, CohortMember) == 6


def test_a_landline_is_reported_only_for_sms(client: FlaskClient) -> None:
    sign_in(client, ORGANISER)
    status, html = upload(client, "phone\n020 7946 0003\n", channel="whatsapp",
                          cohort="wa")
    assert status == 200
    assert "cohort wa: imported 1, duplicates 0, invalid 0</p>" in html
    assert "landline" not in html


def test_a_file_with_nothing_usable_makes_no_cohort(client: FlaskClient,
                                                    runtime: Runtime) -> None:
    sign_in(client, ORGANISER)
    status, html = upload(client, "phone\nnope\n07700 9000\n", cohort="empty")
    assert status == 400
    assert "Nothing was imported" in html and "no cohort was created" in html
    assert "line 2: not a phone number, skipped" in html
    assert count(runtime, Cohort) == 0
    status, html = upload(client, b"phone\n\xff\xfe07700900001\n", cohort="empty")
    assert status == 400 and "not UTF-8" in html
    status, html = upload(client, "a,b\n1,2\n", cohort="empty", column="mobile")
    assert status == 400 and "there is no column called &#39;mobile&#39;" in html
    assert count(runtime, Cohort) == 0


def test_an_upload_needs_a_file_a_cohort_and_its_token(client: FlaskClient,
                                                       runtime: Runtime) -> None:
    sign_in(client, ORGANISER)
    reply = client.post("/dashboard/contacts", data={
        "csrf_token": token(client, "/dashboard/contacts"), "channel": "sms",
        "cohort": "x"}, content_type="multipart/form-data")
    assert reply.status_code == 400
    assert "Choose a contacts file" in reply.get_data(as_text=True)
    status, _html = upload(client, FILE, cohort="")
    assert status == 400
    status, _html = upload(client, FILE, channel="pigeon")
    assert status == 400
    reply = client.post("/dashboard/contacts", data={
        "channel": "sms", "cohort": "x", "file": (io.BytesIO(FILE.encode()), "c.csv")},
        content_type="multipart/form-data")
    assert reply.status_code == 400
    assert count(runtime, Cohort) == 0


def test_an_oversized_upload_is_refused_clearly(client: FlaskClient, runtime: Runtime) -> None:
    sign_in(client, ORGANISER)
    status, html = upload(client, b"phone\n" + b"07700900001\n" * 800_000)
    assert status == 413
    assert count(runtime, Cohort) == 0


def test_cohorts_page_counts_members_and_opt_outs(client: FlaskClient,
                                                  runtime: Runtime) -> None:
    many = "phone\n" + "".join(f"07700 900{n:03d}\n" for n in range(12))
    outreach.import_contacts(runtime, many, "sms", "leeds")
    with runtime.sessions() as session:
        pids = list(session.scalars(select(CohortMember.participant_id).limit(6)))
        for pid in pids:
            session.get(Participant, pid).opted_out_at = runtime.clock()  # type: ignore[union-attr]
        session.commit()
    sign_in(client, ORGANISER)
    html = client.get("/dashboard/contacts").get_data(as_text=True)
    row = re.search(r">leeds</a></th>\s*<td[^>]*>(\d+)</td>\s*<td[^>]*>(\d+)</td>", html)
    assert row, html[html.find("Cohorts"):][:1500]
    assert row.groups() == ("12", "6")
    assert_no_numbers(html)


def test_find_and_remove_one_member_by_number(client: FlaskClient, runtime: Runtime) -> None:
    outreach.import_contacts(runtime, "07700 900001\n07700 900002\n", "sms", "leeds")
    with runtime.sessions() as session:
        cohort_id = session.scalars(select(Cohort.id)).one()
    sign_in(client, ORGANISER)
    page = f"/dashboard/contacts/cohorts/{cohort_id}"
    html = client.get(page).get_data(as_text=True)
    assert len(set(PIDS_SHOWN.findall(html))) == 2
    assert_no_numbers(html)
    reply = client.post(f"{page}/find", data={"csrf_token": token(client, page),
                                              "number": "+44 7700 900002"})
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200 and "That number is p" in html
    assert_no_numbers(html)
    pid = re.search(r"That number is (p[a-z2-7]{24})", html).group(1)  # type: ignore[union-attr]
    assert pid == runtime.pseudonymiser("sms", "+447700900002")
    missing = client.post(f"{page}/find", data={"csrf_token": token(client, page),
                                                "number": "07700 900123"})
    assert "That number is not in this cohort." in missing.get_data(as_text=True)
    bad = client.post(f"{page}/find", data={"csrf_token": token(client, page),
                                            "number": "hello"})
    assert bad.status_code == 400
    assert "That is not a phone number or a Telegram chat id." in bad.get_data(as_text=True)
    removed = client.post(f"{page}/members/{pid}/remove",
                          data={"csrf_token": token(client, page)})
    assert removed.status_code == 302
    assert f"Removed {pid} from leeds" in client.get(page).get_data(as_text=True)
    with runtime.sessions() as session:
        left = list(session.scalars(select(CohortMember.participant_id)))
    assert left == [runtime.pseudonymiser("sms", "+447700900001")]
    assert count(runtime, Participant) == 2  # still known, opt-outs kept
    forged = client.post(f"{page}/members/notapseudonym/remove",
                         data={"csrf_token": token(client, page)})
    assert forged.status_code == 400
    assert client.post(f"{page}/members/{pid}/remove").status_code == 400  # no token


def test_deleting_a_cohort_needs_a_tick_and_cancels_its_waiting_invitation(
    client: FlaskClient, runtime: Runtime
) -> None:
    outreach.import_contacts(runtime, "07700 900001\n07700 900002\n", "sms", "leeds")
    outreach.import_contacts(runtime, "07700 900001\n", "sms", "york")
    outreach.schedule_invitation(runtime, "fft", "leeds",
                                 datetime(2030, 1, 7, 10, 0, tzinfo=UTC))
    with runtime.sessions() as session:
        cohort_id = session.scalars(select(Cohort.id).where(Cohort.name == "leeds")).one()
    sign_in(client, ORGANISER)
    page = f"/dashboard/contacts/cohorts/{cohort_id}"
    html = client.get(page).get_data(as_text=True)
    assert "1 invitation not yet sent will be cancelled" in html
    unticked = client.post(f"{page}/delete", data={"csrf_token": token(client, page)})
    assert unticked.status_code == 400
    assert count(runtime, Cohort) == 2
    done = client.post(f"{page}/delete", data={"csrf_token": token(client, page),
                                               "confirm": "y"})
    assert done.status_code == 302
    listing = client.get("/dashboard/contacts").get_data(as_text=True)
    assert "Deleted cohort leeds" in listing and "1 invitations not yet sent were cancelled" \
        in listing
    with runtime.sessions() as session:
        assert list(session.scalars(select(Cohort.name))) == ["york"]
        assert session.scalar(select(func.count()).select_from(Invitation)) == 0
    assert count(runtime, CohortMember) == 1
    assert count(runtime, Participant) == 2
    assert client.get(page).status_code == 404


def test_reviewers_are_refused_every_contacts_page(client: FlaskClient,
                                                   runtime: Runtime) -> None:
    outreach.import_contacts(runtime, "07700 900001\n", "sms", "leeds")
    with runtime.sessions() as session:
        cohort_id = session.scalars(select(Cohort.id)).one()
    sign_in(client, REVIEWER)
    page = f"/dashboard/contacts/cohorts/{cohort_id}"
    assert client.get("/dashboard/contacts").status_code == 403
    assert client.get(page).status_code == 403
    tok = token(client, "/dashboard/")
    for path in ("/dashboard/contacts", f"{page}/find", f"{page}/delete"):
        assert client.post(path, data={"csrf_token": tok, "confirm": "y",
                                       "number": "07700 900001"}).status_code == 403
    assert count(runtime, Cohort) == 1
    assert "/dashboard/contacts" not in client.get("/dashboard/").get_data(as_text=True)
