"""Regression: per-step targets (sin -> cos, lagged input) or the next ``horizon`` steps."""

from __future__ import annotations

from typing import Any

import torch
import torchmetrics
from torch import nn

from seqexp.data.spec import PredictionIndex
from seqexp.models.pooling import last_valid_step
from seqexp.tasks.base import Columns, SequenceTask


class RegressionTask(SequenceTask):
    """MSE loss; MSE and MAE through torchmetrics, computed on validation/test only."""

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
        outputs = self.encode(batch, stage)
        if self.spec.target_kind == "per_step":
            return self.head(outputs)
        last = last_valid_step(outputs, batch.get("lengths"), self.num_directions)
        return self.head(last).view(-1, self.spec.horizon, self.spec.output_size)

    def _scored(self, values: torch.Tensor) -> torch.Tensor:
        """Leave out the burn-in steps, where the target cannot be inferred from the window yet."""
        return values[:, self.spec.burn_in_steps :] if self.spec.target_kind == "per_step" else values

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        prediction = self(batch, "train")
        loss = nn.functional.mse_loss(self._scored(prediction), self._scored(batch["targets"]))
        self.log_train_loss(loss)
        return loss

    def _evaluate(self, batch: dict[str, torch.Tensor], batch_idx: int, stage: str) -> None:
        prediction = self(batch, stage)
        scored_prediction, scored_target = self._scored(prediction), self._scored(batch["targets"])
        loss = nn.functional.mse_loss(scored_prediction, scored_target)
        self.log(f"{stage}/loss", loss, batch_size=len(prediction), sync_dist=True)  # mean over all DDP ranks
        self.metrics[stage].update(scored_prediction.flatten(), scored_target.flatten())
        if batch_idx == 0:
            self._example[stage] = (batch["targets"][0].detach().cpu(), prediction[0].detach().float().cpu())

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.metrics["val"].compute(), prog_bar=True)
        self.metrics["val"].reset()

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.metrics["test"].compute())
        self.metrics["test"].reset()

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
        columns = {"window": torch.arange(windows).repeat_interleave(steps),
                   "step" if per_step else "horizon": (torch.arange(steps) + first).repeat(windows)}
        return {**columns, **self.target_columns(index.names, prediction.flatten(0, 1), truth.flatten(0, 1) if index.truth else None)}

    def figures(self, stage: str) -> dict[str, Any]:
        if stage not in self._example:
            return {}
        from seqexp.plotting import prediction_figure

        target, prediction = self._example[stage]
        burn_in = self.spec.burn_in_steps if self.spec.target_kind == "per_step" else 0
        title = f"{stage}: first window, epoch {self.current_epoch}"
        return {f"{stage}/prediction_vs_target": prediction_figure(target.numpy(), prediction.numpy(), title, burn_in)}
