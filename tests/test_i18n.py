"""Languages: complete catalogues, switching mid-survey, fallbacks and easy-read help.

Every system message goes through the gettext catalogue, so the Welsh catalogue must hold
every English message (checked against a fresh extraction from the code, not only the
committed template), with the same {placeholders}, compiled into the .mo that ships.
"""

from __future__ import annotations

import gettext as stdlib_gettext
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from surveys import i18n
from surveys.conversation import Event, LanguageChosen, Reply, Step
from surveys.engine import Catalog, begin, converse
from surveys.loader import library_path, load_file, parse
from surveys.model import Survey
from surveys.sms import encoding, segments

ROOT = Path(__file__).parents[1]
LOCALE = ROOT / "surveys" / "locale"
TEMPLATE = LOCALE / "messages.pot"
LANGUAGES = ("cy",)
#: The extraction settings documented in docs/translating.md and babel.cfg.
KEYWORDS: dict[str, Any] = {"_": (2,), "gettext": (2,), "t": None}
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _survey(name: str) -> Survey:
    survey = load_file(library_path() / name)
    assert isinstance(survey, Survey)
    return survey


FFT = _survey("fft.yaml")


def _po(language: str) -> Any:
    with (LOCALE / language / "LC_MESSAGES" / "withus.po").open("rb") as f:
        return read_po(f, locale=language)


def _extracted() -> set[str]:
    found: set[str] = set()
    for folder in ("surveys", "bot"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, method_map=[("**.py", "python")], keywords=KEYWORDS,
            comment_tags=("Translators:",),
        ):
            if isinstance(message, str) and message:
                found.add(message)
    return found


# --- the catalogues --------------------------------------------------------------------


def test_the_template_holds_every_message_in_the_code() -> None:
    with TEMPLATE.open("rb") as f:
        template = {m.id for m in read_po(f) if m.id}
    fresh = _extracted()
    assert fresh - template == set(), "run the extraction in docs/translating.md"
    assert template - fresh == set(), "the template has messages the code no longer uses"
    assert len(fresh) > 50


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_english_message_has_a_translation(language: str) -> None:
    catalogue = _po(language)
    translated = {m.id: m for m in catalogue if m.id}
    missing = sorted(_extracted() - {i for i, m in translated.items() if m.string})
    assert missing == []
    assert [m.id for m in translated.values() if m.fuzzy] == []


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_keep_every_placeholder(language: str) -> None:
    for message in _po(language):
        if message.id:
            assert sorted(PLACEHOLDER.findall(message.string)) == sorted(
                PLACEHOLDER.findall(message.id)), message.id


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_compiled_catalogue_matches_the_po_file(language: str) -> None:
    mo = LOCALE / language / "LC_MESSAGES" / "withus.mo"
    with mo.open("rb") as f:
        compiled = {m.id: m.string for m in read_mo(f) if m.id}
    source = {m.id: m.string for m in _po(language) if m.id and m.string}
    assert compiled == source, "compile it: see docs/translating.md"


def test_welsh_system_messages_are_plain_gsm7_and_short() -> None:
    # Circumflexes (ŵ, ô, â) would make every SMS that contains one go as UCS-2, so the
    # Welsh catalogue avoids words that need them (see docs/translating.md).
    for message in _po("cy"):
        if message.id:
            assert encoding(message.string) == "GSM-7", message.string
            assert segments(message.string) <= 2, message.string


def test_i18n_uses_the_catalogue_and_falls_back_to_english() -> None:
    assert "cy" in i18n.available_languages()
    assert i18n.gettext("cy", "Reply 1 or 2") == "Atebwch 1 neu 2"
    assert i18n.gettext("fr", "Reply 1 or 2") == "Reply 1 or 2"  # no catalogue: English
    assert i18n.gettext("cy", "A message nobody wrote") == "A message nobody wrote"
    assert i18n.gettext("cy", "Reply with a number from 1 to {count}", count=4) == (
        "Atebwch gyda rhif o 1 i 4")
    translation = stdlib_gettext.translation(i18n.DOMAIN, i18n.LOCALE_DIR, languages=["cy"])
    assert translation.gettext("Yes") == "Ie"


# --- the surveys ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["carers.yaml", "fft.yaml", "workforce.yaml"])
def test_the_example_surveys_are_in_english_and_welsh(name: str) -> None:
    survey = _survey(name)
    assert survey.languages == ("en", "cy") and survey.version >= 2
    texts = [survey.title, survey.intro, survey.consent, survey.thank_you]
    texts += [survey.description] if survey.description else []
    for question in survey.questions:
        texts += [question.text, *(t for t in (question.why, question.low_label,
                                               question.high_label) if t)]
        if question.type.value in ("single_choice", "multiple_choice"):
            texts += [option.label for option in question.options]
    for text in texts:
        assert text.languages() == {"en", "cy"}, text
        assert text.get("cy") != text.get("en") or text.get("en").isdigit(), text


def test_a_missing_translation_falls_back_to_the_default_language() -> None:
    survey = parse({
        "id": "half", "version": 1, "languages": ["en", "cy"], "title": "Half",
        "intro": {"en": "Hello.", "cy": "Helo."}, "consent": "Do you agree?",
        "thank_you": "Thanks.",
        "questions": [{"id": "q", "type": "yes_no", "text": "Is it OK?"}],
    })
    replies = begin(survey, None, NOW, language="cy").replies
    assert replies[0].text == "Helo."
    assert replies[1].text == "Do you agree?"  # no Welsh: the default language...
    assert [c.label for c in replies[1].choices] == ["Ydw, rwy'n cytuno", "Na, dim diolch"]


# --- choosing and switching -----------------------------------------------------------------


def _talk(*said: str, state: dict[str, Any] | None = None,
          catalog: Catalog | None = None) -> tuple[dict[str, Any], list[Step]]:
    catalog = catalog or Catalog({"fft": FFT}, "fft")
    steps = []
    for text in said:
        result = converse(catalog, state, Event("text", text=text), NOW)
        state = result.state
        steps.append(result)
    assert state is not None
    return state, steps


def _texts(step: Step) -> list[str]:
    return [reply.text for reply in step.replies]


def test_first_contact_offers_the_languages_as_a_numbered_list() -> None:
    _state, (first,) = _talk("hello")
    (offer,) = first.replies
    assert offer.text == ("Hello from WithUs. / Helo gan WithUs.\n"
                          "Which language would you like? / Pa iaith hoffech chi?")
    assert [c.label for c in offer.choices] == ["English", "Cymraeg"]


def test_choosing_welsh_by_number_gives_the_survey_in_welsh() -> None:
    state, steps = _talk("hello", "2", "ydw")
    assert state["lang"] == "cy"
    assert LanguageChosen("cy") in steps[1].records
    intro, consent = steps[1].replies
    assert intro.text.startswith("2 gwestiwn cyflym am eich gofal")
    assert [c.label for c in consent.choices] == ["Ydw, rwy'n cytuno", "Na, dim diolch"]
    (question,) = steps[2].replies
    assert question.text == "At ei gilydd, sut oedd eich profiad o'n gwasanaeth?"
    assert question.choices[0].label == "Da iawn"


def test_switching_language_mid_survey_repeats_the_question_in_the_new_language() -> None:
    state, steps = _talk("hello", "1", "yes", "CYMRAEG", "da iawn", "ENGLISH")
    switch_to_welsh = steps[3]
    assert LanguageChosen("cy") in switch_to_welsh.records
    assert switch_to_welsh.replies[-1].text == (
        "At ei gilydd, sut oedd eich profiad o'n gwasanaeth?")
    answered = steps[4]  # "da iawn" is Very good
    assert any(getattr(r, "value", None) == "very_good" for r in answered.records)
    assert answered.replies[-1].text.startswith("Beth oedd yn dda")
    back = steps[5]
    assert LanguageChosen("en") in back.records
    assert back.replies[0].text == "OK, we'll write in English."
    assert back.replies[-1].text.startswith("What was good, and what could be better?")
    assert state["lang"] == "en"


def test_language_shows_the_numbered_list_mid_survey() -> None:
    _state, steps = _talk("hello", "1", "yes", "IAITH", "2")
    assert [c.label for c in steps[3].replies[0].choices] == ["English", "Cymraeg"]
    assert LanguageChosen("cy") in steps[4].records


def test_writing_the_language_name_at_first_contact_chooses_it() -> None:
    state, steps = _talk("hello", "CYMRAEG")
    assert LanguageChosen("cy") in steps[1].records and state["lang"] == "cy"
    assert _texts(steps[1])[-2].startswith("2 gwestiwn cyflym am eich gofal")
    assert steps[1].replies[-1].choices[0].label == "Ydw, rwy'n cytuno"


def test_keywords_work_in_either_language() -> None:
    _state, steps = _talk("hello", "2", "ydw", "HELP", "CYMORTH", "AILADRODD", "REPEAT")
    assert _texts(steps[3]) == _texts(steps[4])
    assert _texts(steps[3])[0].startswith("Atebwch gyda rhif eich ateb.")
    assert _texts(steps[5]) == _texts(steps[6])


# --- easy-read help and re-asks --------------------------------------------------------------


def _help(survey: Survey, language: str, question_id: str) -> str:
    state: dict[str, Any] = {"survey": survey.id, "version": survey.version, "lang": language,
                             "stage": "asking", "q": question_id, "asked": [question_id]}
    result = converse(Catalog({survey.id: survey}), state, Event("text", text="HELP"), NOW)
    (reply,) = result.replies
    return reply.text


#: HELP at a survey's first question: BACK is not offered (there is nothing before it),
#: SKIP only where the question may be skipped; LANGUAGE because each survey is bilingual.
KEYWORD_LINES = {
    "en": "Words you can send: REPEAT, {skip}PAUSE, LATER, LANGUAGE, MYDATA, DELETE, STOP.",
    "cy": "Geiriau y gallwch eu hanfon: AILADRODD, {skip}SAIB, WEDYN, IAITH, FY NATA, DILEU, "
          "STOPIO.",
}


@pytest.mark.parametrize("name", ["carers.yaml", "fft.yaml", "workforce.yaml"])
@pytest.mark.parametrize("language", ["en", "cy"])
def test_help_says_what_to_do_in_two_short_sentences_then_the_keywords(
        name: str, language: str) -> None:
    survey = _survey(name)
    for question in survey.questions:
        lines = _help(survey, language, question.id).split("\n")
        now = lines[0]
        sentences = [s for s in re.split(r"(?<=[.!?])\s+", now) if s]
        assert 1 <= len(sentences) <= 2, now
        assert all(len(s.split()) <= 12 for s in sentences), now
        skip = {"en": "SKIP, ", "cy": "HEPGOR, "}[language] if question.optional else ""
        assert lines[-1] == KEYWORD_LINES[language].format(skip=skip)


def _reasks(survey: Survey, language: str) -> list[tuple[str, str, str]]:
    """(question as sent, re-ask) for each question, after one and after two bad replies."""
    from surveys.render import numbered

    pairs = []
    for question in survey.questions:
        if not question.is_answerable:
            continue
        nonsense = "   " if question.type.value == "free_text" else "qqxz"
        state: dict[str, Any] = {"survey": survey.id, "version": survey.version,
                                 "lang": language, "stage": "asking", "q": question.id,
                                 "asked": [question.id]}
        catalog = Catalog({survey.id: survey})
        asked: Reply = converse(catalog, state, Event("text", text="REPEAT"), NOW).replies[-1]
        original = numbered(asked.text, [c.label for c in asked.choices], asked.multiple,
                            language)
        for _attempt in range(2):
            result = converse(catalog, state, Event("text", text=nonsense), NOW)
            state = result.state
            pairs.append((question.id, original, result.replies[-1].text))
    return pairs


@pytest.mark.parametrize("language", ["en", "cy"])
def test_first_reasks_are_shorter_than_the_question(language: str) -> None:
    for name in ("carers.yaml", "fft.yaml", "workforce.yaml"):
        for qid, original, reask in _reasks(_survey(name), language)[::2]:
            assert len(reask) < len(original), (name, qid, reask)


@pytest.mark.parametrize("language", ["en", "cy"])
def test_every_reask_is_shorter_than_the_question(language: str) -> None:
    for name in ("carers.yaml", "fft.yaml", "workforce.yaml"):
        for qid, original, reask in _reasks(_survey(name), language):
            assert len(reask) < len(original), (name, qid, reask)
