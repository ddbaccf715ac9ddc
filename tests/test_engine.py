"""Engine behaviour stated as plain assertions (the golden files show whole conversations)."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from surveys.conversation import (
    MENU_PREFIX,
    AnswerGiven,
    Completed,
    ConsentDecision,
    Event,
    Started,
)
from surveys.engine import Catalog, begin, converse, step
from surveys.loader import library_path, load_file, load_folder
from surveys.model import Survey

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
EVERYTHING = load_file(Path(__file__).parent / "data" / "surveys" / "all_types.yaml")
LIBRARY = {s.id: s for s in load_folder(library_path()) if isinstance(s, Survey)}


def text(t: str) -> Event:
    return Event("text", text=t)


def play(survey: Survey, *messages: str, now: datetime = NOW) -> tuple[dict, list]:
    result = begin(survey, None, now)
    state, records = result.state, list(result.records)
    for message in messages:
        result = step(survey, state, text(message), now)
        state = result.state
        records += result.records
    return state, records


def test_no_answer_is_recorded_before_consent() -> None:
    state, records = play(EVERYTHING, "1", "2", "3")  # "1" is consent; none of it answers yet
    kinds = [type(r) for r in records]
    assert kinds.index(ConsentDecision) < kinds.index(AnswerGiven)
    _, declined = play(EVERYTHING, "no", "1", "2")
    assert not any(isinstance(r, AnswerGiven) for r in declined)
    assert [r.given for r in declined if isinstance(r, ConsentDecision)] == [False]


def test_answers_carry_the_survey_version_they_were_given_under() -> None:
    _, records = play(EVERYTHING, "yes", "1")
    answer = next(r for r in records if isinstance(r, AnswerGiven))
    assert answer.version == EVERYTHING.version == 3


def test_state_is_json_and_callers_state_is_never_mutated() -> None:
    state, _ = play(EVERYTHING, "yes", "2", "Park Road day centre")
    frozen = json.dumps(state, sort_keys=True)
    result = step(EVERYTHING, state, text("1 3"), NOW)
    assert json.dumps(state, sort_keys=True) == frozen
    assert json.loads(json.dumps(result.state)) == result.state


def test_free_text_never_stays_in_the_state() -> None:
    state, records = play(EVERYTHING, "yes", "2", "Flat 3, 22 Mill Lane")
    assert any(isinstance(r, AnswerGiven) and r.free_text for r in records)
    assert "Mill Lane" not in json.dumps(state)


def test_pause_survives_days_and_resumes_on_any_message() -> None:
    state, _ = play(EVERYTHING, "yes", "pause")
    assert state["paused"] is True
    catalog = Catalog({EVERYTHING.id: EVERYTHING})
    later = converse(catalog, json.loads(json.dumps(state)), text("hi again"),
                     NOW + timedelta(days=5))
    assert later.state["paused"] is False
    assert "How did you last contact the service?" in later.replies[-1].text
    assert later.records == []


def test_stop_silences_everything_until_start() -> None:
    catalog = Catalog(LIBRARY, "fft")
    state = converse(catalog, None, text("hello"), NOW).state
    stopped = converse(catalog, state, text("STOP"), NOW)
    assert stopped.state["stopped"]
    for event in (text("1"), text("help"), Event("timeout"), text("fft")):
        silent = converse(catalog, stopped.state, event, NOW)
        assert silent.replies == [] and silent.records == []
    back = converse(catalog, stopped.state, text("start"), NOW)
    assert not back.state["stopped"] and back.replies


@pytest.mark.parametrize("said", ["FFT", "fft", " Fft "])
def test_a_survey_id_starts_that_survey(said: str) -> None:
    result = converse(Catalog(LIBRARY), None, text(said), NOW)
    assert isinstance(result.records[0], Started) and result.records[0].survey_id == "fft"


@pytest.mark.parametrize(("said", "survey_id", "language"), [
    ("GOFALWYR", "carers", "cy"), ("gofalwyr!", "carers", "cy"), ("Profiad", "fft", "cy"),
    ("GWEITHLU", "workforce", "cy"), ("CARERS", "carers", None)])
def test_a_keyword_in_either_language_starts_its_survey(said: str, survey_id: str,
                                                        language: str | None) -> None:
    """A Welsh keyword also answers "which language?" for a newcomer: the survey begins
    in Welsh, with no language question. An id (CARERS) leaves the choice to them."""
    result = converse(Catalog(LIBRARY), None, text(said), NOW)
    assert result.state["survey"] == survey_id
    if language == "cy":
        assert result.state["stage"] == "consent" and result.state["lang"] == "cy"
        assert LIBRARY[survey_id].intro.get("cy") in result.replies[0].text
        assert result.replies[0].text.startswith("Helo gan ")
    else:
        assert result.state["stage"] == "language"


def test_a_deep_link_with_a_welsh_keyword_starts_in_welsh() -> None:
    result = converse(Catalog(LIBRARY), None, Event("start", survey_id="GOFALWYR"), NOW)
    assert result.state["survey"] == "carers" and result.state["lang"] == "cy"
    by_id = converse(Catalog(LIBRARY), None, Event("start", survey_id="carers"), NOW)
    assert by_id.state["survey"] == "carers" and by_id.state["stage"] == "language"


def test_a_welsh_keyword_keeps_the_language_someone_chose() -> None:
    english = converse(Catalog(LIBRARY, "fft"), None, text("hi"), NOW)
    english = converse(Catalog(LIBRARY, "fft"), english.state, text("1"), NOW)
    assert english.state["lang"] == "en"
    carers = converse(Catalog(LIBRARY, "fft"), english.state, text("GOFALWYR"), NOW)
    assert carers.state["survey"] == "carers" and carers.state["lang"] == "en"
    assert carers.replies[0].text == LIBRARY["carers"].intro.get("en")


# --- A reply to an invitation: the invitation already carried the intro --------------------

CARERS = LIBRARY["carers"]


def invited(language: str = "en", survey_id: str = "carers") -> dict[str, dict[str, str]]:
    """The context the service passes when an invitation (in `language`) reached them."""
    return {"invited": {survey_id: language}}


def texts(result: object) -> list[str]:
    return [reply.text for reply in result.replies]  # type: ignore[attr-defined]


def test_a_welsh_reply_to_a_welsh_invitation_goes_straight_to_consent() -> None:
    replied = converse(Catalog(LIBRARY), None, text("GOFALWYR"), NOW, invited("cy"))
    assert texts(replied) == [CARERS.consent.get("cy")]  # no intro, no "Helo gan"
    assert [c.label for c in replied.replies[0].choices] == ["Ydw, rwy'n cytuno",
                                                             "Na, dim diolch"]
    assert isinstance(replied.records[0], Started) and replied.state["stage"] == "consent"


def test_cold_the_keyword_still_gets_the_hello_and_the_intro() -> None:
    cold = converse(Catalog(LIBRARY), None, text("GOFALWYR"), NOW)
    assert texts(cold) == ["Helo gan WithUs.\n" + CARERS.intro.get("cy"),
                           CARERS.consent.get("cy")]
    other = converse(Catalog(LIBRARY), None, text("GOFALWYR"), NOW, invited("cy", "fft"))
    assert texts(other) == texts(cold)  # invited to another survey: this one is new


def test_after_the_language_question_the_intro_is_skipped_only_in_its_language() -> None:
    catalog = Catalog(LIBRARY)
    asked = converse(catalog, None, text("CARERS"), NOW, invited("en"))
    assert texts(asked) == ["Which language would you like? / Pa iaith hoffech chi?"]
    english = converse(catalog, asked.state, text("1"), NOW)
    assert texts(english) == [CARERS.consent.get("en")]
    welsh = converse(catalog, asked.state, text("2"), NOW)  # the English intro is no use
    assert texts(welsh) == [CARERS.intro.get("cy"), CARERS.consent.get("cy")]


def test_the_invitations_start_button_goes_straight_to_consent_too() -> None:
    known = {"lang": "en", "stage": "done", "survey": "fft"}
    start = Event("button", payload=MENU_PREFIX + "carers")  # as outreach.invitation_payload
    pressed = converse(Catalog(LIBRARY), known, start, NOW, invited("en"))
    assert texts(pressed) == [CARERS.consent.get("en")]


def test_a_consultation_invitation_is_not_introduced_twice() -> None:
    consultations = {c.id: c for c in load_folder(library_path()) if not isinstance(c, Survey)}
    fair_pay = consultations["fairpay"]
    catalog = Catalog(LIBRARY, consultations=consultations)
    replied = converse(catalog, None, text("FAIRPAY"), NOW, invited("en", "fairpay"))
    assert texts(replied) == [fair_pay.consent.get("en")]
    cold = converse(catalog, None, text("FAIRPAY"), NOW)
    assert texts(cold)[0] == "Hello from WithUs.\n" + fair_pay.intro.get("en")


def test_a_keyword_is_an_answer_in_a_free_text_question() -> None:
    catalog = Catalog(LIBRARY)
    state = converse(catalog, None, text("PROFIAD"), NOW).state
    state = converse(catalog, state, text("ie"), NOW).state
    state = converse(catalog, state, text("1"), NOW).state
    assert state["q"] == "why"
    said = converse(catalog, state, text("gofalwyr"), NOW)
    assert said.state["survey"] == "fft"
    assert [r.value for r in said.records if type(r).__name__ == "AnswerGiven"] == ["gofalwyr"]


def test_the_menu_shows_titles_and_keywords_in_the_persons_language() -> None:
    menu = converse(Catalog(LIBRARY), {"lang": "cy", "stage": "done"}, text("DEWISLEN"), NOW)
    labels = [c.label for c in menu.replies[0].choices]
    assert "Gofalu am rywun (GOFALWYR)" in labels and "Eich profiad o ofal (PROFIAD)" in labels
    assert menu.replies[0].text == "Pa arolwg hoffech chi ei wneud?"


def test_unmatched_first_message_gets_default_survey_or_numbered_menu() -> None:
    with_default = converse(Catalog(LIBRARY, "carers"), None, text("hi"), NOW)
    assert with_default.state["survey"] == "carers"
    menu = converse(Catalog(LIBRARY), None, text("hi"), NOW)
    assert menu.state["stage"] == "menu"
    assert [c.label for c in menu.replies[0].choices] == [
        f"{s.title.get()} ({s.keyword('en')})" for s in LIBRARY.values()
    ]
    chosen = converse(Catalog(LIBRARY), menu.state, text("3"), NOW)
    assert chosen.state["survey"] == list(LIBRARY)[2]


def test_a_closed_survey_says_so_and_an_unopened_one_says_when() -> None:
    closed = Survey(**{**vars(LIBRARY["fft"]), "closes_at": NOW - timedelta(days=1)})
    result = converse(Catalog({"fft": closed}), None, text("fft"), NOW)
    assert "has now closed" in result.replies[0].text
    assert [type(r).__name__ for r in result.records] == ["SurveyClosed"]
    later = Survey(**{**vars(LIBRARY["fft"]), "opens_at": NOW + timedelta(days=3)})
    result = converse(Catalog({"fft": later}), None, text("fft"), NOW)
    assert "opens on 26 November 2026" in result.replies[0].text


def test_every_example_survey_can_be_completed() -> None:
    answers = {"single_choice": "1", "multiple_choice": "1 2", "scale": "3", "yes_no": "yes",
               "number": "12", "free_text": "It was fine."}
    for survey in LIBRARY.values():
        result = begin(survey, None, NOW, language=survey.default_language)
        state, records = result.state, list(result.records)
        result = step(survey, state, text("yes"), NOW)
        for _ in range(len(survey.questions) + 1):
            state, records = result.state, records + result.records
            if state["stage"] != "asking":
                break
            question = survey.question(state["q"])
            assert question is not None
            result = step(survey, state, text(answers[question.type.value]), NOW)
        assert any(isinstance(r, Completed) for r in records), survey.id
        assert state["stage"] in ("quote", "shareback"), survey.id  # then: may we quote you?


def test_the_core_never_reads_the_clock_or_randomness() -> None:
    forbidden = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"),
                 ("time", "time"), ("time", "monotonic")}
    for path in Path(library_path()).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in forbidden, f"{path.name} reads the clock"
            if isinstance(node, ast.Import):
                modules = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                modules = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not {"random", "time", "secrets"} & modules, path.name


def test_dates_are_written_in_the_persons_language() -> None:
    from surveys.engine import long_date

    moment = datetime(2027, 3, 1, tzinfo=UTC)
    assert long_date(moment, "en") == "1 March 2027"
    assert long_date(moment, "cy") == "1 Mawrth 2027"
