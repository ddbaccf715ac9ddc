"""Survey files: each kind of mistake an organiser can make gets a message naming it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from surveys.loader import SurveyError, load_file, load_folder, load_text, parse
from surveys.model import QuestionType

GOOD = {
    "id": "check",
    "version": 1,
    "title": "A check",
    "intro": "Hello.",
    "consent": "Do you agree?",
    "thank_you": "Thanks.",
    "questions": [
        {"id": "mood", "type": "single_choice", "text": "How are you?",
         "options": [{"code": "ok", "text": "OK"}, {"code": "bad", "text": "Not OK"}]},
        {"id": "why", "type": "free_text", "text": "Why?", "show_if":
            {"question": "mood", "equals": "bad"}},
    ],
}


def with_(path: str, value: object) -> dict:
    data = yaml.safe_load(yaml.safe_dump(GOOD))
    target = data
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[int(key)] if key.isdigit() else target[key]
    last = keys[-1]
    if value is ...:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


def test_a_good_survey_loads() -> None:
    survey = parse(GOOD, "check.yaml")
    assert survey.id == "check" and survey.questions[1].show_if is not None
    assert survey.questions[0].type is QuestionType.SINGLE_CHOICE


CASES = [
    ("id", "Bad Id", None, "'id' must be lowercase"),
    ("version", ..., None, "'version' is missing"),
    ("title", ..., None, "'title' is missing"),
    ("consent", ..., None, "'consent' is missing"),
    ("thank_you", "", None, "'thank_you' in language 'en' must be non-empty"),
    ("colour", "blue", None, "unknown field(s): colour"),
    ("questions", [], None, "'questions' must be a list with at least one question"),
    ("questions.0.type", "essay", "mood", "'type' must be one of"),
    ("questions.0.options", [{"code": "ok", "text": "OK"}], "mood", "at least two choices"),
    ("questions.0.options.1.code", "ok", "mood", "option code 'ok' is used twice"),
    ("questions.0.options.1", {"code": "x"}, "mood", "option 2 needs a 'code' and a 'text'"),
    ("questions.1.id", "mood", "mood", "the id is used twice"),
    ("questions.1.show_if", {"question": "later", "equals": "x"}, "why",
     "'later', which is not an earlier question"),
    ("questions.1.show_if", {"question": "mood", "equals": "great"}, "why",
     "value(s) great are not options of 'mood'"),
    ("questions.1.show_if", {"question": "mood"}, "why", "exactly one of 'equals'"),
    ("questions.0.text", {"cy": "Sut wyt ti?"}, "mood", "no text in the survey's default"),
    ("questions.0.optional", "sometimes", "mood", "'optional' must be true or false"),
    ("questions.1.max_length", 0, "why", "'max_length' must be a whole number of at least 1"),
    ("languages", ["cy"], None, "'languages' must include the default 'en'"),
    ("closes", "not a date", None, "'closes' must be a date"),
]


@pytest.mark.parametrize(("path", "value", "question", "message"), CASES,
                         ids=[c[3][:40] for c in CASES])
def test_each_error_names_file_question_and_problem(
    path: str, value: object, question: str | None, message: str
) -> None:
    with pytest.raises(SurveyError) as caught:
        parse(with_(path, value), "surveys/check.yaml")
    error = caught.value
    assert str(error).startswith("surveys/check.yaml")
    assert error.question == question
    assert message in str(error)
    if question:
        assert f"question '{question}'" in str(error)


@pytest.mark.parametrize(("qtype", "extra", "message"), [
    ("scale", {"max": 5, "low_label": "Low"}, "needs 'low_label' and 'high_label'"),
    ("scale", {"low_label": "Low", "high_label": "High"}, "a scale needs 'max'"),
    ("scale", {"max": 20, "low_label": "L", "high_label": "H"}, "3 to 11 points"),
    ("number", {"min": 10, "max": 1}, "'max' must not be less than 'min'"),
    ("yes_no", {"options": [{"code": "a", "text": "A"}]}, "has its own Yes and No"),
    ("free_text", {"options": [{"code": "a", "text": "A"}]}, "does not take 'options'"),
    ("info", {"optional": True}, "cannot be optional"),
])
def test_type_specific_rules(qtype: str, extra: dict, message: str) -> None:
    data = with_("questions.1", {"id": "extra", "type": qtype, "text": "Q?", **extra})
    with pytest.raises(SurveyError, match="question 'extra'") as caught:
        parse(data, "x.yaml")
    assert message in str(caught.value)


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: x\nquestions: [\n  - oops: : :\n", encoding="utf-8")
    with pytest.raises(SurveyError, match=r"bad.yaml: not valid YAML at line \d+"):
        load_file(bad)


def test_a_date_that_does_not_exist_is_a_survey_error_not_a_crash() -> None:
    """YAML reads 2026-02-31 as a date and Python refuses it: the publish page answered 500."""
    with pytest.raises(SurveyError, match="x.yaml: not valid YAML .*day is out of range"):
        load_text("id: x\ntitle: 2026-02-31\n", "x.yaml")


def test_non_utf8_and_missing_files(tmp_path: Path) -> None:
    latin = tmp_path / "latin.yaml"
    latin.write_bytes("title: caf\xe9".encode("latin-1"))
    with pytest.raises(SurveyError, match="not UTF-8"):
        load_file(latin)
    with pytest.raises(SurveyError, match="cannot read file"):
        load_file(tmp_path / "nope.yaml")
    with pytest.raises(SurveyError, match="must be a mapping"):
        load_text("- just\n- a list\n", "list.yaml")


def test_a_folder_with_one_bad_file_loads_nothing(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(GOOD), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(with_("version", ...)), encoding="utf-8")
    with pytest.raises(SurveyError, match="b.yaml"):
        load_folder(tmp_path)
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(GOOD), encoding="utf-8")
    with pytest.raises(SurveyError, match="another file .* has id 'check'"):
        load_folder(tmp_path)


def test_translations_fall_back_to_the_default_language() -> None:
    data = with_("questions.0.text", {"en": "How are you?", "cy": "Sut wyt ti?"})
    survey = parse(with_("languages", ["en", "cy"]) | {"questions": data["questions"]})
    assert survey.questions[0].text.get("cy") == "Sut wyt ti?"
    assert survey.questions[1].text.get("cy") == "Why?"  # not translated yet: English


def test_keywords_per_language_are_read_and_shown_in_capitals() -> None:
    data = with_("languages", ["en", "cy"]) | {"keywords": {"en": ["check", "checks"],
                                                            "cy": "gwiriad"}}
    survey = parse(data)
    assert survey.keywords == {"en": ("CHECK", "CHECKS"), "cy": ("GWIRIAD",)}
    assert survey.keyword("cy") == "GWIRIAD" and survey.keyword("en") == "CHECK"
    assert survey.keyword("fr") == "CHECK"  # a language without one: the default's word
    assert parse(GOOD).keyword("cy") is None


@pytest.mark.parametrize(("keywords", "message"), [
    ("CHECK", "'keywords' must map language codes to words"),
    ({"cy": "GWIRIAD"}, "'keywords' has language 'cy', which the survey does not offer"),
    ({"en": []}, "'keywords' in language 'en' is empty"),
    ({"en": 12}, "must be words"),
    ({"en": "1 check"}, "starting with a letter"),
    ({"en": "check this survey"}, "one or two words"),
    ({"en": "a" * 25}, "at most 24 characters"),
    ({"en": "STOP"}, "already means something to WithUs"),
    ({"en": "Cymraeg"}, "already means something to WithUs"),
    ({"en": "menu"}, "already means something to WithUs"),
    ({"en": "yes"}, "reads as an answer"),
    ({"en": "ydw"}, "reads as an answer"),
    ({"en": "three"}, "reads as an answer"),
])
def test_a_keyword_that_could_be_mistaken_is_refused(keywords: object, message: str) -> None:
    with pytest.raises(SurveyError, match=message):
        parse(with_("keywords", keywords), "check.yaml")


def test_a_keyword_that_would_start_two_surveys_is_refused_in_a_folder(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(with_("keywords", {"en": "CHECKUP"})),
                                     encoding="utf-8")
    other = with_("id", "checkup")
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(other), encoding="utf-8")
    with pytest.raises(SurveyError, match="keyword CHECKUP is also the id or a keyword of "
                                          "'check'"):
        load_folder(tmp_path)
