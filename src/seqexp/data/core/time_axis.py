"""Telling a time axis from values in a user's table: a column of dates, or of evenly spaced integers
(a row counter, a year), is where a point sits in time, not something measured there. Series and
anomaly files share the rule; each family decides what to do with such a column (``data=series``
leaves it out, ``data=anomaly_csv`` takes it as the timestamp column).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from seqexp.data.core.table import first_rows, is_missing

MIN_TIME_AXIS_ROWS = 3  # fewer rows are too few to call a column a time axis
# A date or date-time cell: 2024-01, 2024/01/31, 31.01.2024, 2024-01-31T12:00:00Z, ... (never a number:
# 2024.01 is a value, not January)
DATE_CELL = re.compile(
    r"(\d{4}[-/]\d{1,2}([-/]\d{1,2})?|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
)


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
