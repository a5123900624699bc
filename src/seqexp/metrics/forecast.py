"""Forecast accuracy in original units, and the naive forecasts a model must beat.

MASE (Hyndman and Koehler, 2006) divides the forecast's absolute error by the in-sample MAE of the
seasonal-naive forecast on the training range, so 1.0 means "as good as repeating last season
inside the training data"; a model beats a baseline when its MASE is lower on the same windows.
The task and ``scripts/baseline_forecast.py`` score with the same :func:`forecast_metrics`.
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
