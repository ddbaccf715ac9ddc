"""Publishing surveys and deciding when they are open: what `withus surveys load`, `open`,
`close`, `archive` and the dashboard's survey pages all call.

A survey (or consultation) is checked before it is stored: the loader's errors, then every
message as it will go out on SMS, WhatsApp and Telegram (`surveys.lint`). Publishing keeps
every version: a file whose version is already stored with other words is published as the
next version, so answers given to the old one still read against the old one.

Opening, closing and archiving are an organiser's decisions about a survey id, whatever its
version, kept in `survey_status`. Its moments replace the file's `opens` and `closes`; a
closed or archived survey leaves the participants' menu and its results stay.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal

from sqlalchemy.orm import Session

from bot.services.consultation import store_seeds
from bot.services.names import channel_name
from bot.services.safeguarding import local_contact_warnings
from storage.models import AuditEvent, SurveyDefinition, SurveyStatus
from storage.repositories import SurveyRepository
from surveys.consultation import Consultation
from surveys.keywords import keyword_clashes
from surveys.lint import (
    DEFAULT_MAX_SEGMENTS,
    Check,
    Reported,
    Row,
    has_errors,
    lint_survey,
    lint_texts,
    listed,
    prompts,
    report,
    table,
)
from surveys.loader import MAX_FILE_BYTES as MAX_YAML_BYTES
from surveys.loader import load_text
from surveys.model import Survey
from surveys.organisation import EXAMPLE, Organisation
from surveys.reading import SurveyError
from surveys.signposting import CustomTexts
from surveys.xlsform import MAX_FILE_BYTES as MAX_XLSFORM_BYTES
from surveys.xlsform import XLSFormError, import_xlsform

Item = Survey | Consultation
Status = Literal["open", "scheduled", "closed", "archived"]
STATUSES: tuple[Status, ...] = ("open", "scheduled", "closed", "archived")
Action = Literal["open", "close", "archive"]
ACTIONS: tuple[Action, ...] = ("open", "close", "archive")

YAML_SUFFIXES = (".yaml", ".yml")
XLSFORM_SUFFIXES = (".xlsx", ".xls")
#: The biggest upload worth reading: an XLSForm at its limit (a YAML file is far smaller).
MAX_UPLOAD_BYTES = MAX_XLSFORM_BYTES
_VERSION_LINE = re.compile(r"^version[ \t]*:.*$", re.MULTILINE)
_ID_LINE = re.compile(r"^id[ \t]*:.*$", re.MULTILINE)


class UploadError(ValueError):
    """An upload that cannot be a survey: the wrong kind of file, too big, not UTF-8, or an
    XLSForm that cannot be read. The message says what to do."""


class TooBig(UploadError):
    """An upload over its size limit."""


class NoSuchSurvey(LookupError):
    def __init__(self, survey_id: str) -> None:
        super().__init__(f"there is no survey or consultation with the id '{survey_id}' "
                         "(see `withus surveys list`)")
        self.survey_id = survey_id


class StatusError(ValueError):
    """A change of status or dates that cannot be made (closing before opening, say)."""


# --- reading an upload ---------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    """The YAML to check and publish, and what an XLSForm import left out."""

    source: str
    filename: str = ""
    not_imported: tuple[str, ...] = ()


def read_upload(filename: str, data: bytes) -> Upload:
    """Turn an uploaded file into survey YAML: a .yaml file as it is, an XLSForm imported.

    Raises `UploadError` for anything else, a file too big, or an unreadable workbook
    (a zip bomb is refused by `surveys.xlsform.check_bounds` before anything unpacks it).
    """
    name = Path(filename or "").name
    suffix = Path(name).suffix.lower()
    if suffix in YAML_SUFFIXES:
        if len(data) > MAX_YAML_BYTES:
            raise TooBig(f"{name} is {_size(len(data))}; a survey file is at most "
                              f"{_size(MAX_YAML_BYTES)}.")
        return Upload(decode_yaml(data, name), name)
    if suffix in XLSFORM_SUFFIXES:
        if len(data) > MAX_XLSFORM_BYTES:
            raise TooBig(f"{name} is {_size(len(data))}; an XLSForm is at most "
                              f"{_size(MAX_XLSFORM_BYTES)}.")
        return _read_xlsform(name, suffix, data)
    raise UploadError("Upload a survey file ending in .yaml or .yml, or an XLSForm ending "
                      f"in .xlsx or .xls{f' ({name} is neither)' if name else ''}.")


def decode_yaml(data: bytes, name: str = "the survey") -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UploadError(f"{name} is not UTF-8 text: save it as UTF-8 and upload it "
                          "again.") from None


def _read_xlsform(name: str, suffix: str, data: bytes) -> Upload:
    with tempfile.TemporaryDirectory(prefix="withus-xlsform-") as folder:
        path = Path(folder) / f"form{suffix}"
        path.write_bytes(data)
        try:
            imported = import_xlsform(path)
        except XLSFormError as exc:
            # The message names the temporary file: name the upload instead.
            raise UploadError(str(exc).replace(str(path), name)) from None
        text = imported.to_yaml().replace(path.name, name)
    return Upload(text, name, tuple(str(problem) for problem in imported.problems))


def _size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):,.1f} MB"
    return f"{max(size // 1024, 1):,} KB"


# --- checking before publishing ------------------------------------------------------------


@dataclass(frozen=True)
class Draft:
    """A survey as it would be published, or why it cannot be."""

    source: str
    item: Item | None = None
    error: str | None = None
    checks: tuple[Check, ...] = ()
    warnings: tuple[str, ...] = ()
    #: The version it would be stored as, and the newest stored before it.
    version: int | None = None
    stored_version: int | None = None
    unchanged: bool = False
    not_imported: tuple[str, ...] = field(default=())
    #: What WithUs's own messages were measured with: the name, the contact, the menu.
    organisation: Organisation = EXAMPLE
    others: tuple[Item, ...] = ()

    @property
    def publishable(self) -> bool:
        return self.item is not None and not self.unchanged

    @property
    def lint_errors(self) -> bool:
        return has_errors(self.checks)

    @property
    def report(self) -> str:
        """`withus surveys lint`'s table, as the command prints it."""
        return report(self.checks, self.organisation) if self.checks else ""

    @property
    def rows(self) -> list[Row]:
        return table(self.checks)

    @property
    def findings(self) -> list[Reported]:
        return listed(self.checks)

    @property
    def previews(self) -> dict[str, list[PromptPreview]]:
        if self.item is None:
            return {}
        return previews(self.item, self.checks, self.organisation, self.others)


@dataclass(frozen=True)
class ChannelPreview:
    """One message as one channel shows it: its text, its buttons and what it costs."""

    channel: str
    text: str
    buttons: tuple[str, ...]
    detail: str


@dataclass(frozen=True)
class PromptPreview:
    id: str
    channels: tuple[ChannelPreview, ...]


def previews(item: Item, checks: Sequence[Check], organisation: Organisation = EXAMPLE,
             others: Sequence[Item] = ()) -> dict[str, list[PromptPreview]]:
    """Every message by language, then prompt, as SMS, WhatsApp and Telegram send it."""
    labels: dict[tuple[str, str], tuple[str, ...]] = {}
    if isinstance(item, Survey):
        labels = {(p.id, p.language): tuple(c.label for c in p.reply.choices)
                  for p in prompts(item, organisation, others)}
    by_prompt: dict[tuple[str, str], list[ChannelPreview]] = {}
    for c in checks:
        if c.channel == "sms":
            detail = (f"{c.encoding}, {c.characters} characters, {c.segments} "
                      f"part{'s' if c.segments != 1 else ''}")
        else:
            detail = f"{c.characters} characters" + (f", {c.buttons} buttons"
                                                     if c.buttons else "")
        buttons = labels.get((c.id, c.language), ()) if c.buttons else ()
        by_prompt.setdefault((c.language, c.id), []).append(
            ChannelPreview(channel_name(c.channel), c.text, buttons, detail))
    found: dict[str, list[PromptPreview]] = {}
    for (language, pid), channels in by_prompt.items():
        found.setdefault(language, []).append(PromptPreview(pid, tuple(channels)))
    return found


def check(session: Session, source: str, name: str = "the survey",
          not_imported: Sequence[str] = (), max_segments: int = DEFAULT_MAX_SEGMENTS,
          organisation: Organisation = EXAMPLE, others: Sequence[Item] = (),
          signposts: CustomTexts | None = None) -> Draft:
    """Load and lint survey YAML, and work out the version it would be published as.

    WithUs's own messages are measured with `organisation` and a menu of the survey and
    `others` (the deployment's, from the dashboard), the signposting with the
    deployment's own texts (`signposts`, from WITHUS_SIGNPOSTING_FILE) where it has them."""
    if len(source.encode()) > MAX_YAML_BYTES:
        return Draft(source, error=f"{name}: the survey is larger than "
                                   f"{MAX_YAML_BYTES // 1024} KB",
                     not_imported=tuple(not_imported))
    try:
        item = load_text(source, name)
    except SurveyError as exc:
        return Draft(source, error=str(exc), not_imported=tuple(not_imported))
    latest = SurveyRepository(session).get(item.id)
    target, text = _next_version(item, source, latest)
    if text != source:
        item = load_text(text, name)
    checks = (lint_survey(item, name, max_segments, organisation, others, signposts)
              if isinstance(item, Survey)
              else lint_texts(item, name, max_segments, organisation, others, signposts))
    return Draft(text, item, None, tuple(checks), tuple(local_contact_warnings([item])),
                 target, latest.version if latest else None,
                 unchanged=latest is not None and latest.sha256 == _sha(text),
                 not_imported=tuple(not_imported), organisation=organisation,
                 others=tuple(others))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _next_version(item: Item, source: str,
                  latest: SurveyDefinition | None) -> tuple[int, str]:
    """The version to publish as, and the text with that version written in."""
    if latest is None or item.version > latest.version or latest.sha256 == _sha(source):
        return item.version, source
    return latest.version + 1, set_version(source, latest.version + 1)


def set_version(source: str, version: int) -> str:
    """The survey text with its top-level `version:` set (added under `id:` if missing)."""
    line = f"version: {version}"
    if _VERSION_LINE.search(source):
        return _VERSION_LINE.sub(line, source, count=1)
    found = _ID_LINE.search(source)
    if found is None:
        return f"{line}\n{source}"
    return f"{source[:found.end()]}\n{line}{source[found.end():]}"


@dataclass(frozen=True)
class Published:
    item: Item
    version: int
    new: bool
    #: The version the file gave, when it was published as a later one.
    file_version: int | None = None


def publish(session: Session, source: str, now: datetime, name: str = "the survey",
            user_id: int | None = None) -> Published:
    """Store a checked survey as a new version (nothing if it is stored as it is).

    Raises `SurveyError` if it does not load. The caller commits.
    """
    item = load_text(source, name)
    latest = SurveyRepository(session).get(item.id)
    version, text = _next_version(item, source, latest)
    stored = load_text(text, name) if text != source else item
    if stored.version != version:
        raise SurveyError(name, f"write `version: {version}` at the top of the file and try "
                                "again")
    new = store(session, stored, text, now)
    if new:
        session.add(AuditEvent(at=now, user_id=user_id, action="survey.publish",
                               subject=stored.id[:128], reason=None,
                               detail={"version": version, "file_version": item.version}))
    return Published(stored, version, new, item.version if version != item.version else None)


def store(session: Session, item: Item, source: str, now: datetime) -> bool:
    """Keep one version's text (and a consultation's seed statements); True if new.

    Raises `storage.errors.SurveyVersionConflict` if the version holds other words.
    """
    _refuse_keyword_clash(session, item)
    new = SurveyRepository(session).store(item.id, item.version, item.title.get(), source,
                                          _sha(source), now)
    if isinstance(item, Consultation):  # its seed statements, approved
        store_seeds(session, item, now)
    return new


def _refuse_keyword_clash(session: Session, item: Item) -> None:
    """A word (id or keyword) that would start this and another stored survey that is not
    archived: `SurveyError`, naming both."""
    repo = SurveyRepository(session)
    archived = {sid for sid, row in repo.statuses().items() if row.archived_at is not None}
    others = [load_text(d.source, f"{d.survey_id} v{d.version}") for d in repo.latest_all()
              if d.survey_id != item.id and d.survey_id not in archived]
    for newer, older, word in keyword_clashes([*others, item]):
        if newer is item:
            raise SurveyError(item.source_path or item.id,
                              f"keyword {word} would also start '{older.id}', which is "
                              "already published: choose another word")


# --- open, scheduled, closed, archived -----------------------------------------------------


def status_of(item: Item, row: SurveyStatus | None, now: datetime) -> Status:
    """Where a survey stands now, by the organiser's decisions or else by its file."""
    if row is not None and row.archived_at is not None:
        return "archived"
    opens, closes = moments(item, row)
    if closes is not None and now >= closes:
        return "closed"
    if opens is not None and now < opens:
        return "scheduled"
    return "open"


def moments(item: Item, row: SurveyStatus | None) -> tuple[datetime | None, datetime | None]:
    """(opens, closes) as they hold: set by an organiser, or else as the file says.

    A consultation's file date is the official consultation's deadline: taking part ends
    then at the latest."""
    if row is None:
        return item.opens_at, item.closes_at
    closes = row.closes_at
    if isinstance(item, Consultation):
        closes = min(closes, item.closes_at) if closes else item.closes_at
    if row.archived_at is not None:
        closes = min(closes, row.archived_at) if closes else row.archived_at
    return row.opens_at, closes


def with_status(item: Item, row: SurveyStatus | None) -> Item:
    """The item with the organiser's opening moment (and a survey's closing one), so the
    engine says the right date. A consultation keeps its official deadline; the catalog's
    `closed` carries when taking part ends."""
    if row is None:
        return item
    opens, closes = moments(item, row)
    if isinstance(item, Survey):
        return dataclasses.replace(item, opens_at=opens, closes_at=closes)
    return dataclasses.replace(item, opens_at=opens)


def closed_moments(items: Mapping[str, Item],
                   rows: Mapping[str, SurveyStatus]) -> dict[str, datetime]:
    """When organisers closed each item, for `surveys.engine.Catalog.closed`."""
    found = {}
    for survey_id, row in rows.items():
        item = items.get(survey_id)
        if item is not None:
            closes = moments(item, row)[1]
            if closes is not None:
                found[survey_id] = closes
    return found


@dataclass(frozen=True)
class Listed:
    """One survey or consultation as the list shows it."""

    item: Item
    status: Status
    opens_at: datetime | None
    closes_at: datetime | None
    loaded_at: datetime

    @property
    def kind(self) -> str:
        return "consultation" if isinstance(self.item, Consultation) else "survey"


def listing(session: Session, now: datetime) -> list[Listed]:
    """Every survey and consultation (newest version of each), by id, with its status."""
    repo = SurveyRepository(session)
    rows = repo.statuses()
    found = []
    for definition in repo.latest_all():
        item = load_text(definition.source, f"{definition.survey_id} v{definition.version}")
        row = rows.get(item.id)
        opens, closes = moments(item, row)
        found.append(Listed(item, status_of(item, row, now), opens, closes,
                            definition.loaded_at))
    return sorted(found, key=lambda listed: listed.item.id)


def find(session: Session, survey_id: str) -> Item:
    """The newest version of a survey or consultation; `NoSuchSurvey` if there is none."""
    definition = SurveyRepository(session).get(survey_id)
    if definition is None:
        raise NoSuchSurvey(survey_id)
    return load_text(definition.source, f"{survey_id} v{definition.version}")


def change_status(session: Session, survey_id: str, action: Action, now: datetime,
                  user_id: int | None = None) -> Status:
    """Open, close or archive a survey now; its new status. The caller commits.

    Opening clears a closing moment that has passed and an opening one still to come, and
    un-archives. Closing ends it now. Archiving closes it and moves it off the list.
    """
    if action not in ACTIONS:
        raise StatusError(f"choose one of {', '.join(ACTIONS)}")
    item = find(session, survey_id)
    repo = SurveyRepository(session)
    row = repo.status(survey_id)
    opens, closes = (row.opens_at, row.closes_at) if row else (item.opens_at, item.closes_at)
    archived = row.archived_at if row else None
    if action == "open":
        if isinstance(item, Consultation) and now >= item.closes_at:
            raise StatusError(f"the consultation it responds to closed on "
                              f"{item.closes_at:%d %B %Y}; publish a new version with a "
                              "later closing date to open it again")
        archived = None
        if opens is not None and now < opens:
            opens = None
        if closes is not None and now >= closes:
            closes = None
    else:
        if closes is None or closes > now:
            closes = now
        if opens is not None and opens > now:
            opens = None
        if action == "archive":
            archived = archived or now
    if isinstance(item, Consultation) and closes is not None and closes >= item.closes_at:
        closes = None  # the file's deadline holds anyway
    saved = repo.save_status(survey_id, opens_at=opens, closes_at=closes, archived_at=archived,
                             now=now, user_id=user_id)
    session.add(AuditEvent(at=now, user_id=user_id, action=f"survey.{action}",
                           subject=survey_id[:128], reason=None, detail={}))
    return status_of(item, saved, now)


def set_dates(session: Session, survey_id: str, opens: datetime | None,
              closes: datetime | None, now: datetime, user_id: int | None = None) -> Status:
    """Set when a survey opens and closes (None: no limit); its status. The caller commits."""
    item = find(session, survey_id)
    if opens is not None and closes is not None and closes <= opens:
        raise StatusError("the closing date must be after the opening date")
    if isinstance(item, Consultation) and closes is not None and closes > item.closes_at:
        raise StatusError(f"the consultation it responds to closes on "
                          f"{item.closes_at:%d %B %Y}; choose that date or an earlier one")
    repo = SurveyRepository(session)
    row = repo.status(survey_id)
    saved = repo.save_status(survey_id, opens_at=opens, closes_at=closes,
                             archived_at=row.archived_at if row else None, now=now,
                             user_id=user_id)
    session.add(AuditEvent(at=now, user_id=user_id, action="survey.dates",
                           subject=survey_id[:128], reason=None,
                           detail={"opens": opens.isoformat() if opens else None,
                                   "closes": closes.isoformat() if closes else None}))
    return status_of(item, saved, now)
