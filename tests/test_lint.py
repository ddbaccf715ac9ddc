"""`withus surveys lint`: figures checked against hand-counted messages.

SMS arithmetic is where a survey quietly becomes expensive, so each figure here was
counted by hand: 160 GSM-7 characters are one segment and 161 are two (153 a part); one
curly apostrophe makes a message UCS-2 as written (70 a segment, 67 a part) unless the SMS
channel replaces it; € is a GSM-7 extension character and counts two.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from bot.cli.surveys import lint as lint_command
from channels import telegram, twilio
from channels.base import Choice, OutboundMessage, numbered
from surveys.conversation import Reply, ReplyChoice
from surveys.lint import (
    CHANNELS,
    SMS,
    TELEGRAM,
    WHATSAPP,
    Check,
    Prompt,
    check_prompt,
    has_errors,
    lint_file,
    lint_survey,
    report,
)
from surveys.loader import library_path, load_file, parse
from surveys.model import Survey
from surveys.organisation import EXAMPLE, Organisation
from surveys.readability import measure, syllables
from surveys.render import numbered as render_numbered
from surveys.system_messages import EXAMPLE_LOCAL_CONTACT, GENERAL_IDS

CURLY = "\u2019"
EXAMPLES = ("carers.yaml", "fft.yaml", "workforce.yaml")


def sms(text: str, choices: tuple[ReplyChoice, ...] = ()) -> Check:
    return check_prompt(Prompt("p", "en", Reply(text, choices)), SMS, "f", "s")


def messages(check: Check) -> str:
    return " | ".join(f.message for f in check.findings)


# --- hand-counted SMS figures ----------------------------------------------------------


@pytest.mark.parametrize(("text", "encoding", "characters", "units", "segments"), [
    ("a" * 160, "GSM-7", 160, 160, 1),
    ("a" * 161, "GSM-7", 161, 161, 2),
    ("a" * 306, "GSM-7", 306, 306, 2),  # 2 x 153
    ("a" * 307, "GSM-7", 307, 307, 3),
    ("€" * 80, "GSM-7", 80, 160, 1),  # each € is escape + character: two septets
    ("€" * 80 + "a", "GSM-7", 81, 161, 2),
    ("Cost: €5", "GSM-7", 8, 9, 1),
    ("ŵ" * 70, "UCS-2", 70, 70, 1),  # Welsh w-circumflex is not GSM-7
    ("ŵ" * 71, "UCS-2", 71, 71, 2),
    ("😀" * 35, "UCS-2", 35, 70, 1),  # an emoji is two UTF-16 units
    ("😀" * 36, "UCS-2", 36, 72, 2),
])
def test_sms_figures(text: str, encoding: str, characters: int, units: int,
                     segments: int) -> None:
    check = sms(text)
    assert (check.encoding, check.characters, check.units, check.segments) == (
        encoding, characters, units, segments)


def test_one_curly_apostrophe_is_reported_with_its_replacement() -> None:
    # 159 + 1 = 160 characters. As written: UCS-2, 160 units = 3 segments (67 a part).
    # The SMS channel sends ' instead, so it goes as GSM-7, 1 segment - and lint says why.
    text = "a" * 159 + CURLY
    check = sms(text)
    assert (check.encoding, check.segments, check.characters) == ("GSM-7", 1, 160)
    assert "'" in check.text and CURLY not in check.text
    warning = messages(check)
    assert f"'{CURLY}' (right single quotation mark) with ''' (apostrophe)" in warning
    assert "as written it is UCS-2, 3 segment(s)" in warning
    assert not check.errors


@pytest.mark.parametrize(("text", "culprit", "advice"), [
    ("Thank you 😀", "'😀' (grinning face)", "remove it, or say it in words"),
    ("Diolch am y dŵr", "'ŵ' (latin small letter w with circumflex)", "keep it if the word"),
    ("Well done ✨", "'✨' (sparkles)", "remove it, or say it in words"),
])
def test_characters_that_keep_a_message_ucs2_are_named_with_advice(
        text: str, culprit: str, advice: str) -> None:
    check = sms(text)
    assert check.encoding == "UCS-2"
    assert culprit in messages(check) and advice in messages(check)


def test_a_dash_and_quotes_pasted_from_word_are_all_listed() -> None:
    check = sms("\u201cCaring\u201d \u2013 isn\u2019t easy")
    text = messages(check)
    for name in ("left double quotation mark", "right double quotation mark", "en dash",
                 "right single quotation mark"):
        assert name in text
    assert check.encoding == "GSM-7"


def test_more_segments_than_the_limit_is_an_error() -> None:
    assert sms("a" * 306).errors == []
    assert sms("a" * 307).errors == ["3 SMS segments; the limit is 2"]
    relaxed = check_prompt(Prompt("p", "en", Reply("a" * 307)), SMS, "f", "s", max_segments=3)
    assert relaxed.errors == []


def test_choices_are_counted_as_the_numbered_lines_sms_sends() -> None:
    choices = (ReplyChoice("q=yes", "Yes"), ReplyChoice("q=no", "No"))
    check = sms("OK?", choices)
    assert check.text == "OK?\n\n1 Yes\n2 No\n\nReply 1 or 2"
    assert check.characters == 3 + 2 + 5 + 1 + 4 + 2 + 12 == 29


# --- channel limits ----------------------------------------------------------------------


def _survey(questions: list[dict[str, Any]], **extra: Any) -> Any:
    return parse({"id": "t", "version": 1, "title": "T", "intro": "Hello.",
                  "consent": "Do you agree?", "thank_you": "Thank you.",
                  "questions": questions, **extra})


def _on(checks: list[Check], pid: str, channel: str, language: str = "en") -> Check:
    return next(c for c in checks
                if (c.id, c.channel, c.language) == (pid, channel, language))


def test_telegram_callback_data_over_64_bytes_is_an_error() -> None:
    long_id = "q" + "x" * 55  # "q" + 55 = 56 characters; "=" + code makes the payload
    survey = _survey([
        {"id": long_id, "type": "single_choice", "text": "Pick one",
         "options": [{"code": "fine", "text": "Fine"}, {"code": "too_long", "text": "Long"}]},
    ])
    checks = lint_survey(survey)
    telegram_check = _on(checks, long_id, "telegram")
    # 56 + 1 + 4 = 61 bytes: fine; 56 + 1 + 8 = 65 bytes: one over.
    assert telegram_check.errors == [
        f"button data '{long_id}=too_long' is 65 bytes; telegram allows 64 (shorten the "
        "question id or option code)"]
    assert telegram_check.buttons == 0  # it goes as a numbered list instead
    assert _on(checks, long_id, "whatsapp").errors == []  # WhatsApp ids may be 200
    assert has_errors(checks)


def test_whatsapp_button_labels_over_20_characters_are_an_error() -> None:
    survey = _survey([
        {"id": "q", "type": "single_choice", "text": "Which?", "options": [
            {"code": "a", "text": "Twenty characters!!!"},  # 20: fine
            {"code": "b", "text": "Twenty-one characters"},  # 21: over
        ]},
        {"id": "many", "type": "single_choice", "text": "Which?", "options": [
            {"code": f"o{n}", "text": "A label far longer than twenty"} for n in range(4)
        ]},
    ])
    checks = lint_survey(survey)
    assert _on(checks, "q", "whatsapp").errors == [
        "button label 'Twenty-one characters' is 21 characters; whatsapp allows 20"]
    assert _on(checks, "q", "telegram").errors == []
    # Four choices never become WhatsApp buttons, so long labels are no error, but the
    # number of buttons is worth a warning.
    many = _on(checks, "many", "whatsapp")
    assert many.errors == []
    assert many.warnings == [
        "4 choices: whatsapp shows at most 3 buttons, so they go as a numbered list"]
    assert many.buttons == 0 and "\n1 A label" in many.text


def test_buttons_are_used_where_the_channel_would_use_them() -> None:
    survey = _survey([{"id": "ok", "type": "yes_no", "text": "Is it OK?"}])
    checks = lint_survey(survey)
    assert _on(checks, "ok", "whatsapp").buttons == 2
    assert _on(checks, "ok", "whatsapp").text == "Is it OK?"
    assert _on(checks, "ok", "sms").buttons == 0


def test_the_rules_match_the_channel_modules() -> None:
    assert WHATSAPP.max_buttons == 3 and WHATSAPP.label_max == twilio._QUICK_REPLY_TITLE
    assert WHATSAPP.payload_max == twilio._QUICK_REPLY_ID
    assert WHATSAPP.body_max_with_buttons == twilio._QUICK_REPLY_BODY
    assert TELEGRAM.payload_max == telegram._MAX_CALLBACK_DATA
    assert TELEGRAM.max_buttons == telegram.TelegramChannel.max_buttons
    assert TELEGRAM.max_length == telegram.TelegramChannel.max_length
    assert SMS.max_length == WHATSAPP.max_length == 1600  # TwilioChannel sets this per instance
    assert [c.name for c in CHANNELS] == ["sms", "whatsapp", "telegram"]


@pytest.mark.parametrize(("text", "labels", "multiple"), [
    ("Q?", [], False), ("Q?", ["Yes", "No"], False), ("Q?", ["a", "b", "c"], False),
    ("Q?", ["a", "b", "c"], True),
])
def test_rendering_matches_the_channels_numbered_lines(text: str, labels: list[str],
                                                       multiple: bool) -> None:
    message = OutboundMessage(text, [Choice(str(n), label) for n, label in enumerate(labels)],
                              multiple)
    assert render_numbered(text, labels, multiple, "en") == numbered(message)


# --- readability, translations, re-asks ----------------------------------------------------


@pytest.mark.parametrize(("word", "count"), [
    ("care", 1), ("carer", 2), ("answer", 2), ("private", 2), ("together", 3),
    ("experience", 3), ("family", 3), ("hoped", 1), ("table", 2), ("waited", 2),
    ("assessment", 3), ("yes", 1), ("20", 1),
])
def test_syllables_by_hand(word: str, count: int) -> None:
    assert syllables(word) == count


def test_reading_age_and_long_sentences() -> None:
    easy = measure("Thank you. We will text you soon.", "en")
    assert easy.reading_age is not None and easy.reading_age < 9
    hard = measure("Notwithstanding considerable organisational complexity, "
                   "multidisciplinary collaboration facilitates comprehensive "
                   "individualised commissioning.", "en")
    assert hard.reading_age is not None and hard.reading_age > 16
    long = "one " * 21
    assert measure(long.strip() + ".", "en").long_sentences == (21,)
    assert measure("Diolch yn fawr iawn.", "cy").reading_age is None  # no formula for Welsh


def test_hard_text_and_long_sentences_are_warnings_not_errors() -> None:
    survey = _survey([{"id": "q", "type": "free_text", "text": (
        "Please describe, in as much detail as you feel comfortable sharing with us today, "
        "the circumstances surrounding your most recent interaction with our services.")}])
    found = messages(_on(lint_survey(survey), "q", "sms"))
    assert "a sentence of 24 words: aim for 20 or fewer" in found
    assert "reading age about" in found
    assert not has_errors(lint_survey(survey))


def test_a_missing_translation_is_a_warning_and_falls_back() -> None:
    survey = _survey([
        {"id": "q", "type": "single_choice", "text": {"en": "Which?", "cy": "Pa un?"},
         "options": [{"code": "a", "text": {"en": "A", "cy": "A"}},
                     {"code": "b", "text": "B only"}]},
        {"id": "r", "type": "free_text", "text": "English only"},
    ], languages=["en", "cy"], intro={"en": "Hello.", "cy": "Helo."})
    checks = lint_survey(survey)
    assert "'q' option b has no cy text: it falls back to en" in _on(checks, "q", "sms",
                                                                       "cy").warnings
    assert "'r' text has no cy text: it falls back to en" in _on(checks, "r", "sms",
                                                                   "cy").warnings
    assert "consent has no cy text: it falls back to en" in _on(checks, "consent", "sms",
                                                                  "cy").warnings
    assert not any("no cy text" in w for w in _on(checks, "intro", "sms", "cy").warnings)
    assert _on(checks, "r", "sms", "cy").text.startswith("English only")


def test_a_language_without_a_catalogue_is_a_warning() -> None:
    survey = _survey([{"id": "q", "type": "free_text", "text": {"en": "Hi?", "fr": "Salut ?"}}],
                     languages=["en", "fr"], intro={"en": "Hello.", "fr": "Bonjour."})
    intro = _on(lint_survey(survey), "intro", "sms", "fr")
    assert any("no fr message catalogue" in w for w in intro.warnings)


# --- the example surveys -------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_prompt_fits_two_gsm7_segments_with_no_errors(name: str) -> None:
    checks = lint_file(library_path() / name)
    assert not has_errors(checks), [c.errors for c in checks if c.errors]
    texts = [c for c in checks if c.channel == "sms"]
    languages = {c.language for c in texts}
    assert {"en", "cy"} <= languages
    for check in texts:
        assert check.encoding == "GSM-7", (check.id, check.language, check.text)
        assert check.segments is not None and check.segments <= 2, (check.id, check.language)
        assert not any("UCS-2" in w for w in check.warnings), (check.id, check.warnings)


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_text_has_welsh(name: str) -> None:
    checks = lint_file(library_path() / name)
    missing = [w for c in checks for w in c.warnings if "no cy text" in w]
    assert missing == []


# --- WithUs's own messages -----------------------------------------------------------------


def _library() -> list[Any]:
    return [load_file(path) for path in sorted(library_path().glob("*.yaml"))]


#: What must be measured for every survey (the rest depends on the survey's questions).
ALWAYS = {"hello", "hello:menu", "consent:reask", "consent:help", "declined", "finished",
          "menu", "menu:help", "reminder", "later", "later:set", "time", "time:set", "stop",
          "start", "mydata", "delete", "deleted", "media", "signposting:self_harm",
          "signposting:abuse", "signposting:neglect", "safeguarding:pause", "safeguarding:reask",
          "safeguarding:contact"}


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_system_message_of_every_example_fits_two_segments(name: str) -> None:
    # Measured as a real deployment would send them: the example organisation's name and
    # contact, and a menu of every shipped survey and consultation. If any of WithUs's own
    # messages grows past two SMS parts in English or Welsh, this fails.
    survey = load_file(library_path() / name)
    checks = lint_file(library_path() / name, organisation=EXAMPLE, others=_library())
    system = [c for c in checks if c.system and c.channel == "sms"]
    for lang in ("en", "cy"):
        ids = {c.id for c in system if c.language == lang}
        assert ALWAYS - {"hello", "hello:menu"} <= ids, (lang, ALWAYS - ids)
        for question in survey.questions:
            assert f"{question.id}:help" in ids
            reasks = {i.removeprefix(f"{question.id}:reask:") for i in ids
                      if i.startswith(f"{question.id}:reask:")}
            expected = {"single_choice": {"unclear", "one_only", "not_an_option"},
                        "scale": {"unclear", "one_only", "not_an_option"},
                        "multiple_choice": {"unclear", "not_an_option"},
                        "yes_no": {"unclear", "one_only"},
                        "number": {"not_a_number", "out_of_range"},
                        "free_text": {"empty"}}[question.type.value]
            assert expected <= reasks, (question.id, lang, reasks)
    assert {"hello", "hello:menu", "stopio"} <= {c.id for c in system}
    for lang in survey.keywords:  # a newcomer who texts CARERS or GOFALWYR
        assert ("hello:keyword", lang) in {(c.id, c.language) for c in system}
    general = {c.id for c in system if c.id.split(":")[0] not in
               {q.id for q in survey.questions}}
    assert general <= set(GENERAL_IDS)
    over = [(c.id, c.language, c.segments, c.text) for c in system
            if c.segments is None or c.segments > 2]
    assert over == []
    assert not has_errors(checks), [(c.id, c.errors) for c in checks if c.errors]


def test_the_consultations_own_messages_fit_two_segments() -> None:
    # Its engine builds its own: a question with its heading, a point to vote on, HELP at
    # each phase (with the consultation's web address), a point of one's own...
    consultation = load_file(library_path() / "fair_pay.yaml")
    checks = lint_file(library_path() / "fair_pay.yaml", organisation=EXAMPLE,
                       others=_library())
    system = {c.id: c for c in checks if c.system and c.channel == "sms"}
    for question in consultation.questions:
        for kind in ("ask", "help", "reask", "vote", "vote:help", "vote:reask"):
            assert f"{question.id}:{kind}" in system, (question.id, kind)
    assert ALWAYS - {"later:set"} <= set(system) | {"later:set"}
    assert {"propose", "propose:help", "propose:long", "proposed"} <= set(system)
    assert system["coverage:vote"].text.startswith("Now some points from others")
    assert "Read more: https://www.gov.uk/" in system["coverage:help"].text
    over = [(c.id, c.segments) for c in system.values() if (c.segments or 0) > 2]
    assert over == []
    assert not has_errors(checks)


def _fft_system(organisation: Organisation = EXAMPLE) -> dict[tuple[str, str], Check]:
    checks = lint_file(library_path() / "fft.yaml", organisation=organisation)
    return {(c.id, c.language): c for c in checks if c.system and c.channel == "sms"}


def test_system_messages_are_the_engines_words_in_each_language() -> None:
    found = _fft_system()
    help_en, help_cy = found[("overall:help", "en")].text, found[("overall:help", "cy")].text
    assert help_en.endswith("To talk to a person: call Sam on 01632 960123.")
    assert "Words you can send:" in help_en and "MYDATA" in help_en
    assert "FY NATA" in help_cy and "call Sam on 01632 960123" in help_cy
    assert found[("hello", "en,cy")].text.startswith("Hello from Cwm Taf Carers.")
    assert "DECHRAU" in found[("stopio", "cy")].text  # STOPIO is confirmed in Welsh
    assert found[("overall:got_it", "en")].text.startswith("Got it: ")
    assert "Reply BACK to change it." in found[("overall:got_it", "en")].text
    assert "We kept it up to" in found[("why:cut", "en")].text
    assert "116 123" in found[("signposting:self_harm", "cy")].text
    assert found[("mydata", "en")].text.startswith("You answered 2 questions in")
    assert "Atebwch DILEU" in found[("mydata", "cy")].text
    # Each reason for a re-ask has its own row, as sent after two tries (SKIP or HELP).
    assert found[("overall:reask:not_an_option", "en")].text == (
        "99 is not one of the options. Please reply with a number from 1 to 6. "
        "Or reply SKIP or HELP.")
    assert found[("overall:reask:one_only", "en")].text.startswith(
        "Only one answer here, please.")
    assert found[("overall:reask:did_you_mean", "cy")].text.startswith("Ydych chi'n golygu")


def test_a_long_contact_or_name_is_an_error_naming_the_message() -> None:
    long_contact = ("call our carers support line on 01632 960123, Monday to Friday, "
                    "9am to 5pm, or email hello@cwmtafcarers.example.org")
    found = _fft_system(Organisation("Cwm Taf Carers", long_contact))
    help_en = found[("overall:help", "en")]
    assert help_en.segments == 3
    assert help_en.errors == [
        "3 SMS segments; the limit is 2 (WithUs's own message: the organisation's name and "
        "contact, the survey's title and texts go into it)"]
    assert found[("stop", "en")].errors == []  # messages without the contact are untouched
    named = _fft_system(Organisation("A" * 130, ""))
    assert named[("hello", "en,cy")].errors and named[("hello", "en,cy")].segments == 3


def test_the_command_shows_system_messages_and_fails_on_a_long_contact() -> None:
    runner = CliRunner()
    fft = str(library_path() / "fft.yaml")
    shown = runner.invoke(lint_command, [fft], env={"WITHUS_ORG_NAME": "",
                                                   "WITHUS_CONTACT": None})
    assert shown.exit_code == 0, shown.output
    assert ("* WithUs's own message, measured with organisation 'Cwm Taf Carers' and "
            "contact 'call Sam on 01632 960123'") in shown.output
    for row in ("*menu ", "*menu:help ", "*overall:help ", "*overall:reask:one_only ", "*reminder ",
                "*stopio ", "*signposting:neglect ", "*later:set "):
        assert row in shown.output, row
    long = runner.invoke(lint_command, [fft, "--contact", "x" * 120])
    assert long.exit_code == 1
    assert "error: overall:help [en] sms: 3 SMS segments; the limit is 2" in long.output
    from_env = runner.invoke(lint_command, [fft], env={"WITHUS_CONTACT": "y" * 120})
    assert from_env.exit_code == 1 and "error: why:help [cy] sms: 3 SMS" in from_env.output


# --- the command ---------------------------------------------------------------------------


def test_json_has_one_object_per_prompt_and_channel() -> None:
    result = CliRunner().invoke(lint_command, [str(library_path() / "fft.yaml"), "--json"])
    assert result.exit_code == 0, result.output
    objects = json.loads(result.stdout)  # warnings go to stderr
    assert {"id", "language", "channel", "encoding", "segments", "characters",
            "warnings"} <= set(objects[0])
    keys = [(o["id"], o["language"], o["channel"]) for o in objects]
    assert len(keys) == len(set(keys))
    overall = next(o for o in objects
                   if (o["id"], o["language"], o["channel"]) == ("overall", "cy", "sms"))
    assert overall["encoding"] == "GSM-7" and overall["segments"] == 1
    assert overall["characters"] == len(overall["text"])
    assert overall["text"].startswith("At ei gilydd, sut oedd eich profiad o'n gwasanaeth?")
    assert {o["channel"] for o in objects} == {"sms", "whatsapp", "telegram"}


def _write(tmp_path: Path, intro: str) -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "id": "s", "version": 1, "title": "S", "intro": intro, "consent": "OK?",
        "thank_you": "Thanks.", "questions": [{"id": "q", "type": "free_text", "text": "Hi?"}],
    }), encoding="utf-8")
    return path


def test_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    fine = runner.invoke(lint_command, [str(_write(tmp_path, "Hello " + "😀"))])
    assert fine.exit_code == 0, fine.output  # a UCS-2 warning alone
    assert "warning: intro [en] sms: UCS-2" in fine.output
    over = runner.invoke(lint_command, [str(_write(tmp_path, "a " * 200))])
    assert over.exit_code == 1
    assert "error: intro [en] sms: 3 SMS segments; the limit is 2" in over.output
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: Broken!\n", encoding="utf-8")
    bad = runner.invoke(lint_command, [str(broken)])
    assert bad.exit_code == 2


def test_the_table_reports_the_examples(tmp_path: Path) -> None:
    checks = [c for name in EXAMPLES for c in lint_file(library_path() / name)]
    text = report(checks)
    assert "surveys/library/fft.yaml (fft)" in text.replace(str(library_path()),
                                                           "surveys/library")
    assert "0 errors" in text


# --- a deployment's own signposting (WITHUS_SIGNPOSTING_FILE) ------------------------------

#: 260 characters and {phone}; with the example local contact (38 characters, about the
#: longest allowed) 298: two segments (306), until one more line makes it 334, three.
OWN_SELF_HARM = (
    "Thank you for telling us. You don't have to face this alone. Samaritans are free, day "
    "or night: 116 123. Our carers' support line is open 9am to 5pm on weekdays: {phone}. "
    "Out of hours, call the council's duty team on 0300 123 4567. If you are in danger now, "
    "call 999.")
OUT_OF_HOURS = " For urgent health advice, call 111."


def _signposting(checks: list[Check], language: str = "en",
                 category: str = "self_harm") -> Check:
    return next(c for c in checks if c.id == f"signposting:{category}"
                and c.language == language and c.channel == "sms")


def test_a_deployments_own_signposting_is_measured_where_it_is_sent() -> None:
    carers = load_file(library_path() / "carers.yaml")
    assert isinstance(carers, Survey)
    own = {"en": {"self_harm": OWN_SELF_HARM}}
    checks = lint_survey(carers, signposts=own)
    sent = _signposting(checks)
    assert sent.text == OWN_SELF_HARM.replace("{phone}", EXAMPLE_LOCAL_CONTACT.strip())
    assert (sent.characters, sent.segments, sent.errors) == (298, 2, [])
    assert not sent.system and sent.reading_age is not None  # their words, not WithUs's
    # Where the file has no text (abuse in English, anything in Welsh), the built-in goes.
    assert _signposting(checks, "en", "abuse").system
    assert _signposting(checks, "cy").text == _signposting(lint_survey(carers), "cy").text

    longer = {"en": {"self_harm": OWN_SELF_HARM + OUT_OF_HOURS}}
    over = _signposting(lint_survey(carers, signposts=longer))
    assert (over.characters, over.segments) == (334, 3)
    assert over.errors == ["3 SMS segments; the limit is 2 (your text in "
                           "WITHUS_SIGNPOSTING_FILE, with a local contact of up to 40 "
                           "characters)"]
    # One text for every language and category (a plain-text file) is checked in each.
    everywhere = lint_survey(carers, signposts={"*": "Diolch. Thank you " + "x" * 300})
    assert {(c.language, c.id) for c in everywhere if c.errors and c.channel == "sms"} == {
        (lang, f"signposting:{cat}") for lang in ("en", "cy")
        for cat in ("self_harm", "abuse", "neglect")}


def test_surveys_lint_checks_the_signposting_file(tmp_path: Path) -> None:
    runner = CliRunner()
    carers = str(library_path() / "carers.yaml")
    own = tmp_path / "signposting.yaml"
    own.write_text(yaml.safe_dump({"en": {"self_harm": OWN_SELF_HARM},
                                   "cy": "Diolch am ddweud wrthym ni. Cymorth lleol: {phone}."}),
                   encoding="utf-8")
    fine = runner.invoke(lint_command, [carers, "--signposting", str(own)])
    assert fine.exit_code == 0, fine.output
    rows = [line.split() for line in fine.output.splitlines() if "signposting:" in line]
    assert ["signposting:self_harm", "en", "GSM-7", "298", "ch", "2", "parts"] in [
        row[:7] for row in rows]  # no * : the deployment's words, not WithUs's
    assert ["signposting:abuse", "cy", "GSM-7", "82", "ch", "1", "part"] in [
        row[:7] for row in rows]
    assert ["*signposting:abuse", "en"] in [row[:2] for row in rows]  # built in
    own.write_text(yaml.safe_dump({"en": OWN_SELF_HARM + OUT_OF_HOURS}), encoding="utf-8")
    over = runner.invoke(lint_command, [carers], env={"WITHUS_SIGNPOSTING_FILE": str(own)})
    assert over.exit_code == 1
    for category in ("self_harm", "abuse", "neglect"):
        assert (f"error: signposting:{category} [en] sms: 3 SMS segments; the limit is 2 "
                "(your text in WITHUS_SIGNPOSTING_FILE") in over.output
    own.write_text("en: [not, a, text]\n", encoding="utf-8")
    broken = runner.invoke(lint_command, [carers, "--signposting", str(own)])
    assert broken.exit_code == 2
    assert "error: WITHUS_SIGNPOSTING_FILE must hold the signposting text" in broken.stderr
    assert runner.invoke(lint_command, [carers], env={"WITHUS_SIGNPOSTING_FILE": ""}
                         ).exit_code == 0  # unset: the built-in texts, as before
