"""`withus surveys`: load, list, open, close, archive, lint and import survey files.

`lint` and `import-xlsform` touch neither the database nor the network, so both work on a
laptop before anything is set up, and organisers can run `lint` in CI on their own files.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from bot.cli.common import EXIT_BAD_INPUT
from bot.cli.common import runtime as build_runtime

EXIT_ERRORS = 1


@click.group()
def surveys() -> None:
    """Load, list, open, close and check survey files."""


@surveys.command("load")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
def surveys_load(path: Path) -> None:
    """Validate and store one survey file, or every .yaml file in a folder.

    Every file is checked before any is stored: a bad file loads nothing.
    """
    from bot.services.surveys import store
    from storage.repositories import SurveyVersionConflict
    from storage.uow import UnitOfWork
    from surveys.loader import SurveyError, load_file, load_folder

    try:
        loaded = load_folder(path) if path.is_dir() else [load_file(path)]
    except SurveyError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    if not loaded:
        click.echo(f"error: no .yaml survey files in {path}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    runtime = build_runtime()
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            results = []
            for survey in loaded:
                source = Path(survey.source_path).read_text(encoding="utf-8")
                new = store(uow.session, survey, source, runtime.clock())
                results.append((survey, new))
            uow.commit()
    except (SurveyVersionConflict, SurveyError) as exc:  # SurveyError: a keyword clash
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        runtime.close()
    for survey, new in results:
        state = "loaded" if new else "unchanged"
        click.echo(f"{state}: {survey.id} v{survey.version} ({survey.title.get()})")


@surveys.command("list")
def surveys_list() -> None:
    """One line per survey: id, title, version, responses started and completed, status
    (open, scheduled, closed or archived) and the keywords that start it, per language.

    The figures follow the dashboard's small-number rule (WITHUS_MIN_CELL), computed by
    the same code, so the two never disagree: below that many, "fewer than N".
    """
    from bot.dashboard.results import survey_rows
    from bot.services.surveys import listing
    from storage.repositories.dashboard import DashboardRepository
    from storage.uow import UnitOfWork
    from surveys.keywords import shown_keywords
    from surveys.model import Survey
    from surveys.suppression import Suppressor

    runtime = build_runtime()
    suppress = Suppressor(runtime.settings.min_cell)
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            rows = listing(uow.session, runtime.clock())
            surveys = [row.item for row in rows if isinstance(row.item, Survey)]
            figures = {found.survey.id: found.funnel for found in survey_rows(
                DashboardRepository(uow.session), surveys, suppress, runtime.clock())}
            completed = uow.responses.counts_by_survey()
    finally:
        runtime.close()
    if not rows:
        click.echo("no surveys loaded (try: withus surveys load surveys/library)")
        return
    for row in rows:
        item = row.item
        found = figures.get(item.id)
        if found is not None:
            counts = f"{found.started} started, {found.completed} completed"
        else:  # a consultation: the same rule for its one figure
            counts = f"{suppress.group({'n': completed.get(item.id, 0)}).total} completed"
        click.echo(f"{item.id}\t{item.title.get()}\tv{item.version}\t{counts}\t"
                   f"{_status_text(row)}\t{shown_keywords(item) or '-'}")


@surveys.command("crosstab")
@click.argument("survey_id")
@click.argument("rows")
@click.argument("columns")
@click.option("--include-test", is_flag=True, help="Count sandbox test responses too.")
def surveys_crosstab(survey_id: str, rows: str, columns: str, include_test: bool) -> None:
    """The answers to question COLUMNS by the answer to question ROWS, tab-separated.

    The same table as the dashboard's "Compare two questions", by the same code and the
    same small-number rules (WITHUS_MIN_CELL): small cells read "fewer than N", cells
    hidden so that they cannot be worked out read "hidden". An unknown survey or a
    question that cannot be used exits 2.
    """
    from bot.dashboard.crosstab import crosstab
    from bot.dashboard.results import SINGLE_ANSWER
    from storage.repositories.dashboard import DashboardRepository, ResponseFilter
    from surveys.model import CHOICE_TYPES
    from surveys.suppression import Suppressor

    runtime = build_runtime()
    try:
        survey = runtime.catalog.get().surveys.get(survey_id)
        if survey is None:
            click.echo(f"error: no survey {survey_id!r}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        by, shown = survey.question(rows), survey.question(columns)
        if by is None or by.type not in SINGLE_ANSWER:
            click.echo(f"error: ROWS must be a single choice, scale or yes/no question of "
                       f"{survey_id}, not {rows!r}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        if shown is None or shown.type not in CHOICE_TYPES or shown is by:
            click.echo(f"error: COLUMNS must be another choice, scale or yes/no question of "
                       f"{survey_id}, not {columns!r}", err=True)
            sys.exit(EXIT_BAD_INPUT)
        with runtime.sessions() as session:
            repo = DashboardRepository(session)
            tests = repo.test_responses(survey_id)
            where = ResponseFilter(without_test=bool(tests) and not include_test)
            table = crosstab(repo, survey, Suppressor(runtime.settings.min_cell), by, shown,
                             where)
    finally:
        runtime.close()
    click.echo("\t".join([by.text.get(), *table.columns, "Answered"]))
    for row in [*table.rows, table.everyone]:
        total = f"{row.total} with skips" if row.with_skips and not row.total.hidden \
            else str(row.total)
        click.echo("\t".join([row.label, *(str(cell) for cell in row.cells), total]))


def _status_text(row: Any) -> str:
    """"open", "open until 1 March 2027 09:00 UTC", "scheduled from ...", "closed"."""
    if row.status == "open" and row.closes_at is not None:
        return f"open until {_moment(row.closes_at)}"
    if row.status == "scheduled" and row.opens_at is not None:
        return f"scheduled from {_moment(row.opens_at)}"
    return str(row.status)


def _moment(when: datetime) -> str:
    return f"{when:%-d %B %Y %H:%M} UTC"


def _change(survey_id: str, action: str) -> None:
    from bot.services.surveys import NoSuchSurvey, StatusError, change_status
    from storage.uow import UnitOfWork

    runtime = build_runtime()
    try:
        with UnitOfWork(runtime.sessions, runtime.vault) as uow:
            status = change_status(uow.session, survey_id, action,  # type: ignore[arg-type]
                                   runtime.clock())
            uow.commit()
    except (NoSuchSurvey, StatusError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        click.echo(f"error: {message}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    finally:
        runtime.close()
    said = {"open": "open: participants can choose it from the menu",
            "scheduled": "scheduled: it opens on its opening date",
            "closed": "closed: it has left the participants' menu; its results stay",
            "archived": "archived: it has left the menu and the dashboard's list; its "
                        "results stay"}
    click.echo(f"{survey_id} is now {said[status]}")


@surveys.command("open")
@click.argument("survey_id", metavar="ID")
def surveys_open(survey_id: str) -> None:
    """Open survey ID now: a closing date that has passed, an opening date still to come
    and archiving are cleared, so it is in the participants' menu."""
    _change(survey_id, "open")


@surveys.command("close")
@click.argument("survey_id", metavar="ID")
def surveys_close(survey_id: str) -> None:
    """Close survey ID now: it leaves the participants' menu, and people part-way through
    are told it has closed. Its results stay; `withus surveys open ID` opens it again."""
    _change(survey_id, "close")


@surveys.command("archive")
@click.argument("survey_id", metavar="ID")
def surveys_archive(survey_id: str) -> None:
    """Close survey ID and archive it: it leaves the menu and the dashboard's list of
    surveys (its results stay, under "Archived"). `withus surveys open ID` brings it back."""
    _change(survey_id, "archive")


def _survey_files(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
        else:
            files.append(path)
    return files


@surveys.command("lint")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per prompt and channel, instead of the table.")
@click.option("--max-segments", default=2, show_default=True, type=click.IntRange(1, 10),
              help="Most SMS segments a prompt may take before it is an error.")
@click.option("--organisation", "org_name", envvar="WITHUS_ORG_NAME", show_envvar=True,
              help="The organisation name said to newcomers (default: an example of "
                   "typical length, \"Cwm Taf Carers\").")
@click.option("--contact", envvar="WITHUS_CONTACT", show_envvar=True,
              help="The contact named at the end of HELP (default: an example of typical "
                   "length, \"call Sam on 01632 960123\").")
@click.option("--signposting", "signposting_file", envvar="WITHUS_SIGNPOSTING_FILE",
              show_envvar=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The deployment's own signposting file: its texts are checked, with the "
                   "same rules, wherever they would replace the built-in signposting.")
def lint(paths: tuple[Path, ...], as_json: bool, max_segments: int, org_name: str | None,
         contact: str | None, signposting_file: Path | None) -> None:
    """Check every message of survey FILEs (or folders) as it will go out on each channel.

    Covers the survey's own texts and WithUs's own messages around them (marked * in the
    table): the first "Hello from ...", the menu of all the FILEs together, HELP at each
    stage with the contact, re-asks for each reason, "Got it: ...", reminders, LATER and
    TIME, STOP and STOPIO, MYDATA, DELETE, the media reply, the notice when a long answer is cut,
    and the safeguarding signposting and pause, in every language the survey offers; for
    a consultation, also each question with its heading, the point to vote on and HELP
    at each phase. With WITHUS_SIGNPOSTING_FILE (or --signposting), its texts are
    checked where they replace the built-in signposting, with the local contact filled
    in (the survey's own, else an example of the longest allowed); a file that cannot be
    used is an error.

    Reports characters, SMS encoding (GSM-7 or UCS-2) and segments, the characters that
    force UCS-2 with a replacement, channel limits (Telegram button data, WhatsApp
    buttons), reading age and long sentences, missing translations and re-asks longer
    than their question; lists each survey's keywords; and, on stderr, a survey with no
    local safeguarding contact (its safeguarding_phone, or WITHUS_SAFEGUARDING_PHONE), a
    language with no keyword, and a keyword that would start two surveys. An SMS over
    --max-segments is an error, and so is a keyword clash. Exits 1 when a limit is
    broken, 2 when a file can't be loaded, and 0 when there are only warnings.
    """
    from bot.services.config import ConfigError
    from bot.services.safeguarding import local_contact_warnings, read_signposting
    from surveys.keywords import keyword_clashes, keyword_warnings, shown_keywords
    from surveys.lint import has_errors, lint_file, report
    from surveys.loader import SurveyError, load_file
    from surveys.organisation import EXAMPLE, Organisation

    files = _survey_files(paths)
    if not files:
        click.echo("error: no .yaml survey files found", err=True)
        sys.exit(EXIT_BAD_INPUT)
    organisation = Organisation((org_name or "").strip() or EXAMPLE.name,
                                EXAMPLE.contact if contact is None else contact.strip())
    broken = False
    signposts = None
    if signposting_file is not None:
        try:
            signposts = read_signposting(str(signposting_file))
        except ConfigError as exc:
            click.echo(f"error: {exc} ({signposting_file})", err=True)
            broken = True
    loaded = {}
    for file in files:
        try:
            loaded[file] = load_file(file)
        except SurveyError as exc:
            click.echo(f"error: {exc}", err=True)
            broken = True
    checks = []
    for file in loaded:
        checks += lint_file(file, max_segments=max_segments, organisation=organisation,
                            others=loaded.values(), signposts=signposts)
    for warning in local_contact_warnings(list(loaded.values())):
        click.echo(f"warning: {warning}", err=True)
    linted = list(loaded.values())
    for warning in keyword_warnings(linted):
        click.echo(f"warning: {warning}", err=True)
    clashes = keyword_clashes(linted)
    for item, other, word in clashes:
        click.echo(f"error: keyword {word} would start both '{other.id}' and '{item.id}'",
                   err=True)
    if as_json:
        click.echo(json.dumps([check.to_json() for check in checks], ensure_ascii=False,
                              indent=2))
    elif checks:
        click.echo(report(checks, organisation), nl=False)
        if any(item.keywords for item in linted):
            click.echo("keywords (texted on their own, they start a survey):")
            for item in linted:
                click.echo(f"  {item.id}: {shown_keywords(item) or '-'}")
    if broken:
        sys.exit(EXIT_BAD_INPUT)
    if has_errors(checks) or clashes:
        sys.exit(EXIT_ERRORS)


@surveys.command("import-xlsform")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the survey here (default: print it).")
@click.option("--force", is_flag=True, help="Overwrite --output if it exists.")
def import_xlsform(file: Path, output: Path | None, force: bool) -> None:
    """Turn an ODK / KoboToolbox XLSForm (.xlsx) into a WithUs survey file.

    Imports select_one, select_multiple, integer, decimal, text and note questions,
    `required`, simple `relevant` skip logic and labels in several languages
    (label::English (en), label::Welsh (cy)). Everything else is listed by sheet and row,
    on stderr and as comments at the top of the file. Exits 2 if nothing can be imported.
    """
    from surveys.xlsform import XLSFormError
    from surveys.xlsform import import_xlsform as run_import

    if output is not None and output.exists() and not force:
        click.echo(f"error: {output} exists (use --force to overwrite it)", err=True)
        sys.exit(EXIT_BAD_INPUT)
    try:
        imported = run_import(file)
    except XLSFormError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    text = imported.to_yaml()
    for problem in imported.problems:
        click.echo(f"not imported: {file.name}: {problem}", err=True)
    survey = imported.survey
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    asked = sum(1 for q in survey.questions if q.is_answerable)
    click.echo(f"wrote {output}: {survey.id} v{survey.version}, {asked} questions in "
               f"{', '.join(survey.languages)}; {len(imported.problems)} thing(s) not imported")


#: Registered on the `withus surveys` group by bot.cli.
COMMANDS: list[click.Command] = [surveys]
