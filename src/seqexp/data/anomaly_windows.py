"""Windows over one labelled series, shared by every anomaly DataModule (synthetic, real, CSV).

A subclass supplies the whole series once: ``values`` ``(time, feature)``, point ``labels``
``(time,)`` (1 = anomalous) and the split boundaries (train, then val, then test: contiguous and
disjoint). This base normalises each feature with the mean/std of the train part only and serves:

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

import lightning as L
import torch

from seqexp.data.batching import BatchedTensorDataset, TensorSplitLoaders
from seqexp.data.errors import DataError
from seqexp.data.spec import DataSpec
from seqexp.metrics.anomaly import runs

SPLITS = ("train", "val", "test")
log = logging.getLogger(__name__)


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
        log.info("data: %s split has %d points, %d anomalous (%.2f%%) in %d windows",
                 split, end - start, points, 100.0 * points / max(end - start, 1), windows)


class AnomalyWindowsDataModule(TensorSplitLoaders, L.LightningDataModule):
    """Subclasses implement :meth:`load_series`; everything else is shared."""

    # The config keys that decide which split holds anomalies; the task names them when a split has none.
    split_keys: tuple[str, ...] = ()

    def __init__(
        self,
        window_length: int = 32,
        train_stride: int = 1,
        eval_stride: int = 1,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.window_length = check_int("data.window_length", window_length, 2)
        self.train_stride = check_int("data.train_stride", train_stride, 1)
        self.eval_stride = check_int("data.eval_stride", eval_stride, 1)
        self.batch_size = check_int("data.batch_size", batch_size, 1)
        self.num_workers = check_int("data.num_workers", num_workers, 0)
        self.seed = seed
        self.values: torch.Tensor | None = None  # (time, feature), normalised
        self.labels: torch.Tensor | None = None  # (time,)
        self.bounds: dict[str, tuple[int, int]] = {}
        self.datasets: dict[str, BatchedTensorDataset] = {}

    # --- what a subclass provides -------------------------------------------------------------
    def load_series(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, tuple[int, int]]]:
        """Raw ``values`` (time, feature), ``labels`` (time,) and ``{split: (start, end)}``."""
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------------
    @property
    def spec(self) -> DataSpec:
        self.prepare_series()  # the number of features may only be known from the file
        features = self.values.shape[1]
        return DataSpec(input_kind="features", input_size=features, target_kind="anomaly", output_size=features)

    def prepare_series(self) -> None:
        """Load and normalise the series once (also used by baselines, without windows)."""
        if self.values is not None:
            return
        values, labels, bounds = self.load_series()
        for split in SPLITS:
            start, end = bounds[split]
            if end - start < self.window_length:
                raise DataError(
                    f"data: the {split} split has {end - start} points, fewer than data.window_length={self.window_length}"
                )
        train = values[slice(*bounds["train"])].double()
        mean, std = train.mean(0), train.std(0, unbiased=False)
        self.values = ((values.double() - mean) / torch.where(std > 0, std, torch.ones_like(std))).float()
        self.labels, self.bounds = labels.long(), bounds
        log_split_anomalies(self.labels, bounds)

    def split_series(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised values and labels of one split, ``(time, feature)`` and ``(time,)``."""
        self.prepare_series()
        start, end = self.bounds[split]
        return self.values[start:end], self.labels[start:end]

    def _window_starts(self, split: str) -> torch.Tensor:
        """Absolute start indices of the split's windows."""
        start, end = self.bounds[split]
        if split == "train":
            return torch.arange(start, end - self.window_length + 1, self.train_stride)
        first = max(0, start - self.window_length + 1)
        starts = torch.arange(first, end - self.window_length + 1, self.eval_stride)
        if starts[-1] != end - self.window_length:  # cover the split's last point
            starts = torch.cat([starts, torch.tensor([end - self.window_length])])
        return starts

    def _windows(self, split: str) -> BatchedTensorDataset:
        starts = self._window_starts(split)
        index = starts.view(-1, 1) + torch.arange(self.window_length).view(1, -1)  # (windows, time)
        return BatchedTensorDataset(
            inputs=self.values[index],  # (windows, time, feature)
            targets=self.labels[index],  # (windows, time)
            starts=starts - self.bounds[split][0],
        )

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        self.prepare_series()
        self.datasets = {split: self._windows(split) for split in SPLITS}
