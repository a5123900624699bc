"""Regression: per-step targets (sin -> cos, lagged input) or the next ``horizon`` steps."""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torch import nn

from seqexp.data.core.spec import PredictionIndex
from seqexp.models.pooling import last_valid_step
from seqexp.predictions import Columns, target_columns
from seqexp.tasks.base import SequenceTask
from seqexp.tasks.tbptt import TruncatedBPTT


class RegressionTask(TruncatedBPTT, SequenceTask):
    """MSE loss; MSE and MAE through torchmetrics, computed on validation/test only. Serves stateful data
    (``TruncatedBPTT``: the state carried between batches, chunked batches one optimizer step per chunk)."""

    progress_bar_metrics = ("mse", "mae")

    def __init__(self, spec: dict, model: dict, optim: dict, scheduler: dict, embedding: dict | None = None) -> None:
        super().__init__(spec, model, optim, scheduler, embedding)
        if self.spec.target_kind not in ("per_step", "horizon"):
            raise ValueError(f"RegressionTask needs per_step or horizon targets, the data declares {self.spec.target_kind!r}")
        width = self.spec.output_size * max(self.spec.horizon, 1) if self.spec.target_kind == "horizon" else self.spec.output_size
        self.head = nn.Linear(self.encoder_output_size, width)
        self.metrics = nn.ModuleDict(
            {
                stage: torchmetrics.MetricCollection(
                    {"mse": torchmetrics.MeanSquaredError(), "mae": torchmetrics.MeanAbsoluteError()},
                    prefix=f"{stage}/",
                )
                for stage in ("val", "test")
            }
        )
        self._example: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def forward(self, batch: dict[str, torch.Tensor], stage: str = "predict") -> torch.Tensor:
        """Predictions shaped like ``batch['targets']``."""
        outputs = self.encode(batch["inputs"], batch.get("lengths"), stage)
        if self.spec.target_kind == "per_step":
            return self.head(outputs)
        last = last_valid_step(outputs, batch.get("lengths"), self.num_directions)
        return self.horizon_layout(self.head(last))

    def horizon_layout(self, head_outputs: torch.Tensor) -> torch.Tensor:
        """The head's ``(batch, horizon * outputs)`` as ``(batch, horizon, outputs)``."""
        return head_outputs.view(-1, self.spec.horizon, self.spec.output_size)

    def _scored(self, values: torch.Tensor) -> torch.Tensor:
        """Leave out the burn-in steps, where the target cannot be inferred from the window yet."""
        return values[:, self.spec.burn_in_steps :] if self.spec.target_kind == "per_step" else values

    def compute_loss(self, batch: dict[str, torch.Tensor], outputs: torch.Tensor) -> torch.Tensor:
        return nn.functional.mse_loss(self._scored(outputs), self._scored(batch["targets"]))

    def update_metrics(self, stage: str, batch: dict[str, torch.Tensor], outputs: torch.Tensor, batch_idx: int) -> None:
        if stage == "train":  # metrics on validation/test only
            return
        self.metrics[stage].update(self._scored(outputs).flatten(), self._scored(batch["targets"]).flatten())
        if batch_idx == 0:
            self._example[stage] = (batch["targets"][0].detach().cpu(), outputs[0].detach().float().cpu())

    def predict_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Predictions and targets ``(batch, steps, outputs)``."""
        return {"prediction": self(batch, "predict").float(), "truth": batch["targets"]}

    def prediction_table(self, outputs: dict[str, torch.Tensor], index: PredictionIndex) -> Columns:
        """One row per window and scored step, as the metrics count them: ``step`` in the window
        (from ``burn_in_steps``), or ``horizon`` (1, 2, ...) for forecasts."""
        prediction, truth = self._scored(outputs["prediction"]), self._scored(outputs["truth"])
        windows, steps = prediction.shape[:2]
        per_step = self.spec.target_kind == "per_step"
        first = self.spec.burn_in_steps if per_step else 1
        columns = {"window": torch.arange(windows).repeat_interleave(steps), "step" if per_step else "horizon": (torch.arange(steps) + first).repeat(windows)}
        return {**columns, **target_columns(index.names, prediction.flatten(0, 1), truth.flatten(0, 1) if index.truth else None)}

    def figures(self, stage: str, index: PredictionIndex | None = None) -> dict[str, Any]:
        if stage not in self._example:
            return {}
        from seqexp.plotting import prediction_figure

        target, prediction = self._example[stage]
        burn_in = self.spec.burn_in_steps if self.spec.target_kind == "per_step" else 0
        title = self.figure_title(stage, "first window")
        return {f"{stage}/prediction_vs_target": prediction_figure(target.numpy(), prediction.numpy(), title, burn_in)}
