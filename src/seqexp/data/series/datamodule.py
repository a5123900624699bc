"""Real time series for forecasting: windows of ``input_length`` steps predict the next ``horizon``.

Series come from the built-in copies in ``data/assets/series`` (see its NOTICE) by ``name``, or from
the user's CSV, TSV or JSONL file (optionally .gz/.bz2; read by ``seqexp.data.core.table``) by ``path``;
there, without ``time_column``, a column of dates or evenly spaced integers (a row counter, a year)
is left out with a warning rather than forecast beside the values.
The split is chronological and leak-free:

* the series is cut into three consecutive ranges (train, then val, then test);
* a window belongs to the split whose range holds all of its *targets*; a training window's
  inputs also lie inside the train range, while a val/test window's inputs may reach back into
  earlier ranges (that past is known at forecast time) but never forward;
* scaling and the MASE denominator are fitted on the train range only.

A rolling-origin backtest (``backtest.folds=K``, ``backtest.fold=i``; ``seqexp.data.core.splits.rolling_origin_split``)
moves val and test back ``K - 1 - i`` test-range lengths and trains on every row before them (an expanding
window), so the folds' test ranges are consecutive blocks ending at the series' end and fold ``K - 1`` is the
plain split. Scaling and the MASE denominator are refitted on each fold's own train range; one job is one fold,
and a sweep over ``data.backtest.fold`` is the backtest (``seqexp.summarize`` averages the folds).

``center=last`` (the default) subtracts each window's last input value (per column) instead of the
train mean, so the model forecasts changes from the last observation: a trending series (CO2, airline
passengers) leaves the train range's levels, and absolute levels never seen in training would be
extrapolation. ``center=train`` suits stationary series (sunspots, lynx) a little better.

Missing values (``seqexp.data.core.table.MISSING_CELLS``: empty, ``NA``, ``N/A``, ``NaN``, ``?``, ...) follow
``missing`` (``seqexp.data.core.table.apply_missing``):
    interpolate  linear in the row index between the nearest observed values; leading/trailing
                 gaps take the nearest observed value (CO2 has 59 empty weeks of 2,284)
    drop         drop every row with a missing value (the series then skips those time steps)
    error        refuse the file, naming its first missing cell

Batches hold, besides ``inputs`` ``(batch, input_length, columns)`` and ``targets``
``(batch, horizon, targets)`` in scaled units, what a forecasting task needs to score in original
units: ``target_offset``/``target_scale`` ``(batch, 1, targets)`` (original = scaled * scale + offset;
the offset differs per window with ``center=last``),
``mase_scale`` ``(batch, 1, targets)`` (in-sample seasonal-naive MAE of the train range) and
``origin`` ``(batch,)`` (row index of the first target step, to place forecasts on the time axis: the window's
start, its first input row, plus ``input_length``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from seqexp.baselines.inputs import SeriesForecastInputs
from seqexp.data.core.batching import TensorSplitLoaders
from seqexp.data.core.budget import StepBudget
from seqexp.data.core.contract import BatchSize, NotSetUpError, SeqDataModule, Workers
from seqexp.data.core.errors import DataError
from seqexp.data.core.scaling import METHODS as SCALINGS
from seqexp.data.core.scaling import Scaler, restore_scaling
from seqexp.data.core.spec import SPLITS, DataSpec, PredictionIndex
from seqexp.data.core.splits import check_backtest, check_split_files, held_out_share, rolling_origin_split, split_paths, time_split
from seqexp.data.core.table import check_missing_policy
from seqexp.data.core.windows import Batch, WindowDataset, WindowStarts, gather_rows
from seqexp.data.series.files import SeriesTable, handle_missing, read_series_csv

CENTERS = ("train", "last")
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
        "seattle-weather.csv",
        "date",
        ("temp_max", "temp_min", "precipitation", "wind"),
        365,
        "daily weather, Seattle 2012-2015 (4 variables)",
    ),
    "co2": BuiltinSeries("co2.csv", "date", ("co2",), 52, "weekly CO2 (ppmv), Mauna Loa 1958-2001"),
    "sunspots": BuiltinSeries("sunspots.csv", "YEAR", ("SUNACTIVITY",), 11, "yearly sunspot activity 1700-2008"),
    "airline": BuiltinSeries("Airline.csv", "Date", ("Passengers",), 12, "monthly airline passengers (thousands) 1949-1960"),
    "lynx": BuiltinSeries("Lynx.csv", "", ("0",), 10, "yearly Canadian lynx trappings 1821-1934"),
}


def forecast_window_starts(
    split: str, bounds: dict[str, tuple[int, int]], input_length: int, horizon: int, stride: int = 1, context_start: int = 0
) -> WindowStarts:
    """The first input row of every window of ``split`` (see the module docstring): a training window lies inside
    the train range; a val/test window's targets lie inside its range while its inputs may reach back, never before
    row ``context_start`` (the first row of the split's own file, with split files)."""
    start, end = bounds[split]
    first = start if split == "train" else max(start - input_length, context_start)
    last = end - horizon - input_length  # inclusive: targets [start + input_length, ... + horizon) stay inside the range
    return WindowStarts(first, last, stride if split == "train" else 1)


@dataclass(frozen=True)
class ForecastWindows:
    """Gathers a batch of forecasting windows from their ``starts`` (first input rows) over ``values``
    ``(time, columns)`` in original units; targets past the end of ``values`` are nan (not known yet: only new
    input for prediction has them). See the module docstring for the batch's keys."""

    values: torch.Tensor
    input_length: int
    horizon: int
    targets: list[int]
    center_last: bool
    scaler: Scaler  # the train range's, read per batch (a checkpoint's restored scaler applies at once);
    # with center_last each window's last input replaces its offset
    mase_scale: torch.Tensor  # (targets,)

    def __call__(self, starts: torch.Tensor) -> Batch:
        count, steps = len(starts), starts.view(-1, 1) + torch.arange(self.input_length + self.horizon)
        offset, scale = self.scaler.offset, self.scaler.scale
        rows = gather_rows(self.values, steps.clamp(max=len(self.values) - 1))  # (windows, input + horizon, columns)
        rows[steps >= len(self.values)] = float("nan")
        # (windows, 1, columns): the value subtracted from each window, original units.
        offsets = rows[:, self.input_length - 1 : self.input_length] if self.center_last else offset.expand(count, 1, -1)
        scaled = (rows - offsets) / scale
        return {
            "inputs": scaled[:, : self.input_length].float(),  # (windows, input_length, columns)
            "targets": scaled[:, self.input_length :, self.targets].float(),  # (windows, horizon, targets)
            "target_offset": offsets[..., self.targets].float(),
            "target_scale": scale[self.targets].float().expand(count, 1, -1).contiguous(),
            "mase_scale": self.mase_scale.float().expand(count, 1, -1).contiguous(),
            "origin": starts + self.input_length,  # the first target row
        }


def seasonal_naive_mae(values: torch.Tensor, season_length: int) -> torch.Tensor:
    """Per column mean |y[t] - y[t - m]| over ``values`` ``(time, columns)``: MASE's denominator."""
    if len(values) <= season_length:
        raise DataError(f"data.season_length={season_length}: the train range has only {len(values)} steps")
    return (values[season_length:] - values[:-season_length]).abs().mean(dim=0)


def _asset(file: str) -> Path:
    return Path(str(resources.files("seqexp.data").joinpath("assets", "series", file)))


class SeriesDataModule(TensorSplitLoaders, SeqDataModule):
    predicts_new_input = True  # set_predict_input: a file with the same columns (seqexp.predict data.path=...)

    @classmethod
    def check_config(cls, cfg: Mapping[str, Any]) -> None:
        """``data.backtest``: ``folds`` an integer >= 1, ``fold`` one of 0 .. folds - 1; a backtest cuts one series,
        not split files. (Whether a fold's train range holds a window is known once the series is read: ``bounds``.)"""
        check_backtest(cfg["data"])

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
        batch_size: BatchSize = 64,
        num_workers: Workers = 0,
        seed: int = 0,
        train_path: str | None = None,
        val_path: str | None = None,
        test_path: str | None = None,
        budget: dict[str, float] | None = None,
        backtest: dict[str, int] | None = None,
    ) -> None:
        super().__init__()
        self.check_config({"data": {"backtest": backtest, "train_path": train_path, "val_path": val_path, "test_path": test_path}})
        self.folds, self.fold = (backtest or {}).get("folds", 1), (backtest or {}).get("fold", 0)
        self.split_paths = split_paths(train_path, val_path, test_path)
        check_split_files(path, self.split_paths)
        if self.split_paths:
            path = self.split_paths["train"]  # columns and time axis come from the train file
        if path is None and name not in BUILTIN_SERIES:
            raise DataError(f"data.name={name!r}: must be one of {sorted(BUILTIN_SERIES)} (or set data.path to a CSV)")
        for key, value in (("input_length", input_length), ("horizon", horizon), ("stride", stride)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise DataError(f"data.{key}={value!r}: must be an integer >= 1")
        if season_length is not None and (not isinstance(season_length, int) or season_length < 1):
            raise DataError(f"data.season_length={season_length!r}: must be an integer >= 1 or null")
        check_missing_policy(missing)
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
        self.budget = StepBudget.from_config(budget)  # None: the trainer's and callbacks' own epochs
        self.table: SeriesTable | None = None
        self.file_bounds: dict[str, tuple[int, int]] = {}  # with split files: each file's rows in ``table``
        self.datasets: dict[str, WindowDataset] = {}
        self.scaler: Scaler | None = None  # fitted on the train range (or restored from a checkpoint)
        self._mase_scale: torch.Tensor | None = None

    def load(self) -> SeriesTable:
        """Read the file (or the split files, one after the other) once and apply the missing-value policy."""
        if self.table is None:
            table = handle_missing(
                read_series_csv(self.source, self.columns, self.time_column, self.targets or (), "data.train_path" if self.split_paths else "data.path"),
                self.missing,
            )
            if self.split_paths:
                table = self._append_split_files(table)
            targets = self.targets or list(table.columns)
            unknown = [name for name in targets if name not in table.columns]
            if unknown:
                raise DataError(f"data.targets={targets}: {unknown} not among the input columns {list(table.columns)}")
            self.targets = targets
            self.table = table
        return self.table

    def _append_split_files(self, train: SeriesTable) -> SeriesTable:
        """The train file's table followed by the val and test files' (read with the train file's columns);
        ``file_bounds`` records each file's rows, so no window crosses from one file into the next."""
        tables, start = [], 0
        for split, path in self.split_paths.items():
            table = (
                train
                if split == "train"
                else handle_missing(read_series_csv(path, list(train.columns), self.time_column, self.targets or (), f"data.{split}_path"), self.missing)
            )
            self.file_bounds[split] = (start, start + len(table.values))
            tables.append(table)
            start += len(table.values)
        times = None if train.times is None else [time for table in tables for time in table.times]
        return SeriesTable(
            ", ".join(table.source for table in tables),
            times,
            train.columns,
            torch.cat([table.values for table in tables]),
            np.concatenate([table.lines for table in tables]),
        )

    @property
    def target_indices(self) -> list[int]:
        table = self.load()
        return [table.columns.index(name) for name in self.targets]  # type: ignore[union-attr]

    @property
    def spec(self) -> DataSpec:
        if self.table is None:  # the columns are known once setup has read the file
            raise NotSetUpError(self)
        return DataSpec(
            input_kind="features",
            input_size=len(self.table.columns),
            target_kind="horizon",
            output_size=len(self.target_indices),
            horizon=self.horizon,
            input_length=self.input_length,
            target_features=tuple(self.target_indices),
        )

    @property
    def bounds(self) -> dict[str, tuple[int, int]]:
        """Rows of each split: fractions of one series, or the split files (val: the last
        ``held_out_share`` of the train file when there is no val file)."""
        length = len(self.load().values)
        if not self.split_paths:
            bounds = time_split(length, self.split_fractions)
            if self.folds == 1:
                return bounds
            bounds = rolling_origin_split(bounds, self.folds, self.fold)
            start, end = bounds["train"]
            if end - start < self.input_length + self.horizon:
                raise DataError(
                    f"data.backtest.fold={self.fold} of data.backtest.folds={self.folds}: its train range, rows {start}-{end - 1} "
                    f"of {self.source.name}, has {end - start} steps, fewer than one window (data.input_length={self.input_length} "
                    f"+ data.horizon={self.horizon}); use fewer folds or shorter windows"
                )
            return bounds
        bounds = dict(self.file_bounds)
        if "val" not in bounds:
            start, end = bounds["train"]
            cut = end - int(round((end - start) * held_out_share(self.split_fractions)))
            bounds["train"], bounds["val"] = (start, cut), (cut, end)
        return {split: bounds[split] for split in SPLITS}

    def data_ranges(self) -> dict[str, Any]:
        """Each split's first and last row (inclusive, as the log names them) and the backtest fold: ``metrics.json``'s
        ``data_ranges``, so folds (and the ``step`` column of ``predictions/test.csv``) can be compared."""
        return {"folds": self.folds, "fold": self.fold, **{split: [start, end - 1] for split, (start, end) in self.bounds.items()}}

    def context_start(self, split: str) -> int:
        """The first row a window of ``split`` may read: its file's first row (0 for one series)."""
        return self.file_bounds.get(split, self.file_bounds.get("train", (0, 0)))[0]

    def window_starts(self, split: str) -> WindowStarts:
        return forecast_window_starts(split, self.bounds, self.input_length, self.horizon, self.stride, self.context_start(split))

    def origins(self, split: str) -> torch.Tensor:
        """Every window's first target row, ``(windows,)`` (for baselines; the datasets compute them per batch)."""
        return self.window_starts(split).all() + self.input_length

    def training_budget(self, accumulate_grad_batches: int = 1) -> tuple[dict[str, Any], dict[str, int]] | None:
        """Trainer length, early stopping's patience and the figures' spacing for this series' training windows
        (``data.budget``, see ``seqexp.data.core.budget``), or ``None`` when ``data.budget`` is null."""
        if self.budget is None:
            return None
        settings = self.budget.trainer_settings(math.ceil(len(self.window_starts("train")) / self.batch_size), accumulate_grad_batches)
        return settings, self.budget.callback_settings(settings["max_epochs"])

    def train_scaler(self) -> Scaler:
        """The ``Scaler`` fitted on the train range only, once (or restored from a checkpoint)."""
        if self.scaler is None:
            train_start, train_end = self.bounds["train"]
            self.scaler = Scaler(self.scaling).fit(self.load().values[train_start:train_end])
        return self.scaler

    def mase_scale(self) -> torch.Tensor:
        """Per target column in-sample seasonal-naive MAE over the train range (original units)."""
        if self._mase_scale is None:
            train_start, train_end = self.bounds["train"]
            scale = seasonal_naive_mae(self.load().values[train_start:train_end, self.target_indices], self.season_length)
            if (scale == 0).any():
                raise DataError(f"{self.source}: a target is constant over the train range, MASE is undefined")
            self._mase_scale = scale
        return self._mase_scale

    def baseline_inputs(self) -> SeriesForecastInputs:
        """The target columns in their own units, the val and test windows' first target rows, the train range and the
        MASE denominator: the forecasts and figures of the model's own windows."""
        return SeriesForecastInputs(
            self.load().values[:, self.target_indices],
            {split: self.origins(split) for split in ("val", "test")},
            self.horizon,
            self.bounds["train"],
            self.season_length,
            self.mase_scale(),
        )

    def state_dict(self) -> dict[str, Any]:
        """The train range's scaler and MASE denominator, saved in every checkpoint (see ``restore_scaling``)."""
        if self.scaler is None:
            return {}
        return {"scaler": self.scaler.state_dict(), "mase_scale": self.mase_scale()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Scale as the checkpoint's model was trained (Lightning restores this after ``setup``): see ``restore_scaling``."""
        if "scaler" in state:
            restore_scaling(self.train_scaler(), state["scaler"], str(self.source))
            self.mase_scale().copy_(state["mase_scale"])

    def _check_sizes(self) -> None:
        length = len(self.load().values)
        for split in SPLITS:
            if len(self.window_starts(split)) == 0:
                start, end = self.bounds[split]
                if split in self.split_paths:
                    raise DataError(
                        f"data.input_length={self.input_length} + data.horizon={self.horizon} leave no {split} window: "
                        f"data.{split}_path={self.split_paths[split]} has {end - start} rows; shorten the windows"
                    )
                raise DataError(
                    f"data.input_length={self.input_length} + data.horizon={self.horizon} leave no {split} window: "
                    f"{self.source.name} has {length} steps, the {split} range is rows {start}-{end - 1} "
                    f"(data.split_fractions.{split}={self.split_fractions[split]}); shorten the windows"
                )

    def _windows(self, values: torch.Tensor, starts: WindowStarts) -> WindowDataset:
        return WindowDataset(
            starts, ForecastWindows(values, self.input_length, self.horizon, self.target_indices, self.center == "last", self.train_scaler(), self.mase_scale())
        )

    # --- prediction (seqexp.predict, predictions/test.csv) ---------------------------------------
    predict_table: SeriesTable | None = None  # new input set by set_predict_input

    def set_predict_input(self, path: str | Path) -> None:
        """Forecast from another file with the training's columns (``seqexp.predict data.path=...``): every
        window of it, the last ones reaching past its end (truth unknown there), scaled as in training."""
        self.setup()
        table = SeriesDataModule(
            path=str(path), columns=list(self.load().columns), targets=self.targets, time_column=self.time_column, missing=self.missing
        ).load()
        if len(table.values) < self.input_length:
            raise DataError(f"{path}: {len(table.values)} rows, fewer than the model's data.input_length={self.input_length}")
        self.datasets["predict"] = self._windows(table.values, WindowStarts(0, len(table.values) - self.input_length))
        self.predict_table = table

    def prediction_index(self) -> PredictionIndex:
        """Steps are rows of the series (of the new input, once set), named by the time column if there is one;
        the targets' values as read are the truth a prediction file shows."""
        table = self.predict_table or self.load()
        times = tuple(table.times) if table.times is not None else None
        return PredictionIndex(times=times, names=tuple(self.targets), values=table.values[:, self.target_indices].numpy())

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self._check_sizes()
        if self.folds > 1:
            log.info(
                "data: backtest fold %d of %d (data.backtest.fold, data.backtest.folds): %s",
                self.fold,
                self.folds,
                ", ".join(f"{split} rows {start}-{end - 1}" for split, (start, end) in self.bounds.items()),
            )
        for split in SPLITS:
            self.datasets[split] = self._windows(self.load().values, self.window_starts(split))
            start, end = self.bounds[split]
            origin = self.split_paths.get(split) or (f"held out of {self.split_paths['train']}" if self.split_paths else self.source.name)
            log.info("data: %s split has %d steps (rows %d-%d, %s), %d windows", split, end - start, start, end - 1, origin, len(self.datasets[split]))
