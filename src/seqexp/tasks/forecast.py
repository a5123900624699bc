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

from seqexp.data.spec import PredictionIndex
from seqexp.metrics.forecast import forecast_metrics
from seqexp.tasks.base import Columns
from seqexp.tasks.instance_norm import window_statistics
from seqexp.tasks.regression import RegressionTask

SCALING_KEYS = ("target_offset", "target_scale", "mase_scale", "origin")


class ForecastTask(RegressionTask):
    """Horizon regression with forecast metrics in original units and a forecast-vs-truth figure."""

    progress_bar_metrics = tuple(forecast_metrics().keys())

    def __init__(
        self, spec: dict, model: dict, optim: dict, scheduler: dict, embedding: dict | None = None,
        instance_norm: bool = False,
        linear_skip: bool = False,  # conf/task/forecast.yaml turns it on; False loads checkpoints saved before it existed
    ) -> None:
        super().__init__(spec, model, optim, scheduler, embedding)
        if self.spec.target_kind != "horizon":
            raise ValueError(f"ForecastTask needs horizon targets (data=series), the data declares {self.spec.target_kind!r}")
        for key, wanted in (("instance_norm", instance_norm), ("linear_skip", linear_skip)):
            if wanted and len(self.spec.target_features) != self.spec.output_size:
                raise ValueError(f"task.{key}=true needs targets that are input features (the data does not say which)")
        if linear_skip and self.spec.input_length < 1:
            raise ValueError("task.linear_skip=true needs input windows of one length (the data does not say it)")
        self.instance_norm = instance_norm
        self.target_features = list(self.spec.target_features)  # which input features the forecast targets are
        # LSTNet's autoregressive highway (Lai et al. 2018): one linear map from a target's input window to its
        # forecast, shared by the targets and added to the RNN's. It can copy last season (seasonal naive) or
        # extrapolate a line exactly, so the RNN only learns what a linear forecast misses.
        self.linear_skip = nn.Linear(self.spec.input_length, self.spec.horizon) if linear_skip else None
        self.metrics = nn.ModuleDict({stage: forecast_metrics(prefix=f"{stage}/") for stage in ("val", "test")})
        # Per stage: (origin, forecast, truth) of every window of the epoch, in original units, on the CPU.
        self._forecasts: dict[str, list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]] = {}

    def forward(self, batch: dict[str, torch.Tensor], stage: str = "predict") -> torch.Tensor:
        """With ``instance_norm``, reversible instance normalisation (RevIN, Kim et al. 2022): each input
        window is standardised by its own mean and std over time, and the forecast is mapped back with
        its target features' statistics, so a level or spread the train range never saw (a trend, a
        drift) reaches the model as the same shapes it learnt."""
        if not self.instance_norm:
            return self._forecast(batch, stage)
        inputs = batch["inputs"]  # (batch, time, features)
        mean, std = window_statistics(inputs)
        prediction = self._forecast({**batch, "inputs": (inputs - mean) / std}, stage)  # (batch, horizon, targets)
        return prediction * std[..., self.target_features] + mean[..., self.target_features]

    def _forecast(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        """The RNN's forecast ``(batch, horizon, targets)``, plus the linear skip's when there is one."""
        prediction = super().forward(batch, stage)
        if self.linear_skip is None:
            return prediction
        history = batch["inputs"][..., self.target_features].transpose(1, 2)  # (batch, targets, time)
        return prediction + self.linear_skip(history).transpose(1, 2)

    @staticmethod
    def _original_units(batch: dict[str, torch.Tensor], prediction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forecast and truth ``(batch, horizon, targets)`` in the series' units, from scaled values."""
        missing = [key for key in SCALING_KEYS if key not in batch]
        if missing:
            raise KeyError(f"ForecastTask needs batches with {missing} (as data=series serves them)")
        scale, offset = batch["target_scale"], batch["target_offset"]
        return prediction.float() * scale + offset, batch["targets"] * scale + offset

    def update_metrics(self, stage: str, batch: dict[str, torch.Tensor], outputs: torch.Tensor, batch_idx: int) -> None:
        """``outputs``: the forecast ``(batch, horizon, targets)`` in scaled values; the loss (MSE) is on
        those, the metrics in the series' units."""
        if stage == "train":  # metrics on validation/test only
            return
        forecast, truth = self._original_units(batch, outputs)
        self.metrics[stage].update(forecast, truth, scale=batch["mase_scale"])
        self._forecasts.setdefault(stage, []).append((batch["origin"].cpu(), forecast.detach().cpu(), truth.cpu()))

    def clear_epoch(self, stage: str) -> None:
        self._forecasts[stage] = []

    def predict_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Forecast and truth in the series' units (truth nan past the end of new input) and each
        window's ``origin``, the step of its first target."""
        forecast, truth = self._original_units(batch, self(batch, "predict"))
        return {"origin": batch["origin"], "prediction": forecast, "truth": truth}

    def prediction_table(self, outputs: dict[str, torch.Tensor], index: PredictionIndex) -> Columns:
        """One row per window and horizon step: the target's ``step`` and ``timestamp``, ``horizon``
        (1, 2, ...), then prediction and truth per target column. The mean over rows of
        ``|prediction - truth| / seasonal-naive MAE of the train range`` is the logged MASE."""
        prediction, truth = outputs["prediction"], outputs["truth"].flatten(0, 1)
        windows, horizon = prediction.shape[:2]
        steps = (outputs["origin"].view(-1, 1) + torch.arange(horizon)).flatten()
        if index.values is not None:  # the series as read (123.98), not float32 brought back from the model's scale (123.979996)
            values = torch.as_tensor(index.values)
            truth = torch.full((len(steps), values.shape[1]), float("nan"), dtype=values.dtype)
            known = steps < len(values)  # past the end of new input: not known yet
            truth[known] = values[steps[known]]
        columns = {**self.time_columns(index, steps), "horizon": (torch.arange(horizon) + 1).repeat(windows)}
        return {**columns, **self.target_columns(index.names, prediction.flatten(0, 1), truth if index.truth else None)}

    def figures(self, stage: str, index: PredictionIndex | None = None) -> dict[str, Any]:
        if not self._forecasts.get(stage):
            return {}
        from seqexp.plotting import forecast_figure

        index = index or PredictionIndex()
        origins, forecasts, truths = (torch.cat(parts) for parts in zip(*self._forecasts[stage]))
        title = self.figure_title(stage, f"forecasts of {self.spec.horizon} steps, one every {self.spec.horizon} steps")
        figure = forecast_figure(origins.numpy(), forecasts.numpy(), truths.numpy(), title, index.names, index.times)
        return {f"{stage}/forecast_vs_truth": figure}
