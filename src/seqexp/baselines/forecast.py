"""The forecasts a model of one series must beat (Hyndman and Athanasopoulos, *Forecasting: Principles and
Practice*, 5.2): last value, seasonal naive, train mean and drift, scored by the task's own
``forecast_metrics`` (MAE, RMSE, MAPE, sMAPE, MASE in the series' units) on the same windows.

Every forecast reads only rows before its window's first target, as the model's inputs do.
"""

from __future__ import annotations

import torch

from seqexp.baselines.inputs import SeriesForecastInputs
from seqexp.baselines.outcome import Outcome, collection_figures
from seqexp.metrics.forecast import forecast_metrics, naive_forecast

SPLITS = ("val", "test")


def train_mean_forecast(data: SeriesForecastInputs, origins: torch.Tensor) -> torch.Tensor:
    """``(windows, horizon, targets)``: the train range's mean of each target, at every step."""
    mean = data.values[slice(*data.train_rows)].double().mean(0)
    return mean.expand(len(origins), data.horizon, -1)


def drift_forecast(data: SeriesForecastInputs, origins: torch.Tensor) -> torch.Tensor:
    """``(windows, horizon, targets)``: the line from the train range's first row through the last row before the
    window, extended ``1..horizon`` steps (the random walk with drift)."""
    first = data.train_rows[0]
    last = data.values[origins - 1].double()  # (windows, targets)
    slope = (last - data.values[first].double()) / (origins - 1 - first).clamp(min=1).unsqueeze(1)
    steps = torch.arange(1, data.horizon + 1, dtype=torch.float64).view(1, -1, 1)
    return last.unsqueeze(1) + steps * slope.unsqueeze(1)


def _scored(data: SeriesForecastInputs, forecast: torch.Tensor, split: str) -> dict[str, float]:
    origins = data.origins[split]
    truth = data.values[origins.unsqueeze(1) + torch.arange(data.horizon)]  # (windows, horizon, targets)
    metrics = forecast_metrics()
    metrics.update(forecast.float(), truth.float(), scale=data.mase_scale.float())
    return collection_figures(metrics, split)


def forecast_baselines(data: SeriesForecastInputs) -> dict[str, Outcome]:
    """Each baseline's val and test figures, or why it has none."""
    makers = {
        "last_value": lambda origins: naive_forecast(data.values, origins, data.horizon, 1),
        "seasonal_naive": lambda origins: naive_forecast(data.values, origins, data.horizon, data.season_length),
        "train_mean": lambda origins: train_mean_forecast(data, origins),
        "drift": lambda origins: drift_forecast(data, origins),
    }
    outcomes: dict[str, Outcome] = {}
    for name, make in makers.items():
        if name == "seasonal_naive" and data.season_length == 1:
            outcomes[name] = "data.season_length=1: seasonal naive is the last-value forecast"
            continue
        shortest = min(int(data.origins[split].min()) for split in SPLITS)
        if name == "seasonal_naive" and shortest < data.season_length:
            outcomes[name] = f"data.season_length={data.season_length}: a window starts at row {shortest}, before one season of history exists"
            continue
        figures: dict[str, float] = {}
        for split in SPLITS:
            figures.update(_scored(data, make(data.origins[split]), split))
        outcomes[name] = figures
    return outcomes
