"""Bounded inputs: hostile files are refused at once with a clear error and exit 2, and
hostile query strings get a 4xx, never a 500 (issue 18, findings 5 to 8).

The files from the attack run are built here (benchmarks/hostile_inputs.py builds them)
and handed to the real `withus` command in a child process whose memory is sampled with
psutil; a child that passes 400 MB or 60 s is killed, which fails the test. The figures
themselves are the benchmark's business (benchmarks/README.md); here only the bounds
that make the difference are checked: exit 2, a message naming the problem, no
traceback, under 200 MB, and seconds rather than minutes.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from benchmarks.hostile_inputs import (
    COMMAND,
    deep_yaml,
    environment,
    long_csv,
    measure,
    million_rows,
    questions,
    wide_csv,
    zip_bomb,
)
from bot.services import outreach
from bot.services.outreach import MAX_CONTACT_LINES, MAX_LINE_CHARS, OutreachError
from bot.services.runtime import Runtime
from bot.web.app import create_app
from surveys.loader import load_text
from surveys.reading import MAX_DEPTH, SurveyError
from surveys.xlsform import MAX_PARTS, MAX_ROWS, XLSFormError, check_bounds
from tests.browser.seed import FFT_PEOPLE, PASSWORD, add_user, seed
from tests.helpers import FakeClock, make_runtime

CONTACTS = ["contacts", "import", "--channel", "sms", "--cohort", "hostile"]


# --- the attack files, through the command, in a child process ---------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.mark.slow
@pytest.mark.parametrize(("build", "command", "expected"), [
    (lambda f: zip_bomb(f / "bomb.xlsx"), ["surveys", "import-xlsform"],
     "unpacked, this workbook would be 1,536.0 MB"),
    (lambda f: million_rows(f / "rows.xlsx"), ["surveys", "import-xlsform"],
     "unpacked, this workbook would be 49.6 MB"),
    (lambda f: questions(f / "questions.xlsx", MAX_ROWS + 1), ["surveys", "import-xlsform"],
     f"has more than {MAX_ROWS:,} rows"),
    (lambda f: deep_yaml(f / "deep.yaml"), ["surveys", "lint"],
     f"nested more than {MAX_DEPTH} levels deep at line 4"),
    (lambda f: deep_yaml(f / "deep.yaml"), ["surveys", "load"],
     f"nested more than {MAX_DEPTH} levels deep at line 4"),
    (lambda f: wide_csv(f / "wide.csv"), CONTACTS,
     f"line 2: the line is 1,048,591 characters long; a contact's line is at most "
     f"{MAX_LINE_CHARS:,}"),
    (lambda f: long_csv(f / "long.csv", MAX_CONTACT_LINES + 10), CONTACTS,
     f"line {MAX_CONTACT_LINES + 1:,}: the file has more than {MAX_CONTACT_LINES:,} lines"),
], ids=["zip-bomb", "million-rows", "rows", "deep-yaml-lint", "deep-yaml-load", "csv-field",
        "csv-lines"])
def test_a_hostile_file_is_refused_at_once(folder: Path, build: object, command: list[str],
                                           expected: str) -> None:
    assert callable(build)
    path: Path = build(folder)
    result = measure(path.name, [*COMMAND, *command, str(path)], env=environment(folder),
                     limit_mb=400, timeout=60)
    assert not result.killed, f"killed: {result.killed} ({result.peak_mb:.0f} MB)"
    assert result.exit_code == 2, result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert result.peak_mb < 200, f"{result.peak_mb:.0f} MB"
    assert result.seconds < 20, f"{result.seconds:.1f} s"


# --- each XLSForm bound on its own ------------------------------------------------------------


def test_a_form_of_reasonable_size_passes_the_bounds(tmp_path: Path) -> None:
    check_bounds(questions(tmp_path / "ok.xlsx", MAX_ROWS - 1))  # the header makes MAX_ROWS


def test_too_many_rows_is_refused_before_parsing(tmp_path: Path) -> None:
    with pytest.raises(XLSFormError, match=f"more than {MAX_ROWS:,} rows"):
        check_bounds(questions(tmp_path / "rows.xlsx", MAX_ROWS))


def test_a_part_that_grows_too_much_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ratio.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b" " * (2 * 1024 * 1024))
    with pytest.raises(XLSFormError, match="grows .* times when unpacked"):
        check_bounds(path)


def test_too_many_parts_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "parts.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        for n in range(MAX_PARTS + 1):
            archive.writestr(f"part{n}.xml", b"")
    with pytest.raises(XLSFormError, match="parts"):
        check_bounds(path)


def test_row_tags_cut_by_the_reading_window_are_counted_once(tmp_path: Path) -> None:
    # Rows of odd lengths, so tags fall across every 1 MB window boundary somewhere.
    path = tmp_path / "odd.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        body = "".join(f'<x:row r="{n}">{"y" * (n % 97)}</x:row>' for n in range(MAX_ROWS))
        archive.writestr("xl/worksheets/sheet1.xml", body.encode())
    check_bounds(path)  # exactly MAX_ROWS: allowed
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("xl/worksheets/sheet2.xml", (body + "<x:row/>").encode())
    with pytest.raises(XLSFormError, match="sheet2.xml"):
        check_bounds(path)


# --- YAML -----------------------------------------------------------------------------------------


def test_yaml_nested_too_deep_is_a_survey_error_naming_the_line() -> None:
    with pytest.raises(SurveyError, match=f"more than {MAX_DEPTH} levels deep at line 2"):
        load_text("id: deep\nquestions: " + "[" * 5000 + "]" * 5000, "deep.yaml")
    # Nesting up to the limit is only YAML: the survey's own rules say what is wrong.
    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    with pytest.raises(SurveyError, match="question 1 must be a mapping"):
        load_text(f"id: ok\nversion: 1\ntitle: OK\nquestions: {nested}", "ok.yaml")


# --- contacts -----------------------------------------------------------------------------------


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = make_runtime(f"sqlite:///{tmp_path / 'withus.db'}", tmp_path, clock=FakeClock())
    add_user(rt, "org@example.org", "organiser")
    yield rt
    rt.close()


def test_contact_cells_that_are_formulas_or_not_numbers_are_rejected_by_line(
        runtime: Runtime) -> None:
    text = ("name,phone\n"
            "Ann,=07400123458\n"                   # 2: a formula around a number
            "Bea,javascript:alert(3)\n"            # 3: read as the number 3 before
            "Cal,@SUM(07700900123)\n"              # 4
            "Dee,\uff1d07700900124\n"              # 5: a full-width =
            "Eve,\"\t07700900125\"\n"              # 6: a tab first
            "Fay,+cmd|' /C calc'!A0\n"             # 7
            "Gus,+44 (0)20 7946 0001\n"           # 8: fine
            "Hal,020-7946-0002\n"                  # 9: fine
            "Ian,  020 7946 0003\n")               # 10: fine
    report = outreach.import_contacts(runtime, text, "sms", "leeds")
    assert report.imported == 3
    assert [line for line, _ in report.invalid] == [2, 3, 4, 5, 6, 7]
    reasons = dict(report.invalid)
    assert reasons[2] == "starts with '=', as a spreadsheet formula does"
    assert reasons[3] == "not a phone number"
    assert reasons[6] == "starts with '\\t', as a spreadsheet formula does"


def test_negative_telegram_chat_ids_are_still_ids(runtime: Runtime) -> None:
    report = outreach.import_contacts(runtime, "chat\n-1001234567890\n=123\n", "telegram", "t")
    assert report.imported == 1 and report.invalid == [(3, "starts with '=', as a "
                                                           "spreadsheet formula does")]


def test_an_unreadable_csv_line_is_an_error_with_its_line_number(runtime: Runtime) -> None:
    # A quoted field spanning many short lines, past the csv module's 128 KB field limit.
    text = "phone,notes\n07700900123,ok\n07700900124,\"" + "x\n" * 70_000 + "\"\n"
    with pytest.raises(OutreachError, match=r"^line [\d,]+: not readable as CSV"):
        outreach.import_contacts(runtime, text, "sms", "leeds")


# --- query strings -------------------------------------------------------------------------------


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    seed(runtime, "fft", FFT_PEOPLE)
    return create_app(runtime=runtime)


@pytest.mark.parametrize("target", ["/dashboard/\r\nSet-Cookie: x=1", "/dashboard/%0d%0aX: 1",
                                    "/dashboard/\nx", "/dashboard/\x00"])
def test_a_next_link_with_a_line_break_is_a_400(app: Flask, target: str) -> None:
    client = app.test_client()
    from urllib.parse import quote

    query = "?next=" + (target if "%" in target else quote(target))
    page = client.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    reply = client.post(f"/dashboard/login{query}", data={
        "email": "org@example.org", "password": PASSWORD, "csrf_token": token.group(1)})
    assert reply.status_code == 400
    assert client.get(f"/dashboard/login{query}").status_code == 400
    assert "Set-Cookie: x" not in str(reply.headers)


def test_a_safe_next_link_still_works(app: Flask) -> None:
    client = app.test_client()
    page = client.get("/dashboard/login?next=/dashboard/audit").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    reply = client.post("/dashboard/login?next=/dashboard/audit", data={
        "email": "org@example.org", "password": PASSWORD, "csrf_token": token.group(1)})
    assert (reply.status_code, reply.location) == (302, "/dashboard/audit")


@pytest.mark.parametrize("query", [f"page={2**63}", f"page={2**64 + 5}", f"theme={2**63}",
                                   "page=" + "9" * 4000])
def test_numbers_in_a_query_too_big_to_mean_anything_are_a_400(app: Flask, query: str) -> None:
    client = app.test_client()
    page = client.get("/dashboard/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token
    client.post("/dashboard/login", data={"email": "org@example.org", "password": PASSWORD,
                                          "csrf_token": token.group(1)})
    assert client.get("/dashboard/surveys/fft?page=2").status_code == 200
    assert client.get(f"/dashboard/surveys/fft?{query}").status_code == 400
