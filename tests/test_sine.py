"""SineDataModule: targets, disjoint time ranges, stateful order, determinism."""

import pytest
import torch

from seqexp.data.sine import SineDataModule

SMALL = {"train": 256, "val": 64, "test": 64}


def build(**settings) -> SineDataModule:
    datamodule = SineDataModule(num_windows=SMALL, batch_size=32, seed=3, **settings)
    datamodule.setup()
    return datamodule


def test_sin2cos_targets_are_the_cosine_of_the_input_angle() -> None:
    data = build(target="sin2cos", frequency_range=(0.5, 1.5), phase_range=(0.0, 6.28)).datasets["train"].tensors
    assert data["inputs"].shape == data["targets"].shape == (256, 20, 1)
    torch.testing.assert_close(data["inputs"] ** 2 + data["targets"] ** 2, torch.ones(256, 20, 1))


def test_lag_target_is_the_input_shifted_by_lag_steps() -> None:
    data = build(target="lag", lag_steps=4).datasets["val"].tensors
    torch.testing.assert_close(data["targets"][:, 4:], data["inputs"][:, :-4])


def test_forecast_target_continues_the_window() -> None:
    datamodule = build(target="forecast", horizon=6)
    data = datamodule.datasets["test"].tensors
    assert data["targets"].shape == (64, 6, 1)
    assert datamodule.spec.target_kind == "horizon" and datamodule.spec.horizon == 6
    # A pure sine satisfies x[t+1] = 2 cos(w dt) x[t] - x[t-1]; with w=1 the recursion continues the window.
    x = torch.cat([data["inputs"], data["targets"]], dim=1)[..., 0].double()
    torch.testing.assert_close(x[:, 2:], 2 * torch.cos(torch.tensor(0.1)) * x[:, 1:-1] - x[:, :-2], atol=1e-5, rtol=0)


def test_splits_come_from_disjoint_time_ranges() -> None:
    datamodule = build()
    ranges = datamodule._time_ranges()
    assert ranges["train"][1] <= ranges["val"][0] and ranges["val"][1] <= ranges["test"][0]
    generator = torch.Generator().manual_seed(0)
    for split, (start, end) in ranges.items():
        times = datamodule._window_times(split, (start, end), generator)
        assert times.min() >= start and times.max() <= end


def test_stateful_batches_continue_the_previous_window_row_by_row() -> None:
    datamodule = build(stateful=True, shuffle=False, frequency_range=(1.0, 1.0), phase_range=(0.0, 0.0))
    first, second = list(datamodule.train_dataloader())[:2]
    # Row i of batch k+1 starts one time step after row i of batch k ends: extrapolate with the recursion.
    previous, current = first["inputs"][:, -2:, 0].double(), second["inputs"][:, 0, 0].double()
    expected = 2 * torch.cos(torch.tensor(0.1, dtype=torch.float64)) * previous[:, 1] - previous[:, 0]
    torch.testing.assert_close(current, expected, atol=1e-5, rtol=0)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b = build().datasets["train"].tensors["inputs"], build().datasets["train"].tensors["inputs"]
    other = SineDataModule(num_windows=SMALL, batch_size=32, seed=4)
    other.setup()
    assert torch.equal(a, b)
    assert not torch.equal(a, other.datasets["train"].tensors["inputs"])


def test_stateful_with_shuffle_is_refused_naming_both_keys() -> None:
    with pytest.raises(ValueError, match="data.stateful.*data.shuffle"):
        SineDataModule(stateful=True, shuffle=True)
