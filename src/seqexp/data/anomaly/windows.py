"""Windows over one labelled series, shared by every anomaly DataModule (synthetic, real, CSV).

A subclass supplies the whole series once: ``values`` ``(time, feature)``, point ``labels``
``(time,)`` (1 = anomalous) and the split boundaries (train, then val, then test: contiguous and
disjoint). This base normalises each feature with the mean/std of the train part only and serves
windows as index arithmetic over the series (``seqexp.data.core.windows``: memory O(points); the series
may be a memory-mapped ``.npy``), scaled as each batch is gathered:

    train     windows of ``window_length`` steps every ``train_stride`` steps inside train, shuffled
    val/test  windows every ``eval_stride`` steps, in order, that together cover every point of the
              split; a window may start up to ``window_length - 1`` steps before the split (context
              from the preceding split, never its labels' points: only points >= 0 are scored)

Batch keys: ``inputs`` ``(batch, time, feature)``, ``targets`` ``(batch, time)`` point labels, and
``starts`` ``(batch,)``: the index of each window's first step relative to the split's first point,
so a task can put overlapping windows back on the split's time axis.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch

from seqexp.baselines.inputs import AnomalyInputs, SlicedRows
from seqexp.checks import Range, check_arguments
from seqexp.data.core.batching import TensorSplitLoaders
from seqexp.data.core.contract import BatchSize, NotSetUpError, SeqDataModule, Workers
from seqexp.data.core.errors import DataError
from seqexp.data.core.scaling import Scaler, restore_scaling
from seqexp.data.core.spec import SPLITS, DataSpec, PredictionIndex
from seqexp.data.core.table import apply_missing, read_columns, read_header
from seqexp.data.core.windows import Batch, WindowDataset, WindowStarts, gather_rows
from seqexp.metrics.anomaly import runs

log = logging.getLogger(__name__)
SCALE_CHUNK = 1 << 16  # rows scaled at a time by scaled_values


def check_int(key: str, value: object, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise DataError(f"{key}={value!r}: must be an integer >= {minimum}")
    return value


def log_split_anomalies(labels: torch.Tensor, bounds: dict[str, tuple[int, int]]) -> None:
    """Log the anomalous points and windows (runs of label 1) of each split: a split without any
    leaves its threshold rule and metrics undefined, and the run log should say so up front."""
    for split in SPLITS:
        start, end = bounds[split]
        split_labels = labels[start:end].bool()
        points, windows = int(split_labels.sum()), len(runs(split_labels))
        log.info("data: %s split has %d points, %d anomalous (%.2f%%) in %d windows", split, end - start, points, 100.0 * points / max(end - start, 1), windows)


@dataclass(frozen=True)
class LabelledWindows:
    """Gathers a batch of windows of ``length`` steps: inputs scaled by the train split's ``scaler``, point
    labels, and each window's start relative to ``origin`` (the split's first point)."""

    values: np.ndarray | torch.Tensor  # (time, feature), the series in its own units
    labels: torch.Tensor  # (time,) 0/1
    scaler: Scaler
    length: int
    origin: int

    def __call__(self, starts: torch.Tensor) -> Batch:
        index = starts.view(-1, 1) + torch.arange(self.length).view(1, -1)  # (windows, time)
        return {
            "inputs": self.scaler.transform(gather_rows(self.values, index).double()).float(),  # (windows, time, feature)
            "targets": self.labels[index].long(),  # (windows, time)
            "starts": starts - self.origin,
        }


def float64_rows(values: np.ndarray | torch.Tensor, start: int, end: int) -> torch.Tensor:
    """Rows ``[start, end)`` of a series as a float64 tensor (a memory-mapped array is read here)."""
    rows = values[start:end]
    return rows.double() if isinstance(rows, torch.Tensor) else torch.from_numpy(np.array(rows, dtype=np.float64))


class AnomalyWindowsDataModule(TensorSplitLoaders, SeqDataModule):
    """Subclasses implement :meth:`load_series`; everything else is shared."""

    predicts_new_input = True  # set_predict_input: another file of the same features (seqexp.predict data.path=...)

    def __init__(
        self,
        window_length: Annotated[int, Range(ge=2)] = 32,  # a forecast needs a context step and a target step
        train_stride: int = 1,
        eval_stride: int = 1,
        batch_size: BatchSize = 64,
        num_workers: Workers = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_arguments(type(self), "data", window_length=window_length)
        self.window_length = window_length
        self.train_stride = check_int("data.train_stride", train_stride, 1)
        self.eval_stride = check_int("data.eval_stride", eval_stride, 1)
        self.batch_size = check_int("data.batch_size", batch_size, 1)
        self.num_workers = check_int("data.num_workers", num_workers, 0)
        self.seed = seed
        self.raw_values: np.ndarray | torch.Tensor | None = None  # (time, feature) in the data's own units
        self.scaler: Scaler | None = None  # mean/std (population) of the train split
        self.labels: torch.Tensor | None = None  # (time,) 0/1
        self.bounds: dict[str, tuple[int, int]] = {}
        self.context_starts: dict[str, int] = {}  # per split, the first point its windows may read (split files: the file's first)
        self.datasets: dict[str, WindowDataset] = {}

    # --- what a subclass provides -------------------------------------------------------------
    def load_series(self) -> tuple[np.ndarray | torch.Tensor, torch.Tensor, dict[str, tuple[int, int]]]:
        """Raw ``values`` (time, feature) (a tensor, or an array that may be memory-mapped), ``labels``
        (time,) and ``{split: (start, end)}``."""
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------------
    @property
    def spec(self) -> DataSpec:
        if self.raw_values is None:  # the number of features may only be known from the file setup reads
            raise NotSetUpError(self)
        features = self.raw_values.shape[1]
        return DataSpec(input_kind="features", input_size=features, target_kind="anomaly", output_size=features)

    def prepare_series(self) -> None:
        """Load the series and fit the scaler on its train split, once (also used by baselines, without windows)."""
        if self.raw_values is not None:
            return
        values, labels, bounds = self.load_series()
        for split in SPLITS:
            start, end = bounds[split]
            if end - start < self.window_length:
                raise DataError(f"data: the {split} split has {end - start} points, fewer than data.window_length={self.window_length}")
        self.scaler = Scaler("standard", correction=0).fit(float64_rows(values, *bounds["train"]))
        self.raw_values, self.labels, self.bounds = values, labels, bounds
        log_split_anomalies(labels, bounds)

    def state_dict(self) -> dict[str, Any]:
        """The train split's scaler, saved in every checkpoint (see ``seqexp.data.core.scaling.restore_scaling``)."""
        return {"scaler": self.scaler.state_dict()} if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Scale as the checkpoint's model was trained (Lightning restores this after ``setup``)."""
        if "scaler" in state:
            self.prepare_series()
            restore_scaling(self.scaler, state["scaler"], "the series")

    def scaled_values(self, start: int = 0, end: int | None = None) -> torch.Tensor:
        """Points ``[start, end)`` of the series, normalised as the model sees them, ``(time, feature)`` float32;
        scaled ``SCALE_CHUNK`` rows at a time (the float64 steps of the whole series took 16 bytes a value more)."""
        self.prepare_series()
        end = len(self.labels) if end is None else end
        scaled = torch.empty(end - start, self.raw_values.shape[1], dtype=torch.float32)
        for first in range(start, end, SCALE_CHUNK):
            last = min(first + SCALE_CHUNK, end)
            scaled[first - start : last - start] = self.scaler.transform(float64_rows(self.raw_values, first, last))
        return scaled

    def split_series(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised values and labels of one split, ``(time, feature)`` and ``(time,)``."""
        self.prepare_series()
        start, end = self.bounds[split]
        return self.scaled_values(start, end), self.labels[start:end].long()

    def baseline_inputs(self) -> AnomalyInputs:
        """The series normalised as the model sees it (scaled as the baselines read its rows), its labels and the splits' rows."""
        self.prepare_series()
        return AnomalyInputs(SlicedRows(self.scaled_values, tuple(self.raw_values.shape)), self.labels, dict(self.bounds))

    def _window_starts(self, split: str) -> WindowStarts:
        """Train: windows every ``train_stride`` inside the split; val/test: every ``eval_stride`` from up to
        ``window_length - 1`` points before the split, the last one ending on its last point."""
        start, end = self.bounds[split]
        if split == "train":
            return WindowStarts(start, end - self.window_length, self.train_stride)
        first = max(self.context_starts.get(split, 0), start - self.window_length + 1)
        return WindowStarts(first, end - self.window_length, self.eval_stride, cover_last=True)

    def _windows(self, split: str) -> WindowDataset:
        return WindowDataset(self._window_starts(split), LabelledWindows(self.raw_values, self.labels, self.scaler, self.window_length, self.bounds[split][0]))

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self.prepare_series()
        self.datasets = {split: self._windows(split) for split in SPLITS}

    # --- prediction (seqexp.predict, predictions/test.csv) ---------------------------------------
    predict_index: PredictionIndex | None = None  # of the new input set by set_predict_input

    def value_names(self) -> tuple[str, ...]:
        """Names of the features in prediction files (file-based modules use their columns' names)."""
        features = self.raw_values.shape[1]
        return ("value",) if features == 1 else tuple(f"value_{feature}" for feature in range(features))

    def point_times(self) -> list[str] | None:
        """Each point's time stamp, None without a timestamp column (file-based modules may have one)."""
        return None

    def has_labels(self) -> bool:
        """Whether the labels are known (a file may come without them: all points then read as normal)."""
        return True

    def read_new_series(self, path: str | Path) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None]:
        """Values ``(time, feature)``, labels (None when the file has none) and time stamps of new input.
        Without column settings of its own (synthetic data), every column of the file is a feature."""
        header = read_header(path, key=None)
        columns = read_columns(path, header, key=None)
        values, _ = apply_missing(columns.matrix(header), "interpolate", columns.source, columns.lines, header)
        return torch.from_numpy(values), None, None

    def set_predict_input(self, path: str | Path) -> None:
        """Score another file of the same features (``seqexp.predict data.path=...``) as one series,
        scaled as the train split, in windows every ``eval_stride`` points."""
        self.setup()
        values, labels, times = self.read_new_series(path)
        if values.shape[1] != self.raw_values.shape[1]:
            raise DataError(f"{path}: {values.shape[1]} value columns, the model was trained on {self.raw_values.shape[1]} ({', '.join(self.value_names())})")
        if len(values) < self.window_length:
            raise DataError(f"{path}: {len(values)} points, fewer than the model's data.window_length={self.window_length}")
        known = labels if labels is not None else torch.zeros(len(values), dtype=torch.uint8)
        self.datasets["predict"] = WindowDataset(
            WindowStarts(0, len(values) - self.window_length, self.eval_stride, cover_last=True),
            LabelledWindows(values, known, self.scaler, self.window_length, 0),
        )
        self.predict_index = PredictionIndex(truth=labels is not None, times=None if times is None else tuple(times), names=self.value_names(), values=values)

    def prediction_index(self) -> PredictionIndex:
        """Points of the test split (or of the new input, once set), with their values in the data's own units."""
        return self.predict_index if self.predict_index is not None else self.split_index("test")

    def split_index(self, split: str) -> PredictionIndex:
        """Points of ``split``, numbered in the whole series, with their time stamps and values in the data's own units."""
        self.prepare_series()
        start, end = self.bounds[split]
        times = self.point_times()
        return PredictionIndex(
            truth=self.has_labels(),
            first_step=start,
            times=None if times is None else tuple(times[start:end]),
            names=self.value_names(),
            values=float64_rows(self.raw_values, start, end),
        )
