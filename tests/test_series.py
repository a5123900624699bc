"""data=series: CSV reading, missing values, the leak-free chronological split, metrics in original
units, naive baselines, and end-to-end runs with every model preset."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import compose_train, read_metrics
from seqexp.data.series import BUILTIN_SERIES, SeriesDataModule, read_series_csv, handle_missing
from seqexp.metrics.forecast import forecast_metrics, naive_forecast
from seqexp.train import train

FIXTURES = Path(__file__).parent / "fixtures" / "series"
REPO = Path(__file__).parent.parent
PRESETS = ["rnn", "lstm", "gru", "stacked", "bidirectional", "cnn_rnn"]
QUIET = ["callbacks.progress_bar=null", "trainer.enable_model_summary=false"]
AIRLINE = ["data=series", "data.name=airline", "data.input_length=24", "data.horizon=12"]


def write_series(path: Path, values: torch.Tensor) -> Path:
    """A CSV with a time column and two value columns, ``values`` ``(time, 2)``."""
    rows = ["step,a,b"] + [f"{step},{a:.6f},{b:.6f}" for step, (a, b) in enumerate(values.tolist())]
    path.write_text("\n".join(rows) + "\n")
    return path


def trending_series(length: int = 300) -> torch.Tensor:
    steps = torch.arange(length, dtype=torch.float64)
    return torch.stack([torch.sin(steps * 2 * math.pi / 12) + 0.01 * steps, torch.cos(steps / 7)], dim=1)


def test_missing_values_are_interpolated_dropped_or_refused() -> None:
    table = read_series_csv(FIXTURES / "gappy.csv", time_column="when")
    assert table.columns == ("load", "temp") and table.times[0] == "2024-01-01"
    filled = handle_missing(table, "interpolate").values
    assert filled[:, 0].tolist() == [10, 12, 14, 16, 18, 20]  # linear between the observed 10 and 16
    assert filled[3, 1].item() == pytest.approx(4.5)
    dropped = handle_missing(table, "drop")
    assert dropped.times == ["2024-01-01", "2024-01-05", "2024-01-06"]
    with pytest.raises(ValueError, match=r"gappy.csv, line 3, column 'load': missing value"):
        handle_missing(table, "error")


def test_csv_errors_name_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("t,x\n1,2.0\n2,oops\n")
    with pytest.raises(ValueError, match=r"bad.csv, line 3, column 'x': 'oops' is not a number"):
        read_series_csv(bad, time_column="t")
    with pytest.raises(ValueError, match=r"data.columns has \['y'\], not in the header"):
        read_series_csv(bad, columns=["y"], time_column="t")
    with pytest.raises(ValueError, match="data.name='nope'"):
        SeriesDataModule(name="nope")
    with pytest.raises(ValueError, match=r"data.horizon=24 leave no val window"):
        SeriesDataModule(name="airline", input_length=24, horizon=24).setup()


def test_user_csv_selects_inputs_and_targets(tmp_path: Path) -> None:
    path = write_series(tmp_path / "mine.csv", trending_series(120))
    datamodule = SeriesDataModule(path=str(path), time_column="step", targets=["a"], input_length=10, horizon=3)
    datamodule.setup()
    spec = datamodule.spec
    assert (spec.input_size, spec.output_size, spec.horizon, spec.target_kind) == (2, 1, 3, "horizon")
    assert datamodule.season_length == 1  # a user CSV's MASE compares with the last value unless set


@pytest.mark.parametrize("center", ["train", "last"])
def test_chronological_split_does_not_leak(tmp_path: Path, center: str) -> None:
    values = trending_series()
    settings = {"time_column": "step", "input_length": 24, "horizon": 6, "center": center, "season_length": 12}
    datamodule = SeriesDataModule(path=str(write_series(tmp_path / "s.csv", values)), **settings)
    datamodule.setup()
    bounds = datamodule.bounds
    assert bounds == {"train": (0, 210), "val": (210, 255), "test": (255, 300)}
    for split, (start, end) in bounds.items():
        origins = datamodule.datasets[split].tensors["origin"]
        assert origins.min() >= (start + 24 if split == "train" else start) and origins.max() + 6 <= end
    # Change every value after the train range: train windows, scaling and MASE scale stay identical,
    # and val windows change only where the changed future is their own target range.
    future = values.clone()
    future[210:] *= 100
    changed = SeriesDataModule(path=str(write_series(tmp_path / "f.csv", future)), **settings)
    changed.setup()
    for key, tensor in datamodule.datasets["train"].tensors.items():
        assert torch.equal(tensor, changed.datasets["train"].tensors[key]), key
    assert all(torch.equal(a, b) for a, b in zip(datamodule.scaling_parameters(), changed.scaling_parameters()))
    assert torch.equal(datamodule.mase_scale(), changed.mase_scale())
    # Original units come back exactly: targets * scale + offset are the file's values.
    test = datamodule.datasets["test"].tensors
    original = test["targets"] * test["target_scale"] + test["target_offset"]
    expected = values[test["origin"].unsqueeze(1) + torch.arange(6)].float()
    torch.testing.assert_close(original, expected, atol=1e-4, rtol=0)


def test_naive_forecasts_repeat_the_last_value_or_season() -> None:
    series = torch.arange(20, dtype=torch.float64).unsqueeze(1)  # value = row index
    origins = torch.tensor([8, 12])
    assert naive_forecast(series, origins, 3, 1)[..., 0].tolist() == [[7, 7, 7], [11, 11, 11]]
    assert naive_forecast(series, origins, 5, 4)[..., 0].tolist() == [[4, 5, 6, 7, 4], [8, 9, 10, 11, 8]]
    metrics = forecast_metrics()
    metrics.update(torch.tensor([2.0, 4.0]), torch.tensor([1.0, 2.0]), scale=torch.tensor(0.5))
    values = {name: float(value) for name, value in metrics.compute().items()}
    assert values["mae"] == pytest.approx(1.5) and values["mase"] == pytest.approx(3.0)
    assert values["rmse"] == pytest.approx(math.sqrt(2.5)) and values["mape"] == pytest.approx(1.0)


def test_every_builtin_series_loads_without_gaps() -> None:
    for name, builtin in BUILTIN_SERIES.items():
        table = SeriesDataModule(name=name).load()
        assert table.values.shape[1] == len(builtin.columns) and not table.values.isnan().any(), name


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_runs_on_series(preset: str, tmp_path: Path) -> None:
    cfg = compose_train(*AIRLINE, f"model={preset}", "debug=fast_dev_run", f"paths.output_dir={tmp_path}", *QUIET)
    train(cfg)
    metrics = read_metrics(tmp_path)["metrics"]
    assert {"test/mae", "test/rmse", "test/mape", "test/smape", "test/mase"} <= set(metrics)
    assert math.isfinite(metrics["test/mase"])


def test_short_run_beats_the_last_value_baseline(tmp_path: Path) -> None:
    from baseline_forecast import baseline_scores

    cfg = compose_train(*AIRLINE, "trainer.max_epochs=40", f"paths.output_dir={tmp_path}", *QUIET)
    train(cfg)
    model = read_metrics(tmp_path)["metrics"]
    datamodule = SeriesDataModule(name="airline", input_length=24, horizon=12)
    last_value = baseline_scores(datamodule)["last value"]
    assert model["test/mase"] < last_value["mase"] and model["test/mae"] < last_value["mae"]
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert "test/forecast_vs_truth" in events.Tags()["images"]
    script = subprocess.run([sys.executable, str(REPO / "scripts" / "baseline_forecast.py"), *AIRLINE[1:], "--run", str(tmp_path)],
                            capture_output=True, text=True, check=True)
    assert "seasonal naive (m=12)" in script.stdout and f"{last_value['mase']:.4g}" in script.stdout
