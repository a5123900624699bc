"""Baselines of window regression (``data=sine``), scored like ``RegressionTask``: MSE and MAE over every
scored step (burn-in steps left out).

train_mean  the train targets' mean, at every step
linear      least squares on train from a window's inputs (and a constant) to its targets; a per-step target from the
            inputs up to its step only, as a one-way RNN sees them: the classical linear filter the recurrent
            model has to beat (one recovers cos from two steps of a sine)
last_value  forecast targets: the window's last input, at every step
drift       forecast targets: the line through the window's first and last inputs, extended
"""

from __future__ import annotations

import torch
import torchmetrics

from seqexp.baselines.inputs import WindowRegressionInputs
from seqexp.baselines.outcome import Outcome, collection_figures

SPLITS = ("val", "test")


def _design(inputs: torch.Tensor) -> torch.Tensor:
    """``(windows, time * features + 1)``: the flattened inputs and a constant."""
    return torch.cat([inputs.flatten(1).double(), torch.ones(len(inputs), 1, dtype=torch.float64)], dim=1)


def linear_fit(inputs: torch.Tensor, targets: torch.Tensor, causal: bool) -> list[torch.Tensor]:
    """Least-squares weights from windows ``(windows, time, features)`` to targets ``(windows, steps, outputs)``: one
    map for all steps, or with ``causal`` one per step ``t`` from the inputs up to ``t`` (what a one-way RNN has seen)."""
    if not causal:
        return [torch.linalg.lstsq(_design(inputs), targets.flatten(1).double(), driver="gelsd").solution]
    return [torch.linalg.lstsq(_design(inputs[:, : step + 1]), targets[:, step].double(), driver="gelsd").solution for step in range(targets.shape[1])]


def linear_predict(weights: list[torch.Tensor], inputs: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    if len(weights) == 1:
        return (_design(inputs) @ weights[0]).view(shape)
    return torch.stack([_design(inputs[:, : step + 1]) @ weight for step, weight in enumerate(weights)], dim=1)


def drift_forecast(inputs: torch.Tensor, steps: int) -> torch.Tensor:
    """``(windows, steps, 1)`` from ``inputs`` ``(windows, time, 1)``: the last input plus ``k`` times the mean step."""
    first, last = inputs[:, 0].double(), inputs[:, -1].double()
    slope = (last - first) / max(inputs.shape[1] - 1, 1)
    return last.unsqueeze(1) + torch.arange(1, steps + 1, dtype=torch.float64).view(1, -1, 1) * slope.unsqueeze(1)


def _scored(data: WindowRegressionInputs, prediction: torch.Tensor, split: str) -> dict[str, float]:
    skip = 0 if data.horizon else data.burn_in_steps
    metrics = torchmetrics.MetricCollection({"mse": torchmetrics.MeanSquaredError(), "mae": torchmetrics.MeanAbsoluteError()})
    metrics.update(prediction[:, skip:].float().flatten(), data.targets[split][:, skip:].float().flatten())
    return collection_figures(metrics, split)


def regression_baselines(data: WindowRegressionInputs) -> dict[str, Outcome]:
    """Each baseline's val and test figures, or why it has none."""
    skip = 0 if data.horizon else data.burn_in_steps
    train_inputs, train_targets = data.inputs["train"], data.targets["train"]
    mean = train_targets[:, skip:].double().mean(dim=(0, 1))  # (outputs,), over the scored steps
    weights = linear_fit(train_inputs, train_targets, causal=not data.horizon)
    makers = {
        "train_mean": lambda split: mean.expand_as(data.targets[split]),
        "linear": lambda split: linear_predict(weights, data.inputs[split], data.targets[split].shape),
    }
    if data.horizon:
        makers["last_value"] = lambda split: data.inputs[split][:, -1:].double().expand_as(data.targets[split])
        makers["drift"] = lambda split: drift_forecast(data.inputs[split], data.targets[split].shape[1])
    outcomes: dict[str, Outcome] = {}
    for name, make in makers.items():
        outcomes[name] = {key: value for split in SPLITS if split in data.targets for key, value in _scored(data, make(split), split).items()}
    return outcomes
