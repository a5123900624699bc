"""Forecast accuracy in original units, and the naive forecasts a model must beat.

MASE (Hyndman and Koehler, 2006) divides the forecast's absolute error by the in-sample MAE of the
seasonal-naive forecast on the training range, so 1.0 means "as good as repeating last season
inside the training data"; a model beats a baseline when its MASE is lower on the same windows.
The task and ``scripts/baseline_forecast.py`` score with the same :func:`forecast_metrics`.

Quantile forecasts (``task.quantiles``) are scored by the pinball loss (the mean over quantiles of the
quantile regression loss, Koenker and Bassett, 1978) and by the coverage of the interval between the outer
quantiles: the share of truths inside it, 0.8 for a calibrated 0.1-0.9 interval.
"""

from __future__ import annotations

import torch
import torchmetrics
from torchmetrics.regression import (
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    SymmetricMeanAbsolutePercentageError,
)


class MeanAbsoluteScaledError(torchmetrics.Metric):
    """Mean of ``|prediction - target| / scale``; ``scale`` broadcasts (one value per target column)."""

    full_state_update = False
    higher_is_better = False
    is_differentiable = True

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("scaled_error", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, preds: torch.Tensor, target: torch.Tensor, scale: torch.Tensor) -> None:
        scaled = (preds - target).abs().double() / scale.double()
        self.scaled_error += scaled.sum()
        self.count += scaled.numel()

    def compute(self) -> torch.Tensor:
        return (self.scaled_error / self.count.clamp(min=1)).float()


def pinball_loss(quantile_preds: torch.Tensor, target: torch.Tensor, quantiles: torch.Tensor) -> torch.Tensor:
    """Pinball (quantile) loss per element, ``(..., quantiles)``: for quantile ``q`` and error
    ``e = target - prediction``, ``q * e`` when the truth lies above the prediction, ``(q - 1) * e`` below.

    ``quantile_preds`` ``(..., quantiles)``, ``target`` ``(...)``, ``quantiles`` ``(quantiles,)``; a nan
    truth gives nan (callers leave those out).
    """
    error = target.unsqueeze(-1) - quantile_preds
    quantiles = quantiles.to(error.dtype)
    return torch.maximum(quantiles * error, (quantiles - 1) * error)


class PinballLoss(torchmetrics.Metric):
    """Mean pinball loss over every known truth and quantile, in the targets' units; rows with a nan truth
    are left out (not known), a nan prediction makes the result nan."""

    full_state_update = False
    higher_is_better = False
    is_differentiable = True

    def __init__(self, quantiles: list[float], **kwargs) -> None:
        super().__init__(**kwargs)
        self.register_buffer("quantiles", torch.tensor(quantiles, dtype=torch.float64), persistent=False)
        self.add_state("loss", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, quantile_preds: torch.Tensor, target: torch.Tensor) -> None:
        """``quantile_preds`` ``(..., quantiles)``, ``target`` ``(...)``."""
        known = ~target.isnan()
        losses = pinball_loss(quantile_preds.double()[known], target.double()[known], self.quantiles)
        self.loss += losses.sum()
        self.count += losses.numel()

    def compute(self) -> torch.Tensor:
        return (self.loss / self.count.clamp(min=1)).float()


class IntervalCoverage(torchmetrics.Metric):
    """Share of known truths inside ``[lowest quantile, highest quantile]`` (both ends included); rows with a
    nan truth are left out, a nan bound makes the result nan (as no interval is known there)."""

    full_state_update = False
    higher_is_better = None  # closest to the nominal share is best
    is_differentiable = False

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_state("covered", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.tensor(0, dtype=torch.long), dist_reduce_fx="sum")

    def update(self, quantile_preds: torch.Tensor, target: torch.Tensor) -> None:
        """``quantile_preds`` ``(..., quantiles)`` in increasing order of quantile, ``target`` ``(...)``."""
        known = ~target.isnan()
        lower, upper, truth = quantile_preds[..., 0][known].double(), quantile_preds[..., -1][known].double(), target[known].double()
        inside = ((truth >= lower) & (truth <= upper)).double()
        inside[lower.isnan() | upper.isnan()] = float("nan")
        self.covered += inside.sum()
        self.count += inside.numel()

    def compute(self) -> torch.Tensor:
        return (self.covered / self.count.clamp(min=1)).float()


def forecast_metrics(prefix: str = "") -> torchmetrics.MetricCollection:
    """MAE, RMSE, MAPE and sMAPE (fractions, not percent) and MASE; update with ``(preds, target, scale=...)``.

    MAPE explodes near zero targets (sunspots has zero years): prefer sMAPE or MASE there.
    """
    return torchmetrics.MetricCollection(
        {
            "mae": MeanAbsoluteError(),
            "rmse": MeanSquaredError(squared=False),
            "mape": MeanAbsolutePercentageError(),
            "smape": SymmetricMeanAbsolutePercentageError(),
            "mase": MeanAbsoluteScaledError(),
        },
        prefix=prefix,
        compute_groups=False,
    )


def quantile_metrics(quantiles: list[float], prefix: str = "") -> torchmetrics.MetricCollection:
    """``pinball`` (mean pinball loss in the targets' units) and ``coverage`` (share of truths between the outer
    quantiles); update with ``(quantile_preds (..., quantiles), target (...))``."""
    return torchmetrics.MetricCollection({"pinball": PinballLoss(quantiles), "coverage": IntervalCoverage()}, prefix=prefix, compute_groups=False)


def naive_forecast(series: torch.Tensor, origins: torch.Tensor, horizon: int, season_length: int = 1) -> torch.Tensor:
    """Seasonal-naive forecasts ``(windows, horizon, columns)`` from ``series`` ``(time, columns)``.

    Step ``k`` of the window whose first target is row ``t`` repeats the last observed value of the
    same phase: ``series[t + k - m * (k // m + 1)]``. ``season_length=1`` is the last-value forecast.
    Only rows before ``t`` are read.
    """
    steps = torch.arange(horizon)
    lags = season_length * (steps // season_length + 1)
    rows = origins.unsqueeze(1) + steps - lags  # (windows, horizon), all < origin
    if (rows < 0).any():
        raise ValueError(f"a window starts before one season ({season_length} steps) of history is available")
    return series[rows]
