"""Safeguarding detection, measured on a labelled corpus of English and Welsh messages.

The corpus (tests/data/safeguarding_corpus.yaml) mixes disclosures of self-harm, abuse and
neglect with the everyday talk of carers and care workers, including the idioms that trip
up keyword lists ("this wait is killing me", "I could murder a cup of tea", "dead nice").
Recall and the false-positive rate are printed (`pytest tests/test_safeguarding.py -s`),
overall, per language and for the messages written after the rules were first measured.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from surveys.safeguarding import (
    CATEGORIES,
    Detector,
    RuleError,
    compile_phrase,
    load_rules,
    mutations,
    normalise,
    parse_rules,
)

CORPUS = Path(__file__).parent / "data" / "safeguarding_corpus.yaml"


def corpus() -> dict[str, list[dict[str, Any]]]:
    return yaml.safe_load(CORPUS.read_text(encoding="utf-8"))


def score(detector: Detector, disclosures: list[dict[str, Any]],
          everyday: list[dict[str, Any]]) -> tuple[float, float, float, list[str]]:
    """(recall, category right among those found, false-positive rate, what went wrong)."""
    found = right = false = 0
    wrong = []
    for entry in disclosures:
        categories = detector.detect(entry["text"])
        if categories:
            found += 1
            right += categories[0] == entry["label"]
            if categories[0] != entry["label"]:
                wrong.append(f"category {categories} for {entry['label']}: {entry['text']!r}")
        else:
            wrong.append(f"missed {entry['label']}: {entry['text']!r}")
    for entry in everyday:
        screened = detector.screen(entry["text"])
        if screened:
            false += 1
            wrong.append(f"false positive {screened.phrases}: {entry['text']!r}")
    return (found / len(disclosures), right / max(found, 1), false / len(everyday), wrong)


def test_the_corpus_is_big_enough_and_covers_both_languages_and_all_categories() -> None:
    data = corpus()
    disclosures = data["disclosures"] + data["after_disclosures"]
    everyday = data["everyday"] + data["after_everyday"]
    assert len(disclosures) >= 60 and len(everyday) >= 60
    for language in ("en", "cy"):
        for category in CATEGORIES:
            assert sum(1 for e in disclosures
                       if e["lang"] == language and e["label"] == category) >= 5
        assert sum(1 for e in everyday if e["lang"] == language) >= 20


def test_recall_and_false_positives_on_the_labelled_corpus() -> None:
    data = corpus()
    detector = Detector()
    disclosures = data["disclosures"] + data["after_disclosures"]
    everyday = data["everyday"] + data["after_everyday"]
    recall, right, false, wrong = score(detector, disclosures, everyday)
    print(f"\nsafeguarding rules on {len(disclosures)} disclosures and {len(everyday)} "
          f"everyday messages: recall {recall:.1%}, category right {right:.1%}, "
          f"false positives {false:.1%}")
    for language in ("en", "cy"):
        r, c, f, _ = score(detector, [e for e in disclosures if e["lang"] == language],
                           [e for e in everyday if e["lang"] == language])
        print(f"  {language}: recall {r:.1%}, category right {c:.1%}, false positives {f:.1%}")
    r, c, f, _ = score(detector, data["after_disclosures"], data["after_everyday"])
    print(f"  written after the rules ({len(data['after_disclosures'])} + "
          f"{len(data['after_everyday'])}): recall {r:.1%}, false positives {f:.1%} "
          "(first run, before widening: recall 31.6%, false positives 0.0%)")
    for problem in wrong:
        print(f"  {problem}")
    # Missing a disclosure costs far more than an unneeded signposting message.
    assert recall >= 0.95, wrong
    assert false <= 0.03, wrong
    assert right >= 0.9, wrong


@pytest.mark.parametrize(("text", "category"), [
    ("I can't cope anymore, I want to end it", "self_harm"),
    ("Dw i eisiau marw", "self_harm"),
    ("He hits me", "abuse"),
    ("Mae e'n fy nghuro i", "abuse"),
    ("Left in a soiled bed all night", "neglect"),
    ("Does neb wedi dod i'w newid hi", "neglect"),
])
def test_each_category_in_each_language(text: str, category: str) -> None:
    assert Detector().detect(text)[0] == category


@pytest.mark.parametrize("text", [
    "this wait is killing me", "I could murder a cup of tea", "dead nice",
    "Mae'r aros yma'n fy lladd i", "Dw i'n marw eisiau paned",
])
def test_idioms_are_not_disclosures(text: str) -> None:
    assert Detector().screen(text) is None


def test_case_punctuation_accents_and_apostrophes_do_not_matter() -> None:
    detector = Detector()
    for text in ("I DONT FEEL SAFE!!!", "i don't feel safe", "I don’t   feel... safe",
                 "I do not feel safe."):
        assert detector.detect(text) == ["abuse"], text
    assert detector.detect("Mae ofn arna i ohono fe") == detector.detect("MAE OFN ARNA I OHONO FE")
    assert normalise("  I’m NOT   safe!! ") == "im not safe"
    assert normalise("Mae fy ngŵr yn y tŷ") == "mae fy ngwr yn y ty"


def test_a_negation_cancels_abuse_and_neglect_but_never_self_harm() -> None:
    detector = Detector()
    assert detector.detect("He has never hit me") == []
    assert detector.detect("No one has ever hit me here") == []
    assert detector.detect("Dydy e erioed wedi fy nharo i") == []
    assert detector.detect("nobody came to change him") == ["neglect"]  # the negation is it
    assert detector.detect("I don't want to die but I think about it") == ["self_harm"]


def test_the_most_urgent_category_comes_first() -> None:
    screened = Detector().screen("He hits me and I want to die")
    assert screened is not None
    assert screened.categories == ["self_harm", "abuse"]
    assert screened.category == "self_harm"


def test_the_reply_language_follows_the_words_when_they_differ_from_the_setting() -> None:
    detector = Detector()
    welsh = detector.screen("Dw i eisiau marw")
    english = detector.screen("I want to die")
    assert welsh is not None and english is not None
    assert welsh.language("en") == "cy" and welsh.language(None) == "cy"
    assert english.language("cy") == "en" and english.language("en") == "en"


def test_the_phrase_language() -> None:
    detector = Detector([parse_rules({
        "language": "en",
        "categories": {"neglect": ["left ... (all night|for hours)", "[really] cold hous*",
                                   "~gwely gwlyb"]},
    }, "test")])
    assert detector.detect("she was left in her chair all night") == ["neglect"]
    assert detector.detect("she was left in her big old comfy chair all night") == []  # > 4
    assert detector.detect("a really cold house") == detector.detect("cold housing") == [
        "neglect"]
    assert detector.detect("mewn wely gwlyb") == ["neglect"]  # soft mutation of gwely
    assert detector.detect("colder housing") == []  # whole words only
    assert mutations("curo") == ["curo", "guro", "ngh" + "uro", "churo"]
    assert mutations("llaw") == ["llaw", "law"]


@pytest.mark.parametrize(("phrase", "problem"), [
    ("(want|wish to die", "')' is missing"),
    ("want to die)", "unexpected ')'"),
    ("(|die)", "empty choice"),
    ("want? to die", "characters a phrase cannot use"),
    ("", "empty phrase"),
])
def test_a_broken_phrase_is_named(phrase: str, problem: str) -> None:
    with pytest.raises(RuleError, match=re.escape(problem)):
        compile_phrase(phrase)


def test_a_broken_rule_file_names_itself_and_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "local.yaml"
    path.write_text("language: en\ncategories:\n  money: [loan sharks]\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r"local.yaml: unknown category 'money'"):
        load_rules(path)
    path.write_text("language: en\nnegatable: [self_harm]\n", encoding="utf-8")
    with pytest.raises(RuleError, match="self_harm cannot be negatable"):
        load_rules(path)
    path.write_text("language: en\ncategories: {abuse: ['(hits me']}\n", encoding="utf-8")
    with pytest.raises(RuleError, match=r"local.yaml: '\)' is missing in '\(hits me'"):
        load_rules(path)


def test_a_local_rule_file_adds_to_the_built_in_rules(tmp_path: Path) -> None:
    path = tmp_path / "local.yaml"
    path.write_text("language: en\ncategories:\n  abuse: [loan (shark|sharks)]\n"
                    "ignore: [loan shark documentary]\n", encoding="utf-8")
    detector = Detector.with_extra([load_rules(path)])
    assert detector.detect("a loan shark is after us") == ["abuse"]
    assert detector.detect("we watched a loan shark documentary") == []
    assert detector.detect("I want to die") == ["self_harm"]  # the built-in rules stay
    assert Detector().detect("a loan shark is after us") == []


# --- The gentle pause in the engine (pure) ----------------------------------------------------


def _paused_at_overall() -> tuple[Any, dict[str, Any]]:
    from datetime import UTC, datetime

    from surveys.conversation import Event
    from surveys.engine import Catalog, converse
    from surveys.loader import library_path, load_file
    from surveys.signposting import pause_after_disclosure

    fft = load_file(library_path() / "fft.yaml")
    catalog = Catalog({"fft": fft}, default_survey="fft")  # type: ignore[dict-item]
    now = datetime(2026, 11, 23, 10, tzinfo=UTC)
    state: dict[str, Any] | None = None
    for text in ("hello", "1", "yes"):
        state = converse(catalog, state, Event("text", text=text), now).state
    step = converse(catalog, state, Event("text", text="I want to die"), now)
    return catalog, pause_after_disclosure(step, "en").state


def test_the_pause_waits_sends_no_reminder_and_stop_ends_it() -> None:
    from datetime import UTC, datetime

    from surveys.conversation import ContactWanted, Event
    from surveys.engine import converse

    now = datetime(2026, 11, 24, 10, tzinfo=UTC)
    catalog, state = _paused_at_overall()
    assert state["safeguarding"] == "pause" and state["paused"]
    assert converse(catalog, state, Event("timeout"), now).replies == []  # no reminder
    unclear = converse(catalog, state, Event("text", text="I don't know"), now)
    assert unclear.replies[0].text.startswith("Sorry, I didn't catch that.")
    assert unclear.state["safeguarding"] == "pause"
    contact = converse(catalog, state, Event("button", payload="care:contact"), now)
    assert contact.records == [ContactWanted()] and contact.state["paused"]
    assert contact.state["safeguarding"] == "held"
    stopped = converse(catalog, state, Event("text", text="STOP"), now)
    assert stopped.state["stopped"] and not stopped.state["paused"]
    again = converse(catalog, stopped.state, Event("text", text="START"), now)
    assert again.replies[0].text.startswith("Welcome back")
    assert again.replies[1].text.startswith("Overall, how was your experience")
    chosen = converse(catalog, state, Event("button", payload="survey:fft"), now)
    assert chosen.state["safeguarding"] is None  # choosing a survey starts it afresh
