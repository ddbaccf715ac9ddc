"""Read survey files (YAML) into the immutable model, with errors a person can act on.

Organisers write these files by hand, so every problem names the file, the question id and
what is wrong, and a file is either loaded whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from surveys.consultation import Consultation, parse_consultation
from surveys.keywords import keyword_clashes
from surveys.model import (
    FREE_TEXT_LIMIT,
    Condition,
    Option,
    Question,
    QuestionType,
    Survey,
    Text,
)
from surveys.reading import (
    ID_PATTERN,
    LANGUAGE_PATTERN,
    Reader,
    SurveyError,
    read_header,
    read_keywords,
    read_yaml,
)
from surveys.signposting import read_local_contact

MAX_FILE_BYTES = 512 * 1024

SURVEY_KEYS = {
    "id", "title", "version", "language", "languages", "description", "intro", "consent",
    "consent_version", "thank_you", "questions", "opens", "closes", "retention_days",
    "reminders", "reminder_after_hours", "kind", "ask_quote_permission", "offer_share_back",
    "safeguarding_phone", "keywords",
}
QUESTION_KEYS = {
    "id", "type", "text", "options", "optional", "why", "show_if", "min", "max", "integer",
    "max_length", "low_label", "high_label", "accepts",
}
#: What `accepts` may list: text always, and voice notes (audio) and photos (image).
ACCEPTS = ("text", "audio", "image")


def load_file(path: str | Path) -> Survey | Consultation:
    """Load and validate one survey (or consultation) file."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SurveyError(str(path), f"file is larger than {MAX_FILE_BYTES // 1024} KB")
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SurveyError(str(path), "file is not UTF-8 text") from None
    except OSError as exc:
        raise SurveyError(str(path), f"cannot read file ({exc.strerror})") from None
    return load_text(source, str(path))


def load_text(source: str, name: str = "<survey>") -> Survey | Consultation:
    """Load and validate a survey from YAML text; `name` is used in error messages.

    A file with `kind: consultation` is a consultation (see surveys.consultation).
    """
    data = read_yaml(source, name)
    if not isinstance(data, Mapping):
        raise SurveyError(name, "the file must be a mapping with id, title, questions, ...")
    if data.get("kind") == "consultation":
        return parse_consultation(data, name)
    return parse(data, name)


def parse(data: Mapping[str, Any], name: str = "<survey>") -> Survey:
    reader = Reader(name)
    survey_id, language, version = read_header(reader, data, SURVEY_KEYS, "fft")

    raw_questions = data.get("questions")
    if not isinstance(raw_questions, list) or not raw_questions:
        raise reader.fail("'questions' must be a list with at least one question")
    questions: list[Question] = []
    seen: set[str] = set()
    for position, raw in enumerate(raw_questions, start=1):
        question = _question(reader, raw, position, questions)
        if question.id in seen:
            raise reader.fail("the id is used twice")
        seen.add(question.id)
        questions.append(question)
        reader.question = None
    if not any(q.is_answerable for q in questions):
        raise reader.fail("the survey has no questions to answer, only info")

    declared = data.get("languages")
    survey_languages = _languages(reader, declared, questions)
    opens = reader.moment(data.get("opens"), "opens")
    closes = reader.moment(data.get("closes"), "closes")
    if opens and closes and closes <= opens:
        raise reader.fail("'closes' must be after 'opens'")

    title = reader.text(data.get("title"), "title")
    intro = reader.text(data.get("intro"), "intro")
    consent = reader.text(data.get("consent"), "consent")
    thank_you = reader.text(data.get("thank_you"), "thank_you")
    assert title and intro and consent and thank_you  # required=True guarantees these
    return Survey(
        id=survey_id,
        title=title,
        version=version,
        default_language=language,
        languages=survey_languages,
        intro=intro,
        consent=consent,
        consent_version=reader.integer(data.get("consent_version"), "consent_version", 1, 1),
        thank_you=thank_you,
        questions=tuple(questions),
        description=reader.text(data.get("description"), "description", required=False),
        opens_at=opens,
        closes_at=closes,
        retention_days=reader.integer(data.get("retention_days"), "retention_days", 365, 1),
        reminders=reader.integer(data.get("reminders"), "reminders", 1, 0),
        reminder_after_hours=reader.integer(
            data.get("reminder_after_hours"), "reminder_after_hours", 24, 1
        ),
        ask_quote_permission=_optional_flag(reader, data, "ask_quote_permission"),
        offer_share_back=_optional_flag(reader, data, "offer_share_back"),
        source_path=name,
        safeguarding_phone=read_local_contact(reader, data.get("safeguarding_phone")),
        keywords=read_keywords(reader, data.get("keywords"), survey_languages),
    )


def _optional_flag(reader: Reader, data: Mapping[str, Any], key: str) -> bool:
    """A true/false setting that defaults to true."""
    return True if data.get(key) is None else reader.flag(data.get(key), key)


def _languages(reader: Reader, declared: Any, questions: list[Question]) -> tuple[str, ...]:
    if declared is None:
        return (reader.default_language,)
    if (
        not isinstance(declared, list)
        or not declared
        or not all(isinstance(x, str) and LANGUAGE_PATTERN.match(x) for x in declared)
    ):
        raise reader.fail("'languages' must be a list of language codes such as [en, cy]")
    if reader.default_language not in declared:
        raise reader.fail(f"'languages' must include the default '{reader.default_language}'")
    return tuple(declared)


def _question(
    reader: Reader, raw: Any, position: int, earlier: list[Question]
) -> Question:
    if not isinstance(raw, Mapping):
        raise reader.fail(f"question {position} must be a mapping with id, type and text")
    qid = raw.get("id")
    if not isinstance(qid, str) or not ID_PATTERN.match(qid):
        raise reader.fail(
            f"question {position} needs an 'id' of lowercase letters, digits or _ "
            "(e.g. overall)"
        )
    reader.question = qid
    unknown = set(raw) - QUESTION_KEYS
    if unknown:
        raise reader.fail(f"unknown field(s): {', '.join(sorted(map(str, unknown)))}")
    try:
        qtype = QuestionType(str(raw.get("type")))
    except ValueError:
        allowed = ", ".join(t.value for t in QuestionType)
        raise reader.fail(f"'type' must be one of: {allowed}") from None

    text = reader.text(raw.get("text"), "text")
    assert text is not None
    options = _options(reader, qtype, raw)
    minimum = reader.number(raw.get("min"), "min")
    maximum = reader.number(raw.get("max"), "max")
    low = reader.text(raw.get("low_label"), "low_label", required=False)
    high = reader.text(raw.get("high_label"), "high_label", required=False)
    if qtype is QuestionType.SCALE:
        minimum = 1.0 if minimum is None else minimum
        if maximum is None:
            raise reader.fail("a scale needs 'max' (for example 5)")
        if not (minimum.is_integer() and maximum.is_integer()) or not 2 <= maximum - minimum <= 10:
            raise reader.fail("a scale runs between whole numbers, 3 to 11 points")
        if low is None or high is None:
            raise reader.fail("a scale needs 'low_label' and 'high_label' to explain its ends")
        options = tuple(
            Option(str(n), Text({reader.default_language: str(n)}, reader.default_language))
            for n in range(int(minimum), int(maximum) + 1)
        )
    if minimum is not None and maximum is not None and maximum < minimum:
        raise reader.fail("'max' must not be less than 'min'")
    max_length = reader.integer(raw.get("max_length"), "max_length", FREE_TEXT_LIMIT, 1)
    if max_length > FREE_TEXT_LIMIT:
        raise reader.fail(f"'max_length' must be at most {FREE_TEXT_LIMIT} characters")
    if qtype is QuestionType.INFO and raw.get("optional") is not None:
        raise reader.fail("an info message has no answer, so it cannot be optional")
    return Question(
        id=qid,
        type=qtype,
        text=text,
        options=options,
        optional=reader.flag(raw.get("optional"), "optional"),
        why=reader.text(raw.get("why"), "why", required=False),
        show_if=_condition(reader, raw.get("show_if"), earlier),
        minimum=minimum,
        maximum=maximum,
        integer=raw.get("integer", True) is not False,
        max_length=max_length,
        low_label=low,
        high_label=high,
        accepts=_accepts(reader, qtype, raw.get("accepts")),
    )


def _accepts(reader: Reader, qtype: QuestionType, raw: Any) -> frozenset[str]:
    """`accepts: [text, audio]` or `[text, audio, image]`, on free-text questions only."""
    if raw is None:
        return frozenset({"text"})
    if qtype is not QuestionType.FREE_TEXT:
        raise reader.fail("only a free_text question can accept voice notes or photos")
    allowed = ", ".join(ACCEPTS)
    if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
        raise reader.fail(f"'accepts' must be a list of: {allowed} (e.g. [text, audio])")
    wrong = sorted(set(raw) - set(ACCEPTS))
    if wrong:
        raise reader.fail(f"'accepts' has {', '.join(wrong)}; use: {allowed}")
    if "text" not in raw:
        raise reader.fail("'accepts' must include text: people can always answer in words")
    return frozenset(raw)


def _options(reader: Reader, qtype: QuestionType, raw: Mapping[str, Any]) -> tuple[Option, ...]:
    given = raw.get("options")
    lang = reader.default_language
    if qtype is QuestionType.YES_NO:
        if given is not None:
            raise reader.fail("a yes_no question has its own Yes and No options; remove 'options'")
        return (Option("yes", Text({lang: "Yes"}, lang)), Option("no", Text({lang: "No"}, lang)))
    if qtype not in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
        if given is not None:
            raise reader.fail(f"a {qtype.value} question does not take 'options'")
        return ()
    if not isinstance(given, list) or len(given) < 2:
        raise reader.fail("'options' must list at least two choices")
    options: list[Option] = []
    for n, item in enumerate(given, start=1):
        if not isinstance(item, Mapping) or "code" not in item or "text" not in item:
            raise reader.fail(f"option {n} needs a 'code' and a 'text'")
        code = str(item["code"])
        if not ID_PATTERN.match(code):
            raise reader.fail(f"option {n} code {code!r} must be lowercase letters, digits or _")
        if any(o.code == code for o in options):
            raise reader.fail(f"option code '{code}' is used twice")
        label = reader.text(item["text"], f"option {n} text")
        assert label is not None
        options.append(Option(code, label))
    return tuple(options)


def _condition(reader: Reader, raw: Any, earlier: list[Question]) -> Condition | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or "question" not in raw:
        raise reader.fail("'show_if' needs 'question' and 'equals' or 'one_of'")
    target = next((q for q in earlier if q.id == raw["question"]), None)
    if target is None:
        raise reader.fail(
            f"'show_if' refers to '{raw['question']}', which is not an earlier question"
        )
    if "equals" in raw and "one_of" not in raw:
        values = [raw["equals"]]
    elif "one_of" in raw and "equals" not in raw and isinstance(raw["one_of"], list):
        values = raw["one_of"]
    else:
        raise reader.fail("'show_if' needs exactly one of 'equals' (a value) or 'one_of' (a list)")
    normalised = {_normalise_value(v) for v in values}
    if target.options:
        codes = {o.code for o in target.options}
        wrong = sorted(normalised - codes)
        if wrong:
            raise reader.fail(
                f"'show_if' value(s) {', '.join(wrong)} are not options of '{target.id}'"
            )
    elif target.type is not QuestionType.NUMBER:
        raise reader.fail("'show_if' can only depend on a choice, yes_no, scale or number")
    return Condition(target.id, frozenset(normalised))


def _normalise_value(value: Any) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def load_folder(folder: str | Path) -> list[Survey | Consultation]:
    """Load every *.yaml file in a folder; fail on the first bad file, loading none."""
    paths = sorted(Path(folder).glob("*.yaml")) + sorted(Path(folder).glob("*.yml"))
    surveys = [load_file(p) for p in paths]
    ids = [s.id for s in surveys]
    for survey in surveys:
        if ids.count(survey.id) > 1:
            raise SurveyError(survey.source_path, f"another file in {folder} has id '{survey.id}'")
    for survey, other, word in keyword_clashes(surveys):
        raise SurveyError(survey.source_path, f"keyword {word} is also the id or a keyword of "
                                              f"'{other.id}' ({other.source_path})")
    return surveys



def library_path() -> Path:
    """The folder of example surveys shipped with WithUs."""
    return Path(__file__).with_name("library")
