"""Turn an ODK / KoboToolbox XLSForm into a WithUs survey.

Many health and care teams already have their questionnaires as XLSForms. Importing one
saves retyping, but a chat is not a form: there is one question per message, no maps or
photos, no calculations. So the import takes what a chat can ask (select_one,
select_multiple, integer, decimal, text, note, `required`, simple `relevant` skip logic,
simple number ranges in `constraint`, labels in several languages) and reports everything
else by sheet and row. Nothing is dropped silently: a person reading the report knows
exactly what to check.

pyxform reads and validates the workbook (so a form that ODK would reject is rejected
here with pyxform's message); the raw rows give the row numbers. The result goes through
the ordinary loader, so an imported survey obeys every rule a hand-written one does.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from surveys.i18n import gettext as _
from surveys.loader import parse
from surveys.model import Survey
from surveys.reading import ID_PATTERN, LANGUAGE_PATTERN

#: XLSForm types WithUs can ask, and what they become.
TYPES = {
    "select one": "single_choice",
    "select all that apply": "multiple_choice",
    "integer": "number",
    "decimal": "number",
    "text": "free_text",
    "note": "info",
}
#: Metadata a form app collects by itself; a chat has no such thing.
METADATA = frozenset({
    "start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber",
    "username", "email", "audit", "start-geopoint", "background-audio",
})
#: Columns the import understands (labels are "label" or "label::Language (code)").
SURVEY_COLUMNS = frozenset({"type", "name", "label", "required", "relevant", "constraint"})
CHOICE_COLUMNS = frozenset({"list_name", "list name", "name", "label"})
SETTINGS_COLUMNS = frozenset({"form_title", "form_id", "version", "default_language"})
#: Language names pyxform users write without a code, and their codes.
LANGUAGE_NAMES = {
    "english": "en", "welsh": "cy", "cymraeg": "cy", "french": "fr", "français": "fr",
    "spanish": "es", "español": "es", "german": "de", "deutsch": "de", "polish": "pl",
    "polski": "pl", "urdu": "ur", "arabic": "ar", "bengali": "bn", "punjabi": "pa",
    "gujarati": "gu", "somali": "so", "romanian": "ro", "portuguese": "pt", "irish": "ga",
    "gaeilge": "ga", "scottish gaelic": "gd", "gàidhlig": "gd",
}
_LANGUAGE_CODE = re.compile(r"\(\s*([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]+)*\s*\)\s*$")
_REF = r"\$\{([A-Za-z_][\w.-]*)\}"
_VALUE = r"""(?:'([^']*)'|"([^"]*)"|(-?\d+(?:\.\d+)?))"""
_COMPARE = re.compile(rf"^{_REF}\s*(=|!=|<=|>=|<|>)\s*{_VALUE}$")
_COMPARE_REVERSED = re.compile(rf"^{_VALUE}\s*(=|!=)\s*{_REF}$")
_SELECTED = re.compile(rf"^(not\s*\(\s*)?selected\s*\(\s*{_REF}\s*,\s*{_VALUE}\s*\)(\s*\))?$")
_BOUND = re.compile(r"^\.\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?)$")
_TRUE = frozenset({"yes", "true", "true()", "1"})
_FALSE = frozenset({"no", "false", "false()", "0"})
#: Longest run of whole numbers a number condition may list ("${age} >= 18" on 0..120).
MAX_ENUMERATED = 200

# Bounds, checked before anything parses the workbook, so a hostile file is refused in
# a second or two with a little memory. Real XLSForms are a few hundred rows and well
# under a megabyte; a chat cannot offer thousands of options anyway.
#: The file itself.
MAX_FILE_BYTES = 10 * 1024 * 1024
#: What the archive says its parts hold once unpacked, together.
MAX_UNPACKED_BYTES = 20 * 1024 * 1024
#: Parts in the archive (a workbook has a dozen or two).
MAX_PARTS = 500
#: How much a part larger than RATIO_FROM may grow when unpacked (spreadsheets: 5-20).
MAX_RATIO = 100
RATIO_FROM = 1024 * 1024
#: Rows in any one sheet (pyxform takes about 4 s over 5,000).
MAX_ROWS = 5_000
_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")


class XLSFormError(ValueError):
    """The workbook can't be imported at all (unreadable, or not a valid XLSForm)."""


@dataclass(frozen=True)
class Problem:
    """Something in the form that the survey does not do, and where it is."""

    sheet: str
    row: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.sheet} row {self.row}" if self.row else self.sheet
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Imported:
    """A survey built from an XLSForm, and what could not be carried over."""

    data: dict[str, Any]
    survey: Survey
    problems: tuple[Problem, ...]
    source: str = ""

    def to_yaml(self) -> str:
        """The survey file, with the problems as comments at the top, so they stay with it."""
        head = [f"# Imported from {Path(self.source).name} by `withus surveys import-xlsform`.",
                "# Check the intro, consent and thank-you: an XLSForm has none, so these are"
                " standard wording."]
        if self.problems:
            head.append("# Not imported (see the form's rows):")
            head += [f"#   {problem}" for problem in self.problems]
        body = yaml.safe_dump(self.data, allow_unicode=True, sort_keys=False, width=100)
        return "\n".join(head) + "\n" + body


@dataclass
class _Import:
    """State while one workbook is converted."""

    rows: dict[str, int] = field(default_factory=dict)
    raw: dict[int, Mapping[str, Any]] = field(default_factory=dict)
    choice_rows: dict[tuple[str, str], int] = field(default_factory=dict)
    languages: dict[str, str] = field(default_factory=dict)  # pyxform name -> code
    default: str = "en"
    problems: list[Problem] = field(default_factory=list)
    ids: dict[str, str] = field(default_factory=dict)  # XLSForm name -> WithUs id
    codes: dict[str, dict[str, str]] = field(default_factory=dict)  # question -> name -> code
    questions: list[dict[str, Any]] = field(default_factory=list)
    numbers: dict[str, tuple[float | None, float | None, bool]] = field(default_factory=dict)
    renamed_lists: set[str] = field(default_factory=set)

    def problem(self, message: str, name: str | None = None, sheet: str = "survey",
                row: int | None = None) -> None:
        self.problems.append(Problem(sheet, row if row else self.rows.get(name or ""), message))


def import_xlsform(path: str | Path) -> Imported:
    """Read an XLSForm and return the WithUs survey it becomes, with what was left out."""
    from pyxform.errors import PyXFormError
    from pyxform.xls2json import parse_file_to_json
    from pyxform.xls2json_backends import get_xlsform

    path = Path(path)
    check_bounds(path)
    try:
        definition = get_xlsform(str(path))
        form = parse_file_to_json(str(path), warnings=[])
    except (PyXFormError, OSError, ValueError, KeyError) as exc:
        raise XLSFormError(f"{path}: not a readable XLSForm: {exc}") from None
    state = _Import()
    _index_rows(state, definition)
    _choose_languages(state, form, definition)
    _check_columns(state, definition)
    for child in form.get("children", []):
        _element(state, child, group_relevant=None)
    if not any(q["type"] != "info" for q in state.questions):
        raise XLSFormError(f"{path}: none of the form's questions can be asked in a chat "
                           f"({'; '.join(map(str, state.problems)) or 'no questions'})")
    data = _survey(state, form, definition, path)
    try:
        survey = parse(data, str(path))
    except ValueError as exc:  # a rule of ours the form breaks, e.g. a one-option list
        raise XLSFormError(str(exc)) from None
    order = {"survey": 0, "choices": 1, "settings": 2}
    problems = sorted(state.problems, key=lambda p: (order.get(p.sheet, 3), p.row or 0))
    return Imported(data, survey, tuple(problems), str(path))


# --- reading the workbook --------------------------------------------------------------------


def check_bounds(path: Path) -> None:
    """Refuse a file too big to be a form before anything parses it: a zip bomb (its parts
    claim gigabytes, or grow hundreds of times), or a sheet of a million rows.

    Python's zipfile never unpacks more than a part's declared size (a part that holds
    more fails its CRC check), so checking the declared sizes bounds the work. Rows are
    counted by scanning each sheet's XML as it is unpacked, stopping at the limit.
    """
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise XLSFormError(f"{path}: not a readable XLSForm: {exc}") from None
    if size > MAX_FILE_BYTES:
        raise XLSFormError(f"{path}: the file is {_megabytes(size)}; an XLSForm is at most "
                           f"{_megabytes(MAX_FILE_BYTES)}")
    if not zipfile.is_zipfile(path):
        return  # .xls, .csv or .md: bounded by the file size; pyxform reports the rest
    try:
        with zipfile.ZipFile(path) as archive:
            parts = archive.infolist()
            if len(parts) > MAX_PARTS:
                raise XLSFormError(f"{path}: the archive has {len(parts):,} parts; a "
                                   f"workbook has far fewer (at most {MAX_PARTS})")
            unpacked = sum(part.file_size for part in parts)
            if unpacked > MAX_UNPACKED_BYTES:
                raise XLSFormError(
                    f"{path}: unpacked, this workbook would be {_megabytes(unpacked)}; an "
                    f"XLSForm is at most {_megabytes(MAX_UNPACKED_BYTES)} (is it a zip bomb?)")
            for part in parts:
                ratio = part.file_size / max(part.compress_size, 1)
                if part.file_size > RATIO_FROM and ratio > MAX_RATIO:
                    raise XLSFormError(
                        f"{path}: {part.filename} grows {ratio:,.0f} times when unpacked; "
                        f"spreadsheets grow at most {MAX_RATIO} times (is it a zip bomb?)")
            for part in parts:
                if part.filename.startswith("xl/worksheets/") and part.filename.endswith(
                        ".xml"):
                    _count_rows(archive, part, path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError,
            NotImplementedError) as exc:
        raise XLSFormError(f"{path}: not a readable XLSForm: {exc}") from None


def _count_rows(archive: zipfile.ZipFile, part: zipfile.ZipInfo, path: Path) -> None:
    rows, tail = 0, b""
    with archive.open(part) as stream:
        while chunk := stream.read(1 << 20):
            window = tail + chunk
            # Count up to the last ">": a row tag can only end there, never straddle it,
            # so one cut in two by the chunk boundary is counted whole in the next window.
            cut = window.rfind(b">") + 1
            rows += len(_ROW_TAG.findall(window, 0, cut))
            tail = window[cut:]
            if rows > MAX_ROWS:
                break
    rows += len(_ROW_TAG.findall(tail))
    if rows > MAX_ROWS:
        raise XLSFormError(f"{path}: a sheet ({part.filename}) has more than {MAX_ROWS:,} "
                           "rows; an XLSForm for a chat needs far fewer")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):,.1f} MB"


def _index_rows(state: _Import, definition: Any) -> None:
    """Row numbers by name: pyxform keeps blank rows, so index + 2 is the sheet row."""
    for index, row in enumerate(definition.survey or [], start=2):
        state.raw[index] = row
        name = str(row.get("name") or "").strip()
        if name and name not in state.rows:
            state.rows[name] = index
    for index, row in enumerate(definition.choices or [], start=2):
        key = (str(row.get("list_name") or row.get("list name") or ""), str(row.get("name") or ""))
        state.choice_rows.setdefault(key, index)


def _language_code(name: str) -> str | None:
    found = _LANGUAGE_CODE.search(name)
    if found:
        return found.group(1).lower()
    return LANGUAGE_NAMES.get(name.strip().lower())


def _choose_languages(state: _Import, form: Mapping[str, Any], definition: Any) -> None:
    seen: dict[str, None] = {}
    for label in _labels(form.get("children", [])):
        if isinstance(label, Mapping):
            seen.update(dict.fromkeys(label))
        else:
            seen["default"] = None
    declared = str(form.get("default_language") or "default")
    default_code = _language_code(declared) if declared != "default" else None
    for name in seen:
        if name == "default":
            state.languages[name] = default_code or "en"
            continue
        code = _language_code(name)
        if code is None or not LANGUAGE_PATTERN.match(code):
            state.problem(f"the language '{name}' has no code, so its labels are left out: "
                          f"write the column as 'label::{name} (xx)' with its two-letter code")
            continue
        state.languages[name] = code
    codes = list(dict.fromkeys(state.languages.values()))
    if default_code in codes:
        state.default = default_code
    elif codes:
        state.default = "en" if "en" in codes else codes[0]


def _labels(children: Iterable[Mapping[str, Any]]) -> Iterable[Any]:
    for child in children:
        if "label" in child:
            yield child["label"]
        for choice in child.get("choices", []) or []:
            if "label" in choice:
                yield choice["label"]
        yield from _labels(child.get("children", []) or [])


def _check_columns(state: _Import, definition: Any) -> None:
    """Report the choices and settings columns the import ignores (survey rows are checked
    as each question is imported, so a row left out whole is reported once)."""
    for row_number, row in enumerate(definition.choices or [], start=2):
        extra = sorted(key for key in row if _base(key) not in CHOICE_COLUMNS)
        if extra:
            state.problem(f"{_columns(extra)} not imported", sheet="choices", row=row_number)
    for row in definition.settings or []:
        extra = sorted(key for key in row if key not in SETTINGS_COLUMNS)
        if extra:
            state.problem(f"{_columns(extra)} not imported", sheet="settings", row=2)


def _row_columns(state: _Import, name: str, allowed: frozenset[str]) -> None:
    """Report each column of a question's row that a chat can't use, with what to do."""
    row = state.raw.get(state.rows.get(name, 0), {})
    for column in sorted(key for key in row if _base(key) not in allowed):
        base = _base(column).partition("::")[0]
        advice = {
            "hint": "hints are not imported: put anything essential in the label",
            "guidance_hint": "guidance hints are not imported",
            "appearance": "appearance is not used: a chat shows choices as numbered lines "
                          "or buttons",
            "constraint_message": "constraint messages are not imported: WithUs says what "
                                  "it needs in its own words",
            "required_message": "required messages are not imported: WithUs says what it "
                                "needs in its own words",
            "default": "default answers are not imported: nobody can see a pre-filled "
                       "answer in a chat",
            "choice_filter": "choice filters are not imported: every choice is offered",
        }.get(base, "is not imported")
        lead = f"column '{column}'"
        state.problem(f"{lead}: {advice}" if advice != "is not imported" else
                      f"{lead} is not imported", name)


def _base(column: str) -> str:
    """"label::Welsh (cy)" -> "label"; "bind::odk:length" stays itself."""
    head, sep, _tail = column.partition("::")
    return head.strip().lower() if sep and head.strip().lower() == "label" else column.lower()


def _columns(names: list[str]) -> str:
    quoted = ", ".join(f"'{n}'" for n in names)
    return f"column{'s' if len(names) > 1 else ''} {quoted}"


# --- questions -----------------------------------------------------------------------------


def _element(state: _Import, element: Mapping[str, Any], group_relevant: str | None) -> None:
    kind = str(element.get("type", ""))
    name = str(element.get("name", ""))
    if kind == "group" and name == "meta" and element.get("control", {}).get("bodyless"):
        return  # pyxform adds this itself (instanceID): it is not one of the form's rows
    relevant = str(element.get("bind", {}).get("relevant") or "").strip() or None
    if kind == "group":
        _row_columns(state, name, SURVEY_COLUMNS)
        if relevant and group_relevant:
            state.problem("a group inside a group with its own 'relevant': the inner "
                          "condition is left out, so its questions follow the outer one", name)
        for child in element.get("children", []):
            _element(state, child, group_relevant or relevant)
        return
    if kind == "repeat":
        count = sum(1 for _child in _flatten(element))
        state.problem(f"repeats are not supported: '{name}' and the {count} question(s) in it "
                      "are left out", name)
        return
    if kind in METADATA:
        state.problem(f"'{kind}' metadata is not collected in a chat; left out", name)
        return
    if kind not in TYPES:
        written = str(state.raw.get(state.rows.get(name, 0), {}).get("type") or kind)
        written = written.split()[0]  # as in the sheet ("image", not pyxform's "photo")
        state.problem(f"'{written}' questions are not supported; '{name}' is left out", name)
        return
    if relevant and group_relevant:
        state.problem("both the question and its group have a 'relevant': only the "
                      "question's own condition is used", name)
    _question(state, element, TYPES[kind], relevant or group_relevant)


def _flatten(element: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for child in element.get("children", []):
        if child.get("children"):
            yield from _flatten(child)
        else:
            yield child


def _question(state: _Import, element: Mapping[str, Any], qtype: str,
              relevant: str | None) -> None:
    name = str(element["name"])
    _row_columns(state, name, SURVEY_COLUMNS)
    qid = _identifier(name, set(state.ids.values()), "q")
    if qid != name:
        state.problem(f"'{name}' is not a WithUs id (lowercase letters, digits, _): "
                      f"renamed '{qid}'", name)
    question: dict[str, Any] = {"id": qid, "type": qtype}
    text = _text(state, element.get("label"), name, "label")
    if text is None:
        state.problem(f"'{name}' has no label; its name is used as the question", name)
        text = name
    question["text"] = text
    bind = element.get("bind", {})
    if qtype in ("single_choice", "multiple_choice"):
        options = _options(state, element, qid)
        if len(options) < 2:
            state.problem(f"'{name}' has fewer than two choices; left out", name)
            return
        question["options"] = options
    if qtype == "number":
        integer = element.get("type") == "integer"
        if not integer:
            question["integer"] = False
        low, high = _range(state, name, str(bind.get("constraint") or ""))
        if low is not None:
            question["min"] = low
        if high is not None:
            question["max"] = high
        state.numbers[qid] = (low, high, integer)
    elif bind.get("constraint"):
        state.problem(f"constraint '{bind['constraint']}' is not imported", name)
    if qtype != "info":
        # XLSForm questions are optional unless `required`; WithUs ones are required
        # unless `optional` (SKIP works on them).
        required = str(bind.get("required") or "").strip().lower()
        if not required or required in _FALSE:
            question["optional"] = True
        elif required not in _TRUE:
            state.problem(f"required '{required}' depends on other answers: the question is "
                          "imported as required", name)
    if relevant:
        condition = _condition(state, name, relevant)
        if condition is not None:
            question["show_if"] = condition
    state.ids[name] = qid
    state.questions.append(question)


def _identifier(name: str, taken: set[str], prefix: str) -> str:
    """A WithUs id from an XLSForm name: lowercase, letters, digits and _ only."""
    ident = re.sub(r"[^a-z0-9_]+", "_", name.strip().lower()).strip("_")[:60]
    if not ident or not ident[0].isalpha():
        ident = f"{prefix}{ident}" if ident and ident[0].isdigit() else f"{prefix}_{ident}"
    ident = ident[:64]
    base, n = ident, 2
    while ident in taken or not ID_PATTERN.match(ident):
        ident = f"{base[:60]}_{n}"
        n += 1
    return ident


def _text(state: _Import, label: Any, name: str, what: str) -> str | dict[str, str] | None:
    """A label as WithUs text: a plain string, or {language code: text}."""
    if label is None or label == "" or label == {}:
        return None
    if not isinstance(label, Mapping):
        return str(label).strip()
    texts = {state.languages[lang]: str(text).strip() for lang, text in label.items()
             if lang in state.languages and str(text).strip()}
    if not texts:
        return None
    if state.default not in texts:
        fallback = next(iter(texts.values()))
        state.problem(f"the {what} of '{name}' has no {state.default} text; another "
                      "language's is used in its place", name)
        texts = {state.default: fallback, **texts}
    if len(set(state.languages.values())) <= 1:
        return texts[state.default]
    return texts


def _options(state: _Import, element: Mapping[str, Any], qid: str) -> list[dict[str, Any]]:
    list_name = str(element.get("list_name") or element.get("itemset") or "")
    options: list[dict[str, Any]] = []
    codes: dict[str, str] = {}
    renamed: list[str] = []
    for choice in element.get("choices", []) or []:
        original = str(choice.get("name", ""))
        code = _identifier(original, set(codes.values()), "c")
        if code != original:
            renamed.append(f"{original} -> {code}")
        codes[original] = code
        label = _text(state, choice.get("label"), f"{list_name}/{original}", "label")
        options.append({"code": code, "text": label if label is not None else original})
    if renamed and list_name not in state.renamed_lists:
        state.renamed_lists.add(list_name)
        first_row = min((row for (name, _n), row in state.choice_rows.items()
                         if name == list_name), default=None)
        state.problem(f"choice names in list '{list_name}' are not WithUs codes (lowercase "
                      f"letters, digits, _, starting with a letter): {', '.join(renamed)}",
                      sheet="choices", row=first_row)
    state.codes[qid] = codes
    return options


def _range(state: _Import, name: str, constraint: str) -> tuple[float | None, float | None]:
    """Read ". >= 0 and . <= 100" into a minimum and maximum; report anything else."""
    if not constraint.strip():
        return None, None
    low: float | None = None
    high: float | None = None
    for part in re.split(r"\s+and\s+", constraint.strip()):
        bound = _BOUND.match(part.strip())
        if bound is None:
            state.problem(f"constraint '{constraint}' is not a simple range; not imported", name)
            return None, None
        operator, value = bound.group(1), float(bound.group(2))
        if operator in (">", "<") and not value.is_integer():
            state.problem(f"constraint '{constraint}': the strict bound {value} is imported "
                          "as inclusive", name)
        step = 1 if operator in (">", "<") and value.is_integer() else 0
        if operator in (">=", ">"):
            low = value + step
        else:
            high = value - step
    return _whole(low), _whole(high)


def _whole(value: float | None) -> float | None:
    """12.0 -> 12, so the YAML reads `min: 12`."""
    if value is not None and value.is_integer():
        return int(value)
    return value


# --- skip logic ------------------------------------------------------------------------------


def _condition(state: _Import, name: str, relevant: str) -> dict[str, Any] | None:
    """A `relevant` expression as show_if, when it is a simple comparison on one question."""
    terms = [t.strip() for t in re.split(r"\s+or\s+", _unwrap(relevant))]
    target: str | None = None
    values: set[str] = set()
    for term in terms:
        read = _term(state, _unwrap(term))
        if read is None or (target is not None and read[0] != target):
            state.problem(f"relevant '{relevant}' is not a simple comparison on one earlier "
                          "question, so it is not imported: the question is always asked",
                          name)
            return None
        target = read[0]
        values |= read[1]
    assert target is not None
    if not values:
        state.problem(f"relevant '{relevant}' can never be true; not imported", name)
        return None
    ordered = sorted(values, key=lambda v: (not v.lstrip("-").isdigit(),
                                            int(v) if v.lstrip("-").isdigit() else 0, v))
    if len(ordered) == 1:
        return {"question": target, "equals": _yaml_value(ordered[0])}
    return {"question": target, "one_of": [_yaml_value(v) for v in ordered]}


def _unwrap(expression: str) -> str:
    expression = expression.strip()
    while expression.startswith("(") and expression.endswith(")") and _balanced(expression[1:-1]):
        expression = expression[1:-1].strip()
    return expression


def _balanced(text: str) -> bool:
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            return False
    return depth == 0


def _term(state: _Import, term: str) -> tuple[str, set[str]] | None:
    """(target question id, the answers that make the term true), or None if unsupported."""
    if " and " in term:
        return None
    selected = _SELECTED.match(term)
    if selected:
        negated = bool(selected.group(1))
        if negated != bool(selected.group(6)):
            return None
        return _values(state, selected.group(2), "!=" if negated else "=",
                       _literal(selected.group(3), selected.group(4), selected.group(5)))
    compare = _COMPARE.match(term)
    if compare:
        return _values(state, compare.group(1), compare.group(2),
                       _literal(compare.group(3), compare.group(4), compare.group(5)))
    reversed_ = _COMPARE_REVERSED.match(term)
    if reversed_:
        return _values(state, reversed_.group(5), reversed_.group(4),
                       _literal(reversed_.group(1), reversed_.group(2), reversed_.group(3)))
    return None


def _literal(single: str | None, double: str | None, number: str | None) -> str:
    return next(v for v in (single, double, number) if v is not None)


def _values(state: _Import, name: str, operator: str, value: str) -> tuple[str, set[str]] | None:
    qid = state.ids.get(name)
    if qid is None:
        return None  # not an earlier question we imported
    question = next(q for q in state.questions if q["id"] == qid)
    if question["type"] in ("single_choice", "multiple_choice"):
        codes = state.codes.get(qid, {})
        if value not in codes:
            return None
        code = codes[value]
        if operator == "=":
            return qid, {code}
        if operator == "!=" and question["type"] == "single_choice":
            return qid, set(codes.values()) - {code}
        if operator in ("<", "<=", ">", ">=") and all(n.lstrip("-").isdigit() for n in codes):
            limit = int(value)
            return qid, {codes[n] for n in codes if _compare(int(n), operator, limit)}
        return None
    if question["type"] == "number":
        number = float(value) if re.fullmatch(r"-?\d+(?:\.\d+)?", value) else None
        if number is None:
            return None
        if operator == "=":
            return qid, {_number_text(number)}
        low, high, integer = state.numbers.get(qid, (None, None, False))
        if (operator in ("<", "<=", ">", ">=") and integer and low is not None
                and high is not None and high - low <= MAX_ENUMERATED):
            return qid, {str(n) for n in range(int(low), int(high) + 1)
                         if _compare(n, operator, number)}
    return None


def _compare(left: float, operator: str, right: float) -> bool:
    return {"<": left < right, "<=": left <= right, ">": left > right,
            ">=": left >= right}[operator]


def _number_text(number: float) -> str:
    return str(int(number)) if number.is_integer() else str(number)


def _yaml_value(value: str) -> int | str:
    return int(value) if re.fullmatch(r"-?\d+", value) else value


# --- the survey ------------------------------------------------------------------------------


def _survey(state: _Import, form: Mapping[str, Any], definition: Any,
            path: Path) -> dict[str, Any]:
    settings = (definition.settings or [{}])[0] if definition.settings else {}
    raw_id = str(settings.get("form_id") or form.get("id_string") or path.stem)
    survey_id = _identifier(raw_id, set(), "s")
    if survey_id != raw_id:
        state.problem(f"form_id '{raw_id}' is not a WithUs id: renamed '{survey_id}'",
                      sheet="settings", row=2 if settings.get("form_id") else None)
    version_text = str(settings.get("version") or "").strip()
    version = int(version_text) if version_text.isdigit() and int(version_text) > 0 else 1
    if version_text and str(version) != version_text.lstrip("0"):
        state.problem(f"version '{version_text}' is not a whole number: version 1 is used",
                      sheet="settings", row=2)
    title = str(settings.get("form_title") or form.get("title") or survey_id).strip()
    languages = list(dict.fromkeys([state.default, *state.languages.values()]))
    if len(languages) > 1:
        others = ", ".join(languages[1:])
        state.problem(f"form_title is in one language only: add the others ({others}) to "
                      "'title' in the YAML", sheet="settings",
                      row=2 if settings.get("form_title") else None)
    asked = sum(1 for q in state.questions if q["type"] != "info")

    def each(say: Callable[[str], str]) -> str | dict[str, str]:
        texts = {lang: say(lang) for lang in languages}
        return texts[state.default] if len(languages) == 1 else texts

    data: dict[str, Any] = {
        "id": survey_id,
        "version": version,
        "language": state.default,
    }
    if len(languages) > 1:
        data["languages"] = languages
    data.update({
        "title": title,
        "intro": each(lambda lang: _(lang, "This is \"{title}\": {n} short questions. "
                                           "Reply PAUSE to stop for now, or HELP for help.",
                                           title=title, n=asked)),
        "consent": each(lambda lang: _(lang, "Your answers are kept private. We store them "
                                             "without your name or number. Do you agree to "
                                             "take part?")),
        "thank_you": each(lambda lang: _(lang, "Thank you for your answers. They will be read "
                                               "with everyone else's.")),
        "questions": state.questions,
    })
    return data
