"""One reader for the tables users give: CSV, TSV or JSONL, optionally ``.gz``/``.bz2`` compressed.

Every data family reads its files here, so they agree on:

* format: from the suffix under an optional ``.gz``/``.bz2`` (``.csv``; ``.tsv``, ``.tab``;
  ``.jsonl``, ``.ndjson``, ``.json`` with one object per line), or given explicitly;
* rows: the first non-blank line is the header (JSONL: the fields, in order of first appearance);
  blank lines are skipped; cells are stripped; a UTF-8 byte-order mark is dropped; each row keeps
  its 1-based file line (where it ends, should a quoted cell span lines); a row with more or fewer
  cells than the header is refused, unless the caller judges each row itself (``strict_width=False``);
* missing cells: ``MISSING_CELLS`` in any case (empty, ``NA``, ``N/A``, ``NaN``, ``null``, ``None``,
  ``?``), a JSON ``null`` or an absent JSONL field;
* the policy for missing numbers, ``data.missing``: ``interpolate`` (linear in the row index between
  the nearest observed values; leading/trailing gaps take the nearest observed value), ``drop``
  (the rows with a missing value) or ``error``;
* one error format, ``<file>, line 7, column 'value': 'abc' is not a number`` (``TableError``).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqexp.data.errors import DataError

FORMATS = ("auto", "csv", "tsv", "jsonl")
SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
DELIMITERS = {"csv": ",", "tsv": "\t"}
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open}
MISSING_CELLS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})  # compared lower-cased
MISSING_POLICIES = ("interpolate", "drop", "error")


class TableError(DataError):
    """A file's content or structure is wrong; the message names the file, and the line and column if known."""


def location(source: str | Path, line: int | None = None, column: str | None = None) -> str:
    """``<file>, line 7, column 'value'``: where a problem is, as every message of the data modules says it."""
    return ", ".join([str(source)] + ([f"line {line}"] if line is not None else [])
                     + ([f"column {column!r}"] if column is not None else []))


def is_missing(cell: str | None) -> bool:
    """Whether a cell holds no value: ``None`` (no such field) or one of ``MISSING_CELLS``, in any case."""
    return cell is None or cell.strip().lower() in MISSING_CELLS


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line of the file where the row ends (the header line counts)
    cells: tuple[str | None, ...]  # stripped, one per header column; None: the row lacks that field


@dataclass(frozen=True)
class Table:
    source: Path
    format: str  # csv | tsv | jsonl
    header: tuple[str, ...]
    rows: list[Row]  # at least one

    @property
    def lines(self) -> list[int]:
        return [row.line for row in self.rows]

    def column(self, name: str) -> list[str | None]:
        position = self.header.index(name)
        return [row.cells[position] for row in self.rows]


def check_missing_policy(missing: str) -> None:
    if missing not in MISSING_POLICIES:
        raise DataError(f"data.missing={missing!r}: must be one of {MISSING_POLICIES}")


def resolve_format(path: Path, format: str = "auto", default: str | None = None) -> str:
    """``format``, or with ``auto`` the one the suffix names (under ``.gz``/``.bz2``); ``default``
    for another suffix (None: refuse the file, asking for ``data.format``)."""
    if format not in FORMATS:
        raise DataError(f"data.format={format!r}: must be one of {FORMATS}")
    if format != "auto":
        return format
    name = Path(path.stem) if path.suffix.lower() in COMPRESSED else path
    suffix = name.suffix.lower()
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    if default is not None:
        return default
    raise TableError(f"{path}: cannot tell the format from {suffix!r}; set data.format to csv, tsv or jsonl")


def read_table(path: str | Path, format: str = "auto", *, default_format: str | None = None, encoding: str = "utf-8",
               strict_width: bool = True, key: str | None = "data.path", encoding_key: str | None = None) -> Table:
    """Read a whole table (see the module docstring); refuse a missing, empty or header-only file.

    ``key`` is the setting that names the file and ``encoding_key`` the one that sets ``encoding``,
    for the messages; ``default_format`` is the format of a file whose suffix names none.
    """
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{key}={path}: no such file" if key else f"{path}: no such file")
    kind = resolve_format(path, format, default_format)
    lines = _text_lines(path, encoding, encoding_key)
    header, rows = _json_rows(path, lines) if kind == "jsonl" else _delimited_rows(path, lines, DELIMITERS[kind], strict_width)
    if header is None:
        expected = "one JSON object per line" if kind == "jsonl" else "a header line with column names"
        raise TableError(f"{path}: empty file, expected {expected}")
    if not rows:
        raise TableError(f"{path}: no data rows after the header")
    return Table(path, kind, header, rows)


def _text_lines(path: Path, encoding: str, encoding_key: str | None) -> Iterator[str]:
    """The file's lines, decompressed and decoded, newlines kept (as ``csv`` wants them); no byte-order mark."""
    opener = COMPRESSED.get(path.suffix.lower(), open)
    try:
        with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding=encoding, newline="") as text:  # type: ignore[operator]
            for number, line in enumerate(text):
                yield line.removeprefix("\ufeff") if number == 0 else line
    except UnicodeDecodeError:
        raise _decode_error(path, opener, encoding, encoding_key) from None
    except (OSError, EOFError) as error:  # a damaged or mislabelled .gz/.bz2
        raise TableError(f"{path}: cannot be read ({error})") from None


def _decode_error(path: Path, opener, encoding: str, encoding_key: str | None) -> TableError:  # type: ignore[no-untyped-def]
    """The line and byte where decoding fails (the whole file is read again, on this error path only)."""
    with opener(path, "rb") as raw:
        data = raw.read()
    try:
        data.decode(encoding)
        return TableError(f"{path}: not valid {encoding}")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        hint = f" or set {encoding_key} to the file's encoding (e.g. latin-1)" if encoding_key else ""
        return TableError(f"{location(path, line)}: not valid {encoding} (byte {data[error.start]:#04x}); "
                          f"re-save the file as UTF-8{hint}")


def _delimited_rows(path: Path, lines: Iterator[str], delimiter: str,
                    strict_width: bool) -> tuple[tuple[str, ...] | None, list[Row]]:
    reader = csv.reader(lines, delimiter=delimiter)
    header: tuple[str, ...] | None = None
    rows = []
    try:
        for cells in reader:
            if not any(cell.strip() for cell in cells):
                continue
            stripped: list[str | None] = [cell.strip() for cell in cells]
            if header is None:
                header = tuple(stripped)  # type: ignore[arg-type]
                continue
            if len(stripped) != len(header):
                if strict_width:
                    raise TableError(f"{location(path, reader.line_num)}: {len(stripped)} fields, the header has {len(header)}")
                stripped = (stripped + [None] * len(header))[: len(header)]
            rows.append(Row(reader.line_num, tuple(stripped)))
    except csv.Error as error:
        raise TableError(f"{location(path, reader.line_num)}: {error}") from None
    return header, rows


def _json_rows(path: Path, lines: Iterator[str]) -> tuple[tuple[str, ...] | None, list[Row]]:
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise TableError(f"{location(path, number)}: not a JSON object ({error.msg})") from None
        if not isinstance(record, dict):
            raise TableError(f"{location(path, number)}: not a JSON object")
        records.append((number, record))
    if not records:
        return None, []
    header = tuple(dict.fromkeys(field for _, record in records for field in record))
    return header, [Row(number, tuple(_json_cell(record.get(field)) for field in header)) for number, record in records]


def _json_cell(value: object) -> str | None:
    if value is None:
        return None
    return value.strip() if isinstance(value, str) else str(value)


def parse_number(cell: str | None, source: str | Path, line: int, column: str) -> float:
    """A cell as a float, NaN when missing; anything else (text, infinity) is refused naming the cell."""
    if is_missing(cell):
        return math.nan
    try:
        number = float(cell)  # type: ignore[arg-type]
    except ValueError:
        raise TableError(f"{location(source, line, column)}: {cell!r} is not a number") from None
    if math.isinf(number):
        raise TableError(f"{location(source, line, column)}: {cell!r} is not a finite number")
    return number


def numeric_columns(table: Table, names: Sequence[str]) -> np.ndarray:
    """The named columns as float64 ``(rows, len(names))``, NaN where a cell is missing."""
    positions = [table.header.index(name) for name in names]
    return np.array(
        [[parse_number(row.cells[position], table.source, row.line, name) for name, position in zip(names, positions)]
         for row in table.rows],
        dtype=np.float64,
    ).reshape(len(table.rows), len(names))


def apply_missing(values: np.ndarray, missing: str, source: str | Path, lines: Sequence[int],
                  columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``values`` ``(rows, columns)`` (NaN = missing) under the ``missing`` policy: the values without NaN
    and the indices of the rows kept (every row unless ``drop``). ``lines`` and ``columns`` name the cells."""
    check_missing_policy(missing)
    gaps = np.isnan(values)
    steps = np.arange(len(values))
    if not gaps.any():
        return values, steps
    if missing == "error":
        row, column = np.argwhere(gaps)[0]
        raise TableError(f"{location(source, lines[row], columns[column])}: missing value (data.missing=error); "
                         "set data.missing=interpolate or data.missing=drop")
    if missing == "drop":
        kept = ~gaps.any(axis=1)
        if not kept.any():
            raise TableError(f"{source}: every row has a missing value, nothing left after data.missing=drop")
        return values[kept], steps[kept]
    filled = values.copy()
    for column, name in enumerate(columns):
        observed = ~gaps[:, column]
        if not observed.any():
            raise TableError(f"{location(source, column=name)}: every value is missing")
        # np.interp holds the first/last observed value beyond the ends: edges take the nearest value.
        filled[~observed, column] = np.interp(steps[~observed], steps[observed], values[observed, column])
    return filled, steps
