"""What a DataModule hands the baselines (``SeqDataModule.baseline_inputs``): the splits the model sees, as arrays.

One dataclass per kind of data. Each holds exactly what its family's baselines need and nothing of the
DataModule, so the baselines are plain functions over tensors, testable without a Trainer. Values are those
the model is scored on: original units for forecasts (where the task scores in them), the model's own scaled
inputs elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SeriesForecastInputs:
    """One series cut into ranges, scored in its own units (``data=series``)."""

    values: torch.Tensor  # (time, targets) the target columns, original units
    origins: dict[str, torch.Tensor]  # "val"/"test": each window's first target row, (windows,)
    horizon: int
    train_rows: tuple[int, int]  # [start, end) of the train range: train mean, drift's first point
    season_length: int
    mase_scale: torch.Tensor  # (targets,) the seasonal-naive MAE of the train range: MASE's denominator


@dataclass(frozen=True)
class WindowRegressionInputs:
    """Independent windows with per-step or horizon targets (``data=sine``), scored by MSE and MAE."""

    inputs: dict[str, torch.Tensor]  # per split: (windows, time, features)
    targets: dict[str, torch.Tensor]  # per split: (windows, steps, outputs)
    burn_in_steps: int  # per-step targets: leading steps the task leaves unscored
    horizon: bool  # targets are the steps after the window (a forecast of the inputs' one feature)


@dataclass(frozen=True)
class CaseClassificationInputs:
    """Labelled cases of real-valued series (``data=ucr``)."""

    cases: dict[str, list[torch.Tensor]]  # per split: each case (time, channels), scaled as the model sees it
    labels: dict[str, torch.Tensor]  # per split: class ids, (cases,)
    classes: int


@dataclass(frozen=True)
class TextClassificationInputs:
    """Labelled texts (``data=text``, ``data=text_csv``)."""

    texts: dict[str, list[str]]
    labels: dict[str, torch.Tensor]  # per split: class ids, (texts,)
    classes: int
    tokenize: Callable[[str], list[str]]  # the model's tokenizer (with its length limit): the same tokens


@dataclass(frozen=True)
class SlicedRows:
    """A series' rows made when a slice of them is read (``rows[start:end]`` calls ``read(start, end)``): a baseline
    then holds the rows it is scoring, not a scaled copy of the whole series (millions of points in a long file)."""

    read: Callable[[int, int], torch.Tensor]  # (start, end) -> rows [start, end), (time, features)
    shape: tuple[int, int]  # (time, features) of the whole series

    def __getitem__(self, rows: slice) -> torch.Tensor:
        start, end, step = rows.indices(self.shape[0])
        if step != 1:
            raise ValueError(f"SlicedRows reads consecutive rows, not every {step}th")
        return self.read(start, end)


@dataclass(frozen=True)
class AnomalyInputs:
    """One labelled series cut into ranges (``data=anomaly``, ``anomaly_csv``, ``anomaly_real``)."""

    values: torch.Tensor | SlicedRows  # (time, features) scaled as the model sees them, read by slices
    labels: torch.Tensor  # (time,) 1 = anomalous
    bounds: dict[str, tuple[int, int]]  # [start, end) rows of train, val and test


BaselineInputs = SeriesForecastInputs | WindowRegressionInputs | CaseClassificationInputs | TextClassificationInputs | AnomalyInputs
