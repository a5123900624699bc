"""data=series: CSV reading, missing values, the leak-free chronological split, metrics in original
units, naive baselines, and end-to-end runs with every model preset."""

from __future__ import annotations

import logging
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import compose_train, read_metrics, whole
from seqexp.data.series.datamodule import BUILTIN_SERIES, SeriesDataModule
from seqexp.data.series.files import handle_missing, read_series_csv, time_axis_reason
from seqexp.metrics.forecast import forecast_metrics, naive_forecast
from seqexp.train import train

FIXTURES = Path(__file__).parent / "fixtures" / "series"
REPO = Path(__file__).parent.parent
PRESETS = ["rnn", "lstm", "gru", "stacked", "bidirectional", "cnn_rnn"]
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


def write_indexed(path: Path, values: torch.Tensor, index: list[str]) -> Path:
    """A CSV with an ``index`` column (the given cells) and one ``value`` column, no time column."""
    rows = ["index,value"] + [f"{cell},{value:.6f}" for cell, value in zip(index, values[:, 0].tolist())]
    path.write_text("\n".join(rows) + "\n")
    return path


def time_axis_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "seqexp.data.series.files" and r.levelno == logging.WARNING]


@pytest.mark.parametrize(
    "index", [[str(step) for step in range(120)], [f"2024-01-{1 + h // 24:02d} {h % 24:02d}:00" for h in range(120)]], ids=["row_counter", "dates"]
)
def test_a_user_csvs_index_column_is_not_forecast(tmp_path: Path, caplog: pytest.LogCaptureFixture, index: list[str]) -> None:
    path = write_indexed(tmp_path / "indexed.csv", trending_series(120), index)
    with caplog.at_level(logging.WARNING, logger="seqexp.data.series.files"):
        datamodule = SeriesDataModule(path=str(path), input_length=10, horizon=3)
        datamodule.setup()
    assert datamodule.table.columns == ("value",) and datamodule.targets == ["value"]
    assert (datamodule.spec.input_size, datamodule.spec.output_size) == (1, 1)
    [message] = time_axis_warnings(caplog)
    assert str(path) in message and "column 'index'" in message
    assert "data.time_column=index" in message and "data.targets=[...]" in message


def test_an_index_column_listed_in_targets_or_set_as_time_column_is_kept(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write_indexed(tmp_path / "indexed.csv", trending_series(120), [str(step) for step in range(120)])
    with caplog.at_level(logging.WARNING, logger="seqexp.data.series.files"):
        listed = SeriesDataModule(path=str(path), targets=["index", "value"], input_length=10, horizon=3).load()
        as_time = SeriesDataModule(path=str(path), time_column="index", input_length=10, horizon=3).load()
    assert listed.columns == ("index", "value") and as_time.columns == ("value",) and as_time.times[:2] == ["0", "1"]
    assert time_axis_warnings(caplog) == []
    only_index = tmp_path / "only_index.csv"
    only_index.write_text("index\n0\n1\n2\n3\n")
    with pytest.raises(ValueError, match=r"only_index.csv: no value columns: \['index'\] look like a time axis"):
        SeriesDataModule(path=str(only_index)).load()


@pytest.mark.parametrize(
    "cells, expected",
    [
        (["0", "1", "2", "3"], "evenly spaced integers 0, 1, 2, ..."),
        (["1990", "1995", "2000"], "evenly spaced integers 1990, 1995, 2000, ..."),
        (["9", "6", "3", "0"], "evenly spaced integers 9, 6, 3, ..."),
        (["1949-01", "1949-02", "1949-03"], "dates such as '1949-01'"),
        (["2010/01/01 00:00:00", "2010/01/01 01:00:00", "2010/01/01 02:00:00"], "dates such as '2010/01/01 00:00:00'"),
        (["0", "1"], None),  # too few rows to tell
        (["0.0", "1.0", "2.0"], None),  # floats: a measured series may rise evenly
        (["3", "5", "4", "6"], None),  # integer counts, not evenly spaced
        (["7", "7", "7"], None),  # constant
        (["0", "1", "", "3"], None),  # a gap: not an index
        (["1013.25", "1012.50", "1011.75"], None),  # hPa, not dates
        (["19580329", "19580405", "19580412"], None),  # yyyymmdd integers are not evenly spaced
    ],
)
def test_time_axis_detection_spares_real_data(cells: list[str], expected: str | None) -> None:
    assert time_axis_reason(cells) == expected


def test_builtin_series_use_their_own_columns_without_warnings(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="seqexp.data.series.files"):
        for name, builtin in BUILTIN_SERIES.items():
            datamodule = SeriesDataModule(name=name)
            table = datamodule.load()
            assert table.columns == builtin.columns and datamodule.targets == list(builtin.columns), name
    assert time_axis_warnings(caplog) == []


@pytest.mark.parametrize("center", ["train", "last"])
def test_chronological_split_does_not_leak(tmp_path: Path, center: str) -> None:
    values = trending_series()
    settings = {"time_column": "step", "input_length": 24, "horizon": 6, "center": center, "season_length": 12}
    datamodule = SeriesDataModule(path=str(write_series(tmp_path / "s.csv", values)), **settings)
    datamodule.setup()
    bounds = datamodule.bounds
    assert bounds == {"train": (0, 210), "val": (210, 255), "test": (255, 300)}
    for split, (start, end) in bounds.items():
        origins = whole(datamodule.datasets[split])["origin"]
        assert origins.min() >= (start + 24 if split == "train" else start) and origins.max() + 6 <= end
    # Change every value after the train range: train windows, scaling and MASE scale stay identical,
    # and val windows change only where the changed future is their own target range.
    future = values.clone()
    future[210:] *= 100
    changed = SeriesDataModule(path=str(write_series(tmp_path / "f.csv", future)), **settings)
    changed.setup()
    for key, tensor in whole(datamodule.datasets["train"]).items():
        assert torch.equal(tensor, whole(changed.datasets["train"])[key]), key
    original, kept = datamodule.train_scaler(), changed.train_scaler()
    assert torch.equal(original.offset, kept.offset) and torch.equal(original.scale, kept.scale)
    assert torch.equal(datamodule.mase_scale(), changed.mase_scale())
    # Original units come back exactly: targets * scale + offset are the file's values.
    test = whole(datamodule.datasets["test"])
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
    cfg = compose_train(*AIRLINE, f"model={preset}", "debug=fast_dev_run", f"paths.output_dir={tmp_path}")
    train(cfg)
    metrics = read_metrics(tmp_path)["metrics"]
    assert {"test/mae", "test/rmse", "test/mape", "test/smape", "test/mase"} <= set(metrics)
    assert math.isfinite(metrics["test/mase"])


def test_short_run_beats_the_last_value_baseline(tmp_path: Path) -> None:
    from baseline_forecast import baseline_scores

    cfg = compose_train(*AIRLINE, "trainer.max_epochs=40", f"paths.output_dir={tmp_path}")
    train(cfg)
    model = read_metrics(tmp_path)["metrics"]
    datamodule = SeriesDataModule(name="airline", input_length=24, horizon=12)
    last_value = baseline_scores(datamodule)["last value"]
    assert model["test/mase"] < last_value["mase"] and model["test/mae"] < last_value["mae"]
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    assert "test/forecast_vs_truth" in events.Tags()["images"]
    script = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "baseline_forecast.py"), *AIRLINE[1:], "--run", str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert "seasonal naive (m=12)" in script.stdout and f"{last_value['mase']:.4g}" in script.stdout
