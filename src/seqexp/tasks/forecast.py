"""Forecasting: regression of the next ``horizon`` steps, scored in the series' original units.

Training minimises MSE on scaled values (``RegressionTask``); validation and test undo the data's
scaling (``target_offset``/``target_scale`` in the batch) before MAE, RMSE, MAPE, sMAPE and MASE
(``mase_scale`` in the batch: the seasonal-naive MAE of the train range), so the numbers read in
degrees, ppm or passengers and compare directly with ``scripts/baseline_forecast.py``.

With ``quantiles`` (``task.quantiles=[0.1,0.5,0.9]``) the head forecasts each quantile and training
minimises the pinball loss instead; the median is the point forecast the metrics above score, and
``pinball`` and ``coverage`` (share of truths between the outer quantiles) score the quantiles.
"""

from __future__ import annotations

from typing import Annotated, Any, Mapping

import torch
from torch import nn

from seqexp.checks import ConfigError, Range, check_arguments
from seqexp.data.core.spec import PredictionIndex
from seqexp.metrics.forecast import forecast_metrics, pinball_loss, quantile_metrics
from seqexp.predictions import Columns, target_columns, time_columns
from seqexp.tasks.instance_norm import window_statistics
from seqexp.tasks.regression import RegressionTask

SCALING_KEYS = ("target_offset", "target_scale", "mase_scale", "origin")


def ordered_quantiles(raw: torch.Tensor, median_index: int) -> torch.Tensor:
    """Quantile forecasts ``(..., quantiles)`` that cannot cross, from the head's raw ``(..., quantiles)``: the
    median slot is the median; each quantile above it adds a softplus (>= 0) to the one below, each one under
    it subtracts a softplus from the one above."""
    median = raw[..., median_index : median_index + 1]
    steps = nn.functional.softplus(raw)
    above = median + steps[..., median_index + 1 :].cumsum(-1)
    below = median - steps[..., :median_index].flip(-1).cumsum(-1).flip(-1)
    return torch.cat([below, median, above], dim=-1)


class ForecastTask(RegressionTask):
    """Horizon regression with forecast metrics in original units and a forecast-vs-truth figure."""

    progress_bar_metrics = tuple(forecast_metrics().keys())

    def __init__(
        self,
        spec: dict,
        model: dict,
        optim: dict,
        scheduler: dict,
        embedding: dict | None = None,
        instance_norm: bool = False,
        linear_skip: bool = False,  # conf/task/forecast.yaml turns it on; False loads checkpoints saved before it existed
        quantiles: list[Annotated[float, Range(gt=0, lt=1)]] | None = None,  # None: point forecasts (MSE), as before the key existed
    ) -> None:
        check_arguments(type(self), "task", quantiles=quantiles)
        self.check_config({"task": {"quantiles": quantiles}})
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
        self.quantiles = tuple(float(q) for q in quantiles) if quantiles is not None else None
        if self.quantiles is not None:
            self.median_index = self.quantiles.index(0.5)
            # Every quantile of every step and target: (batch, horizon * targets * quantiles), laid out by horizon_layout.
            self.head = nn.Linear(self.encoder_output_size, self.spec.output_size * self.spec.horizon * len(self.quantiles))
            self.register_buffer("quantile_levels", torch.tensor(self.quantiles), persistent=False)
            self.quantile_metrics = nn.ModuleDict({stage: quantile_metrics(list(self.quantiles), prefix=f"{stage}/") for stage in ("val", "test")})
        # Per stage: (origin, forecast, truth, quantile forecasts or None) of every window of the epoch, in
        # original units, on the CPU.
        self._forecasts: dict[str, list[tuple[torch.Tensor, ...]]] = {}

    @classmethod
    def check_config(cls, cfg: Mapping[str, Any]) -> None:
        """``task.quantiles`` (numbers in (0, 1), as the signature declares) increase and hold the median, 0.5: the
        point forecast the metrics score."""
        quantiles = cfg["task"].get("quantiles")
        if quantiles is not None and (0.5 not in quantiles or any(low >= high for low, high in zip(quantiles, quantiles[1:]))):
            allowed = "null or a list of increasing numbers in (0, 1) that holds 0.5 (the median: the point forecast), e.g. [0.1,0.5,0.9]"
            raise ConfigError(f"task.quantiles={quantiles!r}: must be {allowed}")

    def forward(self, batch: dict[str, torch.Tensor], stage: str = "predict") -> torch.Tensor:
        """With ``instance_norm``, reversible instance normalisation (RevIN, Kim et al. 2022): each input
        window is standardised by its own mean and std over time, and the forecast is mapped back with
        its target features' statistics, so a level or spread the train range never saw (a trend, a
        drift) reaches the model as the same shapes it learnt.

        Returns ``(batch, horizon, targets)``, or with ``quantiles`` ``(batch, horizon, targets, quantiles)`` in
        increasing order (the map back multiplies by a positive std: the order holds)."""
        if not self.instance_norm:
            return self._forecast(batch, stage)
        inputs = batch["inputs"]  # (batch, time, features)
        mean, std = window_statistics(inputs)
        prediction = self._forecast({**batch, "inputs": (inputs - mean) / std}, stage)
        mean, std = mean[..., self.target_features], std[..., self.target_features]  # (batch, 1, targets)
        if self.quantiles is not None:
            mean, std = mean.unsqueeze(-1), std.unsqueeze(-1)
        return prediction * std + mean

    def horizon_layout(self, head_outputs: torch.Tensor) -> torch.Tensor:
        """With ``quantiles``: the head's raw outputs as ``(batch, horizon, targets, quantiles)`` (ordered later)."""
        if self.quantiles is None:
            return super().horizon_layout(head_outputs)
        return head_outputs.view(-1, self.spec.horizon, self.spec.output_size, len(self.quantiles))

    def _forecast(self, batch: dict[str, torch.Tensor], stage: str) -> torch.Tensor:
        """The RNN's forecast ``(batch, horizon, targets)``, plus the linear skip's when there is one. With
        ``quantiles``, the skip adds to the median before the other quantiles are laid around it (so it shifts
        every quantile alike)."""
        prediction = super().forward(batch, stage)
        if self.linear_skip is not None:
            history = batch["inputs"][..., self.target_features].transpose(1, 2)  # (batch, targets, time)
            skip = self.linear_skip(history).transpose(1, 2)  # (batch, horizon, targets)
            if self.quantiles is None:
                return prediction + skip
            median = self.median_index
            prediction = torch.cat([prediction[..., :median], prediction[..., median : median + 1] + skip.unsqueeze(-1), prediction[..., median + 1 :]], dim=-1)
        return prediction if self.quantiles is None else ordered_quantiles(prediction, self.median_index)

    def compute_loss(self, batch: dict[str, torch.Tensor], outputs: torch.Tensor) -> torch.Tensor:
        """MSE of the point forecast; with ``quantiles`` the mean pinball loss over steps, targets and quantiles."""
        if self.quantiles is None:
            return super().compute_loss(batch, outputs)
        return pinball_loss(outputs, batch["targets"], self.quantile_levels).mean()

    def point_forecast(self, outputs: torch.Tensor) -> torch.Tensor:
        """The forecast ``(batch, horizon, targets)`` the point metrics score: with ``quantiles`` their median."""
        return outputs if self.quantiles is None else outputs[..., self.median_index]

    @staticmethod
    def _original_units(batch: dict[str, torch.Tensor], prediction: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Forecast and truth ``(batch, horizon, targets)`` in the series' units, from scaled values."""
        missing = [key for key in SCALING_KEYS if key not in batch]
        if missing:
            raise KeyError(f"ForecastTask needs batches with {missing} (as data=series serves them)")
        scale, offset = batch["target_scale"], batch["target_offset"]  # (batch, 1, targets)
        if prediction.dim() == 4:  # quantiles last: positive scale keeps their order
            return prediction.float() * scale.unsqueeze(-1) + offset.unsqueeze(-1), batch["targets"] * scale + offset
        return prediction.float() * scale + offset, batch["targets"] * scale + offset

    def update_metrics(self, stage: str, batch: dict[str, torch.Tensor], outputs: torch.Tensor, batch_idx: int) -> None:
        """``outputs``: the forecast ``(batch, horizon, targets)`` in scaled values (with ``quantiles``
        ``(batch, horizon, targets, quantiles)``); the loss is on those, the metrics in the series' units."""
        if stage == "train":  # metrics on validation/test only
            return
        forecast, truth = self._original_units(batch, outputs)
        quantile_forecast = None
        if self.quantiles is not None:
            quantile_forecast, forecast = forecast, self.point_forecast(forecast)
            self.quantile_metrics[stage].update(quantile_forecast, truth)
            quantile_forecast = quantile_forecast.detach().cpu()
        self.metrics[stage].update(forecast, truth, scale=batch["mase_scale"])
        self._forecasts.setdefault(stage, []).append((batch["origin"].cpu(), forecast.detach().cpu(), truth.cpu(), quantile_forecast))

    def epoch_metrics(self, stage: str) -> dict[str, Any]:
        values = super().epoch_metrics(stage)
        if self.quantiles is not None and stage in self.quantile_metrics:
            values.update(self.quantile_metrics[stage].compute())
            self.quantile_metrics[stage].reset()
        return values

    def clear_epoch(self, stage: str) -> None:
        self._forecasts[stage] = []

    def predict_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Forecast and truth in the series' units (truth nan past the end of new input) and each
        window's ``origin``, the step of its first target; with ``quantiles`` also ``quantiles``
        ``(batch, horizon, targets, quantiles)``, whose median is the forecast."""
        forecast, truth = self._original_units(batch, self(batch, "predict"))
        if self.quantiles is None:
            return {"origin": batch["origin"], "prediction": forecast, "truth": truth}
        return {"origin": batch["origin"], "prediction": self.point_forecast(forecast), "truth": truth, "quantiles": forecast}

    def prediction_table(self, outputs: dict[str, torch.Tensor], index: PredictionIndex) -> Columns:
        """One row per window and horizon step: the target's ``step`` and ``timestamp``, ``horizon``
        (1, 2, ...), then prediction and truth per target column (with ``quantiles``, ``<column>_q0.1``, ...
        after each prediction, which is their median). The mean over rows of
        ``|prediction - truth| / seasonal-naive MAE of the train range`` is the logged MASE."""
        prediction, truth = outputs["prediction"], outputs["truth"].flatten(0, 1)
        windows, horizon = prediction.shape[:2]
        steps = (outputs["origin"].view(-1, 1) + torch.arange(horizon)).flatten()
        if index.values is not None:  # the series as read (123.98), not float32 brought back from the model's scale (123.979996)
            values = torch.as_tensor(index.values)
            truth = torch.full((len(steps), values.shape[1]), float("nan"), dtype=values.dtype)
            known = steps < len(values)  # past the end of new input: not known yet
            truth[known] = values[steps[known]]
        columns = {**time_columns(index, steps), "horizon": (torch.arange(horizon) + 1).repeat(windows)}
        targets = target_columns(index.names, prediction.flatten(0, 1), truth if index.truth else None)
        if self.quantiles is None:
            return {**columns, **targets}
        quantile_forecast = outputs["quantiles"].flatten(0, 1)  # (rows, targets, quantiles)
        target = 0
        for name, column in targets.items():
            columns[name] = column
            if name.endswith("prediction"):  # <column>_prediction, or plain prediction for one unnamed target
                stem = name[: -len("prediction")]
                columns.update({f"{stem}q{level:g}": quantile_forecast[:, target, k] for k, level in enumerate(self.quantiles)})
                target += 1
        return columns

    def figures(self, stage: str, index: PredictionIndex | None = None) -> dict[str, Any]:
        if not self._forecasts.get(stage):
            return {}
        from seqexp.plotting import forecast_figure

        index = index or PredictionIndex()
        origins, forecasts, truths, *quantile_forecasts = (torch.cat(parts) if parts[0] is not None else None for parts in zip(*self._forecasts[stage]))
        title = self.figure_title(stage, f"forecasts of {self.spec.horizon} steps, one every {self.spec.horizon} steps")
        interval = None
        if self.quantiles is not None:  # the outer quantiles
            quantile_forecast = quantile_forecasts[0].numpy()
            interval = (quantile_forecast[..., 0], quantile_forecast[..., -1], f"q{self.quantiles[0]:g}-q{self.quantiles[-1]:g}")
        figure = forecast_figure(origins.numpy(), forecasts.numpy(), truths.numpy(), title, index.names, index.times, interval)
        return {f"{stage}/forecast_vs_truth": figure}
