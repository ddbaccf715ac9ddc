"""`withus contacts`, `withus invite`, `withus invitations` and `withus sharebacks`.

Registered on the main `withus` group from `COMMANDS`. Output names line numbers, cohorts
and counts, never a phone number or chat id.
"""

from __future__ import annotations

import math
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bot.cli.common import EXIT_BAD_INPUT, progress_bar
from bot.cli.common import runtime as _runtime

if TYPE_CHECKING:
    from bot.services.outreach import Progress, Scheduled
    from bot.services.runtime import Runtime

#: Seconds between progress polls, and without progress before suggesting a cause.
POLL = 0.5
STALL_HINT_AFTER = 30.0




def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_BAD_INPUT)


def _when(moment: datetime | None, runtime: Runtime) -> str:
    from bot.services.outreach import sending_hours

    if moment is None:
        return "-"
    tz = sending_hours(runtime.settings).tz
    return moment.astimezone(tz).strftime("%-d %b %Y %H:%M %Z")


# --- contacts -------------------------------------------------------------------------------


@click.group()
def contacts() -> None:
    """Import people to invite, into named cohorts."""


@contacts.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--channel", required=True, type=click.Choice(["sms", "whatsapp", "telegram"]),
              help="How they will be contacted.")
@click.option("--cohort", required=True, help="The cohort to add them to (created if new).")
@click.option("--column", default=None,
              help="Column holding the numbers: a header name or a number from 1. "
                   "Default: a column headed phone, mobile, number... or the first.")
def contacts_import(file: Path, channel: str, cohort: str, column: str | None) -> None:
    """Read phone numbers (or Telegram chat ids) from a CSV file into a cohort.

    Numbers are normalised to international format (WITHUS_DEFAULT_REGION for those
    without a country code). Invalid rows are reported by line number and skipped,
    repeats are dropped, and addresses are stored only encrypted. People who have
    opted out are never invited.
    """
    from bot.services.outreach import OutreachError, import_contacts

    runtime = _runtime()
    try:
        if channel not in runtime.channels:
            click.echo(f"warning: {channel} is not set up here (see the README's "
                       "configuration); invitations to this cohort are refused until it "
                       "is, or until WITHUS_SANDBOX=on lets you rehearse.", err=True)
        elif getattr(runtime.channels[channel], "sandbox", False):
            click.echo(f"note: {channel} has no provider here, so messages to this cohort "
                       "go to the sandbox inbox (a rehearsal) until one is set up.", err=True)
        with progress_bar(f"importing {file.name}") as update:
            report = import_contacts(runtime, file, channel, cohort, column, update)
    except OutreachError as exc:
        _fail(str(exc))
        return
    finally:
        runtime.close()
    for line in report.lines():
        click.echo(line, err=True)
    if not report.stored:
        _fail(report.summary())
    click.echo(report.summary())


@contacts.command("cohorts")
def contacts_cohorts() -> None:
    """One line per cohort: name, members, of whom opted out."""
    from storage.repositories.outreach import OutreachRepository
    from storage.uow import UnitOfWork

    runtime = _runtime()
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            cohorts = OutreachRepository(uow.session).cohorts()
    finally:
        runtime.close()
    if not cohorts:
        click.echo("no cohorts yet (try: withus contacts import FILE --channel sms --cohort NAME)")
    for cohort in cohorts:
        click.echo(f"{cohort.name}\t{cohort.members} members\t{cohort.opted_out} opted out")


@contacts.command("remove")
@click.argument("cohort")
@click.option("--stdin", "from_stdin", is_flag=True,
              help="Read the number (or chat id) from standard input instead of asking.")
def contacts_remove(cohort: str, from_stdin: bool) -> None:
    """Take one person out of a cohort. Asks for their number, so it stays out of history.

    They stay known: if they said STOP, a later import still never invites them.
    """
    from bot.services.outreach import OutreachError, find_member, remove_member

    address = (sys.stdin.readline().strip() if from_stdin
               else click.prompt("Their number or chat id", hide_input=True))
    runtime = _runtime()
    try:
        pid = find_member(runtime, cohort, address)
        if pid is None or not remove_member(runtime, cohort, pid):
            _fail(f"that number is not in cohort {cohort.strip()}")
    except OutreachError as exc:
        _fail(str(exc))
    finally:
        runtime.close()
    click.echo(f"removed one person from cohort {cohort.strip()}")


@contacts.command("delete-cohort")
@click.argument("cohort")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def contacts_delete_cohort(cohort: str, yes: bool) -> None:
    """Delete a cohort and its invitations (the people and their answers stay).

    Invitations not yet sent are cancelled and messages still waiting are stopped.
    """
    from bot.services.outreach import OutreachError, cohort_deletion_preview, delete_cohort

    runtime = _runtime()
    try:
        preview = cohort_deletion_preview(runtime, cohort)
        if not yes:
            click.confirm(f"Delete cohort {preview.cohort} ({preview.members} members, "
                          f"{preview.invitations} invitations not yet sent, "
                          f"{preview.stopped} messages waiting)?", abort=True)
        done = delete_cohort(runtime, cohort)
    except OutreachError as exc:
        _fail(str(exc))
        return
    finally:
        runtime.close()
    click.echo(f"deleted cohort {done.cohort} ({done.members} members); cancelled "
               f"{done.invitations} invitations, stopped {done.stopped} waiting messages")


# --- invitations -------------------------------------------------------------------------------


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("use ISO 8601, e.g. 2026-12-01T09:30 (read in "
                                 "WITHUS_TIMEZONE unless it has an offset)") from None


def _counts(progress: Progress) -> str:
    c = progress.counts
    text = (f"queued {c['queued']}, sent {c['sent']}, delivered {c['delivered']}, "
            f"failed {c['failed']}, opted out {c['opted_out']}")
    text += f", not needed {c['not_needed']}" if c["not_needed"] else ""
    text += f", in the sandbox {c['sandbox']}" if c["sandbox"] else ""
    return text + (f", held (no provider) {c['no_provider']}" if c["no_provider"] else "")


@click.command()
@click.argument("survey_id")
@click.option("--cohort", required=True, help="Who to invite (see `withus contacts cohorts`).")
@click.option("--at", "at", default=None,
              help="When, in ISO 8601 (e.g. 2026-12-01T09:30); default now. Without an "
                   "offset it is read in WITHUS_TIMEZONE.")
@click.option("--wait/--no-wait", default=False, show_default=True,
              help="Stay and show a progress bar until every message due now has gone "
                   "(Ctrl-C stops watching, not sending).")
def invite(survey_id: str, cohort: str, at: str | None, wait: bool) -> None:
    """Invite a cohort to a survey or a consultation, now or at a given time.

    Returns at once, saying what will happen and when: the running scheduler (`withus
    serve` or `withus scheduler`) sends the invitations through the outbox, paced per
    provider, each person's after quiet hours or at the time they chose. A channel with
    no provider delivers to the sandbox inbox instead when the sandbox is on (a
    rehearsal), and is refused otherwise. WhatsApp invitations use the approved
    template (TWILIO_WHATSAPP_TEMPLATE_SID).
    """
    from bot.services.outreach import OutreachError, schedule_invitation

    when = _parse_at(at)
    runtime = _runtime()
    try:
        scheduled = schedule_invitation(runtime, survey_id, cohort, when)
        click.echo(f"invitation {scheduled.invitation_id}: {scheduled.survey_id} to "
                   f"{scheduled.cohort} ({scheduled.members} people), "
                   f"at {_when(scheduled.scheduled_at, runtime)}"
                   + (" (when the survey opens)" if scheduled.waits_for_opening else ""))
        for line in _plan(runtime, scheduled):
            click.echo(line)
        if wait and (scheduled.scheduled_at - runtime.clock()).total_seconds() <= 60:
            _follow(runtime, scheduled.invitation_id)
        click.echo(f"follow it with: withus invitations show {scheduled.invitation_id}")
    except OutreachError as exc:
        _fail(str(exc))
    finally:
        runtime.close()


def _plan(runtime: Runtime, scheduled: Scheduled) -> list[str]:
    """What will happen to an invitation, in plain words: where each channel's messages
    go, when quiet hours let them, how long sending takes, and who sends them."""
    from bot.services.scheduler import leadership_for

    lines = []
    settings = runtime.settings
    for channel, count in sorted(scheduled.by_channel.items()):
        people = f"{count} {'person' if count == 1 else 'people'}"
        if channel in scheduled.sandboxed:
            lines.append(f"{channel}: {people}; there is no provider for {channel} here, so "
                         "their messages go to the sandbox inbox (Sandbox in the dashboard's "
                         "menu, /simulator/sandbox), not to anyone's phone: a rehearsal")
            continue
        rate = settings.rate_telegram if channel == "telegram" else settings.rate_twilio
        seconds = count / rate if rate else 0
        pace = (f", about {math.ceil(seconds / 60)} minutes to send them all"
                if seconds > 60 else "")
        lines.append(f"{channel}: {people}, through the provider at up to {rate:g} "
                     f"messages a second{pace}")
    real = set(scheduled.by_channel) - set(scheduled.sandboxed)
    if real and scheduled.first_send and scheduled.first_send > scheduled.scheduled_at:
        lines.append(f"that is in quiet hours ({settings.quiet_hours}), so phones get it "
                     f"from {_when(scheduled.first_send, runtime)}")
    if real:
        lines.append("anyone who chose a time with TIME or LATER gets theirs then")
    if leadership_for(runtime).held_elsewhere():
        lines.append("the running scheduler sends them from then on")
    else:
        lines.append("note: no scheduler is running, so nothing goes until `withus serve` "
                     "or `withus scheduler` is started")
    return lines


def _follow(runtime: Runtime, invitation_id: int) -> None:
    """A progress bar until nothing of this invitation is due now; Ctrl-C just stops it."""
    from bot.services.outreach import invitation_progress
    from bot.services.scheduler import leadership_for

    progress = invitation_progress(runtime, invitation_id)
    last_change, last_done, hinted = time.monotonic(), -1, False
    running = leadership_for(runtime).held_elsewhere()
    try:
        with click.progressbar(length=max(progress.total, 1), label="sending",
                               show_pos=True, file=sys.stderr) as bar:
            while True:
                progress = invitation_progress(runtime, invitation_id)
                if progress.status == "cancelled":
                    break
                if progress.status == "queued":
                    bar.length = max(progress.total, 1)
                    bar.update(progress.done - bar.pos)
                    waiting = progress.next_waiting is not None
                    if progress.counts["queued"] == 0 or (
                        waiting and _nothing_due(runtime, invitation_id)
                    ):
                        break
                if progress.done != last_done:
                    last_change, last_done = time.monotonic(), progress.done
                elif not hinted and time.monotonic() - last_change > STALL_HINT_AFTER:
                    click.echo("\nnothing has moved for 30 seconds: "
                               + ("the provider may be slow or refusing; see "
                                  "`withus invitations show`" if running else
                                  "start `withus serve` or `withus scheduler`"), err=True)
                    hinted = True
                time.sleep(POLL)
    except KeyboardInterrupt:
        click.echo("\nstopped watching; the scheduler carries on sending.", err=True)
    click.echo(_counts(progress))
    if progress.next_waiting is not None and progress.counts["queued"]:
        click.echo(f"{progress.counts['queued']} wait for a time that suits them "
                   f"(quiet hours or their chosen time), from "
                   f"{_when(progress.next_waiting, runtime)}")


def _nothing_due(runtime: Runtime, invitation_id: int) -> bool:
    """True when every message still queued is waiting for a later time."""
    from sqlalchemy import func, select

    from storage.models import OutboxMessage
    from storage.uow import UnitOfWork

    with UnitOfWork(runtime.sessions, runtime.vault) as uow:
        due = uow.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.invitation_id == invitation_id,
                OutboxMessage.status.in_(("pending", "sending")),
                OutboxMessage.next_attempt_at <= datetime.now(UTC),
            )
        )
    return not due


@click.group()
def invitations() -> None:
    """See and cancel invitations."""


@invitations.command("list")
def invitations_list() -> None:
    """The latest invitations and how far each has got."""
    from bot.services.outreach import list_invitations

    runtime = _runtime()
    try:
        rows = list_invitations(runtime)
        if not rows:
            click.echo("no invitations yet (try: withus invite SURVEY_ID --cohort NAME)")
        for p in rows:
            click.echo(f"{p.invitation_id}\t{p.survey_id}\t{p.cohort}\t{p.status}\t"
                       f"{_when(p.scheduled_at, runtime)}\t{_counts(p)}")
    finally:
        runtime.close()


@invitations.command("show")
@click.argument("invitation_id", type=int)
def invitations_show(invitation_id: int) -> None:
    """Queued, sent, delivered, failed and opted out for one invitation."""
    from bot.services.outreach import OutreachError, invitation_progress

    runtime = _runtime()
    try:
        p = invitation_progress(runtime, invitation_id)
        click.echo(f"invitation {p.invitation_id}: {p.survey_id} to {p.cohort}, {p.status}, "
                   f"at {_when(p.scheduled_at, runtime)}")
        click.echo(_counts(p))
        if p.next_waiting:
            click.echo(f"next waiting message may go at {_when(p.next_waiting, runtime)}")
    except OutreachError as exc:
        _fail(str(exc))
    finally:
        runtime.close()


@invitations.command("cancel")
@click.argument("invitation_id", type=int)
def invitations_cancel(invitation_id: int) -> None:
    """Cancel an invitation that has not gone out yet."""
    from bot.services.outreach import cancel_invitation

    runtime = _runtime()
    try:
        if not cancel_invitation(runtime, invitation_id):
            _fail(f"invitation {invitation_id} does not exist or has already gone out")
        click.echo(f"invitation {invitation_id} cancelled")
    finally:
        runtime.close()


# --- share-backs ------------------------------------------------------------------------------


@click.group()
def sharebacks() -> None:
    """Tell people who asked "what we heard, and what happens next"."""


@sharebacks.command("draft")
@click.argument("survey_id")
@click.option("--text", "text_", default=None, help="The message.")
@click.option("--file", "file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Read the message from a UTF-8 text file.")
def sharebacks_draft(survey_id: str, text_: str | None, file: Path | None) -> None:
    """Save a draft share-back for a survey, then preview it."""
    from bot.services.outreach import OutreachError, draft_shareback

    if (text_ is None) == (file is None):
        _fail("give the message with --text or --file (one of them)")
    message = text_ if text_ is not None else file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    runtime = _runtime()
    try:
        shareback_id = draft_shareback(runtime, survey_id, message)
        _show_preview(runtime, shareback_id)
    except OutreachError as exc:
        _fail(str(exc))
    finally:
        runtime.close()


def _show_preview(runtime: Runtime, shareback_id: int) -> bool:
    from bot.services.outreach import preview_shareback

    preview = preview_shareback(runtime, shareback_id)
    click.echo(f"share-back {preview.shareback_id} for {preview.survey_id}: to "
               f"{preview.recipients} people who asked to hear back "
               f"({preview.respondents} finished the survey)")
    click.echo("-" * 60)
    click.echo(preview.text)
    click.echo("-" * 60)
    if preview.sent_at:
        click.echo(f"sent {_when(preview.sent_at, runtime)}")
    for problem in preview.problems:
        click.echo(f"problem: {problem}", err=True)
    if not preview.problems and not preview.sent_at:
        click.echo(f"send it with: withus sharebacks send {preview.shareback_id}")
    return preview.ready


@sharebacks.command("preview")
@click.argument("shareback_id", type=int)
def sharebacks_preview(shareback_id: int) -> None:
    """Show exactly what would be sent, to how many, and any problem with figures."""
    from bot.services.outreach import OutreachError

    runtime = _runtime()
    try:
        _show_preview(runtime, shareback_id)
    except OutreachError as exc:
        _fail(str(exc))
    finally:
        runtime.close()


@sharebacks.command("send")
@click.argument("shareback_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def sharebacks_send(shareback_id: int, yes: bool) -> None:
    """Send a share-back to everyone who said yes to hearing back (once only)."""
    from bot.services.outreach import OutreachError, preview_shareback, send_shareback

    runtime = _runtime()
    try:
        preview = preview_shareback(runtime, shareback_id)
        if not yes:
            _show_preview(runtime, shareback_id)
            if not preview.problems and not preview.sent_at:
                click.confirm(f"Send it to {preview.recipients} people?", abort=True)
        count = send_shareback(runtime, shareback_id)
        click.echo(f"share-back {shareback_id} queued for {count} people; each goes at a "
                   "time that suits them")
    except OutreachError as exc:
        _fail(str(exc))
    finally:
        runtime.close()


#: Register with: for command in COMMANDS: main.add_command(command)
COMMANDS: list[click.Command] = [contacts, invite, invitations, sharebacks]
