"""Rolling-origin backtests of `data=series` and `data=anomaly_csv` (issue 25 item 2): `data.backtest.folds=K`, `data.backtest.fold=i`.

The folds' ranges against a computation by hand, a scaler and MASE denominator refitted on each fold's train
range, the keys' refusals, and a tiny sweep over two folds through the CLI, summarised."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from helpers import compose_train, read_metrics, run_cli
from seqexp.checks import ConfigError
from seqexp.config import validate_config
from seqexp.data.anomaly import CSVAnomalyDataModule
from seqexp.data.core.errors import DataError
from seqexp.data.core.splits import time_split
from seqexp.data.series.datamodule import SeriesDataModule, seasonal_naive_mae

LENGTH = 200  # rows of the test series: train 140, val 30, test 30 in the plain split (0.7 / 0.15 / 0.15)


@pytest.fixture
def series_file(tmp_path: Path) -> Path:
    """A series whose level rises, so that every fold's train range has its own mean and spread."""
    values = torch.arange(LENGTH, dtype=torch.float64) * 0.5 + torch.sin(torch.arange(LENGTH) * 0.7)
    path = tmp_path / "series.csv"
    path.write_text("value\n" + "".join(f"{value:.6f}\n" for value in values.tolist()))
    return path


def module(path: Path, folds: int, fold: int, **settings) -> SeriesDataModule:
    return SeriesDataModule(path=str(path), input_length=12, horizon=6, backtest={"folds": folds, "fold": fold}, **settings)


def test_fold_ranges_expand_train_and_move_val_and_test_back_by_test_blocks(series_file: Path) -> None:
    # By hand: test blocks of 30 rows end 2, 1 and 0 blocks before the end; val is the 30 rows before each.
    expected = {
        0: {"train": (0, 80), "val": (80, 110), "test": (110, 140)},
        1: {"train": (0, 110), "val": (110, 140), "test": (140, 170)},
        2: {"train": (0, 140), "val": (140, 170), "test": (170, 200)},
    }
    for fold, bounds in expected.items():
        assert module(series_file, 3, fold).bounds == bounds
    plain_split = time_split(LENGTH, {"train": 0.7, "val": 0.15, "test": 0.15})
    assert module(series_file, 3, 2).bounds == plain_split == SeriesDataModule(path=str(series_file)).bounds
    assert module(series_file, 1, 0).bounds == plain_split  # the defaults change nothing
    assert module(series_file, 3, 0).data_ranges() == {"folds": 3, "fold": 0, "train": [0, 79], "val": [80, 109], "test": [110, 139]}


def test_scaler_and_mase_denominator_are_refitted_on_each_folds_train_range(series_file: Path) -> None:
    values = SeriesDataModule(path=str(series_file)).load().values  # (time, 1)
    for fold, train_end in ((0, 80), (1, 110), (2, 140)):
        datamodule = module(series_file, 3, fold, season_length=5)
        datamodule.setup()
        scaler, train = datamodule.train_scaler(), values[:train_end].double()
        torch.testing.assert_close(scaler.offset, train.mean(dim=0))
        torch.testing.assert_close(scaler.scale, train.std(dim=0, correction=scaler.correction))
        torch.testing.assert_close(datamodule.mase_scale(), seasonal_naive_mae(values[:train_end], 5))
        origins = datamodule.origins("test")
        assert origins.min() == (110, 140, 170)[fold] and origins.max() + 6 == (140, 170, 200)[fold]


def test_backtest_keys_are_validated_naming_them(series_file: Path) -> None:
    for overrides, message in (
        (["data.backtest.folds=3", "data.backtest.fold=3"], "data.backtest.fold=3: must be an integer in [0, 2]"),
        (["data.backtest.folds=0"], "data.backtest.folds=0: must be an integer >= 1"),
    ):
        with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("[", r"\[")):
            validate_config(compose_train("data=series", *overrides))
    with pytest.raises(ConfigError, match=r"data\.backtest\.folds=2: a backtest cuts one series"):
        SeriesDataModule(train_path=str(series_file), test_path=str(series_file), backtest={"folds": 2, "fold": 0})
    # Fold 0 of 5: val starts at row 140 - 4 * 30 = 20; 20 train rows hold one window of 12 + 6, not one of 16 + 6.
    assert module(series_file, 5, 0).bounds["train"] == (0, 20)
    with pytest.raises(
        DataError,
        match=r"data\.backtest\.fold=0 of data\.backtest\.folds=5: its train range, rows 0-19 .*"
        r"data\.input_length=16 \+ data\.horizon=6",
    ):
        SeriesDataModule(path=str(series_file), input_length=16, horizon=6, backtest={"folds": 5, "fold": 0}).bounds
    with pytest.raises(DataError, match=r"data\.backtest\.fold=0 of data\.backtest\.folds=6: .*no train range"):
        module(series_file, 6, 0).bounds


def test_a_two_fold_sweep_reports_each_folds_ranges_and_is_summarised(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    run_cli(
        "train",
        "-m",
        "data=series",
        "data.name=airline",
        "data.input_length=24",
        "data.horizon=12",
        "data.backtest.folds=2",
        "data.backtest.fold=0,1",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        f"hydra.sweep.dir={sweep_dir}",
    )
    # Airline, 144 months: plain split train 0-100, val 101-122, test 123-143 (21 months); fold 0 moves back 21.
    expected = {0: {"train": [0, 79], "val": [80, 101], "test": [102, 122]}, 1: {"train": [0, 100], "val": [101, 122], "test": [123, 143]}}
    for job, fold in ((sweep_dir / "0", 0), (sweep_dir / "1", 1)):
        record = json.loads((job / "metrics.json").read_text())
        assert record["status"] == "completed"
        assert record["data_ranges"] == {"folds": 2, "fold": fold, **expected[fold]}
        first, last = expected[fold]["test"]
        with open(job / "predictions" / "test.csv", newline="") as handle:
            steps = [int(row["step"]) for row in csv.DictReader(handle)]
        assert steps and first == min(steps) and max(steps) == last  # the series' own rows, the fold's test range
        assert f"test rows {first}-{last}" in (job / "train.log").read_text()
    result = run_cli("summarize", str(sweep_dir))
    assert "summary_groups.csv" in result.stderr
    with open(sweep_dir / "summary_groups.csv", newline="") as handle:
        (group,) = list(csv.DictReader(handle))
    assert group["n"] == "2" and float(group["test/mase_sd"]) >= 0


def test_eval_records_the_ranges_of_the_fold_it_evaluates(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_cli(
        "train",
        "data=series",
        "data.name=airline",
        "data.input_length=24",
        "data.horizon=12",
        "data.backtest.folds=2",
        "data.backtest.fold=0",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=1",
        run_dir=run_dir,
    )
    trained = read_metrics(run_dir)["data_ranges"]
    assert trained == {"folds": 2, "fold": 0, "train": [0, 79], "val": [80, 101], "test": [102, 122]}
    evaluated = {}
    for fold in (0, 1):
        run_cli("eval", f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", f"+data.backtest.fold={fold}", run_dir=tmp_path / f"eval{fold}")
        evaluated[fold] = read_metrics(tmp_path / f"eval{fold}")["data_ranges"]
    assert evaluated[0] == trained  # the fold it was trained on
    assert evaluated[1] == {"folds": 2, "fold": 1, "train": [0, 100], "val": [101, 122], "test": [123, 143]} != trained


# --- data=anomaly_csv ------------------------------------------------------------------------------


@pytest.fixture
def labelled_file(tmp_path: Path) -> Path:
    """1,000 points, split 500 / 200 / 300 by default; one anomaly in each fold's val and test range."""
    values = torch.sin(torch.arange(1000) * 0.2) + 0.01 * torch.arange(1000)
    labels = torch.zeros(1000, dtype=torch.long)
    labels[[300, 600, 800, 950]] = 1
    path = tmp_path / "plant.csv"
    path.write_text("value,label\n" + "".join(f"{v:.5f},{int(y)}\n" for v, y in zip(values.tolist(), labels.tolist())))
    return path


def test_anomaly_csv_folds_move_back_by_test_blocks_and_refit_the_scaler(labelled_file: Path) -> None:
    def folded(fold: int, **settings) -> CSVAnomalyDataModule:
        return CSVAnomalyDataModule(path=str(labelled_file), label_column="label", backtest={"folds": 2, "fold": fold}, **settings)

    plain_split = CSVAnomalyDataModule(path=str(labelled_file), label_column="label")
    plain_split.prepare_series()
    assert folded(1).data_ranges() == {"folds": 2, "fold": 1, "train": [0, 499], "val": [500, 699], "test": [700, 999]}
    assert plain_split.bounds == {"train": (0, 500), "val": (500, 700), "test": (700, 1000)}
    fold = folded(0)  # by hand: test 300 points, one block back; val the 200 before; train the rest
    assert fold.data_ranges() == {"folds": 2, "fold": 0, "train": [0, 199], "val": [200, 399], "test": [400, 699]}
    train = fold.raw_values[:200].double()
    torch.testing.assert_close(fold.scaler.offset, train.mean(dim=0))
    torch.testing.assert_close(fold.scaler.scale, train.std(dim=0, correction=0))
    with pytest.raises(
        DataError,
        match=r"data\.backtest\.fold=0 of data\.backtest\.folds=2: its train range, rows 0-199 .*"
        r"data\.window_length=256",
    ):
        folded(0, window_length=256).prepare_series()


def test_an_anomaly_csv_fold_run_reports_its_ranges_and_predicts_its_test_rows(labelled_file: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_cli(
        "train",
        "data=anomaly_csv",
        f"data.path={labelled_file}",
        "data.label_column=label",
        "data.backtest.folds=2",
        "data.backtest.fold=0",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        run_dir=run_dir,
    )
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["data_ranges"] == {"folds": 2, "fold": 0, "train": [0, 199], "val": [200, 399], "test": [400, 699]}
    with open(run_dir / "predictions" / "test.csv", newline="") as handle:
        steps = [int(row["step"]) for row in csv.DictReader(handle)]
    assert (min(steps), max(steps)) == (400, 699)
