"""The user's own split files (data.train_path, data.val_path, data.test_path) for data=text_csv, data=series
and data=anomaly_csv: each split comes from its own file, sizes are logged, and mixing data.path with split
files (or giving one file without the other) is refused naming the keys."""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import pytest
from hydra.errors import InstantiationException
from hydra.utils import instantiate

from helpers import compose_train, whole
from seqexp.data.core.errors import DataError

FIXTURES = Path(__file__).parent / "fixtures"


def data_module(*overrides: str):
    """The DataModule that ``seqexp.train`` would build for these overrides, set up."""
    datamodule = instantiate(compose_train(*overrides).data)
    datamodule.setup("fit")
    return datamodule


def split_reviews(tmp_path: Path, parts: dict[str, slice]) -> dict[str, Path]:
    """tests/fixtures/text/reviews.csv cut into one file per split."""
    with open(FIXTURES / "text" / "reviews.csv", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    paths = {}
    for split, part in parts.items():
        paths[split] = tmp_path / f"reviews_{split}.csv"
        with open(paths[split], "w", newline="") as handle:
            csv.writer(handle).writerows([header, *rows[part]])
    return paths


TEXT = ["data=text_csv", "data.text_column=review", "data.label_column=sentiment"]


def test_text_reads_train_val_and_test_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = split_reviews(tmp_path, {"train": slice(0, 28), "val": slice(28, 36), "test": slice(36, None)})
    with caplog.at_level(logging.INFO, logger="seqexp.data.text.datamodule"):
        datamodule = data_module(*TEXT, *(f"data.{split}_path={path}" for split, path in paths.items()))
    assert {split: len(examples) for split, examples in datamodule.splits.items()} == {"train": 28, "val": 8, "test": 12}
    first_test_text = list(csv.reader(paths["test"].open()))[1][0]
    assert datamodule.prediction_index().texts[0] == first_test_text  # predictions name the test file's texts
    for split, count in (("train", 28), ("val", 8), ("test", 12)):
        assert f"{split}: {count} texts from {paths[split]}" in caplog.text


def test_text_ucr_style_train_test_pair_holds_val_out_of_train_stratified(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = split_reviews(tmp_path, {"train": slice(0, 32), "test": slice(32, None)})
    with caplog.at_level(logging.INFO, logger="seqexp.data.text.datamodule"):
        datamodule = data_module(*TEXT, f"data.train_path={paths['train']}", f"data.test_path={paths['test']}")
    sizes = {split: len(examples) for split, examples in datamodule.splits.items()}
    assert sizes["test"] == 16 and sizes["train"] + sizes["val"] == 32 and sizes["val"] == 4  # 0.1 / (0.8 + 0.1) of each class
    assert datamodule.class_balance()["val"] == {"neg": 0.5, "pos": 0.5}
    assert f"val: 4 texts held out of {paths['train']}" in caplog.text


def test_series_reads_split_files_without_windows_across_files(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = {}
    for split, (first, last) in {"train": (0, 120), "val": (120, 160), "test": (160, 200)}.items():
        paths[split] = tmp_path / f"sales_{split}.csv"
        rows = [f"2024-01-{1 + step // 24:02d} {step % 24:02d}:00,{10 + math.sin(step / 5) + (100 if split == 'test' else 0)}" for step in range(first, last)]
        paths[split].write_text("date,units\n" + "\n".join(rows) + "\n")
    common = ["data=series", "data.time_column=date", "data.input_length=12", "data.horizon=4"]
    with caplog.at_level(logging.INFO, logger="seqexp.data.series.datamodule"):
        datamodule = data_module(*common, *(f"data.{split}_path={path}" for split, path in paths.items()))
    assert datamodule.bounds == {"train": (0, 120), "val": (120, 160), "test": (160, 200)}
    # Every window's inputs and targets lie inside its own file: the first test forecast starts input_length rows in.
    assert int(datamodule.origins("test")[0]) == 160 + 12 and int(datamodule.origins("val")[0]) == 120 + 12
    assert {split: len(dataset) for split, dataset in datamodule.datasets.items()} == {"train": 105, "val": 25, "test": 25}
    offset = datamodule.train_scaler().offset  # fitted on the train file only: the test file's +100 does not move it
    assert abs(float(offset[0]) - 10) < 0.5
    assert "data: test split has 40 steps (rows 160-199" in caplog.text and str(paths["test"]) in caplog.text
    assert datamodule.prediction_index().times[160] == "2024-01-07 16:00"  # the test file's first time stamp

    held_out = data_module(*common, f"data.train_path={paths['train']}", f"data.test_path={paths['test']}")
    assert held_out.bounds == {"train": (0, 99), "val": (99, 120), "test": (120, 160)}  # val: the end of the train file
    assert int(held_out.origins("val")[0]) == 99  # val inputs may reach back into train (the same file)


def test_anomaly_csv_reads_split_files_and_logs_anomalies_per_split(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    paths = {}
    for split, (first, last) in {"train": (0, 100), "val": (100, 140), "test": (140, 200)}.items():
        paths[split] = tmp_path / f"plant_{split}.csv"
        labels = [int(split != "train" and step % 30 in (3, 4)) for step in range(first, last)]
        rows = [f"{math.sin(step / 4) + 5 * label:.4f},{label}" for step, label in zip(range(first, last), labels)]
        paths[split].write_text("value,is_anomaly\n" + "\n".join(rows) + "\n")
    with caplog.at_level(logging.INFO, logger="seqexp.data"):
        datamodule = data_module(
            "data=anomaly_csv", "data.label_column=is_anomaly", "data.window_length=16", *(f"data.{split}_path={path}" for split, path in paths.items())
        )
    assert datamodule.bounds == {"train": (0, 100), "val": (100, 140), "test": (140, 200)}
    for split in ("val", "test"):  # no window reaches back into the previous file
        assert int(whole(datamodule.datasets[split])["starts"].min()) == 0
    assert "data: train split has 100 points, 0 anomalous (0.00%) in 0 windows" in caplog.text
    assert "data: val split has 40 points, 2 anomalous (5.00%) in 1 windows" in caplog.text
    assert "data: test split has 60 points, 4 anomalous (6.67%) in 2 windows" in caplog.text
    index = datamodule.prediction_index()
    assert index.first_step == 140 and len(index.values) == 60 and index.names == ("value",)


@pytest.mark.parametrize("option", ["text_csv", "series", "anomaly_csv"])
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            ["data.path=all.csv", "data.train_path=train.csv", "data.test_path=test.csv"],
            "data.path and data.train_path, data.test_path: set data.path (one file, split by fractions) or the split files, not both",
        ),
        (["data.train_path=train.csv"], "data.train_path: split files need both data.train_path and data.test_path"),
        (["data.val_path=val.csv", "data.test_path=test.csv"], "data.val_path, data.test_path: split files need both data.train_path and data.test_path"),
    ],
)
def test_bad_combinations_are_refused_naming_the_keys(option: str, settings: list[str], message: str) -> None:
    with pytest.raises(InstantiationException) as raised:  # Hydra's wrapper; the run prints the DataError alone
        instantiate(compose_train(f"data={option}", *settings).data)
    assert isinstance(raised.value.__cause__, DataError) and message in str(raised.value.__cause__)


def test_a_missing_split_file_is_named_by_its_key(tmp_path: Path) -> None:
    paths = split_reviews(tmp_path, {"train": slice(0, 32)})
    with pytest.raises(DataError, match=r"data\.test_path=.*nope\.csv: no such file"):
        data_module(*TEXT, f"data.train_path={paths['train']}", f"data.test_path={tmp_path / 'nope.csv'}")


def test_text_csv_without_any_file_is_refused() -> None:
    with pytest.raises(InstantiationException) as raised:
        instantiate(compose_train("data=text_csv").data)
    assert "data.path: set it to your file" in str(raised.value.__cause__)
