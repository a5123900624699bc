"""One reader for the tables users give: CSV, TSV or JSONL, optionally ``.gz``/``.bz2`` compressed, and
numeric ``.npy`` arrays (memory-mapped). ``read_table`` keeps every cell as text (texts and labels);
``read_columns`` streams the rows and keeps only the columns asked for, numbers as arrays, so a long
series costs its values, not a Python string per cell.

Every data family reads its files here, so they agree on:

* format: from the suffix under an optional ``.gz``/``.bz2`` (``.csv``; ``.tsv``, ``.tab``;
  ``.jsonl``, ``.ndjson``, ``.json`` with one object per line), or given explicitly;
* rows: the first non-blank line is the header (JSONL: the fields, in order of first appearance);
  blank lines are skipped; cells are stripped; a UTF-8 byte-order mark is dropped; each row keeps
  its 1-based file line (where it ends, should a quoted cell span lines); a quote never closed (which
  ``csv`` reads as one cell holding the rest of the file) is refused naming its line; a row with more
  or fewer cells than the header is refused, unless the caller judges each row itself (``strict_width=False``);
  so are bytes not valid in the encoding, naming the first one's line (``mark_undecodable=True``);
  a cell may be as long as memory allows (no 131,072-character limit, as Python's ``csv`` has);
* missing cells: ``MISSING_CELLS`` in any case (empty, ``NA``, ``N/A``, ``NaN``, ``null``, ``None``,
  ``?``), a JSON ``null`` or an absent JSONL field;
* the policy for missing numbers, ``data.missing``: ``interpolate`` (linear in the row index between
  the nearest observed values; leading/trailing gaps take the nearest observed value; one info line per
  file counts the cells filled), ``drop``
  (the rows with a missing value) or ``error``;
* one error format, ``<file>, line 7, column 'value': 'abc' is not a number`` (``TableError``).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import json
import logging
import math
import re
import sys
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seqexp.data.core.errors import DataError

log = logging.getLogger(__name__)

FORMATS = ("auto", "csv", "tsv", "jsonl")
SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
DELIMITERS = {"csv": ",", "tsv": "\t"}
COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open}
# Table formats no reader here reads, refused by name: read as CSV (series and anomaly files' default for an unknown
# suffix), an Excel workbook failed as "not valid utf-8" and a Parquet file as a cell that "is not a number".
UNREAD_FORMATS = {
    ".xlsx": "an Excel workbook",
    ".xls": "an Excel workbook",
    ".ods": "an OpenDocument spreadsheet",
    ".parquet": "a Parquet file",
    ".feather": "a Feather file",
    ".arrow": "an Arrow file",
    ".h5": "an HDF5 file",
    ".hdf5": "an HDF5 file",
    ".pkl": "a pickle",
    ".pickle": "a pickle",
    ".npz": "a NumPy archive",
}
MISSING_CELLS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})  # compared lower-cased
MISSING_POLICIES = ("interpolate", "drop", "error")
LINE_BREAKS = re.compile(r"\r\n|\r|\n")  # where a text file's lines end (as io's newline="" splits them)
UNDECODABLE = re.compile("[\udc80-\udcff]")  # a byte that did not decode, as errors="surrogateescape" keeps it


class TableError(DataError):
    """A file's content or structure is wrong; the message names the file, and the line and column if known."""


class UndecodableError(TableError):
    """A file holds bytes that are not valid in its encoding; the message names the first one's line."""


def location(source: str | Path, line: int | None = None, column: str | None = None) -> str:
    """``<file>, line 7, column 'value'``: where a problem is, as every message of the data modules says it."""
    return ", ".join([str(source)] + ([f"line {line}"] if line is not None else []) + ([f"column {column!r}"] if column is not None else []))


def is_missing(cell: str | None) -> bool:
    """Whether a cell holds no value: ``None`` (no such field) or one of ``MISSING_CELLS``, in any case."""
    return cell is None or cell.strip().lower() in MISSING_CELLS


@dataclass(frozen=True)
class Row:
    line: int  # 1-based line of the file where the row ends (the header line counts)
    cells: tuple[str | None, ...]  # stripped, one per header column; None: the row lacks that field
    extra: tuple[str, ...] = ()  # cells beyond the header's width (strict_width=False only), for the caller to judge
    undecodable: bool = False  # holds bytes not valid in the encoding (mark_undecodable=True only), for the caller to judge


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
    for another suffix (None: refuse the file, asking for ``data.format``); a spreadsheet or binary table
    (``UNREAD_FORMATS``) refused, whatever the default."""
    if format not in FORMATS:
        raise DataError(f"data.format={format!r}: must be one of {FORMATS}")
    if format != "auto":
        return format
    name = Path(path.stem) if path.suffix.lower() in COMPRESSED else path
    suffix = name.suffix.lower()
    if suffix in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[suffix]
    if suffix in UNREAD_FORMATS:
        raise TableError(f"{path}: {UNREAD_FORMATS[suffix]} ({suffix}), which seqexp does not read; save it as CSV, TSV or JSON lines")
    if default is not None:
        return default
    raise TableError(f"{path}: cannot tell the format from {suffix!r}; set data.format to csv, tsv or jsonl")


def read_table(
    path: str | Path,
    format: str = "auto",
    *,
    default_format: str | None = None,
    encoding: str = "utf-8",
    strict_width: bool = True,
    key: str | None = "data.path",
    encoding_key: str | None = None,
    mark_undecodable: bool = False,
) -> Table:
    """Read a whole table (see the module docstring); refuse a missing, empty or header-only file.

    ``key`` is the setting that names the file and ``encoding_key`` the one that sets ``encoding``,
    for the messages; ``default_format`` is the format of a file whose suffix names none.
    Every cell is kept as text: for long numeric series, ``read_columns`` keeps only the numbers.
    ``mark_undecodable``: bytes not valid in ``encoding`` mark their rows ``undecodable`` (kept as lone
    surrogates) instead of stopping the read; only a file holding them is read twice, a header holding
    them is still refused (no row reads without it).
    """
    try:
        path, kind, header, rows = _open_rows(path, format, default_format, encoding, strict_width, key, encoding_key)
        table = Table(path, kind, header, [Row(line, cells[: len(header)], cells[len(header) :]) for line, cells in rows])
    except UndecodableError as error:
        if not mark_undecodable:
            raise
        path, kind, header, rows = _open_rows(path, format, default_format, encoding, strict_width, key, encoding_key, errors="surrogateescape")
        if _is_undecodable(header):
            raise error
        table = Table(path, kind, header, [Row(line, cells[: len(header)], cells[len(header) :], _is_undecodable(cells)) for line, cells in rows])
    if not table.rows:
        raise TableError(f"{path}: no data rows after the header")
    return table


def _is_undecodable(cells: Sequence[str | None]) -> bool:
    """Whether ``cells`` hold a byte that did not decode (read with ``errors="surrogateescape"``)."""
    return any(cell is not None and UNDECODABLE.search(cell) is not None for cell in cells)


def read_header(path: str | Path, *, default_format: str | None = "csv", key: str | None = "data.path") -> tuple[str, ...]:
    """The column names, reading no further than the header (JSONL: every record's fields)."""
    if is_array_file(path):
        return tuple(_array_columns(path, key))
    _, _, header, rows = _open_rows(path, "auto", default_format, "utf-8", True, key, None)
    rows.close()
    return header


def first_rows(path: str | Path, count: int, *, key: str | None = "data.path") -> tuple[tuple[str, ...], list[tuple[str | None, ...]]]:
    """The header and up to ``count`` first data rows, to judge the columns before reading the whole file."""
    _, _, header, rows = _open_rows(path, "auto", "csv", "utf-8", True, key, None)
    first = [cells for _, (_, cells) in zip(range(count), rows)]
    rows.close()
    return header, first


@dataclass(frozen=True)
class Columns:
    """Chosen columns of a table, read row by row without keeping the rows: memory holds the numbers
    (8 bytes a cell) and the text columns asked for, not every cell as a Python string."""

    source: Path
    header: tuple[str, ...]
    numbers: dict[str, np.ndarray]  # each numeric column asked for: (rows,) float64, NaN where a cell is missing (.npy: its dtype)
    lines: Sequence[int]  # (rows,) the file line of each row, for messages (.npy: row numbers from 1)
    text: dict[str, list[str]]  # each text column asked for: its stripped cells ("" when missing)

    def matrix(self, names: Sequence[str]) -> np.ndarray:
        """The named numeric columns as ``(rows, len(names))`` (one column: a view, no copy)."""
        if len(names) == 1:
            return self.numbers[names[0]].reshape(-1, 1)
        return np.stack([self.numbers[name] for name in names], axis=1)


def read_columns(
    path: str | Path, numeric: Sequence[str], text: Sequence[str] = (), *, default_format: str | None = "csv", key: str | None = "data.path"
) -> Columns:
    """The ``numeric`` columns as numbers (see ``parse_number``) and the ``text`` columns as text; the caller
    has checked the names against ``read_header``. Errors as ``read_table``'s. A ``.npy`` file is
    memory-mapped instead of read (see ``_array_columns``)."""
    if is_array_file(path):
        arrays = _array_columns(path, key)
        length = len(next(iter(arrays.values())))
        return Columns(
            Path(path),
            tuple(arrays),
            {name: arrays[name] for name in numeric},
            range(1, length + 1),  # type: ignore[arg-type]
            {name: [str(value) for value in arrays[name].tolist()] for name in text},
        )
    path, _, header, rows = _open_rows(path, "auto", default_format, "utf-8", True, key, None)
    # Each row's file line: while every row follows on the line after the last (no blank line, no cell spanning
    # lines) they are ``range(first, first + rows)`` and nothing is stored; from the first row that does not,
    # an array ("i": 4 bytes a row).
    lines: array[int] | None = None
    first_line, count = 0, 0
    numbers = [(header.index(name), array("d")) for name in numeric]
    texts: dict[str, list[str]] = {name: [] for name in text}
    text_positions = [(header.index(name), cells) for name, cells in texts.items()]
    for line, cells in rows:
        for position, column in numbers:
            cell = cells[position]
            try:
                column.append(float(cell))  # type: ignore[arg-type]
            except (TypeError, ValueError):  # None (an absent JSONL field), a missing token or a bad cell
                column.append(parse_number(cell, path, line, header[position]))
        for position, column in text_positions:
            column.append(cells[position] or "")
        if lines is not None:
            lines.append(line)
        elif count == 0:
            first_line = line
        elif line != first_line + count:
            lines = array("i", range(first_line, first_line + count))
            lines.append(line)
        count += 1
    if not count:
        raise TableError(f"{path}: no data rows after the header")
    line_numbers = range(first_line, first_line + count) if lines is None else np.frombuffer(lines, dtype=np.int32)
    columns = {name: np.frombuffer(column, dtype=np.float64) for name, (_, column) in zip(numeric, numbers)}
    for name, column in columns.items():
        infinite = np.flatnonzero(np.isinf(column))
        if len(infinite):  # float() takes "inf": checked once per column, not per cell
            raise TableError(f"{location(path, int(line_numbers[infinite[0]]), name)}: {str(float(column[infinite[0]]))!r} is not a finite number")
    return Columns(path, header, columns, line_numbers, texts)


def is_array_file(path: str | Path) -> bool:
    return Path(path).suffix.lower() == ".npy"


def _array_columns(path: str | Path, key: str | None) -> dict[str, np.ndarray]:
    """The columns of a ``.npy`` file, memory-mapped (read from disk where they are indexed, so a series
    larger than memory works): a structured array's fields by name (``np.save`` of a record array, e.g.
    fields ``value`` and ``label``), a 2-D array's columns as ``"0"``, ``"1"``, ..., a 1-D array as ``"0"``.
    Its "lines" in messages are row numbers counted from 1."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{key}={path}: no such file" if key else f"{path}: no such file")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise TableError(f"{path}: not a .npy array ({error})") from None
    if array.dtype.names:
        return {name: array[name] for name in array.dtype.names}
    if array.ndim not in (1, 2) or len(array) == 0 or not np.issubdtype(array.dtype, np.number):
        raise TableError(f"{path}: expected a non-empty 1-D or 2-D numeric array (or a structured array), got shape {array.shape} of {array.dtype}")
    return {"0": array} if array.ndim == 1 else {str(column): array[:, column] for column in range(array.shape[1])}


def _open_rows(
    path: str | Path,
    format: str,
    default_format: str | None,
    encoding: str,
    strict_width: bool,
    key: str | None,
    encoding_key: str | None,
    errors: str = "strict",
) -> tuple[Path, str, tuple[str, ...], Iterator[tuple[int, tuple[str | None, ...]]]]:
    """The file's path, format, header and an iterator over its data rows ``(line, cells)``; refuses a
    missing or empty file. ``errors``: how bytes not valid in ``encoding`` decode (``codecs``' handlers)."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"{key}={path}: no such file" if key else f"{path}: no such file")
    kind = resolve_format(path, format, default_format)
    lines = _TextLines(path, encoding, encoding_key, errors)
    header, rows = _json_rows(path, lines) if kind == "jsonl" else _delimited_rows(path, lines, DELIMITERS[kind], strict_width)
    if header is None:
        expected = "one JSON object per line" if kind == "jsonl" else "a header line with column names"
        raise TableError(f"{path}: empty file, expected {expected}")
    return path, kind, header, rows


class _TextLines:
    """The file's lines, decompressed and decoded, newlines kept (as ``csv`` wants them); no byte-order mark.
    ``ended`` once the last was read: a record that ``csv`` returns after that ended inside a quoted cell
    (no other state spans lines), which non-strict ``csv`` keeps silently. Known here, not by wrapping the
    lines, so each line costs no extra Python call."""

    def __init__(self, path: Path, encoding: str, encoding_key: str | None, errors: str = "strict") -> None:
        self.path, self.encoding, self.encoding_key, self.errors = path, encoding, encoding_key, errors
        self.ended = False

    def __iter__(self) -> Iterator[str]:
        path, opener = self.path, COMPRESSED.get(self.path.suffix.lower(), open)
        try:
            with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding=self.encoding, errors=self.errors, newline="") as text:  # type: ignore[operator]
                for number, line in enumerate(text):
                    yield line.removeprefix("\ufeff") if number == 0 else line
        except UnicodeDecodeError:
            raise _decode_error(path, opener, self.encoding, self.encoding_key) from None
        except (OSError, EOFError) as error:  # a damaged or mislabelled .gz/.bz2
            raise TableError(f"{path}: cannot be read ({error})") from None
        self.ended = True


def _decode_error(path: Path, opener, encoding: str, encoding_key: str | None) -> UndecodableError:  # type: ignore[no-untyped-def]
    """The line and byte where decoding fails (the whole file is read again, on this error path only)."""
    with opener(path, "rb") as raw:
        data = raw.read()
    try:
        data.decode(encoding)
        return UndecodableError(f"{path}: not valid {encoding}")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        hint = f" or set {encoding_key} to the file's encoding (e.g. latin-1)" if encoding_key else ""
        return UndecodableError(f"{location(path, line)}: not valid {encoding} (byte {data[error.start]:#04x}); re-save the file as UTF-8{hint}")


def _delimited_rows(
    path: Path, lines: _TextLines, delimiter: str, strict_width: bool
) -> tuple[tuple[str, ...] | None, Iterator[tuple[int, tuple[str | None, ...]]]]:
    """The header and a generator of the data rows after it (read as they are asked for)."""
    lift_field_size_limit()
    reader = csv.reader(lines, delimiter=delimiter)
    rows = _stripped_rows(path, reader, lines)
    header = next(rows, None)
    return (None, iter(())) if header is None else (header[1], _fitted_rows(path, rows, len(header[1]), strict_width))


def lift_field_size_limit() -> None:
    """Let ``csv`` read cells of any length: its default limit (131,072 characters) stops long texts
    such as e-mails, which are ordinary data; the limit is process-wide, so it is only ever raised."""
    limit = sys.maxsize
    while limit > csv.field_size_limit():
        try:
            csv.field_size_limit(limit)
            return
        except OverflowError:  # a C long is 32 bits on some platforms (Windows)
            limit //= 2


def _stripped_rows(path: Path, reader: Any, lines: _TextLines) -> Iterator[tuple[int, tuple[str, ...]]]:
    """Non-blank rows as ``(line, stripped cells)``; a quoting error names its line, and a quote never
    closed is refused (``csv.reader(strict=True)`` would also refuse ``"Great" film``, which reads today)."""
    try:
        for cells in reader:
            if lines.ended:
                raise _unclosed_quote(path, cells[-1], reader.line_num)
            if not cells or (not cells[0].strip() and not any(cell.strip() for cell in cells)):
                continue
            yield reader.line_num, tuple(cell.strip() for cell in cells)
    except csv.Error as error:
        raise TableError(f"{location(path, reader.line_num)}: {error}") from None


def _unclosed_quote(path: Path, cell: str, last_line: int) -> TableError:
    """The error for a quoted ``cell`` that runs to the file's end (line ``last_line``): it would swallow
    every row after it. The cell holds the line breaks of the lines it took, so it names where it opened."""
    breaks = LINE_BREAKS.findall(cell)
    opened = last_line - len(breaks) + (1 if breaks and cell.endswith(breaks[-1]) else 0)
    span = f"lines {opened}-{last_line}" if last_line > opened else f"line {last_line}"
    return TableError(
        f'{location(path, opened)}: a quote opened here is never closed (the rest of the file, {span}, would be one cell); close it or escape it as ""'
    )


def _fitted_rows(path: Path, rows: Iterator[tuple[int, tuple[str, ...]]], width: int, strict_width: bool) -> Iterator[tuple[int, tuple[str | None, ...]]]:
    """Rows as wide as the header: a longer or shorter one is refused, or (``strict_width=False``) padded
    with None; a longer one then keeps its extra cells after the header's width (``read_table`` parts them)."""
    for line, cells in rows:
        if len(cells) != width:
            if strict_width:
                raise TableError(f"{location(path, line)}: {len(cells)} fields, the header has {width}")
            cells = cells + (None,) * (width - len(cells))  # type: ignore[assignment]
        yield line, cells


def _json_rows(path: Path, lines: _TextLines) -> tuple[tuple[str, ...] | None, Iterator[tuple[int, tuple[str | None, ...]]]]:
    """The header (every record's fields, in order of first appearance, so the whole file is read first) and the rows."""
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
        return None, iter(())
    header = tuple(dict.fromkeys(field for _, record in records for field in record))
    return header, ((number, tuple(_json_cell(record.get(field)) for field in header)) for number, record in records)


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


def apply_missing(values: np.ndarray, missing: str, source: str | Path, lines: Sequence[int], columns: Sequence[str]) -> tuple[np.ndarray, np.ndarray | range]:
    """``values`` ``(rows, columns)`` (NaN = missing) under the ``missing`` policy: the values without NaN
    and the indices of the rows kept (every row unless ``drop``; ``range(rows)`` when no value is missing,
    which costs nothing where an index array of a long series costs 8 bytes a row). ``lines`` and
    ``columns`` name the cells."""
    check_missing_policy(missing)
    if not np.isnan(values).any():  # one column at a time would save little: the mask is a byte a cell
        return values, range(len(values))
    gaps = np.isnan(values)
    steps = np.arange(len(values))
    if missing == "error":
        row, column = np.argwhere(gaps)[0]
        raise TableError(
            f"{location(source, lines[row], columns[column])}: missing value (data.missing=error); set data.missing=interpolate or data.missing=drop"
        )
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
    counts = gaps.sum(axis=0)
    total = int(counts.sum())
    log.info(
        "%s: interpolated %d missing cell%s (%s)",
        source,
        total,
        "" if total == 1 else "s",
        ", ".join(f"{name} {count}" for name, count in zip(columns, counts.tolist()) if count),
    )
    return filled, steps
