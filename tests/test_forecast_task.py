"""Reversible instance normalisation (task.instance_norm): a forecast follows its window's level and spread.
The linear skip (task.linear_skip) adds a linear forecast from each target's window to the RNN's."""

from __future__ import annotations

import pytest
import torch

from seqexp.data.core.spec import DataSpec
from seqexp.tasks.forecast import ForecastTask

MODEL = {"cell": "gru", "hidden_size": 8, "num_layers": 1, "bidirectional": False, "dropout": 0.0}
OPTIM = {"name": "adam", "lr": 1e-3, "weight_decay": 0.0}


def task(instance_norm: bool, target_features: tuple[int, ...] = (1,), linear_skip: bool = False, input_length: int = 12) -> ForecastTask:
    spec = DataSpec("features", 2, "horizon", 1, horizon=3, input_length=input_length, target_features=target_features)
    torch.manual_seed(0)
    return ForecastTask(spec.to_dict(), MODEL, OPTIM, {"name": "none"}, instance_norm=instance_norm, linear_skip=linear_skip).eval()


def test_a_shifted_and_stretched_window_gives_the_same_shift_and_stretch_of_the_forecast() -> None:
    forecaster = task(instance_norm=True)
    inputs = torch.randn(4, 12, 2)
    scale, offset = torch.tensor([3.0, 5.0]), torch.tensor([-2.0, 40.0])
    with torch.no_grad():
        base = forecaster({"inputs": inputs})
        moved = forecaster({"inputs": inputs * scale + offset})
    assert base.shape == (4, 3, 1)
    assert torch.allclose(moved, base * 5.0 + 40.0, atol=1e-4)  # target feature 1's stretch and shift


def test_without_instance_norm_the_forecast_does_not_follow() -> None:
    forecaster = task(instance_norm=False)
    inputs = torch.randn(4, 12, 2)
    with torch.no_grad():
        base, moved = forecaster({"inputs": inputs}), forecaster({"inputs": inputs + 40.0})
    assert not torch.allclose(moved, base + 40.0, atol=1e-2)


def test_instance_norm_needs_to_know_which_inputs_are_the_targets() -> None:
    with pytest.raises(ValueError, match="task.instance_norm=true needs targets that are input features"):
        task(instance_norm=True, target_features=())


@pytest.mark.parametrize("instance_norm", [True, False])
def test_a_linear_skip_that_copies_the_last_season_forecasts_seasonal_naive(instance_norm: bool) -> None:
    season = 4  # the forecast of step h is the input 4 steps before it: window steps 8, 9, 10 of 0..11
    forecaster = task(instance_norm=instance_norm, linear_skip=True)
    with torch.no_grad():
        for parameter in forecaster.head.parameters():
            parameter.zero_()  # the RNN's part of the forecast is 0
        forecaster.linear_skip.weight.zero_()
        forecaster.linear_skip.bias.zero_()
        for step in range(3):
            forecaster.linear_skip.weight[step, 12 - season + step] = 1.0
        inputs = torch.randn(5, 12, 2) * 3.0 + 7.0
        forecast = forecaster({"inputs": inputs})
    assert torch.allclose(forecast, inputs[:, 8:11, 1:2], atol=1e-4)


def test_the_linear_skip_learns_with_the_rnn() -> None:
    forecaster = task(instance_norm=True, linear_skip=True).train()
    inputs = torch.randn(5, 12, 2)
    forecaster({"inputs": inputs}).square().sum().backward()
    assert forecaster.linear_skip.weight.grad.abs().sum() > 0
    assert forecaster.head.weight.grad.abs().sum() > 0


def test_a_linear_skip_needs_windows_of_one_length() -> None:
    with pytest.raises(ValueError, match="task.linear_skip=true needs input windows of one length"):
        task(instance_norm=True, linear_skip=True, input_length=0)
