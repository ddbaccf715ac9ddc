"""`withus surveys lint` and `withus surveys import-xlsform`: checking and importing files.

Registered on the `withus surveys` group by bot.cli (`SURVEY_COMMANDS`). Neither command
touches the database or the network, so both work on a laptop before anything is set up,
and organisers can run `lint` in CI on their own survey files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

EXIT_ERRORS = 1
EXIT_BAD_INPUT = 2


def _survey_files(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(path.glob("*.yaml")) + sorted(path.glob("*.yml"))
        else:
            files.append(path)
    return files


@click.command("lint")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True,
              help="One JSON object per prompt and channel, instead of the table.")
@click.option("--max-segments", default=2, show_default=True, type=click.IntRange(1, 10),
              help="Most SMS segments a prompt may take before it is an error.")
def lint(paths: tuple[Path, ...], as_json: bool, max_segments: int) -> None:
    """Check every prompt of survey FILEs (or folders) as it will go out on each channel.

    Reports characters, SMS encoding (GSM-7 or UCS-2) and segments, the characters that
    force UCS-2 with a replacement, channel limits (Telegram button data, WhatsApp
    buttons), reading age and long sentences, missing translations and re-asks longer
    than their question. Exits 1 when a limit is broken, 2 when a file can't be loaded,
    and 0 when there are only warnings.
    """
    from surveys.lint import has_errors, lint_file, report
    from surveys.loader import SurveyError

    files = _survey_files(paths)
    if not files:
        click.echo("error: no .yaml survey files found", err=True)
        sys.exit(EXIT_BAD_INPUT)
    checks = []
    broken = False
    for file in files:
        try:
            checks += lint_file(file, max_segments=max_segments)
        except SurveyError as exc:
            click.echo(f"error: {exc}", err=True)
            broken = True
    if as_json:
        click.echo(json.dumps([check.to_json() for check in checks], ensure_ascii=False,
                              indent=2))
    elif checks:
        click.echo(report(checks), nl=False)
    if broken:
        sys.exit(EXIT_BAD_INPUT)
    if has_errors(checks):
        sys.exit(EXIT_ERRORS)


@click.command("import-xlsform")
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
SURVEY_COMMANDS = [lint, import_xlsform]
