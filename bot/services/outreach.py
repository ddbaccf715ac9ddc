"""Outreach: messages WithUs starts, not replies. Contacts, invitations, reminders, share-backs.

Coproduction needs to hear from people who would never text a number on a poster, so an
organiser imports a list of numbers into a named cohort, invites the cohort to a survey,
and later tells those who asked "what we heard, and what happens next". Every one of these
messages goes through the outbox, so it is paced per provider, retried, and never sent
twice; and every one waits for a time that suits the person (`surveys.timing`): the end
of quiet hours, or the time they chose with TIME or LATER.

The functions take a `Runtime` and are plain enough to call from the CLI
(`bot.cli.outreach`), the dashboard and the scheduler (`bot.services.scheduler`) alike. They raise
`OutreachError` with a sentence an organiser can act on.

Privacy: an imported number is normalised, turned into a pseudonym and stored only
encrypted in the vault, exactly as if the person had written to us. Reports name line
numbers, never the numbers themselves.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from bot.services.config import Settings
from bot.services.runtime import Runtime
from storage.repositories.outreach import NOT_NEEDED, OutreachRepository
from storage.spreadsheet import FORMULA_STARTS
from storage.uow import UnitOfWork
from surveys.consultation import Consultation
from surveys.conversation import MENU_PREFIX
from surveys.i18n import gettext as _
from surveys.model import Survey
from surveys.suppression import Suppressor
from surveys.timing import QuietHours, next_send_time, parse_quiet_hours, parse_timezone

log = logging.getLogger(__name__)

CHANNELS = ("sms", "whatsapp", "telegram")
#: Longest share-back: ten SMS segments. Longer texts cost more and are read less.
MAX_SHAREBACK_CHARS = 1530
#: Header names that mark the column of addresses in a CSV file.
ADDRESS_HEADERS = ("phone", "phone number", "mobile", "mobile number", "number", "telephone",
                   "tel", "whatsapp", "telegram", "chat id", "chat_id", "chatid", "address",
                   "contact")
_TELEGRAM_ID = re.compile(r"^-?\d{1,20}$")
#: What a phone number may be written with: digits, spaces, + ( ) - and dots.
_PHONE_CHARACTERS = re.compile(r"[0-9 \u00a0+().-]+")
#: Limits on a contacts file, so a hostile or mistaken one is refused with a line number
#: rather than filling the memory: its size, its lines, and one line's length.
MAX_CONTACTS_BYTES = 64 * 1024 * 1024
MAX_CONTACT_LINES = 250_000
MAX_LINE_CHARS = 4096
_STOP_WORD = re.compile(r"\bSTOP\b")
#: Ofcom's mobile numbers for drama, 07700 900000 to 900999: never anyone's, so the README
#: and rehearsals use them. `phonenumbers` calls them invalid; the import takes them.
DRAMA_MOBILES = re.compile(r"\+447700900\d{3}")

__all__ = [
    "NOT_NEEDED", "ImportReport", "OutreachError", "Progress", "ReminderReport",
    "CohortDeletion", "SendingHours", "SharebackPreview", "cancel_invitation",
    "cohort_deletion_preview", "delete_cohort",
    "draft_shareback", "find_member", "remove_member", "sms_problem",
    "figure_problems", "import_contacts", "invitation_payload", "invitation_progress",
    "queue_due_invitations", "schedule_invitation", "send_due_reminders", "send_shareback",
    "preview_shareback", "read_contacts", "sending_hours",
]


class OutreachError(ValueError):
    """Something an organiser asked for can't be done; the message says why and what to do."""


# --- When we may write first -------------------------------------------------------------


@dataclass(frozen=True)
class SendingHours:
    """Quiet hours and the time zone they are read in, parsed once from the settings."""

    quiet: QuietHours | None
    tz: ZoneInfo

    def next_send_time(self, now: datetime, preferred: str | None = None) -> datetime:
        return next_send_time(now, self.quiet, self.tz, preferred)


@lru_cache(maxsize=8)
def _hours(quiet_hours: str, timezone: str) -> SendingHours:
    return SendingHours(parse_quiet_hours(quiet_hours), parse_timezone(timezone))


def sending_hours(settings: Settings) -> SendingHours:
    """`WITHUS_QUIET_HOURS` and `WITHUS_TIMEZONE`; OutreachError naming a bad setting."""
    try:
        return _hours(settings.quiet_hours, settings.timezone)
    except ValueError as exc:
        raise OutreachError(str(exc)) from None


# --- Contacts ------------------------------------------------------------------------------


@dataclass
class ImportReport:
    """What an import did. `invalid` holds (line number, reason): never the value itself."""

    cohort: str
    channel: str
    imported: int = 0
    already_in_cohort: int = 0
    duplicates: int = 0
    opted_out: int = 0
    invalid: list[tuple[int, str]] = field(default_factory=list)
    #: (line number, what to check): imported, but perhaps unreachable (a landline for SMS).
    warnings: list[tuple[int, str]] = field(default_factory=list)
    #: Numbers that cannot receive texts (landlines...), in an SMS cohort.
    landlines: int = 0
    #: False when nothing in the file could be used: nothing was stored, no cohort made.
    stored: bool = True
    #: Whether this import made the cohort (None when it was not looked at).
    cohort_created: bool | None = None

    def lines(self) -> list[str]:
        """The line-by-line report, in file order: the CLI and the dashboard print these."""
        found = [(line, f"line {line}: {reason}, skipped") for line, reason in self.invalid]
        found += [(line, f"line {line}: {reason}") for line, reason in self.warnings]
        return [text for _line, text in sorted(found, key=lambda item: item[0])]

    def summary(self) -> str:
        """One line of counts, e.g. `cohort carers: imported 3, duplicates 1, invalid 1`."""
        if not self.stored:
            what = "Telegram chat id" if self.channel == "telegram" else "valid number"
            done = "created" if self.cohort_created is False else "changed"
            return (f"nothing imported: no line of the file holds a {what}, so cohort "
                    f"{self.cohort} was not {done}")
        return (f"cohort {self.cohort}: imported {self.imported}, "
                f"duplicates {self.duplicates}, invalid {len(self.invalid)}"
                + (f", already in the cohort {self.already_in_cohort}"
                   if self.already_in_cohort else "")
                + (f", opted out (will not be invited) {self.opted_out}"
                   if self.opted_out else "")
                + (f", landlines {self.landlines}" if self.landlines else ""))


def normalise_contact(value: str, channel: str, region: str) -> str:
    """The canonical address (E.164, or a Telegram chat id); ValueError says what's wrong.

    Stricter than the channels' own normalising, which must accept whatever a provider
    sends: a list typed by hand has typos, and a number one digit short is "possible"
    but not valid, so it is reported rather than texted.
    """
    if value.lstrip(" ").startswith(FORMULA_STARTS) and not _PHONE_CHARACTERS.fullmatch(
            value.strip(" ")):
        raise ValueError(f"starts with {value.lstrip(' ')[:1]!r}, as a spreadsheet formula "
                         "does")
    value = value.strip()
    if not value:
        raise ValueError("empty")
    if channel == "telegram":
        if not _TELEGRAM_ID.match(value):
            raise ValueError("not a Telegram chat id (a whole number such as 123456789)")
        return value
    value = value.removeprefix("whatsapp:")
    if not _PHONE_CHARACTERS.fullmatch(value):
        raise ValueError("not a phone number")  # only digits, spaces and + ( ) - . belong
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValueError("not a phone number") from None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if DRAMA_MOBILES.fullmatch(e164):
        return e164  # fictional, for examples and rehearsals: see DRAMA_MOBILES
    if not phonenumbers.is_valid_number(number):
        if value.startswith("+") or value.startswith("00"):
            raise ValueError("not a valid phone number")
        raise ValueError(f"not a valid {region} number (for other countries start with +)")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


#: Number types that cannot receive a text message (`phonenumbers.number_type`).
_NO_SMS_TYPES = {
    phonenumbers.PhoneNumberType.FIXED_LINE: "a landline",
    phonenumbers.PhoneNumberType.TOLL_FREE: "a freephone number",
    phonenumbers.PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
    phonenumbers.PhoneNumberType.SHARED_COST: "a shared-cost number",
    phonenumbers.PhoneNumberType.PAGER: "a pager number",
    phonenumbers.PhoneNumberType.UAN: "a company number",
    phonenumbers.PhoneNumberType.VOICEMAIL: "a voicemail number",
}


def sms_problem(address: str) -> str | None:
    """Why an E.164 number probably cannot receive a text (a landline...), or None.

    Numbers that may be mobiles (FIXED_LINE_OR_MOBILE, as in the US) pass: only a number
    whose type says it is not a mobile is reported.
    """
    if DRAMA_MOBILES.fullmatch(address):
        return None
    try:
        kind = phonenumbers.number_type(phonenumbers.parse(address, None))
    except phonenumbers.NumberParseException:
        return None
    what = _NO_SMS_TYPES.get(kind)
    if what is None:
        return None
    return f"{what}, which cannot receive text messages; imported, but check it"


def read_contacts(
    text: str, channel: str, region: str, column: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Parse a CSV (or a plain list, one per line): ([(line, address)], [(line, reason)]).

    The addresses are in `column` (a header name, or a 1-based number), else in the first
    column whose header looks like a phone number or chat id, else the first column. A
    first row with no digits in that column is a header. Blank lines are ignored.
    `progress(1)` is called after each row.
    """
    if channel not in CHANNELS:
        raise OutreachError(f"unknown channel {channel!r}; use one of {', '.join(CHANNELS)}")
    first_line = text.lstrip("\ufeff").split("\n", 1)[0][:MAX_LINE_CHARS]
    delimiter = max((",", ";", "\t"), key=first_line.count)
    # Every line is checked before any is parsed, so a file too long fails at once.
    reader = csv.reader(list(_bounded_lines(text.lstrip("\ufeff"))), delimiter=delimiter)
    valid: list[tuple[int, str]] = []
    invalid: list[tuple[int, str]] = []
    index: int | None = None
    if column is not None and column.isdigit():
        index = int(column) - 1
    first = True
    for row in _rows(reader):
        if progress is not None:
            progress(1)
        if not any(cell.strip() for cell in row):
            continue
        if first:
            first = False
            header = [cell.strip().lower() for cell in row]
            if column is not None and index is None:
                if column.strip().lower() not in header:
                    raise OutreachError(f"there is no column called {column!r} in the first "
                                        "line of the file")
                index = header.index(column.strip().lower())
            if index is None:
                index = next((i for i, name in enumerate(header) if name in ADDRESS_HEADERS), 0)
            cell = row[index] if index < len(row) else ""
            if not any(ch.isdigit() for ch in cell):
                continue  # a header row
        assert index is not None
        cell = row[index] if index < len(row) else ""
        try:
            valid.append((reader.line_num, normalise_contact(cell, channel, region)))
        except ValueError as exc:
            invalid.append((reader.line_num, str(exc)))
    return valid, invalid


def _bounded_lines(text: str) -> Iterator[str]:
    """The file's lines for the CSV reader, refusing one too long or one too many."""
    for number, line in enumerate(io.StringIO(text, newline=""), start=1):
        if number > MAX_CONTACT_LINES:
            raise OutreachError(f"line {number:,}: the file has more than "
                                f"{MAX_CONTACT_LINES:,} lines; split it into smaller files")
        if len(line) > MAX_LINE_CHARS:
            raise OutreachError(f"line {number:,}: the line is {len(line):,} characters "
                                f"long; a contact's line is at most {MAX_LINE_CHARS:,}")
        yield line


def _rows(reader: Any) -> Iterator[list[str]]:
    """The CSV reader's rows; a line it cannot read is an OutreachError naming the line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise OutreachError(f"line {reader.line_num:,}: not readable as CSV ({exc})"
                                ) from None
        yield row


def import_contacts(runtime: Runtime, source: str | Path, channel: str, cohort: str,
                    column: str | None = None,
                    progress: Callable[[int, int], None] | None = None) -> ImportReport:
    """Add the people listed in `source` (a CSV path or its text) to the named cohort.

    Each address gets its pseudonym and an encrypted vault entry, as if the person had
    written to us; anyone already known is left as they are. Invalid rows are reported
    by line and skipped, repeats within the file are dropped, and people who have opted
    out stay in the cohort (so the numbers add up) but are never invited.
    One transaction: an import that fails stores nothing.

    `progress(steps, total)`, if given, is told of work done as it goes (three steps per
    row of the file: read, checked, stored), for a progress bar (`withus contacts import`).
    """
    cohort = cohort.strip()
    if not cohort or len(cohort) > 80:
        raise OutreachError("a cohort needs a name of 1 to 80 characters")
    if isinstance(source, Path):
        try:
            if source.stat().st_size > MAX_CONTACTS_BYTES:
                raise OutreachError(f"{source.name} is over {MAX_CONTACTS_BYTES // 2**20} MB; "
                                    "split it into smaller files")
            text = source.read_text(encoding="utf-8-sig")
        except UnicodeDecodeError:
            raise OutreachError(f"{source.name} is not UTF-8 text; save it as CSV UTF-8") from None
    else:
        text = source
    region = runtime.settings.default_region
    tick = _Ticks(progress, 3 * max(text.count("\n") + 1, 1))
    rows, invalid = read_contacts(text, channel, region, column, tick)
    tick.to(tick.total // 3)
    report = ImportReport(cohort, channel, invalid=invalid)
    addresses: dict[str, str] = {}  # pseudonym -> address, in file order
    for line, address in rows:
        tick(1)
        pid = runtime.pseudonymiser(channel, address)
        if pid in addresses:
            report.duplicates += 1
            continue
        addresses[pid] = address
        problem = sms_problem(address) if channel == "sms" else None
        if problem:
            report.warnings.append((line, problem))
            report.landlines += 1
    pids = list(addresses)
    now = runtime.clock()
    tick.to(2 * tick.total // 3)
    if not pids:
        # Nothing usable: store nothing, and above all make no empty cohort.
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            report.cohort_created = (
                False if OutreachRepository(uow.session).cohort(cohort) is None else None)
        log.info("contacts import stored nothing", extra={
            "channel": channel, "invalid": len(report.invalid)})
        report.stored = False
        tick.to(tick.total)
        return report
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = OutreachRepository(uow.session)
        existed = repo.cohort(cohort) is not None
        cohort_id = repo.ensure_cohort(cohort, now)
        report.cohort_created = not existed
        already = repo.members_among(cohort_id, pids)
        new = [pid for pid in pids if pid not in already]
        sealed = []
        for pid in new:
            sealed.append((pid, channel, runtime.vault.encrypt(addresses[pid])))
            tick(1)
        repo.add_people(sealed, now)
        repo.add_members(cohort_id, new, now)
        report.opted_out = len(repo.opted_out_among(pids))
        uow.commit()
    tick.to(tick.total)
    report.imported = len(new)
    report.already_in_cohort = len(already)
    log.info("contacts imported", extra={
        "channel": channel, "imported": report.imported, "duplicates": report.duplicates,
        "invalid": len(report.invalid), "already": report.already_in_cohort,
        "opted_out": report.opted_out,
    })
    return report


class _Ticks:
    """Work done so far, passed on to a progress callback as (steps, total)."""

    def __init__(self, progress: Callable[[int, int], None] | None, total: int) -> None:
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self, steps: int) -> None:
        steps = min(steps, self.total - self.done)
        if self.progress is not None and steps > 0:
            self.done += steps
            self.progress(steps, self.total)

    def to(self, done: int) -> None:
        """Jump to `done` steps (what a stage skipped: blank lines, repeats, invalid rows)."""
        self(done - self.done)


def _cohort_id(repo: OutreachRepository, cohort: str) -> int:
    found = repo.cohort(cohort.strip())
    if found is None:
        raise OutreachError(f"there is no cohort called '{cohort}' "
                            "(see `withus contacts cohorts`)")
    return found.id


def find_member(runtime: Runtime, cohort: str, address: str) -> str | None:
    """The pseudonym of whoever `address` (a number or chat id) is in the cohort, or None.

    The address is normalised and turned into a pseudonym for each channel, as an import
    would; nothing is decrypted, and the address is neither stored nor logged.
    """
    region = runtime.settings.default_region
    candidates = []
    for channel in CHANNELS:
        try:
            candidates.append(runtime.pseudonymiser(
                channel, normalise_contact(address, channel, region)))
        except ValueError:
            continue
    if not candidates:
        raise OutreachError("that is not a phone number or a Telegram chat id")
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = OutreachRepository(uow.session)
        found = repo.members_among(_cohort_id(repo, cohort), candidates)
    return next((pid for pid in candidates if pid in found), None)


def remove_member(runtime: Runtime, cohort: str, pid: str) -> bool:
    """Take one person (by pseudonym) out of a cohort; False if they were not in it.

    They stay known (an opt-out is kept, so a later import never invites them), and
    invitation messages already waiting for them still go: cancel the invitation first
    to stop those.
    """
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = OutreachRepository(uow.session)
        removed = repo.remove_member(_cohort_id(repo, cohort), pid)
        uow.commit()
    if removed:
        log.info("cohort member removed", extra={"participant": pid})
    return removed


@dataclass(frozen=True)
class CohortDeletion:
    """What deleting a cohort did (or would do)."""

    cohort: str
    members: int
    invitations: int
    stopped: int


def cohort_deletion_preview(runtime: Runtime, cohort: str) -> CohortDeletion:
    """What deleting the cohort would do: its members, scheduled invitations, waiting messages."""
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = OutreachRepository(uow.session)
        cohort_id = _cohort_id(repo, cohort)
        return CohortDeletion(cohort.strip(), repo.member_count(cohort_id),
                              len(repo.scheduled_invitations(cohort_id)),
                              repo.waiting_messages(cohort_id))


def delete_cohort(runtime: Runtime, cohort: str) -> CohortDeletion:
    """Delete a cohort with its invitations; stop its invitation messages still waiting.

    The people stay known (with any opt-out, so a later import never invites someone who
    said STOP), and what they answered is untouched. `invitations` counts those that had
    not gone out yet, and so are cancelled.
    """
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = OutreachRepository(uow.session)
        cohort_id = _cohort_id(repo, cohort)
        members = repo.member_count(cohort_id)
        scheduled = len(repo.scheduled_invitations(cohort_id))
        _all, stopped = repo.delete_cohort(cohort_id)
        uow.commit()
    log.info("cohort deleted", extra={"members": members, "cancelled": scheduled,
                                      "stopped": stopped})
    return CohortDeletion(cohort.strip(), members, scheduled, stopped)


# --- Invitations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Scheduled:
    invitation_id: int
    survey_id: str
    cohort: str
    scheduled_at: datetime
    members: int
    #: The survey opens later than asked: the invitation goes when it opens.
    waits_for_opening: bool = False
    #: People who may be invited (not opted out), per channel.
    by_channel: Mapping[str, int] = field(default_factory=dict)
    #: Of those channels, the ones with no provider that deliver to the sandbox inbox.
    sandboxed: tuple[str, ...] = ()
    #: When quiet hours let the first messages go on a real phone (people who chose a
    #: time with TIME or LATER may get theirs later still).
    first_send: datetime | None = None


@dataclass(frozen=True)
class Progress:
    """How far an invitation has got: for the CLI bar and the dashboard view."""

    invitation_id: int
    survey_id: str
    cohort: str
    status: str  # scheduled, queued or cancelled
    scheduled_at: datetime
    queued_at: datetime | None
    counts: Mapping[str, int]
    #: When the next message held back for quiet hours or a chosen time may go.
    next_waiting: datetime | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def done(self) -> int:
        """Everyone no longer waiting: sent, delivered, failed, opted out or not needed."""
        return self.total - self.counts["queued"]


def invitation_payload(survey: Survey | Consultation, language: str | None,
                       channel: str, organisation: str = "WithUs") -> dict[str, Any]:
    """The invitation as an outbox payload: the survey's intro and how to start.

    It names the survey's keyword in the invitation's language ("reply FFT", "atebwch
    PROFIAD"; else its id) because a reply that matches nothing
    would otherwise start the default survey. On Telegram there is a Start button too.
    It is business-initiated, so on WhatsApp it goes as the approved template. It opens
    by saying who is writing (WITHUS_ORG_NAME).
    """
    lang = language if language in survey.languages else survey.default_language
    hello, intro = _(lang, "Hello from {name}.", name=organisation), survey.intro.get(lang)
    if not intro.casefold().startswith(hello.casefold()):  # said once, not twice
        intro = f"{hello} {intro}"
    word = survey.keyword(lang) or survey.id.upper()  # PROFIAD in Welsh, FFT in English
    parts = [intro, _(lang, "To start, reply {keyword}.", keyword=word)]
    if not _STOP_WORD.search(intro):
        parts.append(_(lang, "If you'd rather not hear from us, reply STOP."))
    choices = [[MENU_PREFIX + survey.id, _(lang, "Start")]] if channel == "telegram" else []
    # Its language also tells the service, when they reply, which intro they have read.
    return {"text": "\n\n".join(parts), "choices": choices, "multiple": False,
            "business_initiated": True, "language": lang}


def _survey(runtime: Runtime, survey_id: str) -> Survey | Consultation:
    """The survey or consultation to invite people to (or share back about)."""
    survey = runtime.catalog.get().item(survey_id.strip().lower())
    if survey is None:
        runtime.catalog.invalidate()  # loaded a moment ago by another process?
        survey = runtime.catalog.get().item(survey_id.strip().lower())
    if survey is None:
        raise OutreachError(f"survey '{survey_id}' is not loaded (see `withus surveys list`)")
    return survey


def _day(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%-d %B %Y at %H:%M")


def schedule_invitation(runtime: Runtime, survey_id: str, cohort: str,
                        at: datetime | None = None, created_by: int | None = None) -> Scheduled:
    """Schedule an invitation to a cohort for `at` (default now); the scheduler sends it.

    A naive `at` is read in WITHUS_TIMEZONE, as an organiser means it. An invitation for
    a survey that has not opened yet waits for the opening; one that would go after the
    survey closes is refused. So is one to people whose channel has neither a provider
    nor the sandbox (`bot.services.sandbox`): it could never go.
    """
    hours = sending_hours(runtime.settings)
    now = runtime.clock()
    survey = _survey(runtime, survey_id)
    when = now if at is None else (at if at.tzinfo else at.replace(tzinfo=hours.tz))
    when = when.astimezone(UTC)
    if survey.closes_at and when >= survey.closes_at:
        raise OutreachError(f'"{survey.title.get()}" closes on '
                            f"{_day(survey.closes_at, hours.tz)}, before this invitation "
                            "would go.")
    waits = bool(survey.opens_at and when < survey.opens_at)
    if waits and survey.opens_at:
        when = survey.opens_at
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = OutreachRepository(uow.session)
        found = repo.cohort(cohort.strip())
        if found is None:
            names = ", ".join(c.name for c in repo.cohorts()) or "none yet"
            raise OutreachError(f"there is no cohort called '{cohort}' (cohorts: {names}); "
                                "add people with `withus contacts import FILE --cohort NAME`")
        cohort_id, cohort_name = found.id, found.name
        by_channel = repo.members_by_channel(cohort_id)
        unreachable = sorted(set(by_channel) - set(runtime.channels))
        if unreachable:
            raise OutreachError(
                f"{' and '.join(unreachable)} {'has' if len(unreachable) == 1 else 'have'} "
                f"no provider configured here, so the invitation could not reach "
                f"{sum(by_channel[c] for c in unreachable)} people in '{cohort_name}'. Set "
                "up the provider (see the README's configuration), or set WITHUS_SANDBOX=on "
                "to rehearse in the sandbox, where nothing reaches a real phone")
        invitation_id = repo.add_invitation(survey.id, cohort_id, when, now, created_by)
        members = repo.member_count(cohort_id)
        uow.commit()
    log.info("invitation scheduled", extra={"invitation": invitation_id, "survey": survey.id,
                                            "members": members})
    sandboxed = tuple(sorted(c for c in by_channel
                             if getattr(runtime.channels[c], "sandbox", False)))
    return Scheduled(invitation_id, survey.id, cohort_name, when, members, waits,
                     by_channel, sandboxed, hours.next_send_time(when))


@dataclass(frozen=True)
class Queued:
    invitation_id: int
    messages: int
    outcome: str  # "queued", "cancelled" or "waiting for the survey to open"


def queue_due_invitations(runtime: Runtime, now: datetime | None = None,
                          limit: int = 20) -> list[Queued]:
    """Turn every due invitation into outbox rows, one per person; what happened to each.

    Each invitation is claimed and queued in one transaction (SKIP LOCKED on PostgreSQL),
    so a second scheduler can never queue it again. Each person's message is held until
    a time that suits them (quiet hours, or the time they chose). People who have opted
    out get nothing. The scheduler runs this every few seconds.
    """
    now = now or runtime.clock()
    hours = sending_hours(runtime.settings)
    catalog = runtime.catalog.get()  # before the transaction: see WithUsService.handle
    org = catalog.organisation.name
    done: list[Queued] = []
    for _attempt in range(limit):
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            repo = OutreachRepository(uow.session)
            invitation = repo.claim_due_invitation(now)
            if invitation is None:
                break
            invitation_id = invitation.id
            survey = catalog.item(invitation.survey_id)  # a survey or a consultation
            if survey is not None and survey.opens_at and now < survey.opens_at:
                repo.set_invitation(invitation.id, scheduled_at=survey.opens_at)
                outcome, count = "waiting for the survey to open", 0
            elif survey is None or (survey.closes_at and now >= survey.closes_at):
                repo.set_invitation(invitation.id, status="cancelled")
                outcome, count = "cancelled", 0
            else:
                # A few distinct channels, languages and chosen times: work each out once.
                pairs, chosen = repo.recipient_kinds(invitation.cohort_id)
                # Nobody left to invite (all opted out since it was scheduled): nothing to
                # queue, and no CASE with no branches for the database to choke on.
                count = 0 if not pairs else repo.queue_invitation(
                    invitation_id, invitation.cohort_id,
                    {(ch, lang): invitation_payload(survey, lang, ch, org)
                     for ch, lang in pairs},
                    {choice: hours.next_send_time(now, choice) for choice in chosen},
                    # Plain text suits every channel; quiet hours suit everyone.
                    (invitation_payload(survey, None, "sms", org), hours.next_send_time(now)),
                    now,
                )
                repo.set_invitation(invitation_id, status="queued", queued_at=now)
                outcome = "queued"
            uow.commit()
        done.append(Queued(invitation_id, count, outcome))
        log.info("invitation " + outcome, extra={"invitation": invitation_id,
                                                 "messages": count})
    if any(q.messages for q in done):
        runtime.wake_sender()
    return done


def invitation_progress(runtime: Runtime, invitation_id: int) -> Progress:
    """Queued, sent, delivered, failed and opted out for one invitation."""
    now = runtime.clock()
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = OutreachRepository(uow.session)
        invitation = repo.invitation(invitation_id)
        if invitation is None:
            raise OutreachError(f"there is no invitation {invitation_id}")
        counts = repo.invitation_progress(invitation)
        cohort = repo.cohort_name(invitation.cohort_id)
        waiting = repo.next_waiting(invitation_id, now) if counts["queued"] else None
        # Read inside the transaction: leaving it expires the ORM object.
        return Progress(invitation.id, invitation.survey_id, cohort, invitation.status,
                        invitation.scheduled_at, invitation.queued_at, counts, waiting)


def list_invitations(runtime: Runtime, limit: int = 50) -> list[Progress]:
    """The latest invitations with their progress, newest first (for a dashboard list)."""
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        ids = [i.id for i in OutreachRepository(uow.session).invitations(limit)]
    return [invitation_progress(runtime, i) for i in ids]


def cancel_invitation(runtime: Runtime, invitation_id: int) -> bool:
    """Cancel an invitation that has not gone out yet; False if it already has."""
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        cancelled = OutreachRepository(uow.session).cancel_invitation(invitation_id)
        uow.commit()
    return cancelled


# --- Reminders -----------------------------------------------------------------------------


@dataclass
class ReminderReport:
    reminded: int = 0
    #: Due during the person's quiet hours: moved to the next good time instead.
    postponed: int = 0
    #: Not to be sent at all (opted out, survey closed or gone): the reminder was dropped.
    dropped: int = 0
    outbox_ids: list[int] = field(default_factory=list)


def send_due_reminders(runtime: Runtime, now: datetime | None = None,
                       remind: Callable[[str], list[int]] | None = None,
                       limit: int = 200) -> ReminderReport:
    """Nudge people whose reminder is due, but only at a time that suits them.

    The service decides when a reminder falls due and how many a survey allows
    (`WithUsService._next_reminder`); `remind` (by default `WithUsService.remind`) runs
    the engine's timeout event and queues the message. This job adds the rules about
    *when*: a reminder due in someone's quiet hours is moved to the end of them rather
    than queued to wait there, so if they write in the meantime it is simply replaced.
    No reminders once a survey has closed: the conversation is stalled, not failed.
    """
    now = now or runtime.clock()
    remind = remind or runtime.service.remind
    hours = sending_hours(runtime.settings)
    catalog = runtime.catalog.get()
    report = ReminderReport()
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        due = OutreachRepository(uow.session).due_reminders(now, limit)
    for item in due:
        survey = catalog.item(item.survey_id)  # a survey or a consultation
        if item.opted_out or survey is None or not survey.is_open(now):
            _move_reminder(runtime, item.participant_id, item.next_reminder_at, None)
            report.dropped += 1
            continue
        when = hours.next_send_time(now, item.preferred_time)
        if when > now:
            _move_reminder(runtime, item.participant_id, item.next_reminder_at, when)
            report.postponed += 1
            continue
        ids = remind(item.participant_id)
        report.outbox_ids += ids
        report.reminded += 1 if ids else 0
        # `remind` reschedules or clears the reminder. If it could not (no conversation),
        # clear it here, or the same row would be due again on every run.
        _move_reminder(runtime, item.participant_id, item.next_reminder_at, None)
    if report.outbox_ids:
        runtime.wake_sender()
    if due:
        log.info("reminders run", extra={"reminded": report.reminded,
                                         "postponed": report.postponed,
                                         "dropped": report.dropped})
    return report


def _move_reminder(runtime: Runtime, pid: str, expected: datetime,
                   to: datetime | None) -> None:
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        OutreachRepository(uow.session).move_reminder(pid, expected, to)
        uow.commit()


# --- Share-backs ------------------------------------------------------------------------------

_MONTHS = ("jan|january|feb|february|mar|march|apr|april|may|jun|june|jul|july|aug|august|"
           "sep|sept|september|oct|october|nov|november|dec|december")
_UNITS = ("seconds?|minutes?|mins?|hours?|hrs?|days?|weeks?|fortnights?|months?|years?|"
          "yrs?|am|pm|st|nd|rd|th|miles?|km|kg|ml|mg|pounds?|p\\b|pence")
_LABELS = ("page|step|question|q|no\\.?|number|version|phase|ward|room|floor|chapter|"
           "section|level|stage|point|part|band|tier|year|route|bus|area|zone")
_FIGURE = re.compile(
    r"(?<![\w.,:/£$€#+-])(\d+(?:,\d{3})*(?:\.\d+)?)(?![\w/])(\s*(?:%|per\s*cent|percent))?",
    re.IGNORECASE,
)
_AFTER_NOT_COUNT = re.compile(rf"^\s*(?:[:.]\d|/\d|(?:{_UNITS})\b|(?:of\s+)?(?:{_MONTHS})\b)",
                              re.IGNORECASE)
_BEFORE_NOT_COUNT = re.compile(rf"(?:\b(?:{_MONTHS}|{_LABELS})\s*)$", re.IGNORECASE)
_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                 "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen",
                 "sixteen", "seventeen", "eighteen", "nineteen"]
_PEOPLE = ("of\\s+you|of\\s+them|of\\s+us|people|persons?|carers?|care\\s+workers?|workers?|"
           "respondents?|participants?|families|family|parents?|residents?|members?|staff|"
           "nurses?|patients?|users?|men|women|young\\s+people|children")
_WORD_COUNT = re.compile(rf"\b({'|'.join(_NUMBER_WORDS)})\s+(?:{_PEOPLE})\b", re.IGNORECASE)
_AMOUNT = rf"\d+|{'|'.join(_NUMBER_WORDS)}|twenty|thirty|forty|fifty|hundred"
_RATIO = re.compile(rf"\b({_AMOUNT})\s+(?:in|out\s+of)\s+(?:every\s+)?({_AMOUNT})\b",
                    re.IGNORECASE)
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "hundred": 100}


def _amount(word: str) -> int:
    word = word.lower()
    if word.isdigit():
        return int(word)
    return _TENS[word] if word in _TENS else _NUMBER_WORDS.index(word)


def figure_problems(text: str, min_cell: int, respondents: int) -> list[str]:
    """Figures in an organiser's message that could identify people; one line each.

    The same rule as every count WithUs shows (`surveys.suppression`): nothing about
    fewer than `min_cell` people. So a count below it ("3 of you said...") is flagged, a
    percentage that works out at fewer than `min_cell` of the `respondents` is flagged,
    and when fewer than `min_cell` people finished the survey every percentage is. Dates,
    times, durations, money and labels ("question 2") are not counts and pass. This is a
    careful check, not a guarantee: the preview is there for a person to read.
    """
    rules = Suppressor(min_cell)
    problems: list[str] = []

    def proportion(shown: str, value: float) -> None:
        """A share of the respondents, e.g. 40% or "1 in 5": how many people is that?"""
        if not rules.text_visible(respondents):
            problems.append(
                f'"{shown}": only {respondents} people finished the survey, so a '
                f"proportion could point to someone. Describe it in words instead."
            )
        elif 0 < value < 100 and (
            rules.count(round(value / 100 * respondents)).hidden
            or rules.count(respondents - round(value / 100 * respondents)).hidden
        ):
            problems.append(
                f'"{shown}" of {respondents} people leaves a group of fewer than '
                f"{min_cell}. Round it, or describe it in words."
            )

    ratios = []
    for match in _RATIO.finditer(text):
        part, whole = _amount(match.group(1)), _amount(match.group(2))
        if whole:
            proportion(match.group(0), 100 * part / whole)
            ratios.append(range(match.start(), match.end()))

    def in_ratio(position: int) -> bool:
        return any(position in span for span in ratios)

    for match in _FIGURE.finditer(text):
        figure, percent = match.group(1), match.group(2)
        if in_ratio(match.start()):
            continue
        if percent:
            proportion(match.group(0).strip(), float(figure.replace(",", "")))
            continue
        shown = match.group(0).strip()
        after, before = text[match.end():match.end() + 16], text[max(0, match.start() - 16):
                                                                 match.start()]
        if "." in figure or _AFTER_NOT_COUNT.match(after) or _BEFORE_NOT_COUNT.search(before):
            continue
        value = int(figure.replace(",", ""))
        if 1900 <= value <= 2100 and len(figure) == 4:
            continue  # a year
        if rules.count(value).hidden:
            problems.append(
                f'"{shown}" looks like a count of fewer than {min_cell} people, which could '
                "tell who said what. Say \"a few of you\" or \"some people\" instead."
            )
    for match in _WORD_COUNT.finditer(text):
        if in_ratio(match.start()):
            continue
        value = _NUMBER_WORDS.index(match.group(1).lower())
        if rules.count(value).hidden:
            problems.append(
                f'"{match.group(0)}" is fewer than {min_cell} people, which could tell who '
                "said what. Say \"a few of you\" or \"some people\" instead."
            )
    return problems


def shareback_text(text: str, language: str | None) -> str:
    """The message as people receive it: the organiser's words and how to stop."""
    body = text.strip()
    if _STOP_WORD.search(body):
        return body
    return body + "\n\n" + _(language, "Reply STOP if you'd rather not hear from us.")


@dataclass(frozen=True)
class SharebackPreview:
    shareback_id: int
    survey_id: str
    #: Exactly what people will receive (in the survey's default language).
    text: str
    #: People who said yes to hearing back and have not opted out.
    recipients: int
    #: People who finished the survey: the base of any figure quoted.
    respondents: int
    problems: list[str]
    sent_at: datetime | None

    @property
    def ready(self) -> bool:
        return not self.problems and self.sent_at is None and self.recipients > 0


def draft_shareback(runtime: Runtime, survey_id: str, text: str,
                    created_by: int | None = None) -> int:
    """Save a "what we heard, and what happens next" message as a draft; its id."""
    survey = _survey(runtime, survey_id)
    _check_shareback_text(text)
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        shareback_id = OutreachRepository(uow.session).add_shareback(
            survey.id, text.strip(), runtime.clock(), created_by
        )
        uow.commit()
    return shareback_id


def edit_shareback(runtime: Runtime, shareback_id: int, text: str) -> None:
    """Change a draft's text; refused once it has been sent."""
    _check_shareback_text(text)
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        if not OutreachRepository(uow.session).update_shareback_text(shareback_id, text.strip()):
            raise OutreachError(f"share-back {shareback_id} does not exist or was already sent")
        uow.commit()


def _check_shareback_text(text: str) -> None:
    if not text.strip():
        raise OutreachError("the share-back message is empty")
    if len(text.strip()) > MAX_SHAREBACK_CHARS:
        raise OutreachError(f"the share-back message is {len(text.strip())} characters; "
                            f"keep it under {MAX_SHAREBACK_CHARS} (ten text messages)")


def preview_shareback(runtime: Runtime, shareback_id: int) -> SharebackPreview:
    """What would be sent, to how many people, and any figure that breaks suppression."""
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = OutreachRepository(uow.session)
        shareback = repo.shareback(shareback_id)
        if shareback is None:
            raise OutreachError(f"there is no share-back {shareback_id}")
        survey_id, text, sent_at = shareback.survey_id, shareback.text, shareback.queued_at
        recipients = len(repo.shareback_recipients(survey_id))
        respondents = repo.respondents(survey_id)
    survey = runtime.catalog.get().surveys.get(survey_id)
    language = survey.default_language if survey else None
    return SharebackPreview(
        shareback_id, survey_id, shareback_text(text, language), recipients, respondents,
        figure_problems(text, runtime.settings.min_cell, respondents), sent_at,
    )


def send_shareback(runtime: Runtime, shareback_id: int, now: datetime | None = None) -> int:
    """Queue the share-back for everyone who said yes; how many messages.

    Refused while a figure breaks suppression (see `figure_problems`), and sent at most
    once. Each message waits for a time that suits its reader, like an invitation.
    """
    now = now or runtime.clock()
    hours = sending_hours(runtime.settings)
    preview = preview_shareback(runtime, shareback_id)
    if preview.problems:
        raise OutreachError("the message quotes figures that could identify people:\n- "
                            + "\n- ".join(preview.problems))
    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        repo = OutreachRepository(uow.session)
        shareback = repo.shareback(shareback_id)
        if shareback is None:
            raise OutreachError(f"there is no share-back {shareback_id}")
        survey_id, body = shareback.survey_id, shareback.text
        if not repo.claim_shareback(shareback_id, now):
            raise OutreachError(f"share-back {shareback_id} was already sent")
        recipients = repo.shareback_recipients(survey_id)
        not_before: dict[str | None, datetime] = {}
        texts: dict[str | None, str] = {}

        def rows() -> Iterable[dict[str, Any]]:
            for person in recipients:
                if person.preferred_time not in not_before:
                    not_before[person.preferred_time] = hours.next_send_time(
                        now, person.preferred_time)
                if person.language not in texts:
                    texts[person.language] = shareback_text(body, person.language)
                yield {
                    "participant_id": person.participant_id, "channel": person.channel,
                    "payload": {"text": texts[person.language], "choices": [],
                                "multiple": False, "business_initiated": True},
                    "next_attempt_at": not_before[person.preferred_time],
                    "created_at": now, "kind": "shareback",
                }

        count = repo.add_outbox_rows(rows())
        uow.commit()
    log.info("share-back queued", extra={"shareback": shareback_id, "messages": count})
    runtime.wake_sender()
    return count

