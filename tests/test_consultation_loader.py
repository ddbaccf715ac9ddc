"""Consultation files: the example loads, and every mistake names file, question and problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from surveys.consultation import Consultation
from surveys.loader import SurveyError, library_path, load_file, load_folder, load_text
from surveys.model import Survey

EXAMPLE = library_path() / "fair_pay.yaml"


def example() -> dict[str, Any]:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def load(data: dict[str, Any], name: str = "fair.yaml") -> Consultation:
    loaded = load_text(yaml.safe_dump(data, sort_keys=False), name)
    assert isinstance(loaded, Consultation)
    return loaded


def test_the_example_consultation_loads() -> None:
    consultation = load_file(EXAMPLE)
    assert isinstance(consultation, Consultation)
    assert consultation.id == "fairpay" and consultation.kind == "consultation"
    assert consultation.source_url.startswith("https://www.gov.uk/government/consultations/")
    assert 1 <= len(consultation.summary) <= 3
    assert all(len(m.get()) <= 320 for m in consultation.summary)
    assert 3 <= len(consultation.questions) <= 4
    assert all(3 <= len(q.seeds) <= 5 for q in consultation.questions)
    assert all(len(seed.get()) <= consultation.statement_max_length
               for q in consultation.questions for seed in q.seeds)
    assert consultation.closes_at.year == 2027 and consultation.languages == ("en",)
    assert "example" in consultation.intro.get().lower()  # it says it is an illustration
    assert len(consultation.seed_statements()) == sum(len(q.seeds) for q in consultation.questions)


def test_a_folder_holds_surveys_and_consultations_and_ids_stay_unique(tmp_path: Path) -> None:
    loaded = load_folder(library_path())
    kinds = {item.id: type(item) for item in loaded}
    assert kinds["fairpay"] is Consultation and kinds["fft"] is Survey
    (tmp_path / "a.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "b.yaml").write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(SurveyError, match="has id 'fairpay'"):
        load_folder(tmp_path)


def test_a_survey_file_is_still_a_survey() -> None:
    survey = load_file(library_path() / "fft.yaml")
    assert isinstance(survey, Survey)


def _without(data: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != key}


def _question(data: dict[str, Any], n: int, **changes: Any) -> dict[str, Any]:
    questions = [dict(q) for q in data["questions"]]
    questions[n].update(changes)
    return {**data, "questions": questions}


LONG = "This statement goes on and on, far longer than anyone could read on a phone " * 3

BROKEN: list[tuple[str, Any, str]] = [
    ("unknown field", lambda d: {**d, "colour": "blue"}, "fair.yaml: unknown field(s): colour"),
    ("no closing date", lambda d: _without(d, "closes"),
     "fair.yaml: 'closes' is missing: the date the official consultation closes"),
    ("closes before it opens", lambda d: {**d, "opens": "2027-05-01"},
     "fair.yaml: 'closes' must be after 'opens'"),
    ("no source", lambda d: _without(d, "source"),
     "fair.yaml: 'source' needs the official consultation's 'name' and 'url'"),
    ("a source that is not a link", lambda d: {**d, "source": {"name": "DHSC", "url": "gov.uk"}},
     "fair.yaml: 'source' url must be a web address starting https://"),
    ("four summary messages", lambda d: {**d, "summary": d["summary"] + ["One.", "Two.", "Three."]},
     "fair.yaml: 'summary' must be a list of 1 to 3 short messages"),
    ("a summary message too long", lambda d: {**d, "summary": ["x" * 321]},
     "fair.yaml: summary message 1 (en) is 321 characters; keep each to 320"),
    ("no questions", lambda d: {**d, "questions": []},
     "fair.yaml: 'questions' must be a list of 1 to 5 questions"),
    ("six questions", lambda d: {**d, "questions": [
        {"id": f"q{n}", "text": "What do you think?"} for n in range(6)]},
     "fair.yaml: 'questions' must be a list of 1 to 5 questions"),
    ("a question without text", lambda d: _question(d, 1, text=None),
     "fair.yaml: question 'conditions': 'text' is missing"),
    ("a question with an unknown field", lambda d: _question(d, 2, type="scale"),
     "fair.yaml: question 'voice': unknown field(s): type"),
    ("the same question id twice", lambda d: _question(d, 1, id="coverage"),
     "fair.yaml: question 'coverage': the id is used twice"),
    ("a seed statement too long", lambda d: _question(d, 3, statements=[LONG]),
     f"fair.yaml: question 'cost': statement 1 (en) is {len(LONG.strip())} characters; keep "
     "statements to 140"),
    ("a seed statement twice", lambda d: _question(d, 0, statements=["Pay more.", "pay more"]),
     "fair.yaml: question 'coverage': statement 2 repeats an earlier statement"),
    ("too many votes per question", lambda d: {**d, "votes_per_question": 11},
     "fair.yaml: 'votes_per_question' must be from 1 to 10"),
    ("a bad id", lambda d: {**d, "id": "Fair Pay"},
     "fair.yaml: 'id' must be lowercase letters, digits or _"),
    ("a title with no text in the default language",
     lambda d: {**d, "title": {"cy": "Cyflog teg i weithwyr gofal"}},
     "fair.yaml: 'title' has no text in the survey's default language 'en'"),
]


@pytest.mark.parametrize(("change", "message"), [(c, m) for _n, c, m in BROKEN],
                         ids=[n for n, _c, _m in BROKEN])
def test_a_broken_consultation_file_says_where_and_what(change: Any, message: str) -> None:
    with pytest.raises(SurveyError) as error:
        load(change(example()))
    assert message in str(error.value)


def test_seeds_are_optional_and_texts_can_be_bilingual() -> None:
    data = _question(example(), 0, statements=None)
    data = {**data, "languages": ["en", "cy"],
            "title": {"en": "Fair pay for care workers", "cy": "Cyflog teg i weithwyr gofal"}}
    consultation = load(data)
    assert consultation.questions[0].seeds == ()
    assert consultation.title.get("cy") == "Cyflog teg i weithwyr gofal"
    assert consultation.languages == ("en", "cy")
