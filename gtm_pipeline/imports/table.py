"""Reading a list as people export it: any of three delimiters, a BOM or none, UTF-8 or Windows-1252,
quoted fields with commas and newlines, and a preamble above the header (LinkedIn's "Notes:").

The file is streamed: the encoding is settled by one pass of an incremental decoder (no text
kept), the delimiter and the header row from the first lines, then rows are yielded one at a
time with the physical line they start on, so an error can name the line a person sees in an
editor.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

DELIMITERS = (",", ";", "\t")
HEADER_SCAN_LINES = 30
CHUNK = 1 << 20
csv.field_size_limit(10_000_000)  # a notes column can be long; the default 128 KiB refuses it


class TableError(ValueError):
    """A file that cannot be read as a table: the message says why."""


@dataclass(frozen=True)
class TableShape:
    """How the file is written: what the reader settled on before reading rows."""

    encoding: str
    delimiter: str
    header_line: int  # 1-based physical line of the header
    headers: tuple[str, ...]

    def describe(self) -> str:
        names = {",": "comma", ";": "semicolon", "\t": "tab"}
        return f"{self.encoding}, {names[self.delimiter]}-separated, header on line {self.header_line}"


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the whole file decodes as UTF-8 (BOM or not), else ``cp1252``."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as handle:
        try:
            while chunk := handle.read(CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8-sig"


def _open(path: Path, encoding: str) -> io.TextIOWrapper:
    # cp1252 leaves five bytes undefined; "replace" keeps the row (and its line number) readable.
    return path.open(
        "r", encoding=encoding, errors="replace" if encoding == "cp1252" else "strict", newline=""
    )


def detect_shape(path: Path, score: Callable[[list[str]], int]) -> TableShape:
    """Pick the delimiter and header row that ``score`` (how many cells name a known field) likes best."""
    encoding = detect_encoding(path)
    with _open(path, encoding) as handle:
        sample_lines = [line for _, line in zip(range(HEADER_SCAN_LINES), handle, strict=False)]
    if not sample_lines:
        raise TableError("the file is empty")
    best: tuple[int, int, str, list[str]] | None = None  # (score, -line, delimiter, cells)
    sample = "".join(sample_lines)
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
        previous_end = 0
        for cells in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            points = score(cells)
            candidate = (points, -start, delimiter, cells)
            if points >= 2 and (best is None or candidate[:2] > best[:2]):
                best = candidate
    if best is None:
        raise TableError(
            f"no header row in the first {HEADER_SCAN_LINES} lines names two known columns "
            "(domain, website, company, email, name, title …); name them with --map 'Header=field'"
        )
    _points, line, delimiter, cells = best
    return TableShape(encoding, delimiter, -line, tuple(c.strip() for c in cells))


def rows(path: Path, shape: TableShape) -> Iterator[tuple[int, list[str]]]:
    """Every data row after the header, with the physical line it starts on. An empty line is no
    row and is passed over; a row of empty cells (``,,,``, as spreadsheets export) is yielded, so
    the plan reports it as skipped rather than dropping it unseen."""
    with _open(path, shape.encoding) as handle:
        reader = csv.reader(handle, delimiter=shape.delimiter)
        previous_end = 0
        for cells in reader:
            start = previous_end + 1
            previous_end = reader.line_num
            if start <= shape.header_line:
                continue
            if not cells:
                continue
            yield start, cells
