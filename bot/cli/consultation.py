"""`withus consultation ...`: moderate statements, choose quotes, export votes, draft a
response.

Registered on the main `withus` group by bot.cli (`COMMANDS`). The dashboard does the
same things with buttons; these commands let organisers work before it is set up, and in
scripts. Imports of the runtime are inside the commands so `withus --help` stays fast and
bot.cli can import this module.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from bot.services.runtime import Runtime
    from surveys.consultation import Consultation

from bot.cli.common import EXIT_BAD_INPUT
from bot.cli.common import runtime as _runtime


@contextmanager
def _opened(consultation_id: str) -> Iterator[tuple[Runtime, Consultation]]:
    """The runtime and the loaded consultation, or a clear error and exit 2."""
    runtime = _runtime()
    try:
        found = runtime.catalog.get().consultations.get(consultation_id.strip().lower())
        if found is None:
            click.echo(f"error: consultation '{consultation_id}' is not loaded. Load its file "
                       "with `withus surveys load PATH`; see `withus surveys list`.", err=True)
            sys.exit(EXIT_BAD_INPUT)
        yield runtime, found
    finally:
        runtime.close()


@click.group()
def consultation() -> None:
    """Consultations: moderate statements, choose quotes, export votes, draft a response."""


@consultation.command("draft")
@click.argument("consultation_id")
@click.option("--format", "fmt", type=click.Choice(["md", "docx"]), default="md",
              show_default=True, help="Markdown, or a Word document to edit.")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The file to write.")
def draft(consultation_id: str, fmt: str, output: Path) -> None:
    """Write a draft response built from what people said, ready to edit and submit.

    Every number under WITHUS_MIN_CELL is suppressed, and only quotes a reviewer chose from
    people who agreed to be quoted are used.
    """
    from bot.services.consultation import compute_results, to_docx, to_markdown
    from bot.services.consultation import draft as build_draft

    with _opened(consultation_id) as (runtime, found), runtime.sessions() as session:
        results = compute_results(session, found, runtime.settings.min_cell)
        blocks = build_draft(results, runtime.clock())
    if fmt == "docx":
        output.write_bytes(to_docx(blocks))
    else:
        output.write_text(to_markdown(blocks), encoding="utf-8")
    click.echo(f"wrote {output}")


@consultation.command("export")
@click.argument("consultation_id")
@click.option("--output-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for statements.csv, votes.csv and participants-votes.csv.")
@click.option("--all-statements", is_flag=True,
              help="Include pending and rejected statements and their votes (the status "
                   "column says which). By default only approved statements are exported.")
def export(consultation_id: str, output_dir: Path, all_statements: bool) -> None:
    """Export the votes and statements as CSV, in the shapes Pol.is uses.

    People appear only by pseudonym. These are raw, unsuppressed counts: keep them with
    the same care as any export of answers. Text that a spreadsheet would run as a
    formula is written with an apostrophe in front.
    """
    from bot.services.consultation import Included, export_all
    from storage.repositories.dashboard import DashboardRepository

    include: Included = "all" if all_statements else "approved"
    with _opened(consultation_id) as (runtime, found), runtime.sessions() as session:
        written = export_all(session, found, output_dir, runtime.settings.min_cell, include)
        DashboardRepository(session).audit(None, "consultation.export", found.id,
                                           runtime.clock(), "withus consultation export",
                                           {"statements": include})
        session.commit()
    for path in written:
        click.echo(f"wrote {path}")


# --- moderation ---------------------------------------------------------------------------


@consultation.group()
def moderate() -> None:
    """Approve, edit or reject the statements people proposed, before others see them."""


@moderate.command("list")
@click.argument("consultation_id")
def moderate_list(consultation_id: str) -> None:
    """The statements waiting for a reviewer, oldest first, with possible repeats."""
    from storage.repositories.consultations import ConsultationRepository

    with _opened(consultation_id) as (runtime, found), runtime.sessions() as session:
        queue = ConsultationRepository(session).queue(found.id)
    if not queue:
        click.echo("nothing waiting")
    for item in queue:
        click.echo(f"{item.id}\t{item.question_id}\t{item.text}")
        if item.duplicate_of is not None:
            click.echo(f"\t  close to {item.duplicate_of}: {item.duplicate_text}")


def _decide(statement_id: int, decision: str, text: str | None = None,
            reason: str | None = None) -> None:
    from storage.repositories.consultations import ConsultationRepository

    runtime = _runtime()
    try:
        with runtime.sessions() as session:
            repo = ConsultationRepository(session)
            try:
                statement = repo.moderate(statement_id, decision, None, runtime.clock(), text,
                                          reason)
            except KeyError:
                click.echo(f"error: there is no statement {statement_id}", err=True)
                sys.exit(EXIT_BAD_INPUT)
            session.commit()
            click.echo(f"{statement.status}: {statement.id}\t{statement.text}")
    finally:
        runtime.close()


@moderate.command("approve")
@click.argument("statement_id", type=int)
def moderate_approve(statement_id: int) -> None:
    """Approve a statement as it is: others can now vote on it."""
    _decide(statement_id, "approve")


@moderate.command("edit")
@click.argument("statement_id", type=int)
@click.argument("text")
def moderate_edit(statement_id: int, text: str) -> None:
    """Approve a statement with new wording (e.g. to remove something identifying)."""
    if not text.strip():
        click.echo("error: give the new wording", err=True)
        sys.exit(EXIT_BAD_INPUT)
    _decide(statement_id, "edit", text)


@moderate.command("reject")
@click.argument("statement_id", type=int)
@click.option("--reason", default="", help="Why (kept in the audit log).")
def moderate_reject(statement_id: int, reason: str) -> None:
    """Reject a statement: nobody will be shown it."""
    _decide(statement_id, "reject", reason=reason or None)


# --- quotes --------------------------------------------------------------------------------


@consultation.group()
def quotes() -> None:
    """Choose which views, in people's own words, the draft response quotes."""


@quotes.command("list")
@click.argument("consultation_id")
def quotes_list(consultation_id: str) -> None:
    """Views from people who agreed to be quoted: answer id, question, chosen or not."""
    from storage.repositories.consultations import ConsultationRepository

    with _opened(consultation_id) as (runtime, found), runtime.sessions() as session:
        views = [v for v in ConsultationRepository(session).views(found.id) if v.quote_ok]
    if not views:
        click.echo("no views from people who agreed to be quoted yet")
    for view in views:
        click.echo(f"{view.answer_id}\t{view.question_id}\t"
                   f"{'chosen' if view.quote_chosen else '-'}\t{view.text}")


def _choose(consultation_id: str, answer_id: int, chosen: bool) -> None:
    from storage.repositories.consultations import ConsultationRepository

    with _opened(consultation_id) as (runtime, found), runtime.sessions() as session:
        done = ConsultationRepository(session).choose_quote(found.id, answer_id, chosen, None,
                                                            runtime.clock())
        if not done:
            click.echo(f"error: answer {answer_id} is not a view in '{found.id}'", err=True)
            sys.exit(EXIT_BAD_INPUT)
        session.commit()
    click.echo(f"{'chosen' if chosen else 'withdrawn'}: {answer_id}")


@quotes.command("choose")
@click.argument("consultation_id")
@click.argument("answer_id", type=int)
def quotes_choose(consultation_id: str, answer_id: int) -> None:
    """Use a view as a quote in the draft (only ever if its author agreed to be quoted)."""
    _choose(consultation_id, answer_id, True)


@quotes.command("withdraw")
@click.argument("consultation_id")
@click.argument("answer_id", type=int)
def quotes_withdraw(consultation_id: str, answer_id: int) -> None:
    """Stop using a view as a quote."""
    _choose(consultation_id, answer_id, False)


#: Register with: for command in COMMANDS: main.add_command(command)
COMMANDS: list[click.Command] = [consultation]
