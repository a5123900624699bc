"""Reading one series from the user's file for ``data=series``: numeric columns (CSV, TSV, JSONL or a ``.npy``
array, through ``seqexp.data.core.table``), an optional time column, and, when the user names neither
columns nor a time column, leaving out a column that is plainly a time axis (a row counter, a year, dates)
with a warning rather than forecasting it beside the values. A time axis, named or found, must increase
from row to row (``seqexp.data.core.time_axis.check_time_order``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Sequence

import numpy as np
import torch

from seqexp.data.core.errors import DataError
from seqexp.data.core.table import apply_missing, is_array_file, parse_number, read_columns, read_header
from seqexp.data.core.time_axis import check_time_order, time_axis_candidates, time_axis_reason

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SeriesTable:
    """One series read from a CSV: ``values`` is ``(time, columns)`` in original units."""

    source: str
    times: list[str] | None  # the time column's cells; None without one (steps are then named by their row)
    columns: tuple[str, ...]
    values: torch.Tensor  # (time, columns) float64
    lines: Sequence[int]  # the file line of each time step, for error messages


def _drop_time_axes(source: Path, wanted: list[str], candidates: dict[str, list[str]]) -> list[str]:
    """``wanted`` without the ``candidates`` (their cells, by name) that look like a time axis, each dropped
    with a warning.

    A user CSV's row counter or year would otherwise be forecast beside the values and mix its
    units into the averaged metrics.
    """
    kept = []
    for name in wanted:
        reason = time_axis_reason(candidates[name]) if name in candidates else None
        if reason is None:
            kept.append(name)
            continue
        log.warning(
            "%s: column %r looks like a time axis (%s), not a value to forecast; it is left out. "
            "Set data.time_column=%s to use it as the time axis, or data.targets=[...] to choose "
            "the columns to forecast (a listed column is kept).",
            source,
            name,
            reason,
            name or "''",
        )
    if not kept:
        raise DataError(f"{source}: no value columns: {wanted} look like a time axis (see the warning above); set data.targets=[...] to forecast them anyway")
    return kept


def read_series_csv(
    path: str | Path, columns: list[str] | None = None, time_column: str | None = None, targets: Collection[str] = (), key: str = "data.path"
) -> SeriesTable:
    """Read numeric ``columns`` (default: all but ``time_column``); missing cells become NaN.

    With neither ``columns`` nor ``time_column`` set, a column that looks like a time axis
    (``time_axis_reason``) is left out with a warning unless ``targets`` lists it. The time column, or a
    column left out as a time axis, must increase from row to row (``check_time_order``).
    Errors name the file, the line and the column, so a bad cell is found without a debugger.
    """
    path, header = Path(path), list(read_header(path, key=key))  # key: the setting that names the file
    if time_column is not None and time_column not in header:
        raise DataError(f"{path}: data.time_column={time_column!r} is not a column; columns are {header}")
    wanted = list(columns) if columns else [name for name in header if name != time_column]
    unknown = [name for name in wanted if name not in header]
    if unknown:
        raise DataError(f"{path}: data.columns has {unknown}, not in the header {header}")
    if not wanted:
        raise DataError(f"{path}: no value columns besides the time column {time_column!r}")
    judge_axes = not columns and time_column is None and not is_array_file(path)
    candidates = time_axis_candidates(path, wanted, targets) if judge_axes else []
    text = candidates + ([time_column] if time_column is not None else [])
    read = read_columns(path, [name for name in wanted if name not in candidates], text, key=key)
    if candidates:
        wanted = _drop_time_axes(path, wanted, {name: read.text[name] for name in candidates})
        for name in set(candidates) & set(wanted):  # not a time axis after all: a value column, read as text
            read.numbers[name] = np.array([parse_number(cell, path, line, name) for cell, line in zip(read.text[name], read.lines)], dtype=np.float64)
    for name in [time_column] if time_column is not None else [name for name in candidates if name not in wanted]:
        check_time_order(path, name, read.text[name], read.lines)
    times = read.text[time_column] if time_column is not None else None
    matrix = read.matrix(wanted)  # a .npy's memory map is read into memory here: forecasting windows read every row
    values = torch.from_numpy(np.array(matrix, dtype=np.float64) if isinstance(matrix, np.memmap) else matrix)
    return SeriesTable(str(path), times, tuple(wanted), values, read.lines)


def handle_missing(table: SeriesTable, policy: str) -> SeriesTable:
    """Apply the missing-value policy (see the module docstring); the result has no NaN."""
    values, kept = apply_missing(table.values.numpy(), policy, table.source, table.lines, table.columns)
    if len(kept) == len(table.lines):  # nothing dropped: no copies
        return SeriesTable(table.source, table.times, table.columns, torch.from_numpy(values), table.lines)
    times = None if table.times is None else [table.times[row] for row in kept.tolist()]
    return SeriesTable(table.source, times, table.columns, torch.from_numpy(values), np.asarray(table.lines)[kept])
