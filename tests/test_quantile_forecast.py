"""Quantile forecasts (task.quantiles): pinball loss and interval coverage against by-hand sums, quantiles
that cannot cross whatever the head says, the median as the point forecast, and a run's prediction file,
metrics.json and TensorBoard."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import compose_train, read_metrics
from seqexp.config import ConfigError, validate_config
from seqexp.data.core.spec import DataSpec
from seqexp.data.series import SeriesDataModule
from seqexp.metrics.forecast import IntervalCoverage, PinballLoss, pinball_loss
from seqexp.tasks.forecast import ForecastTask, ordered_quantiles
from seqexp.train import train

MODEL = {"cell": "gru", "hidden_size": 8, "num_layers": 1, "bidirectional": False, "dropout": 0.0}
OPTIM = {"name": "adam", "lr": 1e-3, "weight_decay": 0.0}
LEVELS = [0.1, 0.5, 0.9]


def by_hand_pinball(predictions: list[list[float]], truths: list[float], levels: list[float]) -> float:
    """Mean over rows and quantiles of q * (y - p) if y >= p else (1 - q) * (p - y), rows with a nan truth left out."""
    losses = [q * (y - p) if y >= p else (1 - q) * (p - y) for row, y in zip(predictions, truths) if not math.isnan(y) for p, q in zip(row, levels)]
    return sum(losses) / len(losses)


def test_pinball_loss_matches_a_by_hand_sum_on_hard_inputs() -> None:
    # Truths above, below, exactly on a quantile, far away (1e6), negative; one unknown (nan) truth.
    predictions = [[-1.0, 0.0, 1.0], [10.0, 20.0, 30.0], [2.0, 2.0, 2.0], [-5e5, 0.0, 5e5], [0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    truths = [0.5, -7.0, 2.0, 1e6, -3.25, float("nan")]
    expected = by_hand_pinball(predictions, truths, LEVELS)
    # Spot checks of the formula itself: row 0 is 0.1*1.5 + 0.5*0.5 + 0.1*0.5; row 1 is 0.9*17 + 0.5*27 + 0.1*37.
    assert by_hand_pinball(predictions[:1], truths[:1], LEVELS) == pytest.approx((0.15 + 0.25 + 0.05) / 3)
    assert by_hand_pinball(predictions[1:2], truths[1:2], LEVELS) == pytest.approx((15.3 + 13.5 + 3.7) / 3)

    metric = PinballLoss(LEVELS)
    metric.update(torch.tensor(predictions[:3]), torch.tensor(truths[:3]))  # two batches, as an epoch comes
    metric.update(torch.tensor(predictions[3:]), torch.tensor(truths[3:]))
    assert metric.compute().item() == pytest.approx(expected, rel=1e-6)
    elementwise = pinball_loss(
        torch.tensor(predictions[:5], dtype=torch.float64), torch.tensor(truths[:5], dtype=torch.float64), torch.tensor(LEVELS, dtype=torch.float64)
    )
    assert elementwise.shape == (5, 3) and elementwise.mean().item() == pytest.approx(expected, rel=1e-12)

    nan_prediction = PinballLoss(LEVELS)
    nan_prediction.update(torch.tensor([[0.0, float("nan"), 1.0]]), torch.tensor([0.5]))
    assert math.isnan(nan_prediction.compute().item())  # a broken forecast is not hidden


def test_pinball_loss_is_lowest_at_the_true_quantile() -> None:
    """What makes it the loss of quantile regression: over many draws, the 0.9 pinball of a constant is least
    at the draws' 0.9 quantile."""
    draws = torch.randn(20_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    candidates = torch.linspace(0.5, 2.0, 151, dtype=torch.float64)
    losses = [pinball_loss(c.expand(len(draws), 1), draws, torch.tensor([0.9])).mean().item() for c in candidates]
    best = candidates[int(torch.tensor(losses).argmin())].item()
    assert best == pytest.approx(torch.quantile(draws, 0.9).item(), abs=0.02)


def test_coverage_counts_truths_between_the_outer_quantiles() -> None:
    lower, upper = [0.0, 0.0, 0.0, 0.0, -2.0, 1.0, 0.0], [1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 1.0]
    truths = [0.5, 0.0, 1.0, 1.0000001, -2.5, float("nan"), 5.0]  # inside, both edges (inside), just out, below, unknown, above
    predictions = torch.tensor([[lo, (lo + hi) / 2, hi] for lo, hi in zip(lower, upper)], dtype=torch.float64)
    inside = [lo <= y <= hi for lo, hi, y in zip(lower, upper, truths) if not math.isnan(y)]
    metric = IntervalCoverage()
    metric.update(predictions, torch.tensor(truths, dtype=torch.float64))
    assert metric.compute().item() == pytest.approx(sum(inside) / len(inside)) == pytest.approx(3 / 6)

    batched = IntervalCoverage()  # (windows, horizon, targets, quantiles), as the task updates it
    batched.update(predictions[:6].view(2, 3, 1, 3), torch.tensor(truths[:6], dtype=torch.float64).view(2, 3, 1))
    assert batched.compute().item() == pytest.approx(3 / 5)

    nan_bound = IntervalCoverage()
    nan_bound.update(torch.tensor([[float("nan"), 0.0, 1.0], [0.0, 0.5, 1.0]]), torch.tensor([0.5, 0.5]))
    assert math.isnan(nan_bound.compute().item())


def test_quantiles_cannot_cross_whatever_the_head_says() -> None:
    raw = torch.randn(1000, 5, generator=torch.Generator().manual_seed(1)) * 50  # raw lower > raw upper often
    raw[0] = torch.tensor([1e4, -1e4, 3.0, -1e4, -1e4])  # tiny or huge increments
    ordered = ordered_quantiles(raw, median_index=2)
    assert (ordered.diff(dim=-1) >= 0).all()
    assert torch.equal(ordered[:, 2], raw[:, 2])  # the median slot is the median
    assert ordered_quantiles(raw[:, :1], median_index=0).equal(raw[:, :1])  # the median alone


def forecaster(instance_norm: bool, linear_skip: bool) -> ForecastTask:
    spec = DataSpec("features", 2, "horizon", 1, horizon=3, input_length=12, target_features=(1,))
    torch.manual_seed(0)
    return ForecastTask(spec.to_dict(), MODEL, OPTIM, {"name": "none"}, instance_norm=instance_norm, linear_skip=linear_skip, quantiles=LEVELS).eval()


@pytest.mark.parametrize(("instance_norm", "linear_skip"), [(False, False), (True, False), (False, True), (True, True)])
def test_the_task_keeps_quantiles_ordered_with_revin_and_the_linear_skip(instance_norm: bool, linear_skip: bool) -> None:
    task = forecaster(instance_norm, linear_skip)
    with torch.no_grad():  # a head that asks for crossed quantiles: raw 0.1 far above raw 0.9
        task.head.bias.view(3, 1, 3).copy_(torch.tensor([40.0, 0.0, -40.0]))
    inputs = torch.randn(16, 12, 2, generator=torch.Generator().manual_seed(2)) * torch.tensor([1.0, 30.0]) + 100
    with torch.no_grad():
        outputs = task({"inputs": inputs})
    assert outputs.shape == (16, 3, 1, 3)
    assert (outputs.diff(dim=-1) >= 0).all()
    batch = {"inputs": inputs, "targets": outputs[..., 1] + 1.0}
    assert task.compute_loss(batch, outputs).item() == pytest.approx(
        pinball_loss(outputs.double(), batch["targets"].double(), torch.tensor(LEVELS)).mean().item(), rel=1e-5
    )


def test_the_linear_skip_moves_every_quantile_alike() -> None:
    task = forecaster(instance_norm=False, linear_skip=True)
    inputs = torch.randn(4, 12, 2, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        with_skip = task({"inputs": inputs})
        skip = task.linear_skip(inputs[..., 1]).view(4, 3, 1, 1)  # (batch, horizon, target, quantile)
        task.linear_skip.weight.zero_()
        task.linear_skip.bias.zero_()
        without = task({"inputs": inputs})
    assert torch.allclose(with_skip - without, skip.expand_as(with_skip), atol=1e-5)


def test_bad_quantiles_are_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"task.quantiles=\[0.9, 0.5, 0.1\]: must be null or a list of increasing numbers in \(0, 1\) that holds 0.5"):
        validate_config(compose_train("data=series", "task.quantiles=[0.9,0.5,0.1]"))
    with pytest.raises(ConfigError, match=r"^invalid config: task.quantiles=\[0.0, 0.5, 1.0\]: must be null or a list of numbers in \(0, 1\)$"):
        validate_config(compose_train("data=series", "task.quantiles=[0.0,0.5,1.0]"))  # the range, as the signature declares it
    spec = DataSpec("features", 1, "horizon", 1, horizon=2, input_length=4, target_features=(0,))
    for quantiles in ([0.1, 0.9], [0.9, 0.5, 0.1], [0.5, 0.5], []):
        with pytest.raises(ValueError, match=r"task.quantiles=.*: must be null or a list of increasing numbers in \(0, 1\) that holds 0.5"):
            ForecastTask(spec.to_dict(), MODEL, OPTIM, {"name": "none"}, quantiles=quantiles)
    for quantiles in ([0.0, 0.5, 1.0], [True]):
        with pytest.raises(ValueError, match=r"task.quantiles=.*: must be null or a list of numbers in \(0, 1\)$"):
            ForecastTask(spec.to_dict(), MODEL, OPTIM, {"name": "none"}, quantiles=quantiles)


def test_a_quantile_run_writes_ordered_quantile_columns_and_logs_pinball_and_coverage(tmp_path: Path) -> None:
    """The user's path, defaults on (logger, figures, prediction file): one epoch on airline."""
    overrides = ["data=series", "data.name=airline", "data.input_length=24", "data.horizon=12"]
    train(compose_train(*overrides, "task.quantiles=[0.1,0.5,0.9]", "trainer.max_epochs=1", f"paths.output_dir={tmp_path}"))
    metrics = read_metrics(tmp_path)["metrics"]
    with (tmp_path / "predictions" / "test.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[-5:] == ["Passengers_prediction", "Passengers_q0.1", "Passengers_q0.5", "Passengers_q0.9", "Passengers_truth"]
    low, median, high, point, truth = (
        torch.tensor([float(row[f"Passengers_{name}"]) for row in rows], dtype=torch.float64) for name in ("q0.1", "q0.5", "q0.9", "prediction", "truth")
    )
    assert (low <= median).all() and (median <= high).all() and (low < high).all()
    assert torch.equal(median, point)  # the median is the point forecast
    # The file gives back the logged figures: MASE of the median, pinball and coverage.
    datamodule = SeriesDataModule(name="airline", input_length=24, horizon=12)
    datamodule.setup("test")
    mase_scale = datamodule.mase_scale().item()
    assert ((point - truth).abs() / mase_scale).mean().item() == pytest.approx(metrics["test/mase"], rel=1e-5)
    pinball = by_hand_pinball(torch.stack([low, median, high], 1).tolist(), truth.tolist(), LEVELS)
    assert pinball == pytest.approx(metrics["test/pinball"], rel=1e-5)
    assert ((truth >= low) & (truth <= high)).double().mean().item() == pytest.approx(metrics["test/coverage"], abs=1e-6)
    assert 0 <= metrics["val/coverage"] <= 1 and metrics["val/pinball"] > 0

    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    for tag in ("test/pinball", "test/coverage", "val/pinball", "val/coverage"):
        assert tag in events.Tags()["scalars"], tag
    assert events.Scalars("test/coverage")[-1].value == pytest.approx(metrics["test/coverage"])
    assert "test/forecast_vs_truth" in events.Tags()["images"]


def test_the_forecast_figure_shades_the_interval() -> None:
    from matplotlib.collections import PolyCollection

    from seqexp.plotting import forecast_figure

    origins = torch.arange(10, 22).numpy()  # windows of 3 steps: those at 10, 13, 16, 19 tile the range
    forecast = torch.randn(12, 3, 1, generator=torch.Generator().manual_seed(4)).numpy()
    figure = forecast_figure(origins, forecast, forecast + 0.1, "test", ("y",), None, (forecast - 1, forecast + 1, "q0.1-q0.9"))
    axis = figure.axes[0]
    shaded = [item for item in axis.collections if isinstance(item, PolyCollection)]
    assert len(shaded) == 4 and "q0.1-q0.9" in [text.get_text() for text in axis.get_legend().get_texts()]
    lowest = min(path.vertices[:, 1].min() for item in shaded for path in item.get_paths())
    assert lowest == pytest.approx(float(forecast[::3].min() - 1), abs=1e-6)
