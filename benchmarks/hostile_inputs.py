"""Hostile files against the bounded imports: how long each refusal takes, and how much memory.

Builds the files from issue 18's attack run and hands each to the real command in a
child process, sampling its resident memory (with its children's) every 10 ms:

* an XLSForm zip bomb: 1.5 MB on disk, a 1.5 GB sheet once unpacked
  (`withus surveys import-xlsform`);
* an XLSForm whose survey sheet has a million rows (`withus surveys import-xlsform`), and
  for comparison the largest one allowed, 5,000 rows of different notes (it is parsed,
  then refused because a chat cannot ask only notes);
* a survey YAML file nested 5,000 deep (`withus surveys lint`);
* a contacts CSV with a 1 MB field, and one of 300,000 lines
  (`withus contacts import`).

A child that passes `--limit-mb` or `--timeout` is killed and reported as such, so the
script is safe to run against code without the bounds. tests/test_bounds.py runs the
same files through the same `measure` and checks the exit status, the message, and that
each refusal stays within a few seconds and 200 MB.

    .venv/bin/python benchmarks/hostile_inputs.py
    .venv/bin/python benchmarks/hostile_inputs.py --json figures.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
WITHUS = Path(sys.executable).with_name("withus")
COMMAND = [str(WITHUS)] if WITHUS.exists() else [sys.executable, "-m", "bot.cli"]
SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


@dataclass
class Measured:
    name: str
    exit_code: int | None  # None: killed
    seconds: float
    peak_mb: float
    killed: str  # why it was killed, or ""
    stderr: str


def measure(name: str, argv: Sequence[str], *, env: dict[str, str] | None = None,
            limit_mb: float = 1024, timeout: float = 120, stdin: str = "") -> Measured:
    """Run `argv`, sampling the resident memory of it and its children every 10 ms."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        child = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                 stderr=err, env=env, cwd=ROOT)
        assert child.stdin is not None
        child.stdin.write(stdin.encode())
        child.stdin.close()
        process = psutil.Process(child.pid)
        peak, killed = 0, ""
        while child.poll() is None:
            try:
                rss = process.memory_info().rss + sum(
                    c.memory_info().rss for c in process.children(recursive=True))
            except psutil.Error:
                rss = 0
            peak = max(peak, rss)
            if peak > limit_mb * 1024 * 1024:
                killed = f"over {limit_mb:.0f} MB"
            elif time.perf_counter() - start > timeout:
                killed = f"over {timeout:.0f} s"
            if killed:
                child.kill()
                child.wait()
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - start
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return Measured(name, None if killed else child.returncode, seconds, peak / 1024 / 1024,
                    killed, stderr[-2000:])


# --- the files ---------------------------------------------------------------------------


def _cell(column: str, row: int, text: str) -> str:
    return f'<c r="{column}{row}" t="inlineStr"><is><t>{text}</t></is></c>'


def _workbook_parts() -> dict[str, bytes]:
    """Every part of a one-sheet workbook named "survey" except the sheet itself."""
    from openpyxl import Workbook  # a test and benchmark helper, not a product export

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "survey"
    sheet.append(["type", "name", "label"])
    buffer = io.BytesIO()
    book.save(buffer)
    with zipfile.ZipFile(buffer) as archive:
        return {name: archive.read(name) for name in archive.namelist()
                if name != "xl/worksheets/sheet1.xml"}


def _raw_deflate(data: bytes, final: bool = True) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(
        zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


def _write_zip(path: Path, parts: list[tuple[str, bytes, int, int]]) -> None:
    """A zip written by hand, so a part can be a pre-built deflate stream: each part is
    (name, raw deflate bytes, CRC-32, unpacked size)."""
    central = b""
    with path.open("wb") as out:
        for name, data, crc, size in parts:
            offset = out.tell()
            encoded = name.encode()
            out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0x21, crc,
                                  len(data), size, len(encoded), 0) + encoded)
            out.write(data)
            central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0x21,
                                   crc, len(data), size, len(encoded), 0, 0, 0, 0, 0,
                                   offset) + encoded
        start = out.tell()
        out.write(central)
        out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(parts), len(parts),
                              len(central), start, 0))


def zip_bomb(path: Path, unpacked_mb: int = 1536) -> Path:
    """An XLSForm whose survey sheet holds one note `unpacked_mb` megabytes long.

    The repeated megabyte is deflated once (with a full flush, so it stands alone) and
    its bytes repeated: building 1.5 GB takes a second, not the minute deflating would.
    """
    parts: list[tuple[str, bytes, int, int]] = []
    for name, data in _workbook_parts().items():
        parts.append((name, _raw_deflate(data), zlib.crc32(data), len(data)))
    head = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<worksheet xmlns="{SHEET_NS}"><sheetData>'
            f'<row r="1">{_cell("A", 1, "type")}{_cell("B", 1, "name")}'
            f'{_cell("C", 1, "label")}</row>'
            f'<row r="2">{_cell("A", 2, "note")}{_cell("B", 2, "hello")}'
            f'<c r="C2" t="inlineStr"><is><t>').encode()
    tail = b"</t></is></c></row></sheetData></worksheet>"
    megabyte = b"A" * (1 << 20)
    block = _raw_deflate(megabyte, final=False)
    crc = zlib.crc32(head)
    for _ in range(unpacked_mb):
        crc = zlib.crc32(megabyte, crc)
    crc = zlib.crc32(tail, crc)
    stream = _raw_deflate(head, final=False) + block * unpacked_mb + _raw_deflate(tail)
    parts.append(("xl/worksheets/sheet1.xml", stream, crc,
                  len(head) + len(megabyte) * unpacked_mb + len(tail)))
    _write_zip(path, parts)
    return path


def sheet_of_rows(path: Path, rows: int, row: Callable[[int], str]) -> Path:
    """An XLSForm whose survey sheet is a header and then `row(n)` for n in 2..rows+1."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in _workbook_parts().items():
            archive.writestr(name, data)
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                        f'<worksheet xmlns="{SHEET_NS}"><sheetData>'
                        f'<row r="1">{_cell("A", 1, "type")}{_cell("B", 1, "name")}'
                        f'{_cell("C", 1, "label")}</row>'.encode())
            for start in range(2, rows + 2, 10_000):
                sheet.write("".join(row(n) for n in range(start, min(start + 10_000,
                                                                     rows + 2))).encode())
            sheet.write(b"</sheetData></worksheet>")
    return path


def million_rows(path: Path, rows: int = 1_000_000) -> Path:
    """An XLSForm of `rows` identical note rows: a few hundred kilobytes on disk."""
    note = '<row><c t="inlineStr"><is><t>note</t></is></c></row>'
    return sheet_of_rows(path, rows, lambda _n: note)


def questions(path: Path, rows: int) -> Path:
    """An honest-looking XLSForm of `rows` different note questions."""
    return sheet_of_rows(path, rows, lambda n: f'<row r="{n}">{_cell("A", n, "note")}'
                                               f'{_cell("B", n, f"note_{n}")}'
                                               f'{_cell("C", n, f"Note number {n}")}</row>')


def deep_yaml(path: Path, depth: int = 5000) -> Path:
    """A survey file whose intro is a list nested `depth` deep."""
    path.write_text("id: deep\nversion: 1\ntitle: Deep\nintro: " + "[" * depth + "]" * depth
                    + "\n", encoding="utf-8")
    return path


def wide_csv(path: Path, field_kb: int = 1024) -> Path:
    """A contacts CSV with one field of `field_kb` kilobytes."""
    path.write_text("phone,name\n+447700900123," + "x" * (field_kb * 1024) + "\n",
                    encoding="utf-8")
    return path


def long_csv(path: Path, lines: int = 200_000) -> Path:
    """A contacts CSV of `lines` numbers."""
    with path.open("w", encoding="utf-8") as out:
        out.write("phone\n")
        for n in range(lines):
            out.write(f"+4477009{n % 100000:05d}\n")
    return path


# --- running them ------------------------------------------------------------------------


def environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WITHUS_")}
    env.update(WITHUS_DATABASE_URL=f"sqlite:///{folder / 'withus.db'}",
               WITHUS_INSTANCE_PATH=str(folder / "instance"), WITHUS_LOG_FORMAT="text")
    return env


def cases(folder: Path) -> list[tuple[str, Path, list[str]]]:
    """(name, file, argv) for each hostile file, built in `folder`."""
    bomb, rows = zip_bomb(folder / "bomb.xlsx"), million_rows(folder / "rows.xlsx")
    deep, wide = deep_yaml(folder / "deep.yaml"), wide_csv(folder / "wide.csv")
    long = long_csv(folder / "long.csv", 300_000)
    largest = questions(folder / "largest.xlsx", 4_999)
    contacts = ["contacts", "import", "--channel", "sms", "--cohort", "hostile"]
    return [
        ("XLSForm zip bomb (1.5 GB unpacked)", bomb,
         [*COMMAND, "surveys", "import-xlsform", str(bomb)]),
        ("XLSForm with 1,000,000 rows", rows, [*COMMAND, "surveys", "import-xlsform", str(rows)]),
        ("XLSForm of 5,000 rows (the most allowed)", largest,
         [*COMMAND, "surveys", "import-xlsform", str(largest)]),
        ("survey YAML nested 5,000 deep", deep, [*COMMAND, "surveys", "lint", str(deep)]),
        ("contacts CSV with a 1 MB field", wide, [*COMMAND, *contacts, str(wide)]),
        ("contacts CSV of 300,000 lines", long, [*COMMAND, *contacts, str(long)]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--limit-mb", type=float, default=1024)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        env = environment(folder)
        for label, file, argv in cases(folder):
            size = file.stat().st_size
            result = measure(label, argv, env=env, limit_mb=args.limit_mb,
                             timeout=args.timeout)
            results.append(result)
            last = result.stderr.strip().splitlines()[-1:] or [""]
            print(f"{label:42} {size / 1024:>9,.0f} KB  exit {result.exit_code}  "
                  f"{result.seconds:6.2f} s  {result.peak_mb:6.0f} MB  "
                  f"{result.killed or last[0][:90]}")
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))


if __name__ == "__main__":
    main()
