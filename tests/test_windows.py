"""Windows as index arithmetic, and a memory-mapped .npy read the same way as a CSV of the same series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import whole
from seqexp.data.anomaly import CSVAnomalyDataModule
from seqexp.data.core.table import TableError
from seqexp.data.core.windows import WindowStarts
from seqexp.data.series import SeriesDataModule


@pytest.mark.parametrize(
    ("first", "last", "stride", "cover_last", "expected"),
    [
        (0, 10, 3, False, [0, 3, 6, 9]),
        (0, 10, 3, True, [0, 3, 6, 9, 10]),  # the last window ends on the split's last point
        (2, 8, 3, True, [2, 5, 8]),  # already there: not twice
        (5, 5, 1, False, [5]),
        (6, 5, 1, True, []),  # no room for a window
    ],
)
def test_window_starts_match_the_ranges_they_replace(first: int, last: int, stride: int, cover_last: bool, expected: list[int]) -> None:
    starts = WindowStarts(first, last, stride, cover_last)
    assert len(starts) == len(expected) and starts.all().tolist() == expected


def test_every_row_window_starts_at_its_first_input_row(tmp_path: Path) -> None:
    """The data layer's one convention (seqexp.data.core.windows): a dataset's ``starts`` are each window's first
    input row, for forecasting windows (series) as for labelled ones (anomaly)."""
    values, labels = labelled_series(600)
    np.save(tmp_path / "one.npy", values.astype(np.float64).reshape(-1, 1))
    series = SeriesDataModule(path=str(tmp_path / "one.npy"), input_length=24, horizon=6, stride=5, scaling="none", center="train")
    series.setup()
    rows = torch.as_tensor(values, dtype=torch.float64)
    for split in ("train", "val", "test"):
        dataset = series.datasets[split]
        starts = dataset.starts.all()
        inputs = rows[starts.view(-1, 1) + torch.arange(24)].float().unsqueeze(-1)
        torch.testing.assert_close(whole(dataset)["inputs"], inputs, msg=split)
        assert whole(dataset)["origin"].tolist() == (starts + 24).tolist()  # forecasts start right after the inputs
    (tmp_path / "one.csv").write_text("value,label\n" + "".join(f"{v!r},{x}\n" for v, x in zip(values.tolist(), labels.tolist())))
    anomaly = CSVAnomalyDataModule(path=str(tmp_path / "one.csv"), label_column="label", window_length=16, eval_stride=4)
    anomaly.setup()
    scaled = anomaly.scaled_values()
    for split in ("train", "val", "test"):
        dataset = anomaly.datasets[split]
        starts = dataset.starts.all()
        torch.testing.assert_close(whole(dataset)["inputs"], scaled[starts.view(-1, 1) + torch.arange(16)], msg=split)


def labelled_series(points: int) -> tuple[np.ndarray, np.ndarray]:
    steps = np.arange(points)
    values = (np.sin(steps / 7) + 0.01 * steps).astype(np.float32)
    labels = ((steps % 500) >= 495).astype(np.uint8)
    return values, labels


def test_a_structured_npy_is_memory_mapped_and_windows_like_the_csv(tmp_path: Path) -> None:
    values, labels = labelled_series(3000)
    csv = tmp_path / "series.csv"
    csv.write_text("value,label\n" + "".join(f"{value!r},{label}\n" for value, label in zip(values.tolist(), labels.tolist())))
    npy = tmp_path / "series.npy"
    array = np.zeros(len(values), dtype=[("value", "f4"), ("label", "u1")])
    array["value"], array["label"] = values, labels
    np.save(npy, array)
    from_csv, from_npy = (CSVAnomalyDataModule(path=str(path), label_column="label", window_length=16, eval_stride=4) for path in (csv, npy))
    for datamodule in (from_csv, from_npy):
        datamodule.setup()
    assert isinstance(from_npy.raw_values, np.memmap)  # not read into memory
    for split in ("train", "val", "test"):
        expected, got = whole(from_csv.datasets[split]), whole(from_npy.datasets[split])
        assert expected.keys() == got.keys()
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], msg=f"{split} {key}")


def test_a_plain_npy_gives_numbered_columns_to_forecast(tmp_path: Path) -> None:
    values, _ = labelled_series(600)
    np.save(tmp_path / "two.npy", np.stack([values, -values], axis=1).astype(np.float64))
    datamodule = SeriesDataModule(path=str(tmp_path / "two.npy"), targets=["1"], input_length=24, horizon=6)
    datamodule.setup()
    batch = datamodule.datasets["train"].__getitems__([0])
    assert datamodule.load().columns == ("0", "1") and batch["inputs"].shape == (1, 24, 2) and batch["targets"].shape == (1, 6, 1)


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.zeros((2, 3, 4)), r"bad\.npy: expected a non-empty 1-D or 2-D numeric array \(or a structured array\), got shape \(2, 3, 4\)"),
        (np.array(["a", "b"]), r"bad\.npy: expected a non-empty 1-D or 2-D numeric array"),
    ],
)
def test_a_npy_that_is_not_a_series_is_refused_naming_the_file(tmp_path: Path, array: np.ndarray, message: str) -> None:
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(TableError, match=message):
        CSVAnomalyDataModule(path=str(tmp_path / "bad.npy")).setup()
