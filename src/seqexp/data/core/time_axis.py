"""Telling a time axis from values in a user's table: a column of dates, or of evenly spaced integers
(a row counter, a year), is where a point sits in time, not something measured there. Series and
anomaly files share the rule; each family decides what to do with such a column (``data=series``
leaves it out, ``data=anomaly_csv`` takes it as the timestamp column). Both refuse a time axis whose stamps
do not increase from row to row (``check_time_order``): windows and chronological splits assume time order.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from seqexp.data.core.table import TableError, first_rows, is_missing, location

MIN_TIME_AXIS_ROWS = 3  # fewer rows are too few to call a column a time axis
# A date or date-time cell: 2024-01, 2024/01/31, 31.01.2024, 2024-01-31T12:00:00Z, ... (never a number:
# 2024.01 is a value, not January)
DATE_CELL = re.compile(
    r"(\d{4}[-/]\d{1,2}([-/]\d{1,2})?|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
)
ORDER_CHUNK_ROWS = 1 << 20  # stamps parsed at a time: numpy's fixed-width text copy of a long column stays small


def time_axis_reason(cells: list[str]) -> str | None:
    """Why one column's stripped ``cells`` look like a time axis rather than values, else None.

    Only unmistakable cases count, so a measured series is not mistaken for one: evenly spaced integers
    (a row counter, a year) and dates; at least ``MIN_TIME_AXIS_ROWS`` rows, none missing.
    """
    if len(cells) < MIN_TIME_AXIS_ROWS or any(is_missing(cell) for cell in cells):
        return None
    if all(DATE_CELL.fullmatch(cell) for cell in cells):
        return f"dates such as {cells[0]!r}"
    try:
        numbers = [int(cell) for cell in cells]
    except ValueError:
        return None
    step = numbers[1] - numbers[0]
    if step == 0 or any(later - earlier != step for earlier, later in zip(numbers, numbers[1:])):
        return None
    return f"evenly spaced integers {numbers[0]}, {numbers[1]}, {numbers[2]}, ..."


def time_axis_candidates(path: Path, wanted: list[str], targets: Collection[str] = (), dates_only: bool = False) -> list[str]:
    """The ``wanted`` columns whose first cells are integers or dates (``dates_only``: dates), to be read as
    text so that ``time_axis_reason`` can judge every cell (a listed target is the user's choice and is never one)."""
    header, first = first_rows(path, MIN_TIME_AXIS_ROWS)
    looks_like_axis = DATE_CELL if dates_only else re.compile(rf"-?\d+|{DATE_CELL.pattern}")
    return [name for name in wanted if name not in targets and first and all(looks_like_axis.fullmatch(cells[header.index(name)] or "") for cells in first)]


def check_time_order(source: str | Path, column: str, cells: Sequence[str], lines: Sequence[int]) -> None:
    """Refuse time stamps ``cells`` (a column's stripped cells, at file ``lines``) that do not strictly increase.

    Stamps are compared as numbers, or else as ISO 8601 dates and times (``2024-01-31 12:00``, also with ``/``;
    an offset counts in UTC), parsed by numpy in bulk; missing stamps are skipped. Other stamps (``31.01.2024``,
    week names) have no order numpy reads and are not checked.
    """
    rows: Sequence[int] = range(len(cells))
    keys = _order_keys(cells)
    if keys is None:  # perhaps a missing-stamp token numpy does not read (NA, null, ?): judge the other stamps
        rows = [row for row, cell in enumerate(cells) if not is_missing(cell)]
        keys = _order_keys([cells[row] for row in rows]) if len(rows) < len(cells) else None
    if keys is None:
        return
    present = np.flatnonzero(~np.isnan(keys))  # "nan", "" and "NaT" read as no stamp
    back = np.flatnonzero(keys[present[1:]] <= keys[present[:-1]])
    if len(back):
        earlier, later = rows[present[back[0]]], rows[present[back[0] + 1]]
        raise TableError(
            f"{location(source, int(lines[later]), column)}: {cells[later]} is not after {cells[earlier]} on line {int(lines[earlier])}; "
            "rows must be in time order"
        )


def _order_keys(cells: Sequence[str]) -> np.ndarray | None:
    """``cells`` as float64 or datetime64 (missing: NaN or NaT), or None when they are neither."""
    try:
        return np.array(cells, dtype=np.float64)
    except ValueError:
        pass
    chunks = (np.char.replace(np.array(cells[start : start + ORDER_CHUNK_ROWS]), "/", "-") for start in range(0, len(cells), ORDER_CHUNK_ROWS))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no explicit representation of timezones")  # numpy reads an offset as UTC, and says so
        try:
            return np.concatenate([chunk.astype("datetime64") for chunk in chunks])
        except ValueError:
            return None
