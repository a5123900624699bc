"""The one table reader: formats and compression, missing cells, the missing-value policy, error messages."""

from __future__ import annotations

import bz2
import csv
import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from helpers import compose_train
from seqexp.data.core.errors import DataError
from seqexp.data.core.table import (
    MISSING_CELLS,
    TableError,
    apply_missing,
    is_missing,
    location,
    read_columns,
    read_table,
    resolve_format,
)

CSV = "time,value,label\n1,1.0,0\n2,2.0,1\n3,4.0,0\n"
ROWS = [("1", "1.0", "0"), ("2", "2.0", "1"), ("3", "4.0", "0")]


def write(path: Path, text: str) -> Path:
    data = text.encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else bz2.compress(data) if path.suffix == ".bz2" else data)
    return path


def jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


@pytest.mark.parametrize("name", ["t.csv", "t.csv.gz", "t.csv.bz2", "t.tsv", "t.tab.gz", "t.jsonl", "t.ndjson.bz2", "t.json"])
def test_every_format_and_compression_reads_the_same_rows(name: str, tmp_path: Path) -> None:
    kind = resolve_format(Path(name))
    if kind == "jsonl":
        text = jsonl([{"time": 1, "value": 1.0, "label": 0}, {"time": 2, "value": 2.0, "label": 1}, {"time": 3, "value": 4.0, "label": 0}])
    else:
        text = CSV.replace(",", "\t") if kind == "tsv" else CSV
    table = read_table(write(tmp_path / name, text))
    assert table.format == kind and table.header == ("time", "value", "label")
    assert [row.cells for row in table.rows] == ROWS
    assert table.lines == ([1, 2, 3] if kind == "jsonl" else [2, 3, 4])  # JSONL has no header line


def test_explicit_format_and_default_format(tmp_path: Path) -> None:
    path = write(tmp_path / "series.txt", CSV.replace(",", "\t"))
    assert read_table(path, "tsv").header == ("time", "value", "label")
    assert read_table(write(tmp_path / "series.dat", CSV), default_format="csv").format == "csv"
    with pytest.raises(TableError, match=r"series\.txt: cannot tell the format from '\.txt'; set data\.format"):
        read_table(path)
    with pytest.raises(DataError, match=r"data\.format='xlsx': must be one of"):
        read_table(path, "xlsx")


@pytest.mark.parametrize("name", ["sales.xlsx", "sales.parquet.gz"])
def test_a_spreadsheet_or_binary_table_is_refused_by_name_even_where_unknown_suffixes_read_as_csv(tmp_path: Path, name: str) -> None:
    """Read as CSV (series and anomaly files' default), an Excel workbook failed as "not valid utf-8; re-save the
    file as UTF-8" and a Parquet file as a cell that "is not a number"; text files were told to set data.format."""
    path = tmp_path / name
    path.write_bytes(b"PK\x03\x04\x14\x00\x86binary")
    what = "an Excel workbook [(]\\.xlsx[)]" if name.endswith("xlsx") else "a Parquet file [(]\\.parquet[)]"
    for default in ("csv", None):
        with pytest.raises(TableError, match=rf"{name}: {what}, which seqexp does not read; save it as CSV, TSV or JSON lines"):
            read_table(path, default_format=default)
        with pytest.raises(TableError, match=rf"{name}: {what}"):
            read_columns(path, ["value"], default_format=default)


def test_rows_keep_their_file_lines_past_blank_lines_and_multiline_cells(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", '\ufeff\n time , value \n\n1,"a\nb"\n , \n2,3\n')
    table = read_table(path)
    assert table.header == ("time", "value")  # byte-order mark and spaces gone, leading blank line skipped
    assert [(row.line, row.cells) for row in table.rows] == [(5, ("1", "a\nb")), (7, ("2", "3"))]
    assert table.column("value") == ["a\nb", "3"]


def test_jsonl_fields_in_order_of_first_appearance_absent_or_null_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path / "t.jsonl", '{"a": 1, "b": "x "}\n\n{"c": true, "a": null}\n')
    table = read_table(path)
    assert table.header == ("a", "b", "c")
    assert [(row.line, row.cells) for row in table.rows] == [(1, ("1", "x", None)), (3, (None, None, "True"))]


@pytest.mark.parametrize("cell", sorted(MISSING_CELLS) + ["NA", "N/A", "NaN", "NULL", "None", "?", "  ", " na ", None])
def test_missing_cells_in_any_case(cell: str | None) -> None:
    assert is_missing(cell)


@pytest.mark.parametrize("cell", ["0", "-", "n", "missing", "0.0"])
def test_values_are_not_missing(cell: str) -> None:
    assert not is_missing(cell)


def test_missing_tokens_become_nan_and_each_policy_handles_them(tmp_path: Path) -> None:
    path = write(tmp_path / "gaps.csv", "a,b\n?,10\n2,N/A\nNA,\n4,40\nnan,null\n")
    table = read_columns(path, ["a", "b"])
    values = table.matrix(["a", "b"])
    assert np.isnan(values).tolist() == [[True, False], [False, True], [True, True], [False, False], [True, True]]

    filled, kept = apply_missing(values, "interpolate", table.source, table.lines, ["a", "b"])
    assert filled.tolist() == [[2, 10], [2, 20], [3, 30], [4, 40], [4, 40]]  # edges take the nearest value
    assert kept.tolist() == [0, 1, 2, 3, 4]
    dropped, kept = apply_missing(values, "drop", table.source, table.lines, ["a", "b"])
    assert dropped.tolist() == [[4, 40]] and kept.tolist() == [3]
    with pytest.raises(TableError, match=r"gaps\.csv, line 2, column 'a': missing value \(data\.missing=error\); set data\.missing=interpolate"):
        apply_missing(values, "error", table.source, table.lines, ["a", "b"])
    with pytest.raises(DataError, match=r"data\.missing='fill': must be one of \('interpolate', 'drop', 'error'\)"):
        apply_missing(values, "fill", table.source, table.lines, ["a", "b"])


def test_interpolation_is_linear_in_the_row_index() -> None:
    values = np.array([[1.0], [math.nan], [math.nan], [math.nan], [5.0], [math.nan]])
    filled, _ = apply_missing(values, "interpolate", "f.csv", [2, 3, 4, 5, 6, 7], ["x"])
    assert filled[:, 0].tolist() == [1, 2, 3, 4, 5, 5]


def test_a_column_or_rows_without_any_value_are_refused() -> None:
    values = np.array([[1.0, math.nan], [math.nan, math.nan]])
    with pytest.raises(TableError, match=r"^f\.csv, column 'b': every value is missing$"):
        apply_missing(values, "interpolate", "f.csv", [2, 3], ["a", "b"])
    with pytest.raises(TableError, match=r"^f\.csv: every row has a missing value, nothing left after data\.missing=drop$"):
        apply_missing(values, "drop", "f.csv", [2, 3], ["a", "b"])


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("a,b\n1,2\n3,abc\n", r"bad\.csv, line 3, column 'b': 'abc' is not a number"),
        ("a,b\n1,2\n\n-inf,3\n", r"bad\.csv, line 4, column 'a': '-inf' is not a finite number"),
    ],
)
def test_bad_numbers_name_file_line_and_column(content: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(TableError, match=message):
        read_columns(write(tmp_path / "bad.csv", content), ["a", "b"])


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("short.csv", "a,b,c\n1,2,3\n4,5\n", r"short\.csv, line 3: 2 fields, the header has 3"),
        ("long.tsv", "a\tb\n1\t2\n3\t4\t5\n", r"long\.tsv, line 3: 3 fields, the header has 2"),
        ("empty.csv", "\n  \n", r"empty\.csv: empty file, expected a header line with column names"),
        ("empty.jsonl", "", r"empty\.jsonl: empty file, expected one JSON object per line"),
        ("header.csv.gz", "a,b\n", r"header\.csv\.gz: no data rows after the header"),
        ("broken.jsonl", '{"a": 1}\n{"a": \n', r"broken\.jsonl, line 2: not a JSON object \(Expecting value\)"),
        ("list.jsonl", '{"a": 1}\n[1, 2]\n', r"list\.jsonl, line 2: not a JSON object"),
        ("latin.csv", "a,b\n1,2\ncaf\xe9,3\n", r"latin\.csv, line 3: not valid utf-8 \(byte 0xe9\); re-save the file as UTF-8$"),
    ],
)
def test_structural_errors_name_file_and_line(name: str, content: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / name
    data = content.encode("latin-1")
    path.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    with pytest.raises(TableError, match=message):
        read_table(path)


UNCLOSED = 'text,label\ngood one,pos\n"bad, film,neg\nfine movie,pos\nawful,neg\n'  # the quote on line 3 swallowed lines 3-5


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("q.csv", UNCLOSED, r"q\.csv, line 3: a quote opened here is never closed \(the rest of the file, lines 3-5, would be one cell\); close it or escape"),
        ("q.tsv.gz", UNCLOSED.replace(",", "\t").rstrip("\n"), r"q\.tsv\.gz, line 3: .* never closed \(the rest of the file, lines 3-5,"),
        ("crlf.csv", 'a,b\r\n"x\r\ny",1\r\n2,"open\r\n3,4\r\n', r"crlf\.csv, line 4: .* never closed \(the rest of the file, lines 4-5,"),
        ("last.csv", 'a,b\n1,2\n3,"', r"last\.csv, line 3: a quote opened here is never closed \(the rest of the file, line 3,"),
        ("header.csv", '"a,b\n1,2\n', r"header\.csv, line 1: .* never closed \(the rest of the file, lines 1-2,"),
    ],
)
def test_a_quote_never_closed_names_the_line_it_opened_on(name: str, content: str, message: str, tmp_path: Path) -> None:
    """Non-strict ``csv`` reads such a quote as one cell holding the rest of the file: rows lost, and the error
    (if any) at the file's end. Refused whoever reads: cells as text, numbers, or rows the caller judges."""
    path = write(tmp_path / name, content)
    for read in (read_table, lambda path: read_table(path, strict_width=False), lambda path: read_columns(path, [])):
        with pytest.raises(TableError, match=message):
            read(path)


def test_quoted_cells_spanning_lines_up_to_the_last_line_still_read(tmp_path: Path) -> None:
    path = write(tmp_path / "t.csv", 'a,b\n"x\ny",1\n2,"p ""q""\r\nr\n"')  # the last cell closes on the file's last line
    assert [(row.line, row.cells) for row in read_table(path).rows] == [(3, ("x\ny", "1")), (6, ("2", 'p "q"\r\nr'))]


def test_cells_longer_than_the_csv_field_limit_are_read(tmp_path: Path) -> None:
    path = write(tmp_path / "big.csv", "a,b\n1,2\n3," + "x" * 50 + "\n")
    limit = csv.field_size_limit(20)  # as Python's own 131,072 characters, for a 50-character cell
    try:
        assert read_table(path).rows[1].cells == ("3", "x" * 50)
    finally:
        csv.field_size_limit(limit)


def test_short_rows_are_padded_with_none_and_long_rows_keep_their_extra_cells_when_the_caller_judges_rows(tmp_path: Path) -> None:
    table = read_table(write(tmp_path / "t.csv", "a,b,c\n1,2\n3,4,5,6,7\n"), strict_width=False)
    assert [(row.cells, row.extra) for row in table.rows] == [(("1", "2", None), ()), (("3", "4", "5"), ("6", "7"))]


def test_missing_file_damaged_archive_and_decoding_hint(tmp_path: Path) -> None:
    with pytest.raises(TableError, match=r"^data\.windows_path=\S*nowhere\.csv: no such file$"):
        read_table(tmp_path / "nowhere.csv", key="data.windows_path")
    damaged = tmp_path / "damaged.csv.gz"
    damaged.write_bytes(b"not gzip at all")
    with pytest.raises(TableError, match=r"damaged\.csv\.gz: cannot be read \(Not a gzipped file"):
        read_table(damaged)
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("a\tb\ncaf\xe9\t1\n".encode("latin-1"))
    with pytest.raises(TableError, match=r"line 2: not valid utf-8 \(byte 0xe9\).*or set data\.encoding to the file's encoding"):
        read_table(latin, encoding_key="data.encoding")
    assert read_table(latin, encoding="latin-1").rows[0].cells == ("caf\xe9", "1")


@pytest.mark.parametrize(
    ("name", "content", "marked"),
    [
        ("t.csv", b'a,b\n1,ok\n2,caf\xe9\n3,"two\nlines \xff"\n4,fine\n', [(2, False), (3, True), (5, True), (6, False)]),
        ("t.tsv.gz", b"a\tb\n1\tok\n2\tcaf\xe9\n", [(2, False), (3, True)]),
        ("t.jsonl", b'{"a": "1", "b": "ok"}\n{"a": "2", "b": "caf\xe9"}\n', [(1, False), (2, True)]),
    ],
)
def test_undecodable_bytes_mark_their_rows_when_the_caller_judges_rows(name: str, content: bytes, marked: list[tuple[int, bool]], tmp_path: Path) -> None:
    """With ``mark_undecodable`` the rows holding bytes not valid in the encoding are marked instead of stopping the
    read (the caller skips them); the other rows read as they would from a clean file."""
    path = tmp_path / name
    path.write_bytes(gzip.compress(content) if name.endswith(".gz") else content)
    with pytest.raises(TableError, match=r"not valid utf-8 \(byte 0x(e9|ff)\)"):
        read_table(path)
    table = read_table(path, mark_undecodable=True)
    assert [(row.line, row.undecodable) for row in table.rows] == marked
    assert table.rows[0].cells == ("1", "ok")


def test_undecodable_bytes_in_the_header_are_refused_even_when_rows_are_marked(tmp_path: Path) -> None:
    latin = tmp_path / "latin.csv"
    latin.write_bytes("caf\xe9,b\n1,2\n".encode("latin-1"))
    with pytest.raises(TableError, match=r"latin\.csv, line 1: not valid utf-8 \(byte 0xe9\)"):
        read_table(latin, mark_undecodable=True)
    assert not any(row.undecodable for row in read_table(write(tmp_path / "clean.csv", "a,b\n1,2\n"), mark_undecodable=True).rows)


def test_location_names_what_it_knows() -> None:
    assert location("f.csv") == "f.csv"
    assert location(Path("f.csv"), 7, "value") == "f.csv, line 7, column 'value'"
    assert location("f.csv", column="value") == "f.csv, column 'value'"


GAPPY = "a,b\n1.0,10\n?,N/A\nNA,30\n,40\n5.0,na\n6.0,\n7.0,70\n8.0,80\n"


@pytest.mark.parametrize("missing", ["interpolate", "drop", "error"])
def test_series_and_anomaly_data_read_the_same_file_alike(missing: str, tmp_path: Path) -> None:
    """data=series and data=anomaly_csv, built from the real config, agree on every missing token and policy."""
    path = write(tmp_path / "gappy.csv", GAPPY)
    series = instantiate(compose_train("data=series", f"data.path={path}", f"data.missing={missing}").data)
    anomaly = instantiate(compose_train("data=anomaly_csv", f"data.path={path}", f"data.missing={missing}").data)
    if missing == "error":
        for datamodule in (series.load, anomaly.load_series):
            with pytest.raises(TableError, match=r"gappy\.csv, line 3, column 'a': missing value \(data\.missing=error\)"):
                datamodule()
        return
    values = anomaly.load_series()[0]
    assert series.load().columns == ("a", "b")
    assert torch.equal(series.load().values, values)
    expected = {"interpolate": [[1, 10], [2, 20], [3, 30], [4, 40], [5, 50], [6, 60], [7, 70], [8, 80]], "drop": [[1, 10], [7, 70], [8, 80]]}[missing]
    assert values.tolist() == expected
