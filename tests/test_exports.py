"""Exports: columns, labels and codes, CSV injection, streaming, and the command line.

Read back with the same tools an analyst would use (csv, openpyxl, json), on both
databases, from rows stored through the repositories.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from bot.cli.users import COMMANDS
from bot.services.runtime import Runtime
from storage.exports import (
    MEDIA,
    SKIPPED,
    ExportPlan,
    count_rows,
    export,
    iter_rows,
    load_versions,
    neutralise,
)
from storage.models import Answer, AuditEvent, Participant, User
from storage.repositories.dashboard import DashboardRepository
from tests.browser.seed import PHOTO, SKIP, Person, seed
from tests.conftest_db import TEST_VAULT_KEY
from tests.helpers import FakeClock, load_library, make_runtime
from tests.privacy import scan_text

SURVEYS = Path(__file__).parent / "data" / "surveys"
DANGEROUS = ["=1+1", "+44 is the code", "-5 stars", "@SUM(A1)", "\tTab first",
             "\rCR first", "\nLF first", "=HYPERLINK(\"http://example.invalid\")"]


@pytest.fixture
def runtime(database_url: str, tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(database_url, tmp_path, clock=FakeClock())
    load_library(rt, SURVEYS)
    yield rt
    rt.close()


def everything(comments: object = "Fine", **changes: object) -> Person:
    answers = {"contact": "visit", "visit_place": "The day centre", "helped": ["staff", "quick"],
               "rating": 1, "hard_why": SKIP, "again": "yes", "visits": 12,
               "comments": comments}
    answers.update(changes)  # type: ignore[arg-type]
    return Person({k: v for k, v in answers.items() if v is not None})


def plan_for(runtime: Runtime, random_ids: bool = False) -> ExportPlan:
    with runtime.sessions() as session:
        return ExportPlan(load_versions(session, "everything"), random_ids=random_ids)


def csv_rows(runtime: Runtime, plan: ExportPlan) -> list[list[str]]:
    out = io.BytesIO()
    export(runtime.sessions, plan, "csv", out)
    raw = out.getvalue()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark, for Excel
    return list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))


def test_one_row_per_response_with_labels_codes_and_metadata(runtime: Runtime) -> None:
    seed(runtime, "everything", [everything(), everything(visits=3, again="no")])
    seed(runtime, "everything", [Person(status="declined"), Person(status="started")])
    plan = plan_for(runtime)
    header, *rows = csv_rows(runtime, plan)
    assert header[:8] == ["Respondent (pseudonym)", "Survey version", "Channel", "Language",
                          "Status", "Started (UTC)", "Completed (UTC)", "May be quoted"]
    assert header[8:] == [
        "How did you last contact the service? [contact]",
        "How did you last contact the service? [contact] code",
        "Where did you visit? [visit_place]",
        "Where did you visit? [visit_place] themes",
        "Where did you visit? [visit_place] reviewers' notes",
        "Which of these helped? [helped]", "Which of these helped? [helped] code",
        "Which of these helped? [helped] option: Friendly staff",
        "Which of these helped? [helped] option: Clear information",
        "Which of these helped? [helped] option: Quick answers",
        "How easy was it to get help? [rating]", "How easy was it to get help? [rating] code",
        "What made it hard? [hard_why]",
        "What made it hard? [hard_why] themes",
        "What made it hard? [hard_why] reviewers' notes",
        "Would you use the service again? [again]",
        "Would you use the service again? [again] code",
        "How many times have you used it this year? [visits]",
        "Anything else? [comments]",
        "Anything else? [comments] themes",
        "Anything else? [comments] reviewers' notes",
        "Other replies",
    ]
    assert len(rows) == 2  # declined and never-consented responses are not exported
    row = dict(zip(header, rows[0], strict=True))
    with runtime.sessions() as session:
        pseudonyms = set(session.scalars(select(Participant.id)))
    assert row["Respondent (pseudonym)"] in pseudonyms
    assert (row["Survey version"], row["Channel"], row["Status"]) == ("3", "sms", "completed")
    assert row["Started (UTC)"] == "2026-11-23 10:00:00"
    assert row["How did you last contact the service? [contact]"] == "In person"
    assert row["How did you last contact the service? [contact] code"] == "visit"
    assert row["Which of these helped? [helped]"] == "Friendly staff; Quick answers"
    assert row["Which of these helped? [helped] code"] == "staff;quick"
    assert [row[f"Which of these helped? [helped] option: {label}"]
            for label in ("Friendly staff", "Clear information", "Quick answers")] == [
        "1", "0", "1"]
    assert row["Anything else? [comments] themes"] == ""  # answered, not tagged yet
    assert row["What made it hard? [hard_why] themes"] == ""  # skipped: nothing to tag
    assert row["How easy was it to get help? [rating]"] == "1 (Very hard)"
    assert row["How easy was it to get help? [rating] code"] == "1"
    assert row["What made it hard? [hard_why]"] == SKIPPED
    assert row["How many times have you used it this year? [visits]"] == "12"
    assert rows[1][header.index("Would you use the service again? [again] code")] == "no"


@pytest.mark.parametrize("text", DANGEROUS)
def test_neutralise_covers_every_formula_start(text: str) -> None:
    assert neutralise(text) == "'" + text
    assert neutralise("Plain words = fine") == "Plain words = fine"
    assert neutralise(-5) == -5  # a number stays a number


def test_formula_cells_are_neutralised_in_csv_and_xlsx_but_kept_in_jsonl(
        runtime: Runtime, tmp_path: Path) -> None:
    seed(runtime, "everything", [everything(text) for text in DANGEROUS])
    plan = plan_for(runtime)
    header, *rows = csv_rows(runtime, plan)
    comments = [row[header.index("Anything else? [comments]")] for row in rows]
    assert comments == ["'" + text for text in DANGEROUS]

    path = tmp_path / "out.xlsx"
    export(runtime.sessions, plan, "xlsx", io.BytesIO(), xlsx_path=path)
    workbook = load_workbook(path)
    sheet = workbook["Responses"]
    column = [c.value for c in sheet[1]].index("Anything else? [comments]") + 1
    cells = [sheet.cell(row=r, column=column) for r in range(2, len(DANGEROUS) + 2)]
    assert all(cell.data_type == "s" for cell in cells)  # text, never a formula
    assert [cell.value for cell in cells] == ["'" + text for text in DANGEROUS]
    assert "Data dictionary" in workbook.sheetnames
    for sheet_ in workbook:
        for line in sheet_.iter_rows():
            for cell in line:
                assert cell.data_type != "f", cell.coordinate

    out = io.BytesIO()
    export(runtime.sessions, plan, "jsonl", out)
    records = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert [r["comments"] for r in records] == DANGEROUS  # programs get the exact text
    assert records[0]["helped.code"] == "staff;quick" and records[0]["visits"] == 12
    assert records[0]["started_at"] == "2026-11-23T10:00:00+00:00"


def test_a_header_from_the_survey_is_neutralised_too(runtime: Runtime, tmp_path: Path) -> None:
    source = (SURVEYS / "all_types.yaml").read_text().replace(
        "text: Anything else?", "text: \"=Anything else?\"").replace("version: 3", "version: 4")
    folder = tmp_path / "v4"
    folder.mkdir()
    (folder / "all_types.yaml").write_text(source)
    load_library(runtime, folder)
    header = csv_rows(runtime, plan_for(runtime))[0]
    assert "'=Anything else? [comments]" in header


def test_questions_of_older_versions_keep_their_columns(runtime: Runtime,
                                                        tmp_path: Path) -> None:
    seed(runtime, "everything", [everything("Said in version 3")])
    source = (SURVEYS / "all_types.yaml").read_text().replace(
        "id: comments", "id: remarks").replace("version: 3", "version: 4")
    folder = tmp_path / "v4"
    folder.mkdir()
    (folder / "all_types.yaml").write_text(source)
    load_library(runtime, folder)
    seed(runtime, "everything", [everything(None, remarks="Said in version 4")])
    header, *rows = csv_rows(runtime, plan_for(runtime))
    assert header[-7:-1:3] == ["Anything else? [remarks]", "Anything else? [comments]"]
    assert [row[-7:-1:3] for row in rows] == [["", "Said in version 3"],
                                            ["Said in version 4", ""]]
    assert [row[1] for row in rows] == ["3", "4"]


def test_rows_stream_in_chunks_without_losing_or_repeating_any(runtime: Runtime) -> None:
    seed(runtime, "everything", [everything(f"Person {n}") for n in range(7)])
    seed(runtime, "everything", [everything(SKIP), everything(PHOTO)])
    plan = plan_for(runtime)
    whole = list(iter_rows(runtime.sessions, plan))
    assert list(iter_rows(runtime.sessions, plan, chunk=2)) == whole
    assert list(iter_rows(runtime.sessions, plan, chunk=1)) == whole
    with runtime.sessions() as session:
        assert count_rows(session, "everything") == len(whole) == 9
    comments = [c.key for c in plan.columns].index("comments")
    assert [row[comments] for row in whole][:7] == [f"Person {n}" for n in range(7)]
    assert whole[7][comments] == SKIPPED and whole[8][comments] == MEDIA
    assert all(row[-1] == [] for row in whole)  # no other replies here


def test_random_ids_are_random_per_export_and_never_pseudonyms(runtime: Runtime) -> None:
    seed(runtime, "everything", [everything() for _ in range(5)])
    first = [row[0] for row in csv_rows(runtime, plan_for(runtime, random_ids=True))[1:]]
    second = [row[0] for row in csv_rows(runtime, plan_for(runtime, random_ids=True))[1:]]
    with runtime.sessions() as session:
        pseudonyms = set(session.scalars(select(Participant.id)))
    assert len(set(first)) == 5 and all(len(i) == 16 for i in first)
    assert not set(first) & set(second) and not set(first) & pseudonyms


def test_no_export_ever_contains_an_address(runtime: Runtime, tmp_path: Path) -> None:
    addresses = seed(runtime, "everything", [everything(), everything()])
    plan = plan_for(runtime)
    for fmt in ("csv", "jsonl"):
        out = io.BytesIO()
        export(runtime.sessions, plan, fmt, out)  # type: ignore[arg-type]
        assert scan_text(out.getvalue().decode("utf-8-sig"), addresses) == []
    path = tmp_path / "x.xlsx"
    export(runtime.sessions, plan, "xlsx", io.BytesIO(), xlsx_path=path)
    cells = " ".join(str(c.value) for sheet in load_workbook(path) for line in sheet.iter_rows()
                     for c in line)
    assert scan_text(cells, addresses) == []


def test_themes_and_notes_of_each_answer_are_in_every_format(runtime: Runtime,
                                                              tmp_path: Path) -> None:
    seed(runtime, "everything", [everything("Too slow on the phone"), everything("=cmd"),
                                 everything(SKIP)])
    now = runtime.clock()
    with runtime.sessions() as session:
        repo = DashboardRepository(session)
        slow, formula, _skipped = session.scalars(
            select(Answer.id).where(Answer.question_id == "comments").order_by(Answer.id))
        waiting = repo.create_theme("everything", "Waiting", None, now)
        phones = repo.create_theme("everything", "Phones; lines", None, now)
        repo.tag(slow, waiting, None, now)
        repo.tag(slow, phones, None, now)
        repo.tag(formula, waiting, None, now)
        repo.add_note(slow, None, "Ask the team\nabout Mondays", now)
        repo.add_note(slow, None, "-2 staff that week", now)
        session.commit()
    plan = plan_for(runtime)
    header, *rows = csv_rows(runtime, plan)
    themes = header.index("Anything else? [comments] themes")
    notes = header.index("Anything else? [comments] reviewers' notes")
    assert [row[themes] for row in rows] == ["Phones; lines; Waiting", "Waiting", ""]
    assert [row[notes] for row in rows] == [
        "Ask the team\nabout Mondays\n\n-2 staff that week", "", ""]

    out = io.BytesIO()
    export(runtime.sessions, plan, "jsonl", out)
    records = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    assert [r["comments.themes"] for r in records] == [["Phones; lines", "Waiting"],
                                                       ["Waiting"], None]
    assert records[0]["comments.notes"] == ["Ask the team\nabout Mondays",
                                            "-2 staff that week"]
    assert records[1]["comments.notes"] == []
    assert [records[0][f"helped.option.{code}"] for code in ("staff", "info", "quick")] == [
        1, 0, 1]

    path = tmp_path / "out.xlsx"
    export(runtime.sessions, plan, "xlsx", io.BytesIO(), xlsx_path=path)
    sheet = load_workbook(path)["Responses"]
    assert sheet.freeze_panes == "B2"  # header row and respondent column stay in view
    heads = [c.value for c in sheet[1]]
    assert heads == plan.headers and sheet["A1"].font.bold
    cell = sheet.cell(row=2, column=notes + 1)
    assert cell.value == "Ask the team\nabout Mondays\n\n-2 staff that week"
    assert sheet.cell(row=3, column=themes + 1).value == "Waiting"
    option = heads.index("Which of these helped? [helped] option: Quick answers") + 1
    assert [sheet.cell(row=r, column=option).value for r in (2, 3)] == [1, 1]
    widths = {heads[n]: sheet.column_dimensions[get_column_letter(n + 1)].width
              for n in range(len(heads))}
    assert widths["Anything else? [comments]"] == 60
    assert widths["Which of these helped? [helped] code"] < widths["Anything else? [comments]"]
    assert all(8 <= width <= 60 for width in widths.values())


def test_the_data_dictionary_describes_every_column(runtime: Runtime) -> None:
    plan = plan_for(runtime)
    header, *lines = list(plan.dictionary())
    assert header[0] == "Column"
    described = [line[0] for line in lines if line[0]]
    assert described == plan.headers
    helped = next(line for line in lines if line[1] == "helped.code")
    assert helped[2:5] == ["helped", "multiple_choice", "Which of these helped?"]
    assert "staff = Friendly staff" in helped[5]


# --- the command line ------------------------------------------------------------------------


@pytest.fixture
def cli(database_url: str, tmp_path: Path, runtime: Runtime) -> Iterator[CliRunner]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WITHUS_")}
    env.update(WITHUS_DATABASE_URL=database_url, WITHUS_INSTANCE_PATH=str(tmp_path / "inst"),
               WITHUS_VAULT_KEYS=TEST_VAULT_KEY,
               WITHUS_PSEUDONYM_KEY="test-pseudonym-key-of-32-bytes-or-more!",
               WITHUS_SECRET_KEY="test")
    yield CliRunner(env=env)


@click.group()
def withus() -> None:
    """The commands as `bot.cli` registers them."""


for _command in COMMANDS:
    withus.add_command(_command)


def test_users_add_reads_the_password_from_stdin_and_hashes_it(cli: CliRunner,
                                                                runtime: Runtime) -> None:
    added = cli.invoke(withus, ["users", "add", "Org@Example.org", "--role", "organiser",
                                "--password-stdin"], input="a long enough password\n")
    assert added.exit_code == 0, added.output
    assert "added organiser org@example.org" in added.output
    with runtime.sessions() as session:
        user = session.scalars(select(User)).one()
    assert user.role == "organiser" and user.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in user.password_hash
    again = cli.invoke(withus, ["users", "add", "org@example.org", "--role", "reviewer",
                                "--password-stdin"], input="another long password\n")
    assert again.exit_code == 2 and "already an account" in again.output
    short = cli.invoke(withus, ["users", "add", "r@example.org", "--role", "reviewer",
                                "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "too short" in short.output
    assert cli.invoke(withus, ["users", "add", "not-an-email", "--role", "reviewer",
                               "--password-stdin"], input="x" * 20).exit_code == 2
    prompted = cli.invoke(withus, ["users", "add", "rev@example.org", "--role", "reviewer"],
                          input="typed at the prompt\ntyped at the prompt\n")
    assert prompted.exit_code == 0, prompted.output
    listing = cli.invoke(withus, ["users", "list"])
    assert "org@example.org\torganiser\tlast signed in never" in listing.output


def test_export_writes_the_file_and_dictionary_with_progress(cli: CliRunner, runtime: Runtime,
                                                            tmp_path: Path) -> None:
    seed(runtime, "everything", [everything("=2+2") for _ in range(3)])
    out = tmp_path / "exports" / "everything.csv"
    result = cli.invoke(withus, ["export", "everything", "--format", "csv", "--output",
                                 str(out), "--reason", "Quarterly report"])
    assert result.exit_code == 0, result.output
    assert "exporting" not in result.stderr  # a progress bar only on a terminal (test_cli_progress)
    assert f"wrote 3 responses to {out}" in result.stdout
    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
    assert len(rows) == 4 and rows[1][rows[0].index("Anything else? [comments]")] == "'=2+2"
    assert (tmp_path / "exports" / "everything.dictionary.csv").exists()
    with runtime.sessions() as session:
        event = session.scalars(select(AuditEvent)).one()
    assert event.user_id is None and event.reason == "Quarterly report"
    assert event.detail["via"] == "command line"
    xlsx = tmp_path / "everything.xlsx"
    assert cli.invoke(withus, ["export", "everything", "--format", "xlsx", "--output",
                               str(xlsx)]).exit_code == 0
    assert load_workbook(xlsx)["Responses"].max_row == 4
    seed(runtime, "fft", [Person({"overall": "good"})])
    one = cli.invoke(withus, ["export", "fft", "--output", str(tmp_path / "fft.csv")])
    assert one.exit_code == 0 and "wrote 1 response to" in one.stdout, one.output
    missing = cli.invoke(withus, ["export", "nosuch", "--output", str(tmp_path / "n.csv")])
    assert missing.exit_code == 2 and "not loaded" in missing.output
