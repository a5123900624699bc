"""Forecasting: regression of the next ``horizon`` steps, scored in the series' original units.

Training minimises MSE on scaled values (``RegressionTask``); validation and test undo the data's
scaling (``target_offset``/``target_scale`` in the batch) before MAE, RMSE, MAPE, sMAPE and MASE
(``mase_scale`` in the batch: the seasonal-naive MAE of the train range), so the numbers read in
degrees, ppm or passengers and compare directly with ``scripts/baseline_forecast.py``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from seqexp.metrics.forecast import forecast_metrics
from seqexp.tasks.regression import RegressionTask

SCALING_KEYS = ("target_offset", "target_scale", "mase_scale", "origin")


class ForecastTask(RegressionTask):
    """Horizon regression with forecast metrics in original units and a forecast-vs-truth figure."""

    def __init__(self, spec: dict, model: dict, optim: dict, scheduler: dict, embedding: dict | None = None) -> None:
        super().__init__(spec, model, optim, scheduler, embedding)
        if self.spec.target_kind != "horizon":
            raise ValueError(f"ForecastTask needs horizon targets (data=series), the data declares {self.spec.target_kind!r}")
        self.metrics = nn.ModuleDict({stage: forecast_metrics(prefix=f"{stage}/") for stage in ("val", "test")})
        # Per stage: (origin, forecast, truth) of every window of the epoch, in original units, on the CPU.
        self._forecasts: dict[str, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = {}

    def _evaluate(self, batch: dict[str, torch.Tensor], batch_idx: int, stage: str) -> None:
        missing = [key for key in SCALING_KEYS if key not in batch]
        if missing:
            raise KeyError(f"ForecastTask needs batches with {missing} (as data=series serves them)")
        prediction = self(batch, stage)  # (batch, horizon, targets), scaled
        self.log(f"{stage}/loss", nn.functional.mse_loss(prediction, batch["targets"]), batch_size=len(prediction), sync_dist=True)
        scale, offset = batch["target_scale"], batch["target_offset"]
        forecast = prediction.float() * scale + offset
        truth = batch["targets"] * scale + offset
        self.metrics[stage].update(forecast, truth, scale=batch["mase_scale"])
        self._forecasts.setdefault(stage, []).append((batch["origin"].cpu(), forecast.detach().cpu(), truth.cpu()))

    def on_validation_epoch_start(self) -> None:
        super().on_validation_epoch_start()
        self._forecasts["val"] = []

    def on_test_epoch_start(self) -> None:
        super().on_test_epoch_start()
        self._forecasts["test"] = []

    def figures(self, stage: str) -> dict[str, Any]:
        if not self._forecasts.get(stage):
            return {}
        from seqexp.plotting import forecast_figure

        origins, forecasts, truths = (torch.cat(parts) for parts in zip(*self._forecasts[stage]))
        title = f"{stage}: forecasts of {self.spec.horizon} steps, one every {self.spec.horizon} steps, epoch {self.current_epoch}"
        return {f"{stage}/forecast_vs_truth": forecast_figure(origins.numpy(), forecasts.numpy(), truths.numpy(), title)}
