"""XLSForm import: forms built here, imported, then completed through `withus chat`.

The forms are written cell by cell with openpyxl, as an organiser would in Excel, so the
row numbers in the expected reports are the rows a person would look at.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import Workbook
from sqlalchemy import create_engine, select

from storage.models import Answer
from surveys.lint import has_errors, lint_file
from surveys.loader import load_file
from surveys.model import QuestionType, Survey
from surveys.xlsform import XLSFormError, import_xlsform
from tests.conftest_db import TEST_VAULT_KEY

WITHUS = Path(sys.executable).with_name("withus")
COMMAND = [str(WITHUS)] if WITHUS.exists() else [sys.executable, "-m", "bot.cli"]

Row = list[Any]


def xlsform(path: Path, survey: list[Row], choices: list[Row] | None = None,
            settings: list[Row] | None = None) -> Path:
    """Write an XLSForm workbook: each list is a sheet, its first row the headers."""
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    for row in survey:
        sheet.append(row)
    for name, rows in (("choices", choices), ("settings", settings)):
        if rows:
            extra = book.create_sheet(name)
            for row in rows:
                extra.append(row)
    book.save(path)
    return path


# --- a form in two languages, with skip logic ---------------------------------------------

EN, CY = "label::English (en)", "label::Welsh (cy)"
BILINGUAL_SURVEY: list[Row] = [
    ["type", "name", EN, CY, "required", "relevant", "constraint"],
    ["select_one yesno", "carer", "Do you look after someone without being paid?",
     "Ydych chi'n gofalu am rywun heb gael eich talu?", "yes", None, None],
    ["integer", "hours", "About how many hours a week?", "Tua sawl awr yr wythnos?", "yes",
     "${carer} = 'yes'", ". >= 0 and . <= 168"],
    ["select_multiple helps", "helps", "What helps you?", "Beth sy'n eich helpu?", None,
     "${carer} = 'yes'", None],
    ["select_one rating", "health", "How is your health?", "Sut mae eich iechyd?", "yes",
     None, None],
    ["text", "better", "What would help your health?", "Beth fyddai'n helpu eich iechyd?",
     None, "${health} <= 2", None],
    ["note", "nearly", "Nearly done.", "Bron wedi gorffen.", None, None, None],
    ["decimal", "pay", "If you are paid for any caring, how much an hour, in pounds?",
     "Os ydych chi'n cael eich talu am ofalu, faint yr awr, mewn punnoedd?", None,
     "selected(${helps}, 'money')", ". >= 0 and . <= 100"],
]
BILINGUAL_CHOICES: list[Row] = [
    ["list_name", "name", EN, CY],
    ["yesno", "yes", "Yes", "Ie"], ["yesno", "no", "No", "Na"],
    ["helps", "family", "Family or friends", "Teulu neu ffrindiau"],
    ["helps", "money", "Money advice", "Cyngor ariannol"],
    ["helps", "breaks", "Breaks", "Seibiant"],
    ["rating", "1", "Poor", "Gwael"], ["rating", "2", "Fair", "Gweddol"],
    ["rating", "3", "Good", "Da"],
]
BILINGUAL_SETTINGS: list[Row] = [
    ["form_title", "form_id", "version", "default_language"],
    ["Carers check-in", "carers_checkin", "2024051501", "English (en)"],
]


@pytest.fixture
def bilingual(tmp_path: Path) -> Path:
    return xlsform(tmp_path / "carers_checkin.xlsx", BILINGUAL_SURVEY, BILINGUAL_CHOICES,
                   BILINGUAL_SETTINGS)


def test_two_languages_and_skip_logic_are_imported(bilingual: Path) -> None:
    imported = import_xlsform(bilingual)
    survey = imported.survey
    assert (survey.id, survey.version, survey.languages) == (
        "carers_checkin", 2024051501, ("en", "cy"))
    assert [q.id for q in survey.questions] == [
        "carer", "hours", "helps", "health", "better", "nearly", "pay"]
    kinds = [q.type for q in survey.questions]
    assert kinds == [QuestionType.SINGLE_CHOICE, QuestionType.NUMBER,
                     QuestionType.MULTIPLE_CHOICE, QuestionType.SINGLE_CHOICE,
                     QuestionType.FREE_TEXT, QuestionType.INFO, QuestionType.NUMBER]
    carer, hours, helps, health, better, _nearly, pay = survey.questions
    assert carer.text.get("cy") == "Ydych chi'n gofalu am rywun heb gael eich talu?"
    assert [o.label.get("cy") for o in carer.options] == ["Ie", "Na"]
    assert not carer.optional and helps.optional and better.optional  # XLSForm's default
    assert (hours.minimum, hours.maximum, hours.integer) == (0, 168, True)
    assert (pay.minimum, pay.maximum, pay.integer) == (0, 100, False)
    assert hours.show_if is not None and hours.show_if.question == "carer"
    assert hours.show_if.values == {"yes"}
    # "1", "2", "3" are not WithUs codes: renamed, reported, and "<= 2" follows them.
    assert [o.code for o in health.options] == ["c1", "c2", "c3"]
    assert better.show_if is not None and better.show_if.values == {"c1", "c2"}
    assert pay.show_if is not None and (pay.show_if.question, pay.show_if.values) == (
        "helps", {"money"})
    assert [str(p) for p in imported.problems] == [
        "choices row 7: choice names in list 'rating' are not WithUs codes (lowercase "
        "letters, digits, _, starting with a letter): 1 -> c1, 2 -> c2, 3 -> c3",
        "settings row 2: form_title is in one language only: add the others (cy) to "
        "'title' in the YAML",
    ]


def test_the_imported_file_loads_and_lints_clean(bilingual: Path, tmp_path: Path) -> None:
    imported = import_xlsform(bilingual)
    path = tmp_path / "out.yaml"
    path.write_text(imported.to_yaml(), encoding="utf-8")
    assert load_file(path) == imported.survey.__class__(**{
        **imported.survey.__dict__, "source_path": str(path)})
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# Imported from carers_checkin.xlsx")
    assert "#   choices row 7: choice names in list 'rating'" in text
    assert yaml.safe_load(text)["intro"]["cy"].startswith("Dyma \"Carers check-in\"")
    assert not has_errors(lint_file(path))


# --- what is not supported is reported by row ------------------------------------------------


def test_everything_unsupported_is_reported_by_row(tmp_path: Path) -> None:
    form = xlsform(tmp_path / "kitchen_sink.xlsx", [
        ["type", "name", "label", "hint", "required", "relevant", "constraint", "appearance",
         "calculation", "choice_filter"],
        ["start", "started", None, None, None, None, None, None, None, None],           # 2
        ["text", "name_", "Your first name?", "Only your first name", None, None, None,
         None, None, None],                                                             # 3
        ["geopoint", "where", "Where are you?", None, None, None, None, None, None,
         None],                                                                         # 4
        ["integer", "age", "How old are you?", None, "yes", None, ". > 17 and . != 99",
         None, None, None],                                                             # 5
        ["calculate", "double", None, None, None, None, None, None, "${age} * 2",
         None],                                                                         # 6
        ["begin_repeat", "kids", "Children", None, None, None, None, None, None,
         None],                                                                         # 7
        ["text", "kid", "Child's name", None, None, None, None, None, None, None],     # 8
        ["end_repeat", None, None, None, None, None, None, None, None, None],           # 9
        ["select_one area", "area", "Which area?", None, None,
         "${age} > 18 and ${age} < 65", None, "minimal", None, "x = 1"],               # 10
        [],                                                                             # 11
        ["date", "when", "When?", None, None, None, None, None, None, None],           # 12
        ["image", "photo", "A photo?", None, None, None, None, None, None, None],      # 13
        ["select_one area", "Area-2", "Second area?", None, None, "${area} != 'north'",
         None, None, None, None],                                                       # 14
    ], [
        ["list_name", "name", "label", "x"],
        ["area", "north", "North", "1"], ["area", "south", "South", "1"],
    ], [
        ["form_title", "form_id", "style"], ["Kitchen sink", "Kitchen Sink", "pages"],
    ])
    imported = import_xlsform(form)
    assert [str(p) for p in imported.problems] == [
        "survey row 2: 'start' metadata is not collected in a chat; left out",
        "survey row 3: column 'hint': hints are not imported: put anything essential in the "
        "label",
        "survey row 3: 'name_' is not a WithUs id (lowercase letters, digits, _): renamed "
        "'name'",
        "survey row 4: 'geopoint' questions are not supported; 'where' is left out",
        "survey row 5: constraint '. > 17 and . != 99' is not a simple range; not imported",
        "survey row 6: 'calculate' questions are not supported; 'double' is left out",
        "survey row 7: repeats are not supported: 'kids' and the 1 question(s) in it are "
        "left out",
        "survey row 10: column 'appearance': appearance is not used: a chat shows choices "
        "as numbered lines or buttons",
        "survey row 10: column 'choice_filter': choice filters are not imported: every "
        "choice is offered",
        "survey row 10: relevant '${age} > 18 and ${age} < 65' is not a simple comparison "
        "on one earlier question, so it is not imported: the question is always asked",
        "survey row 12: 'date' questions are not supported; 'when' is left out",
        "survey row 13: 'image' questions are not supported; 'photo' is left out",
        "survey row 14: 'Area-2' is not a WithUs id (lowercase letters, digits, _): renamed "
        "'area_2'",
        "choices row 2: column 'x' not imported",
        "choices row 3: column 'x' not imported",
        "settings row 2: column 'style' not imported",
        "settings row 2: form_id 'Kitchen Sink' is not a WithUs id: renamed 'kitchen_sink'",
    ]
    survey = imported.survey
    assert [q.id for q in survey.questions] == ["name", "age", "area", "area_2"]
    assert survey.questions[2].show_if is None  # reported, and asked to everyone
    area_2 = survey.questions[3]
    assert area_2.show_if is not None and area_2.show_if.values == {"south"}  # != north


def test_a_language_without_a_code_is_reported(tmp_path: Path) -> None:
    form = xlsform(tmp_path / "f.xlsx", [
        ["type", "name", "label::English", "label::Cymraeg", "label::Elvish"],
        ["text", "q", "Anything to add?", "Unrhyw beth i'w ychwanegu?", "Mae govannen?"],
    ])
    imported = import_xlsform(form)
    assert imported.survey.languages == ("en", "cy")
    assert imported.problems[0] == imported.problems[0].__class__(
        "survey", None, "the language 'Elvish' has no code, so its labels are left out: write "
                        "the column as 'label::Elvish (xx)' with its two-letter code")


def test_a_form_pyxform_rejects_is_an_error(tmp_path: Path) -> None:
    form = xlsform(tmp_path / "bad.xlsx", [["type", "name", "label"],
                                           ["select_one nolist", "q", "Pick"]])
    with pytest.raises(XLSFormError, match="not a readable XLSForm"):
        import_xlsform(form)
    nothing = xlsform(tmp_path / "nothing.xlsx", [["type", "name", "label"],
                                                  ["geopoint", "where", "Where?"]])
    with pytest.raises(XLSFormError, match="none of the form's questions can be asked"):
        import_xlsform(nothing)


# --- imported, loaded and completed through `withus chat` -------------------------------------


def withus(args: list[str], env: dict[str, str], stdin: str = "",
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, "--log-format", "text", *args], input=stdin, env=env,
                          capture_output=True, text=True, timeout=120, check=False, cwd=cwd)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if not k.startswith("WITHUS_")}
    values.update(WITHUS_DATABASE_URL=f"sqlite:///{tmp_path / 'withus.db'}",
                  WITHUS_INSTANCE_PATH=str(tmp_path / "inst"), WITHUS_VAULT_KEYS=TEST_VAULT_KEY,
                  WITHUS_PSEUDONYM_KEY="a-test-pseudonym-key-that-is-long-enough",
                  WITHUS_SECRET_KEY="test")
    return values


def _import_and_load(form: Path, env: dict[str, str], tmp_path: Path) -> Survey:
    output = tmp_path / f"{form.stem}.yaml"
    imported = withus(["surveys", "import-xlsform", str(form), "--output", str(output)], env)
    assert imported.returncode == 0, imported.stderr
    assert f"wrote {output}" in imported.stdout
    loaded = withus(["surveys", "load", str(output)], env)
    assert loaded.returncode == 0, loaded.stderr
    survey = load_file(output)
    assert isinstance(survey, Survey)
    return survey


def _answers(env: dict[str, str]) -> dict[str, object]:
    engine = create_engine(env["WITHUS_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            rows = connection.execute(select(Answer.question_id, Answer.value)).all()
    finally:
        engine.dispose()
    return dict(rows)


def test_a_bilingual_form_is_completed_in_english_with_its_skip_logic(
        bilingual: Path, env: dict[str, str], tmp_path: Path) -> None:
    survey = _import_and_load(bilingual, env, tmp_path)
    script = "\n".join([
        "1",                   # English
        "yes",                 # consent
        "yep",                 # carer: yes -> hours and helps follow
        "about 30",            # hours
        "family and money",    # helps (money -> pay follows)
        "poor",                # health 1 -> better follows
        "A regular break.",    # better
        "12.50",               # pay
        "no", "no",            # may we quote you; hear back
    ]) + "\n"
    chat = withus(["chat", survey.id, "--address", "07700 900871"], env, stdin=script)
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert "Which language would you like? / Pa iaith hoffech chi?" in out
    assert "About how many hours a week?" in out
    assert "What would help your health?" in out and "Nearly done." in out
    assert "If you are paid for any caring, how much an hour, in pounds?" in out
    assert out.rstrip().endswith("They will be read with everyone else's.")
    assert _answers(env) == {"carer": "yes", "hours": 30, "helps": ["family", "money"],
                             "health": "c1", "better": "A regular break.", "pay": 12.5}


def test_a_bilingual_form_is_completed_in_welsh_skipping_what_does_not_apply(
        bilingual: Path, env: dict[str, str], tmp_path: Path) -> None:
    survey = _import_and_load(bilingual, env, tmp_path)
    script = "\n".join([
        "2",        # Cymraeg
        "ydw",      # consent
        "na",       # not a carer: hours, helps and pay are skipped
        "da",       # health 3 (Good): no follow-up question
        "na",       # hear back
    ]) + "\n"
    chat = withus(["chat", survey.id, "--address", "07700 900872"], env, stdin=script)
    assert chat.returncode == 0, chat.stderr
    out = chat.stdout
    assert "Ydych chi'n gofalu am rywun heb gael eich talu?" in out
    assert "1 Ie\n2 Na" in out
    assert "Sut mae eich iechyd?" in out and "Bron wedi gorffen." in out
    for skipped in ("Tua sawl awr", "Beth sy'n eich helpu", "Beth fyddai'n helpu",
                    "punnoedd"):
        assert skipped not in out
    assert out.rstrip().endswith("Byddant yn cael eu darllen gydag atebion pawb arall.")
    assert _answers(env) == {"carer": "no", "health": "c3"}


def test_a_form_with_groups_and_one_language_is_completed(env: dict[str, str],
                                                          tmp_path: Path) -> None:
    form = xlsform(tmp_path / "visits.xlsx", [
        ["type", "name", "label", "required", "relevant"],
        ["select_one yn", "visited", "Did a care worker visit you this week?", "yes", None],
        ["begin_group", "about", "About the visits", None, "${visited} = 'yes'"],
        ["integer", "visits", "How many visits?", "yes", None],
        ["select_one yn", "on_time", "Were they on time?", "yes", None],
        ["end_group", None, None, None, None],
        ["text", "anything", "Anything else?", None, "${visits} = 3"],
    ], [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]],
        [["form_title"], ["Home visits"]])
    survey = _import_and_load(form, env, tmp_path)
    assert survey.id == "visits" and survey.languages == ("en",)
    assert [q.show_if.question if q.show_if else None for q in survey.questions] == [
        None, "visited", "visited", "visits"]
    chat = withus(["chat", "visits", "--address", "07700 900873"], env,
                  stdin="yes\nyes\nthree\n👍\nThey were kind.\nyes\nno\n")
    assert chat.returncode == 0, chat.stderr
    assert "Anything else?" in chat.stdout
    assert _answers(env) == {"visited": "yes", "visits": 3, "on_time": "yes",
                             "anything": "They were kind."}


def test_the_command_refuses_to_overwrite_and_reports_problems(bilingual: Path,
                                                               env: dict[str, str],
                                                               tmp_path: Path) -> None:
    printed = withus(["surveys", "import-xlsform", str(bilingual)], env)
    assert printed.returncode == 0, printed.stderr
    assert yaml.safe_load(printed.stdout)["id"] == "carers_checkin"
    assert ("not imported: carers_checkin.xlsx: choices row 7: choice names in list "
            "'rating'") in printed.stderr
    existing = tmp_path / "existing.yaml"
    existing.write_text("keep me", encoding="utf-8")
    refused = withus(["surveys", "import-xlsform", str(bilingual), "-o", str(existing)], env)
    assert refused.returncode == 2 and existing.read_text(encoding="utf-8") == "keep me"
    forced = withus(["surveys", "import-xlsform", str(bilingual), "-o", str(existing),
                     "--force"], env)
    assert forced.returncode == 0 and "carers_checkin" in existing.read_text(encoding="utf-8")
    broken = xlsform(tmp_path / "broken.xlsx", [["type", "name", "label"],
                                                ["select_one missing", "q", "Pick"]])
    failed = withus(["surveys", "import-xlsform", str(broken)], env)
    assert failed.returncode == 2 and "error:" in failed.stderr
