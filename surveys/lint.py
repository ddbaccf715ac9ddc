"""Check a survey the way its messages will actually go out, before anyone receives them.

An organiser edits YAML; a carer receives an SMS. Between the two, a pasted curly
apostrophe can triple the cost of every message, a fourth option can turn WhatsApp
buttons into a list, a long option code can stop Telegram's buttons working, and a long
sentence can lose a reader. `lint_survey` renders every prompt of a survey (intro,
consent, each question, the thank-you) and every system message around it (the menu, HELP
at each stage, each re-ask, "Got it", reminders, LATER and TIME, STOP, MYDATA, DELETE,
the media reply, the cut-answer notice, the signposting, a deployment's own where it has
one: see `surveys.system_messages`, measured with an organisation's name and contact) in
every language on every channel, exactly as the engine and the channels build it, and
reports:

* characters; for SMS the encoding (GSM-7 or UCS-2), the billed units (GSM-7 extension
  characters such as € count two) and segments (160 / 153 per part in GSM-7, 70 / 67 in
  UCS-2), and each character that forces UCS-2 with a suggested replacement;
* channel limits: Telegram's 64-byte callback data, WhatsApp's 3 buttons and 20-character
  button labels, and each channel's longest single message;
* a reading age for English (the aim is about 9 to 11) and sentences over 20 words;
* text missing in one of the survey's languages (it would fall back to the default);
* a re-ask that is longer than the question it repeats;
* for a survey that accepts voice notes or photos, a consent text that does not say what
  happens to one (kept encrypted, who hears it, when it is deleted): an error.

Errors are broken limits (including more SMS segments than `max_segments`, for a system
message too); everything else is a warning. Pure: no I/O except reading the file in `lint_file`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from surveys import sms
from surveys.consultation import Consultation
from surveys.conversation import Event, Reply, new_state
from surveys.engine import begin, step
from surveys.i18n import available_languages
from surveys.loader import load_file
from surveys.media import consent_gaps
from surveys.model import Question, QuestionType, Survey, Text
from surveys.organisation import EXAMPLE, Organisation
from surveys.readability import MAX_READING_AGE, MAX_SENTENCE_WORDS, measure
from surveys.render import numbered
from surveys.signposting import MAX_LOCAL_CONTACT, CustomTexts
from surveys.system_messages import SystemMessage, system_messages

#: WithUs's own budget: a prompt should fit in two SMS parts.
DEFAULT_MAX_SEGMENTS = 2
#: The engine is pure and needs a time; any fixed moment will do for rendering.
_RENDER_TIME = datetime(2000, 1, 1, tzinfo=UTC)

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class ChannelRules:
    """What one channel allows. Kept equal to the channel modules by tests/test_lint.py."""

    name: str
    #: Most buttons on one message; 0 means choices always go as a numbered list.
    max_buttons: int
    #: Longest button label, in characters (None: no limit we need to check).
    label_max: int | None
    #: Longest button payload (Telegram's callback data, in bytes; WhatsApp's id, in chars).
    payload_max: int | None
    payload_in_bytes: bool
    #: Longest message body that may carry buttons.
    body_max_with_buttons: int | None
    #: Longest single message; longer texts are split into several.
    max_length: int
    #: Telegram counts UTF-16 code units; Twilio counts characters.
    utf16: bool
    #: Can carry a voice note or photo (so prompts say one may be sent); SMS cannot.
    carries_media: bool = True


SMS = ChannelRules("sms", 0, None, None, False, None, 1600, False, carries_media=False)
WHATSAPP = ChannelRules("whatsapp", 3, 20, 200, False, 1024, 1600, False)
TELEGRAM = ChannelRules("telegram", 8, None, 64, True, None, 4096, True)
CHANNELS: tuple[ChannelRules, ...] = (SMS, WHATSAPP, TELEGRAM)

#: What to write instead of characters that have no plain equivalent in `to_gsm`.
_ADVICE = {
    "emoji": "remove it, or say it in words",
    "letter": "keep it if the word needs it (the message goes as UCS-2), or rephrase",
    "other": "remove it, or use a plain character",
}


@dataclass(frozen=True)
class Finding:
    level: Level
    message: str


@dataclass(frozen=True)
class Prompt:
    """One message a survey sends, channel-neutral, in one language."""

    id: str
    language: str
    reply: Reply
    #: The words the survey's author wrote, for the readability check.
    prose: str = ""
    #: Problems that are the same on every channel (missing text, reading age, re-asks).
    findings: tuple[Finding, ...] = ()
    #: WithUs's own words (surveys.system_messages), not the survey author's.
    system: bool = False
    #: Where the words come from when that is neither (WITHUS_SIGNPOSTING_FILE).
    source: str = ""


@dataclass(frozen=True)
class Check:
    """One prompt as it goes out on one channel, with what is wrong with it."""

    file: str
    survey: str
    id: str
    language: str
    channel: str
    text: str
    characters: int
    buttons: int
    encoding: str | None = None
    segments: int | None = None
    units: int | None = None
    reading_age: float | None = None
    findings: tuple[Finding, ...] = field(default=())
    #: WithUs's own words (the menu, HELP, re-asks...), not the survey author's.
    system: bool = False

    @property
    def errors(self) -> list[str]:
        return [f.message for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[str]:
        return [f.message for f in self.findings if f.level == "warning"]

    def to_json(self) -> dict[str, Any]:
        """The JSON object for `withus surveys lint --json`: one per prompt and channel."""
        return {
            "file": self.file, "survey": self.survey, "id": self.id,
            "kind": "system" if self.system else "survey", "language": self.language,
            "channel": self.channel,
            "encoding": self.encoding, "segments": self.segments, "units": self.units,
            "characters": self.characters, "buttons": self.buttons,
            "reading_age": self.reading_age, "warnings": self.warnings,
            "errors": self.errors, "text": self.text,
        }


# --- what the survey sends ------------------------------------------------------------------


def prompts(survey: Survey, organisation: Organisation = EXAMPLE,
            others: Iterable[Survey | Consultation] = (),
            signposts: CustomTexts | None = None) -> list[Prompt]:
    """Every message the survey sends, in every language, built by the engine: its own
    texts, and the system messages around them (`surveys.system_messages`), each question's
    re-ask, HELP and "Got it" beside it. `signposts`: the deployment's own signposting."""
    system = system_messages(survey, organisation, others, signposts)
    beside: dict[tuple[str, str], list[SystemMessage]] = {}
    for message in system:
        if message.question is not None:
            beside.setdefault((message.question, message.language), []).append(message)
    general = [m for m in system if m.question is None]
    first = ("hello", "hello:menu", "hello:keyword")
    found: list[Prompt] = [_system(m) for m in general if m.id in first]
    if len(survey.languages) > 1:
        offer = begin(survey, None, _RENDER_TIME).replies
        found += [Prompt("language", ",".join(survey.languages), r) for r in offer]
    for lang in survey.languages:
        intro, consent = begin(survey, None, _RENDER_TIME, language=lang).replies[-2:]
        found.append(_authored("intro", lang, intro, survey.intro, survey))
        found.append(_authored("consent", lang, consent, survey.consent, survey,
                               _consent_media(survey, lang)))
        found += [_system(m) for m in general
                  if m.language == lang and m.id in _CONSENT_IDS]
        for question in survey.questions:
            found += _question_prompts(survey, question, lang, beside.get((question.id, lang), []))
        found.append(_authored("thank_you", lang, Reply(survey.thank_you.get(lang)),
                               survey.thank_you, survey))
        found += [_system(m) for m in general if m.language == lang
                  and m.id not in (*_CONSENT_IDS, *first)]
    found += [_system(m) for m in general
              if m.language not in survey.languages and m.id not in first]
    return found


#: System messages shown beside the consent prompt.
_CONSENT_IDS = ("consent:reask", "consent:help", "declined")


#: Where a deployment's own signposting comes from, as the findings name it.
SIGNPOSTING_SOURCE = "WITHUS_SIGNPOSTING_FILE"


def _system(message: SystemMessage, notes: Iterable[Finding] = ()) -> Prompt:
    if message.own:  # the deployment's words: measured like an author's, reading age too
        return Prompt(message.id, message.language, message.reply, message.reply.text,
                      (*notes, *_readability(message.reply.text, message.language)),
                      source=SIGNPOSTING_SOURCE)
    return Prompt(message.id, message.language, message.reply, findings=tuple(notes),
                  system=True)


def _authored(pid: str, lang: str, reply: Reply, text: Text, survey: Survey,
              extra: Iterable[Finding] = ()) -> Prompt:
    findings = [*_missing(survey, lang, {pid: text}), *extra, *_readability(text.get(lang), lang)]
    return Prompt(pid, lang, reply, text.get(lang), tuple(findings))


def _question_prompts(survey: Survey, question: Question, lang: str,
                      system: Sequence[SystemMessage]) -> list[Prompt]:
    if question.type is QuestionType.INFO:
        return [_authored(question.id, lang, Reply(question.text.get(lang)), question.text,
                          survey)]
    state = new_state()
    state.update(survey=survey.id, version=survey.version, lang=lang, stage="asking",
                 q=question.id, asked=[question.id])
    asked = step(survey, state, Event("text", text="REPEAT"), _RENDER_TIME).replies[-1]
    texts: dict[str, Text | None] = {"text": question.text, "why": question.why,
                                     "low_label": question.low_label,
                                     "high_label": question.high_label}
    if question.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
        texts.update({f"option {o.code}": o.label for o in question.options})
    missing = _missing(survey, lang, texts, where=question.id)
    shown = numbered(asked.text, [c.label for c in asked.choices], asked.multiple, lang)
    found = [Prompt(question.id, lang, asked, question.text.get(lang),
                    (*missing, *_readability(question.text.get(lang), lang)))]
    for message in system:
        notes: list[Finding] = []
        if ":reask" in message.id and len(message.reply.text) >= len(shown):
            notes.append(Finding(
                "warning", f"re-ask is not shorter than the question "
                           f"({len(message.reply.text)} vs {len(shown)} characters): "
                           f"{message.reply.text!r}"))
        found.append(_system(message, notes))
    return found


def _consent_media(survey: Survey, lang: str) -> list[Finding]:
    """A survey that takes voice notes or photos must say, in its consent text, what
    happens to them: people agree to that, not only to their words being kept."""
    found = []
    for language, topic in consent_gaps(survey):
        if language != lang:
            continue
        if topic is None:
            found.append(Finding("warning", f"this survey accepts voice notes or photos, and "
                                            f"the consent checks have no words for {lang}: "
                                            "make sure it says they are kept encrypted, who "
                                            "hears them and when they are deleted"))
        else:
            found.append(Finding("error", "this survey accepts voice notes or photos, so its "
                                          f"consent must {topic.advice}"))
    return found


def _missing(survey: Survey, lang: str, texts: dict[str, Text | None],
             where: str = "") -> list[Finding]:
    prefix = f"'{where}' " if where else ""
    return [
        Finding("warning", f"{prefix}{name} has no {lang} text: it falls back to "
                           f"{survey.default_language}")
        for name, text in texts.items()
        if text is not None and lang not in text.languages()
    ]


def _readability(prose: str, lang: str) -> list[Finding]:
    measured = measure(prose, lang)
    found = [
        Finding("warning", f"a sentence of {n} words: aim for {MAX_SENTENCE_WORDS} or fewer")
        for n in measured.long_sentences
    ]
    if measured.reading_age is not None and measured.reading_age > MAX_READING_AGE:
        found.append(Finding("warning", f"reading age about {measured.reading_age:.0f}: "
                                        "aim for 9 to 11 (shorter words and sentences)"))
    return found


# --- how it goes out on each channel -------------------------------------------------------


def _uses_buttons(reply: Reply, rules: ChannelRules) -> bool:
    """The channel modules' rule for sending buttons rather than a numbered list."""
    choices = reply.choices
    if not choices or reply.multiple or len(choices) > rules.max_buttons:
        return False
    if rules.body_max_with_buttons is not None and not (
        0 < len(reply.text) <= rules.body_max_with_buttons
    ):
        return False
    for choice in choices:
        if rules.label_max is not None and not 0 < len(choice.label) <= rules.label_max:
            return False
        if rules.payload_max is not None and not 0 < _payload_size(choice.payload,
                                                                   rules) <= rules.payload_max:
            return False
    return True


def _payload_size(payload: str, rules: ChannelRules) -> int:
    return len(payload.encode()) if rules.payload_in_bytes else len(payload)


def _channel_findings(prompt: Prompt, rules: ChannelRules) -> list[Finding]:
    reply, found = prompt.reply, []
    choices = reply.choices
    if rules.payload_max is not None:
        for choice in choices:
            size = _payload_size(choice.payload, rules)
            if size > rules.payload_max:
                unit = "bytes" if rules.payload_in_bytes else "characters"
                found.append(Finding("error", f"button data {choice.payload!r} is {size} "
                                              f"{unit}; {rules.name} allows {rules.payload_max} "
                                              "(shorten the question id or option code)"))
    if rules.max_buttons and choices and not reply.multiple:
        if len(choices) > rules.max_buttons:
            if not prompt.system:  # WithUs's own choices (the time slots) are meant as a list
                found.append(Finding("warning", f"{len(choices)} choices: {rules.name} shows "
                                                f"at most {rules.max_buttons} buttons, so they "
                                                "go as a numbered list"))
        elif rules.label_max is not None:
            for choice in choices:
                if len(choice.label) <= rules.label_max:
                    continue
                if prompt.system:  # a survey title in the menu: a list instead, no harm
                    found.append(Finding(
                        "warning", f"button label {choice.label!r} is {len(choice.label)} "
                                   f"characters; {rules.name} allows {rules.label_max}, so "
                                   "the choices go as a numbered list"))
                else:
                    found.append(Finding(
                        "error", f"button label {choice.label!r} is {len(choice.label)} "
                                 f"characters; {rules.name} allows {rules.label_max}"))
    return found


def check_prompt(prompt: Prompt, rules: ChannelRules, file: str, survey: str,
                 max_segments: int = DEFAULT_MAX_SEGMENTS) -> Check:
    """Render one prompt for one channel and measure it."""
    reply = prompt.reply
    buttons = _uses_buttons(reply, rules)
    lang = prompt.language if "," not in prompt.language else None
    words = reply.text
    if reply.media_note and rules.carries_media:
        words += "\n" + reply.media_note
    text = words if buttons else numbered(
        words, [c.label for c in reply.choices], reply.multiple, lang)
    findings = [*prompt.findings, *_channel_findings(prompt, rules)]
    encoding = segments = units = None
    if rules is SMS:
        sent = sms.to_gsm(text)
        encoding, segments, units = sms.encoding(sent), sms.segments(sent), sms.units(sent)
        findings += _sms_findings(text, sent, segments, max_segments, prompt.system,
                                  prompt.source)
        text = sent
    length = sms.utf16_length(text) if rules.utf16 else len(text)
    if length > rules.max_length:
        parts = -(-length // rules.max_length)
        findings.append(Finding("warning", f"{length} characters: {rules.name} sends it as "
                                           f"about {parts} separate messages"))
    measured = measure(prompt.prose, prompt.language) if prompt.prose else None
    return Check(file, survey, prompt.id, prompt.language, rules.name, text, len(text),
                 len(reply.choices) if buttons else 0, encoding, segments, units,
                 measured.reading_age if measured else None, tuple(findings), prompt.system)


def _sms_findings(written: str, sent: str, segments: int, max_segments: int,
                  system: bool = False, source: str = "") -> list[Finding]:
    found: list[Finding] = []
    replaced = [(c, r) for c, r in sms.ucs2_culprits(written) if r is not None]
    if replaced:
        as_written = sms.segments(written)
        found.append(Finding("warning", "sent as plain GSM-7 only because the SMS channel "
                                        f"replaces {_describe(replaced)}; as written it is "
                                        f"UCS-2, {as_written} segment(s). Write the plain "
                                        "characters in the file"))
    kept = sms.ucs2_culprits(sent)
    if kept:
        found.append(Finding("warning", "UCS-2 (70 characters a segment, not 160) because of "
                                        + "; ".join(f"{_show(c)}: {_advice(c)}"
                                                    for c, _none in kept)))
    if segments > max_segments:
        why = (" (WithUs's own message: the organisation's name and contact, the survey's "
               "title and texts go into it)") if system else ""
        if source:
            why = f" (your text in {source}, with a local contact of up to " \
                  f"{MAX_LOCAL_CONTACT} characters)"
        found.append(Finding("error", f"{segments} SMS segments; the limit is "
                                      f"{max_segments}{why}"))
    return found


def _describe(pairs: Sequence[tuple[str, str | None]]) -> str:
    return ", ".join(f"{_show(c)} with {_show(r) if r else 'nothing'}" for c, r in pairs)


def _show(char: str | None) -> str:
    """A character as a person can find it: quoted and named ("'’' (right single ...)").

    Invisible ones (a no-break space, a zero-width space) are shown escaped, since quoting
    them shows nothing.
    """
    if not char:
        return "''"
    name = unicodedata.name(char, "").lower() if len(char) == 1 else ""
    shown = repr(char) if char.isspace() or not char.isprintable() else f"'{char}'"
    return f"{shown} ({name})" if name else shown


def _advice(char: str) -> str:
    category = unicodedata.category(char)
    if category == "So" or 0x1F000 <= ord(char) <= 0x1FAFF:
        return _ADVICE["emoji"]
    if category.startswith("L"):
        return _ADVICE["letter"]
    return _ADVICE["other"]


# --- whole surveys ---------------------------------------------------------------------------


def lint_survey(survey: Survey, file: str = "",
                max_segments: int = DEFAULT_MAX_SEGMENTS, organisation: Organisation = EXAMPLE,
                others: Iterable[Survey | Consultation] = (),
                signposts: CustomTexts | None = None) -> list[Check]:
    """Every prompt of `survey` on every channel, with its findings: its own texts and the
    system messages around them, measured with `organisation`'s name and contact and a
    menu of `survey` and `others`, and the deployment's own signposting (`signposts`, as
    read from WITHUS_SIGNPOSTING_FILE) where it would be sent."""
    checks: list[Check] = []
    catalogues = set(available_languages())
    for prompt in prompts(survey, organisation, others, signposts):
        if prompt.id == "intro" and prompt.language not in catalogues:
            prompt = Prompt(prompt.id, prompt.language, prompt.reply, prompt.prose, (
                *prompt.findings,
                Finding("warning", f"there is no {prompt.language} message catalogue: help, "
                                   "hints and buttons will be in English (see "
                                   "docs/translating.md)"),
            ))
        for rules in CHANNELS:
            checks.append(check_prompt(prompt, rules, file or survey.source_path, survey.id,
                                       max_segments))
    return checks


def lint_file(path: str | Path, max_segments: int = DEFAULT_MAX_SEGMENTS,
              organisation: Organisation = EXAMPLE,
              others: Iterable[Survey | Consultation] = (),
              signposts: CustomTexts | None = None) -> list[Check]:
    """Load (raising `SurveyError` if invalid) and lint one survey file; `others` are
    offered beside it in the menu; `signposts` as for `lint_survey`."""
    loaded = load_file(path)
    if isinstance(loaded, Survey):
        return lint_survey(loaded, str(path), max_segments, organisation, others, signposts)
    return lint_texts(loaded, str(path), max_segments, organisation, others, signposts)


def lint_texts(document: Any, file: str = "",
               max_segments: int = DEFAULT_MAX_SEGMENTS, organisation: Organisation = EXAMPLE,
               others: Iterable[Survey | Consultation] = (),
               signposts: CustomTexts | None = None) -> list[Check]:
    """Lint every text of another kind of file (a consultation) as a plain message, then
    the messages its engine builds around them (a question with its heading, a point to
    vote on, HELP...: `surveys.system_messages`)."""
    languages: tuple[str, ...] = getattr(document, "languages", ("en",))
    default = getattr(document, "default_language", languages[0])
    found: list[Prompt] = []
    for pid, text in _texts_in(document, ""):
        for lang in languages:
            missing = () if lang in text.languages() else (
                Finding("warning", f"{pid} has no {lang} text: it falls back to {default}"),)
            found.append(Prompt(pid, lang, Reply(text.get(lang)), text.get(lang),
                                (*missing, *_readability(text.get(lang), lang))))
    if isinstance(document, Consultation):
        found += [_system(m) for m in system_messages(document, organisation, others,
                                                      signposts)]
    return [check_prompt(prompt, rules, file, str(getattr(document, "id", "")), max_segments)
            for prompt in found for rules in CHANNELS]


def _texts_in(value: Any, path: str) -> Iterable[tuple[str, Text]]:
    """Every `Text` inside a model object, named by where it sits ("questions.why.text")."""
    if isinstance(value, Text):
        yield path, value
    elif isinstance(value, tuple):
        for n, item in enumerate(value, start=1):
            name = getattr(item, "id", None) or str(n)
            yield from _texts_in(item, f"{path}.{name}")
    elif is_dataclass(value) and not isinstance(value, type):
        for item in fields(value):
            if not item.name.startswith("_") and item.name != "title":
                yield from _texts_in(getattr(value, item.name),
                                     f"{path}.{item.name}" if path else item.name)


def has_errors(checks: Iterable[Check]) -> bool:
    return any(check.errors for check in checks)


def _distinct(checks: Sequence[Check]) -> list[tuple[Check, Finding]]:
    """Each finding once: those that hold on every channel are reported once, as "all"."""
    seen: set[tuple[str, str, str, str]] = set()
    out: list[tuple[Check, Finding]] = []
    for check in checks:
        for finding in check.findings:
            key = (check.file, check.id, check.language, finding.message)
            if key not in seen:
                seen.add(key)
                out.append((check, finding))
    return out


@dataclass(frozen=True)
class Row:
    """One row of the lint table: a prompt in one language, a cell per channel."""

    id: str
    language: str
    sms: str
    whatsapp: str
    telegram: str
    reading_age: float | None
    #: WithUs's own message rather than the survey author's (marked * in the table).
    system: bool = False


@dataclass(frozen=True)
class Reported:
    """One finding under the table; `channel` is empty when it holds on every channel."""

    level: Level
    id: str
    language: str
    channel: str
    message: str


def table(checks: Sequence[Check]) -> list[Row]:
    """The table's rows for one file's checks, in the order the survey sends them."""
    rows: dict[tuple[str, str], dict[str, Check]] = {}
    for check in checks:
        rows.setdefault((check.id, check.language), {})[check.channel] = check
    out = []
    for (pid, lang), by_channel in rows.items():
        text_sms = by_channel["sms"]
        sms_cell = (f"{text_sms.encoding} {text_sms.characters} ch "
                    f"{text_sms.segments} part{'s' if text_sms.segments != 1 else ''}")
        out.append(Row(pid, lang, sms_cell, _cell(by_channel["whatsapp"]),
                       _cell(by_channel["telegram"]), text_sms.reading_age, text_sms.system))
    return out


def listed(checks: Sequence[Check]) -> list[Reported]:
    """Each finding of one file's checks once, saying which channel when not all."""
    out = []
    for check, finding in _distinct(checks):
        on_all = all(finding in c.findings for c in checks
                     if (c.id, c.language) == (check.id, check.language))
        out.append(Reported(finding.level, check.id, check.language,
                          "" if on_all else check.channel, finding.message))
    return out


def report(checks: Sequence[Check], organisation: Organisation = EXAMPLE) -> str:
    """A table per file (one row per prompt and language; WithUs's own messages marked *,
    measured with `organisation`) and the findings under it."""
    lines: list[str] = []
    files = list(dict.fromkeys(check.file for check in checks))
    for file in files:
        mine = [c for c in checks if c.file == file]
        rows = table(mine)
        width = max(len("prompt"), *(len(row.id) + 1 for row in rows))
        lines.append(f"{file} ({mine[0].survey})")
        if any(row.system for row in rows):
            lines.append(f"  * WithUs's own message, measured with organisation "
                         f"{organisation.name!r} and contact {organisation.contact!r}")
        lines.append(f"  {'prompt':<{width}} {'lang':<5} {'SMS':<22} {'WhatsApp':<17} "
                     f"{'Telegram':<17} reading age")
        for row in rows:
            age = row.reading_age
            name = ("*" if row.system else " ") + row.id
            lines.append(f"  {name:<{width}} {row.language:<5} {row.sms:<22} "
                         f"{row.whatsapp:<17} {row.telegram:<17} "
                         f"{'' if age is None else f'{age:.0f}'}".rstrip())
        findings = listed(mine)
        for found in findings:
            channel = f" {found.channel}" if found.channel else ""
            lines.append(f"  {found.level}: {found.id} [{found.language}]{channel}: "
                         f"{found.message}")
        errors = sum(1 for f in findings if f.level == "error")
        warnings = sum(1 for f in findings if f.level == "warning")
        lines.append(f"  {errors} error{'s' if errors != 1 else ''}, "
                     f"{warnings} warning{'s' if warnings != 1 else ''}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _cell(check: Check) -> str:
    """"48 ch 4 buttons", "146 ch list" (choices as numbered lines) or "62 ch" (none)."""
    if check.buttons:
        return f"{check.characters} ch {check.buttons} buttons"
    return f"{check.characters} ch" + (" list" if "\n1 " in check.text else "")
