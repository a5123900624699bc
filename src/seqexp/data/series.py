"""Real time series for forecasting: windows of ``input_length`` steps predict the next ``horizon``.

Series come from the built-in copies in ``data/assets/series`` (see its NOTICE) by ``name``, or from
the user's CSV by ``path``; there, without ``time_column``, a column of dates or evenly spaced integers
(a row counter, a year) is left out with a warning rather than forecast beside the values.
The split is chronological and leak-free:

* the series is cut into three consecutive ranges (train, then val, then test);
* a window belongs to the split whose range holds all of its *targets*; a training window's
  inputs also lie inside the train range, while a val/test window's inputs may reach back into
  earlier ranges (that past is known at forecast time) but never forward;
* scaling and the MASE denominator are fitted on the train range only.

``center=last`` (the default) subtracts each window's last input value (per column) instead of the
train mean, so the model forecasts changes from the last observation: a trending series (CO2, airline
passengers) leaves the train range's levels, and absolute levels never seen in training would be
extrapolation. ``center=train`` suits stationary series (sunspots, lynx) a little better.

Missing values (empty cells, ``NA``, ``NaN``, ``?``) follow ``missing``:
    interpolate  linear in the row index between the nearest observed values; leading/trailing
                 gaps take the nearest observed value (CO2 has 59 empty weeks of 2,284)
    drop         drop every row with a missing value (the series then skips those time steps)
    error        refuse the file, naming its first missing cell

Batches hold, besides ``inputs`` ``(batch, input_length, columns)`` and ``targets``
``(batch, horizon, targets)`` in scaled units, what a forecasting task needs to score in original
units: ``target_offset``/``target_scale`` ``(batch, 1, targets)`` (original = scaled * scale + offset;
the offset differs per window with ``center=last``),
``mase_scale`` ``(batch, 1, targets)`` (in-sample seasonal-naive MAE of the train range) and
``origin`` ``(batch,)`` (row index of the first target step, to place forecasts on the time axis).
"""

from __future__ import annotations

import csv
import gzip
import logging
import math
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Collection, Iterator

import lightning as L
import torch

from seqexp.data.batching import BatchedTensorDataset, TensorSplitLoaders
from seqexp.data.errors import DataError
from seqexp.data.spec import DataSpec

SPLITS = ("train", "val", "test")
MISSING_POLICIES = ("interpolate", "drop", "error")
SCALINGS = ("standard", "minmax", "none")
CENTERS = ("train", "last")
MISSING_CELLS = frozenset({"", "na", "nan", "null", "?"})
MIN_TIME_AXIS_ROWS = 3  # fewer rows are too few to call a column a time axis
# A date or date-time cell: 2024-01, 2024/01/31, 31.01.2024, 2024-01-31T12:00:00Z, ... (never a number:
# 2024.01 is a value, not January)
DATE_CELL = re.compile(
    r"(\d{4}[-/]\d{1,2}([-/]\d{1,2})?|\d{1,2}[-/.]\d{1,2}[-/.]\d{4})"
    r"([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?"
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuiltinSeries:
    """A series shipped in ``data/assets/series``: which file, which columns, its natural period."""

    file: str
    time_column: str
    columns: tuple[str, ...]
    season_length: int
    description: str


BUILTIN_SERIES: dict[str, BuiltinSeries] = {
    "seattle_temps": BuiltinSeries("seattle-temps.csv", "date", ("temp",), 24, "hourly temperature (F), Seattle 2010"),
    "sf_temps": BuiltinSeries("sf-temps.csv", "date", ("temp",), 24, "hourly temperature (F), San Francisco 2010"),
    "seattle_weather": BuiltinSeries(
        "seattle-weather.csv", "date", ("temp_max", "temp_min", "precipitation", "wind"), 365,
        "daily weather, Seattle 2012-2015 (4 variables)",
    ),
    "co2": BuiltinSeries("co2.csv", "date", ("co2",), 52, "weekly CO2 (ppmv), Mauna Loa 1958-2001"),
    "sunspots": BuiltinSeries("sunspots.csv", "YEAR", ("SUNACTIVITY",), 11, "yearly sunspot activity 1700-2008"),
    "airline": BuiltinSeries("Airline.csv", "Date", ("Passengers",), 12, "monthly airline passengers (thousands) 1949-1960"),
    "lynx": BuiltinSeries("Lynx.csv", "", ("0",), 10, "yearly Canadian lynx trappings 1821-1934"),
}


@dataclass(frozen=True)
class SeriesTable:
    """One series read from a CSV: ``values`` is ``(time, columns)`` in original units."""

    source: str
    times: list[str]
    columns: tuple[str, ...]
    values: torch.Tensor  # (time, columns) float64
    lines: list[int]  # the file line of each time step, for error messages


def _open_text(path: Path) -> Iterator[list[str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", newline="") as handle:  # type: ignore[operator]
        yield from csv.reader(handle)


def time_axis_reason(cells: list[str]) -> str | None:
    """Why one column's stripped ``cells`` look like a time axis rather than values, else None.

    Only unmistakable cases count, so a measured series is not mistaken for one: evenly spaced integers
    (a row counter, a year) and dates; at least ``MIN_TIME_AXIS_ROWS`` rows, none missing.
    """
    if len(cells) < MIN_TIME_AXIS_ROWS or any(cell.lower() in MISSING_CELLS for cell in cells):
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


def _drop_time_axes(path: Path, header: list[str], rows: list[list[str]], wanted: list[str],
                    targets: Collection[str]) -> list[str]:
    """``wanted`` without the columns that look like a time axis, each dropped with a warning.

    A user CSV's row counter or year would otherwise be forecast beside the values and mix its
    units into the averaged metrics; a column listed in ``targets`` is the user's choice and stays.
    """
    kept = []
    for name in wanted:
        position = header.index(name)
        reason = None if name in targets else time_axis_reason([row[position] for row in rows])
        if reason is None:
            kept.append(name)
            continue
        log.warning(
            "%s: column %r looks like a time axis (%s), not a value to forecast; it is left out. "
            "Set data.time_column=%s to use it as the time axis, or data.targets=[...] to choose "
            "the columns to forecast (a listed column is kept).", path, name, reason, name or "''",
        )
    if not kept:
        raise DataError(
            f"{path}: no value columns: {wanted} look like a time axis (see the warning above); "
            "set data.targets=[...] to forecast them anyway"
        )
    return kept


def _read_cells(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """The stripped header, the stripped cells of every non-blank row (padded to the header's
    width) and each row's file line, in one pass over the file."""
    rows, lines = [], []
    reader = _open_text(path)
    header = [name.strip() for name in next(reader, [])]
    for line_number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        rows.append([cell.strip() for cell in row] + [""] * (len(header) - len(row)))
        lines.append(line_number)
    return header, rows, lines


def read_series_csv(path: str | Path, columns: list[str] | None = None, time_column: str | None = None,
                    targets: Collection[str] = ()) -> SeriesTable:
    """Read numeric ``columns`` (default: all but ``time_column``); missing cells become NaN.

    With neither ``columns`` nor ``time_column`` set, a column that looks like a time axis
    (``time_axis_reason``) is left out with a warning unless ``targets`` lists it.
    Errors name the file, the line and the column, so a bad cell is found without a debugger.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"data.path={path}: no such file")
    header, rows, lines = _read_cells(path)
    if not header:
        raise DataError(f"{path}: empty file, expected a header line with column names")
    if time_column is not None and time_column not in header:
        raise DataError(f"{path}: data.time_column={time_column!r} is not a column; columns are {header}")
    wanted = list(columns) if columns else [name for name in header if name != time_column]
    unknown = [name for name in wanted if name not in header]
    if unknown:
        raise DataError(f"{path}: data.columns has {unknown}, not in the header {header}")
    if not wanted:
        raise DataError(f"{path}: no value columns besides the time column {time_column!r}")
    if not rows:
        raise DataError(f"{path}: no data rows after the header")
    if not columns and time_column is None:
        wanted = _drop_time_axes(path, header, rows, wanted, targets)
    positions = [header.index(name) for name in wanted]
    time_position = header.index(time_column) if time_column is not None else None
    times = [row[time_position] if time_position is not None else str(step) for step, row in enumerate(rows)]
    values = []
    for row, line_number in zip(rows, lines):
        parsed = []
        for name, position in zip(wanted, positions):
            cell = row[position]
            if cell.lower() in MISSING_CELLS:
                parsed.append(math.nan)
                continue
            try:
                number = float(cell)
            except ValueError:
                raise DataError(f"{path}, line {line_number}, column {name!r}: {cell!r} is not a number") from None
            if math.isinf(number):
                raise DataError(f"{path}, line {line_number}, column {name!r}: {cell!r} is not a finite number")
            parsed.append(number)
        values.append(parsed)
    return SeriesTable(str(path), times, tuple(wanted), torch.tensor(values, dtype=torch.float64), lines)


def handle_missing(table: SeriesTable, policy: str) -> SeriesTable:
    """Apply the missing-value policy (see the module docstring); the result has no NaN."""
    missing = table.values.isnan()
    if not missing.any():
        return table
    if policy == "error":
        row, column = (int(i) for i in missing.nonzero()[0])
        raise DataError(
            f"{table.source}, line {table.lines[row]}, column {table.columns[column]!r}: missing value; "
            "set data.missing=interpolate or data.missing=drop"
        )
    if policy == "drop":
        keep = ~missing.any(dim=1)
        if not keep.any():
            raise DataError(f"{table.source}: every row has a missing value, nothing left after data.missing=drop")
        kept_rows = keep.tolist()
        times = [time for time, kept in zip(table.times, kept_rows) if kept]
        lines = [line for line, kept in zip(table.lines, kept_rows) if kept]
        return SeriesTable(table.source, times, table.columns, table.values[keep], lines)
    filled = table.values.clone()
    steps = torch.arange(len(filled), dtype=torch.float64)
    for column in range(filled.shape[1]):
        observed = ~missing[:, column]
        if not observed.any():
            raise DataError(f"{table.source}: column {table.columns[column]!r} has no observed value")
        known_steps, known_values = steps[observed], filled[observed, column]
        # Index of the next observed step for every step; edges clamp to the nearest observed value.
        right = torch.searchsorted(known_steps, steps).clamp(max=len(known_steps) - 1)
        left = (right - 1).clamp(min=0)
        span = (known_steps[right] - known_steps[left]).clamp(min=1.0)
        weight = ((steps - known_steps[left]) / span).clamp(0.0, 1.0)
        interpolated = known_values[left] + weight * (known_values[right] - known_values[left])
        filled[:, column] = torch.where(observed, filled[:, column], interpolated)
    return SeriesTable(table.source, table.times, table.columns, filled, table.lines)


def split_bounds(length: int, fractions: dict[str, float]) -> dict[str, tuple[int, int]]:
    """Consecutive ``[start, end)`` row ranges, train then val then test."""
    bounds, start = {}, 0
    for split in SPLITS:
        end = length if split == "test" else start + int(round(length * fractions[split]))
        bounds[split] = (start, end)
        start = end
    return bounds


def window_origins(split: str, bounds: dict[str, tuple[int, int]], input_length: int, horizon: int,
                   stride: int = 1) -> torch.Tensor:
    """Row index of the first target step of every window of ``split`` (see the module docstring)."""
    start, end = bounds[split]
    first = start + input_length if split == "train" else max(start, input_length)
    last = end - horizon  # inclusive: targets [origin, origin + horizon) stay inside the range
    if last < first:
        return torch.empty(0, dtype=torch.long)
    return torch.arange(first, last + 1, stride if split == "train" else 1, dtype=torch.long)


def seasonal_naive_mae(values: torch.Tensor, season_length: int) -> torch.Tensor:
    """Per column mean |y[t] - y[t - m]| over ``values`` ``(time, columns)``: MASE's denominator."""
    if len(values) <= season_length:
        raise DataError(f"data.season_length={season_length}: the train range has only {len(values)} steps")
    return (values[season_length:] - values[:-season_length]).abs().mean(dim=0)


def _asset(file: str) -> Path:
    return Path(str(resources.files("seqexp.data").joinpath("assets", "series", file)))


class SeriesDataModule(TensorSplitLoaders, L.LightningDataModule):
    def __init__(
        self,
        name: str = "seattle_temps",
        path: str | None = None,
        columns: list[str] | None = None,
        targets: list[str] | None = None,
        time_column: str | None = None,
        input_length: int = 72,
        horizon: int = 24,
        season_length: int | None = None,
        missing: str = "interpolate",
        scaling: str = "standard",
        center: str = "last",
        split_fractions: dict[str, float] | None = None,
        stride: int = 1,
        shuffle: bool = True,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if path is None and name not in BUILTIN_SERIES:
            raise DataError(f"data.name={name!r}: must be one of {sorted(BUILTIN_SERIES)} (or set data.path to a CSV)")
        for key, value in (("input_length", input_length), ("horizon", horizon), ("stride", stride)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise DataError(f"data.{key}={value!r}: must be an integer >= 1")
        if season_length is not None and (not isinstance(season_length, int) or season_length < 1):
            raise DataError(f"data.season_length={season_length!r}: must be an integer >= 1 or null")
        if missing not in MISSING_POLICIES:
            raise DataError(f"data.missing={missing!r}: must be one of {MISSING_POLICIES}")
        if scaling not in SCALINGS:
            raise DataError(f"data.scaling={scaling!r}: must be one of {SCALINGS}")
        if center not in CENTERS:
            raise DataError(f"data.center={center!r}: must be one of {CENTERS}")
        fractions = dict(split_fractions or {"train": 0.7, "val": 0.15, "test": 0.15})
        if set(fractions) != set(SPLITS) or any(not 0 < fractions[s] < 1 for s in SPLITS) or abs(sum(fractions.values()) - 1) > 1e-6:
            raise DataError(f"data.split_fractions={fractions}: needs train, val and test, each in (0, 1), summing to 1")
        builtin = BUILTIN_SERIES.get(name) if path is None else None
        self.source = _asset(builtin.file) if builtin else Path(path)  # type: ignore[arg-type]
        self.columns = list(columns) if columns else (list(builtin.columns) if builtin else None)
        self.time_column = time_column if time_column is not None else (builtin.time_column if builtin else None)
        self.targets = list(targets) if targets else None
        self.input_length = input_length
        self.horizon = horizon
        self.season_length = season_length if season_length is not None else (builtin.season_length if builtin else 1)
        self.missing = missing
        self.scaling = scaling
        self.center = center
        self.split_fractions = fractions
        self.stride = stride
        self.shuffle = shuffle
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.table: SeriesTable | None = None
        self.datasets: dict[str, BatchedTensorDataset] = {}

    def load(self) -> SeriesTable:
        """Read the file once and apply the missing-value policy."""
        if self.table is None:
            table = handle_missing(
                read_series_csv(self.source, self.columns, self.time_column, self.targets or ()), self.missing
            )
            targets = self.targets or list(table.columns)
            unknown = [name for name in targets if name not in table.columns]
            if unknown:
                raise DataError(f"data.targets={targets}: {unknown} not among the input columns {list(table.columns)}")
            self.targets = targets
            self.table = table
        return self.table

    @property
    def target_indices(self) -> list[int]:
        table = self.load()
        return [table.columns.index(name) for name in self.targets]  # type: ignore[union-attr]

    @property
    def spec(self) -> DataSpec:
        table = self.load()
        return DataSpec(
            input_kind="features",
            input_size=len(table.columns),
            target_kind="horizon",
            output_size=len(self.target_indices),
            horizon=self.horizon,
        )

    @property
    def bounds(self) -> dict[str, tuple[int, int]]:
        return split_bounds(len(self.load().values), self.split_fractions)

    def origins(self, split: str) -> torch.Tensor:
        return window_origins(split, self.bounds, self.input_length, self.horizon, self.stride)

    def scaling_parameters(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per column ``(offset, scale)`` from the train range only: scaled = (value - offset) / scale."""
        train_start, train_end = self.bounds["train"]
        train = self.load().values[train_start:train_end]
        columns = train.shape[1]
        if self.scaling == "none":
            return torch.zeros(columns, dtype=torch.float64), torch.ones(columns, dtype=torch.float64)
        if self.scaling == "minmax":
            low, high = train.min(dim=0).values, train.max(dim=0).values
            return low, (high - low).clamp(min=1e-12)
        return train.mean(dim=0), train.std(dim=0).clamp(min=1e-12)

    def mase_scale(self) -> torch.Tensor:
        """Per target column in-sample seasonal-naive MAE over the train range (original units)."""
        train_start, train_end = self.bounds["train"]
        scale = seasonal_naive_mae(self.load().values[train_start:train_end, self.target_indices], self.season_length)
        if (scale == 0).any():
            raise DataError(f"{self.source}: a target is constant over the train range, MASE is undefined")
        return scale

    def _check_sizes(self) -> None:
        length = len(self.load().values)
        for split in SPLITS:
            if len(self.origins(split)) == 0:
                start, end = self.bounds[split]
                raise DataError(
                    f"data.input_length={self.input_length} + data.horizon={self.horizon} leave no {split} window: "
                    f"{self.source.name} has {length} steps, the {split} range is rows {start}-{end - 1} "
                    f"(data.split_fractions.{split}={self.split_fractions[split]}); shorten the windows"
                )

    def _windows(self, split: str, offset: torch.Tensor, scale: torch.Tensor, mase_scale: torch.Tensor) -> BatchedTensorDataset:
        values = self.load().values  # (time, columns), original units
        origins = self.origins(split)
        count, targets = len(origins), self.target_indices
        # (windows, 1, columns): the value subtracted from each window, original units.
        offsets = values[origins - 1].unsqueeze(1) if self.center == "last" else offset.expand(count, 1, -1)
        inputs = (values[origins.unsqueeze(1) + torch.arange(-self.input_length, 0)] - offsets) / scale
        future = (values[origins.unsqueeze(1) + torch.arange(self.horizon)] - offsets) / scale
        return BatchedTensorDataset(
            inputs=inputs.float(),  # (windows, input_length, columns)
            targets=future[..., targets].float(),  # (windows, horizon, targets)
            target_offset=offsets[..., targets].float(),
            target_scale=scale[targets].float().expand(count, 1, -1),
            mase_scale=mase_scale.float().expand(count, 1, -1),
            origin=origins,
        )

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self._check_sizes()
        offset, scale = self.scaling_parameters()
        mase_scale = self.mase_scale()
        for split in SPLITS:
            self.datasets[split] = self._windows(split, offset, scale, mase_scale)
