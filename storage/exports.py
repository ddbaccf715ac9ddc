"""Exports of a survey's responses as CSV, XLSX or JSON Lines, streamed in constant memory.

One row per response that gave consent, one column per question (a label column and a
code column for choice questions, and a 1/0 column per option of a multiple-choice one),
headed with the question's text and id, the themes and notes reviewers gave each written
answer, and a data dictionary alongside that explains every column. Exports are raw rows, so only
organisers may make them, and each one is audited by the caller.

What an export never holds: an address (the vault is not read), unredacted text (answers
are redacted before they are stored), or anything a spreadsheet would run. A cell that
begins with = + - @ tab, CR or LF would be read by Excel or LibreOffice as a formula,
which can fetch URLs or run commands (OWASP "CSV injection"), so such cells get a leading
apostrophe in CSV and XLSX (storage/spreadsheet.py writes both). JSON Lines is for
programs and keeps text exactly as stored.

Memory stays flat however big the survey: responses are read in keyset-paginated chunks,
each in its own short transaction. On SQLite every transaction takes the write lock, so a
single export-long transaction would hold up incoming messages for its whole length.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal

from sqlalchemy import String, func, literal_column, select
from sqlalchemy.orm import Session, sessionmaker

from storage import spreadsheet
from storage.models import Answer, AnswerTheme, Note, Response, SurveyDefinition, Theme
from storage.repositories.kept import KeptRepository, OtherReplyView
from storage.repositories.media import MediaRepository
from storage.spreadsheet import FORMULA_STARTS, neutralise  # noqa: F401 (exported here too)
from surveys.model import Question, QuestionType, Survey

Format = Literal["csv", "xlsx", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx", "jsonl")
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "jsonl": "application/x-ndjson"}

#: Responses read per transaction.
CHUNK = 1000
#: What a skipped or media-only answer reads as (option codes are [a-z0-9_], never these).
SKIPPED, MEDIA = "(skipped)", "(photo, file or voice note)"
#: The field (JSON Lines) and key of the other replies column.
OTHER_REPLIES = "other_replies"
#: Where `iter_rows` puts a question's voice note and photo references among its answers.
MEDIA_REF = "media_ref"
#: Where `iter_rows` puts the themes and the reviewers' notes of a written answer.
THEMES_REF, NOTES_REF = "themes_ref", "notes_ref"
#: Between two themes (CSV and XLSX; JSON Lines has a list), and between two notes.
THEME_JOIN, NOTE_JOIN = "; ", "\n\n"


@dataclass(frozen=True)
class Column:
    #: Stable key, used as the JSON Lines field name: "overall", "overall.code".
    key: str
    #: Heading in CSV and XLSX: the question text and id.
    header: str
    description: str
    question: Question | None = None
    part: Literal["meta", "label", "code", "value", "media", "option", "themes",
                  "notes", "other"] = "meta"
    #: For an "option" column: the option's code.
    option: str | None = None


_META: tuple[tuple[str, str, str], ...] = (
    ("survey_version", "Survey version", "Which version of the survey they answered."),
    ("channel", "Channel", "How they took part: sms, whatsapp, telegram, web or console."),
    ("language", "Language", "The language they answered in."),
    ("status", "Status", "completed, consented (still going or paused), or stopped."),
    ("started_at", "Started (UTC)", "When they started, in UTC."),
    ("completed_at", "Completed (UTC)", "When they finished, in UTC; empty if they did not."),
    ("quote_ok", "May be quoted",
     "yes if they agreed their words may be quoted without their name, no if they said no, "
     "empty if they were not asked."),
)


class ExportPlan:
    """The columns of one survey's export, from every version of it that was published."""

    def __init__(self, versions: Sequence[Survey], *, random_ids: bool = False,
                 include_test: bool = False) -> None:
        if not versions:
            raise ValueError("no survey versions to export")
        self.versions = sorted(versions, key=lambda s: s.version)
        self.survey = self.versions[-1]
        self.random_ids = random_ids
        #: Test responses (sandbox rehearsals) too, marked in a "test" column.
        self.include_test = include_test
        respondent = (
            Column("respondent", "Respondent (random id for this export)",
                   "A random id made for this export only; it links to nothing else.")
            if random_ids else
            Column("respondent", "Respondent (pseudonym)",
                   "The participant's pseudonym. The same person has the same pseudonym in "
                   "every survey and export; it is not their phone number or chat id.")
        )
        self.columns: list[Column] = [respondent]
        self.columns += [Column(key, header, text) for key, header, text in _META]
        if include_test:
            self.columns.append(Column(
                "test", "Test response",
                "yes for a rehearsal in the sandbox (an organiser answering as a cohort "
                "member, nothing sent to a real phone): not evidence; no for a real one."))
        for question in self._questions():
            self.columns += _question_columns(question)
            self.columns += _review_columns(question)
        self.columns.append(Column(
            OTHER_REPLIES, "Other replies",
            "What they sent that was neither an answer nor a keyword (a reply we could not "
            "read, words after finishing or after STOP), redacted, each after the question "
            "or stage it arrived at in [brackets], one per line. In JSON Lines, a list of "
            "{question, text, received_at}.", part="other"))

    def _questions(self) -> list[Question]:
        """Newest version's questions in order, then any only older versions had."""
        seen: dict[str, Question] = {}
        for survey in reversed(self.versions):
            for question in survey.questions:
                if question.is_answerable and question.id not in seen:
                    seen[question.id] = question
        return list(seen.values())

    @property
    def has_media(self) -> bool:
        return any(column.part == "media" for column in self.columns)

    @property
    def has_reviews(self) -> bool:
        """Has it theme and note columns (any written-answer question)?"""
        return any(column.part == "themes" for column in self.columns)

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    def dictionary(self) -> Iterator[list[str]]:
        """The data dictionary: one row per column of the export."""
        yield ["Column", "Field (JSON Lines)", "Question id", "Question type", "Question",
               "Answers (code = label)", "About this column"]
        for column in self.columns:
            q = column.question
            answers = ""
            if q is not None and q.options and column.part in ("label", "code"):
                answers = "; ".join(f"{o.code} = {o.label.get()}" for o in q.options)
            yield [column.header, column.key, q.id if q else "", q.type.value if q else "",
                   q.text.get() if q else "", answers, column.description]
        yield ["", "", "", "", "", "",
               f"{SKIPPED} means they skipped the question; {MEDIA} that they sent "
               "only a photo, file or voice note. Free text was redacted before it was "
               "stored. In CSV and XLSX, text starting with = + - @ or a tab or line break "
               "has an apostrophe put in front, so spreadsheets do not run it."]

    def row(self, response: Any, answers: dict[str, list[tuple[str, Any, str | None]]],
            others: Sequence[OtherReplyView] = ()) -> list[Any]:
        """One response as a list of cell values, in column order; the other replies last."""
        respondent = secrets.token_hex(8) if self.random_ids else response.participant_id
        quote = {True: "yes", False: "no"}.get(response.quote_ok, "")
        values: list[Any] = [respondent, response.survey_version, response.channel,
                             response.language, response.status, response.started_at,
                             response.completed_at, quote]
        if self.include_test:
            values.append("yes" if response.is_test else "no")
        kinds: dict[str, tuple[Any, str | None]] = {}
        current = ""
        for column in self.columns[len(values):-1]:
            assert column.question is not None
            if column.question.id != current:
                current = column.question.id
                kinds = {kind: (value, label)
                         for kind, value, label in answers.get(current, ())}
            values.append(_cell(column, kinds))
        values.append(OtherReplies(others))
        return values


def _question_columns(q: Question) -> list[Column]:
    title = f"{q.text.get()} [{q.id}]"
    if q.type in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE,
                  QuestionType.SCALE, QuestionType.YES_NO):
        several = " (several may be chosen, separated by ;)" \
            if q.type is QuestionType.MULTIPLE_CHOICE else ""
        return [
            Column(q.id, title, f"The answer's label{several}.", q, "label"),
            Column(f"{q.id}.code", f"{title} code", f"The answer's code{several}.", q, "code"),
        ]
    if q.type is QuestionType.NUMBER:
        return [Column(q.id, title, "The number they gave.", q, "value")]
    words = Column(q.id, title, "Their words, redacted (names, numbers and places removed). "
                   "For a voice note, the transcript a reviewer typed.", q, "value")
    if q.accepts == {"text"}:
        return [words]
    return [words, Column(
        f"{q.id}.media", f"{title} voice note or photo",
        "The reference of each voice note or photo they sent (e.g. media-12), never the "
        "recording itself; organisers can download the recordings, with a reason that is "
        "audited, from the dashboard.", q, "media")]


class Listed(list[str]):
    """Themes or notes of one answer: a list in JSON Lines, one joined cell in a sheet."""

    def __init__(self, items: Iterable[str], separator: str) -> None:
        super().__init__(items)
        self.separator = separator

    def joined(self) -> str:
        return self.separator.join(self)


class OtherReplies(list[dict[str, str]]):
    """A response's other replies: a list of {question, text, received_at} in JSON Lines,
    one "[question] text" line each in a sheet."""

    def __init__(self, others: Iterable[OtherReplyView]) -> None:
        super().__init__({"question": o.question_id, "text": o.text,
                          "received_at": o.received_at.isoformat()} for o in others)

    def joined(self) -> str:
        return "\n".join(f"[{other['question']}] {other['text']}" for other in self)


def _review_columns(q: Question) -> list[Column]:
    """The group's work beside a question: a 1/0 column per option of a multiple-choice
    question, and the themes and notes of a written answer."""
    title = f"{q.text.get()} [{q.id}]"
    if q.type is QuestionType.MULTIPLE_CHOICE:
        return [Column(f"{q.id}.option.{o.code}", f"{title} option: {o.label.get()}",
                       f"1 if they chose \u201c{o.label.get()}\u201d, 0 if they answered "
                       "without choosing it, empty if they did not answer.",
                       q, "option", o.code)
                for o in q.options]
    if q.type is not QuestionType.FREE_TEXT:
        return []
    return [
        Column(f"{q.id}.themes", f"{title} themes",
               "The themes reviewers tagged this answer with, in alphabetical order "
               "(separated by ; in CSV and XLSX, a list in JSON Lines).", q, "themes"),
        Column(f"{q.id}.notes", f"{title} reviewers' notes",
               "Reviewers' notes on this answer, oldest first, without who wrote them "
               "(separated by a blank line in CSV and XLSX, a list in JSON Lines).",
               q, "notes"),
    ]


def _cell(column: Column, kinds: dict[str, tuple[Any, str | None]]) -> Any:
    if column.part in ("themes", "notes"):
        found = kinds.get(THEMES_REF if column.part == "themes" else NOTES_REF)
        if not found and "value" not in kinds:
            return None
        return Listed(found[0] if found else [],
                      THEME_JOIN if column.part == "themes" else NOTE_JOIN)
    if column.part == "option":
        if "value" not in kinds:
            return None
        chosen = kinds["value"][0]
        chosen = chosen if isinstance(chosen, list) else [chosen]
        return 1 if column.option in {str(c) for c in chosen} else 0
    if column.part == "media":
        refs = kinds.get(MEDIA_REF, (None, None))[0]
        return "; ".join(refs) if refs else None
    if "value" not in kinds:
        if "skipped" in kinds:
            return SKIPPED
        return MEDIA if "media" in kinds else None
    value, stored_label = kinds["value"]
    q = column.question
    assert q is not None
    if column.part == "value":
        return value
    codes = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if column.part == "code":
        if q.type is QuestionType.SCALE and not isinstance(value, list):
            return value
        return ";".join(codes)
    labels = []
    for code in codes:
        option = q.option(code)
        labels.append(option.label.get() if option else (stored_label or code))
    if q.type is QuestionType.SCALE and q.low_label and q.high_label and q.minimum is not None:
        ends = {int(q.minimum): q.low_label.get(), int(q.maximum or 0): q.high_label.get()}
        labels = [f"{label} ({ends[int(label)]})" if label.isdigit() and int(label) in ends
                  else label for label in labels]
    return "; ".join(labels)


# --- reading --------------------------------------------------------------------------


def load_versions(session: Session, survey_id: str) -> list[Survey]:
    """Every stored version of a survey, compiled, oldest first (empty if unknown)."""
    from surveys.loader import load_text

    definitions = session.scalars(
        select(SurveyDefinition).where(SurveyDefinition.survey_id == survey_id)
        .order_by(SurveyDefinition.version)
    )
    compiled = [load_text(d.source, f"{d.survey_id} v{d.version}") for d in definitions]
    return [survey for survey in compiled if isinstance(survey, Survey)]


def _exported(survey_id: str, dialect: str = "", include_test: bool = False) -> list[Any]:
    survey: Any = Response.survey_id
    if dialect == "sqlite":
        # Unary plus is SQLite's documented way to keep a column's index out of the
        # plan. Otherwise it picks the (survey_id, status) index and sorts every response
        # of the survey for each chunk; walking the primary key from the last id read
        # instead makes each chunk cost only its own rows.
        survey = literal_column("+responses.survey_id", String)
    found = [survey == survey_id, Response.consented_at.is_not(None)]
    if not include_test:  # rehearsals in the sandbox are not evidence
        found.append(Response.is_test.is_(False))
    return found


def count_rows(session: Session, survey_id: str, *, include_test: bool = False) -> int:
    """How many rows an export of this survey will have (for progress bars)."""
    return int(session.scalar(
        select(func.count()).select_from(Response)
        .where(*_exported(survey_id, include_test=include_test))
    ) or 0)


def iter_rows(sessions: sessionmaker[Session], plan: ExportPlan,
              chunk: int = CHUNK) -> Iterator[list[Any]]:
    """Every exported response as a row, in response order, `chunk` responses at a time.

    Two plain queries per chunk, each answered from an index whatever the planner's
    statistics say: the next `chunk` responses by primary key, then their answers by
    response id. (A single join let PostgreSQL hash the whole answers table per chunk.)
    """
    after = 0
    survey_id = plan.survey.id
    while True:
        with sessions() as session:
            dialect = session.get_bind().dialect.name
            responses = session.execute(
                select(Response.id, Response.participant_id, Response.survey_version,
                       Response.channel, Response.language, Response.status,
                       Response.started_at, Response.completed_at, Response.quote_ok,
                       Response.is_test)
                .where(*_exported(survey_id, dialect, plan.include_test), Response.id > after)
                .order_by(Response.id).limit(chunk)
            ).all()
            if not responses:
                return
            answers = session.execute(
                select(Answer.response_id, Answer.question_id, Answer.kind, Answer.value,
                       Answer.label, Answer.id)
                .where(Answer.response_id.in_([r.id for r in responses]))
                .order_by(Answer.response_id, Answer.id)
            ).all()
            media = (MediaRepository(session).references([r.id for r in responses])
                     if plan.has_media else {})
            reviews = (_reviews(session, [a.id for a in answers if a.kind == "value"])
                       if plan.has_reviews else {})
            others = KeptRepository(session).others_for([r.id for r in responses])
            session.rollback()  # end the (read) transaction before writing anything out
        given: dict[int, dict[str, list[tuple[str, Any, str | None]]]] = {}
        for a in answers:
            given.setdefault(a.response_id, {}).setdefault(a.question_id, []).append(
                (a.kind, a.value, a.label))
            given[a.response_id][a.question_id] += reviews.get(a.id, [])
        for response_id, by_question in media.items():
            for question_id, refs in by_question.items():
                given.setdefault(response_id, {}).setdefault(question_id, []).append(
                    (MEDIA_REF, refs, None))
        for response in responses:
            yield plan.row(response, given.get(response.id, {}), others.get(response.id, ()))
        after = responses[-1].id


def _reviews(session: Session, answer_ids: list[int]
             ) -> dict[int, list[tuple[str, Any, str | None]]]:
    """The themes and notes of these answers, as extra "kinds" of each answer."""
    found: dict[int, list[tuple[str, Any, str | None]]] = {}
    if not answer_ids:
        return found
    themes: dict[int, list[str]] = {}
    for answer_id, name in session.execute(
            select(AnswerTheme.answer_id, Theme.name)
            .join(Theme, Theme.id == AnswerTheme.theme_id)
            .where(AnswerTheme.answer_id.in_(answer_ids))
            .order_by(AnswerTheme.answer_id, Theme.name)):
        themes.setdefault(answer_id, []).append(name)
    notes: dict[int, list[str]] = {}
    for answer_id, text in session.execute(
            select(Note.answer_id, Note.text).where(Note.answer_id.in_(answer_ids))
            .order_by(Note.answer_id, Note.created_at, Note.id)):
        notes.setdefault(answer_id, []).append(text)
    for answer_id, names in themes.items():
        found.setdefault(answer_id, []).append((THEMES_REF, names, None))
    for answer_id, texts in notes.items():
        found.setdefault(answer_id, []).append((NOTES_REF, texts, None))
    return found


# --- writing ----------------------------------------------------------------------------


def _flat(rows: Iterable[Sequence[Any]]) -> Iterator[list[Any]]:
    """Rows for a spreadsheet: a list of themes or of notes becomes one text cell."""
    for row in rows:
        yield [value.joined() if isinstance(value, Listed | OtherReplies) else value
               for value in row]


def csv_chunks(rows: Iterator[list[Any]], header: Sequence[str],
               flush_every: int = 500) -> Iterator[bytes]:
    """CSV in UTF-8 with a byte-order mark (so Excel reads the accents right), in pieces."""
    return spreadsheet.csv_chunks(header, _flat(rows), flush_every=flush_every)


def jsonl_chunks(rows: Iterator[list[Any]], keys: Sequence[str],
                 flush_every: int = 500) -> Iterator[bytes]:
    """One JSON object per line, keyed by each column's field name; text kept exactly."""
    lines: list[str] = []
    for row in rows:
        record = {key: value.isoformat() if isinstance(value, datetime) else value
                  for key, value in zip(keys, row, strict=True)}
        lines.append(json.dumps(record, ensure_ascii=False))
        if len(lines) >= flush_every:
            yield ("\n".join(lines) + "\n").encode("utf-8")
            lines = []
    if lines:
        yield ("\n".join(lines) + "\n").encode("utf-8")


def write_xlsx(path: Path, rows: Iterator[list[Any]], plan: ExportPlan) -> None:
    """An XLSX workbook (responses, then the data dictionary) via openpyxl's write-only mode.

    Write-only worksheets stream rows to disk as they are appended, so memory stays flat.
    """
    workbook = spreadsheet.workbook()  # makes every text cell safe as it is appended
    sheet = workbook.create_sheet("Responses")
    # The header row and the respondent column stay in view while scrolling.
    spreadsheet.layout(sheet, [_width(column) for column in plan.columns], freeze="B2")
    sheet.append(spreadsheet.header_cells(sheet, plan.headers))
    for row in _flat(rows):
        sheet.append(row)
    dictionary = workbook.create_sheet("Data dictionary")
    header, *lines = plan.dictionary()
    spreadsheet.layout(dictionary, [40, 24, 16, 16, 40, 40, 60], freeze="A2")
    dictionary.append(spreadsheet.header_cells(dictionary, header))
    for line in lines:
        dictionary.append(line)
    workbook.save(path)


#: Column widths in XLSX (in characters), by what the column holds.
_WIDTHS = {"label": 28, "code": 14, "media": 24, "option": 14, "themes": 30, "notes": 50,
           "other": 50}


def _width(column: Column) -> int:
    """A width that shows a typical value without hiding its neighbours."""
    if column.part in _WIDTHS:
        return _WIDTHS[column.part]
    if column.part == "value":
        assert column.question is not None
        return 12 if column.question.type is QuestionType.NUMBER else 60
    if column.key in ("started_at", "completed_at", "respondent"):
        return 20
    return max(10, min(len(column.header) + 2, 18))


def dictionary_csv(plan: ExportPlan) -> bytes:
    """The data dictionary as a small CSV file (UTF-8 with a byte-order mark)."""
    header, *lines = plan.dictionary()
    return b"".join(csv_chunks(iter(lines), header))


def export(sessions: sessionmaker[Session], plan: ExportPlan, fmt: Format, out: BinaryIO,
           *, xlsx_path: Path | None = None,
           progress: Callable[[int], None] | None = None) -> int:
    """Write the export to `out` (CSV, JSON Lines) or to `xlsx_path`; returns rows written."""
    written = 0

    def counted() -> Iterator[list[Any]]:
        nonlocal written
        for row in iter_rows(sessions, plan):
            written += 1
            if progress is not None:
                progress(1)
            yield row

    if fmt == "xlsx":
        if xlsx_path is None:
            raise ValueError("an XLSX export needs a file path")
        write_xlsx(xlsx_path, counted(), plan)
        return written
    chunks = (csv_chunks(counted(), plan.headers) if fmt == "csv"
              else jsonl_chunks(counted(), [c.key for c in plan.columns]))
    for piece in chunks:
        out.write(piece)
    return written
