"""Anomaly DataModules: injected anomalies match their labels, windows cover the splits, the real
series loads with its label, and bad CSV input fails naming file, line and column."""

from pathlib import Path

import pytest
import torch

from seqexp.data.anomaly.real import CSVAnomalyDataModule, RealAnomalyDataModule, read_labelled_csv
from seqexp.data.anomaly.synthetic import KINDS, SyntheticAnomalyDataModule
from seqexp.data.core.table import TableError

FIXTURES = Path(__file__).parent / "fixtures" / "anomaly"
SMALL = {"train": 600, "val": 500, "test": 500}


def synthetic(**settings) -> SyntheticAnomalyDataModule:
    datamodule = SyntheticAnomalyDataModule(lengths=SMALL, window_length=16, seed=5, **settings)
    datamodule.setup()
    return datamodule


def test_injected_anomalies_are_exactly_where_the_labels_are() -> None:
    datamodule = synthetic(num_features=3, anomaly_rate=0.05)
    raw = datamodule.load_series()[0]  # the same draw again, before normalisation
    changed = (raw - datamodule.clean_values).abs().amax(1) > 0  # (time,) points the injection touched
    labels = datamodule.labels.bool()
    assert not changed[~labels].any(), "a point changed outside every labelled window"
    for anomaly in datamodule.anomalies:
        assert labels[anomaly.start : anomaly.end].all()
        untouched = [f for f in range(3) if f not in anomaly.features]
        assert (raw[anomaly.start : anomaly.end, untouched] == datamodule.clean_values[anomaly.start : anomaly.end, untouched]).all()
        assert changed[anomaly.start : anomaly.end].any(), f"{anomaly.kind} at {anomaly.start} changed nothing"
    assert int(labels.sum()) == sum(a.end - a.start for a in datamodule.anomalies)


def test_every_kind_lands_in_val_and_test_and_train_stays_clean() -> None:
    datamodule = synthetic()
    for split in ("val", "test"):
        start, end = datamodule.bounds[split]
        assert {a.kind for a in datamodule.anomalies if start <= a.start < end} == set(KINDS)
    assert not datamodule.split_series("train")[1].any()
    contaminated = synthetic(train_contamination=0.05)
    assert contaminated.split_series("train")[1].float().mean() >= 0.05


def test_normalisation_is_fitted_on_train_only() -> None:
    values = synthetic().split_series("train")[0]
    torch.testing.assert_close(values.mean(0), torch.zeros(2), atol=1e-5, rtol=0)
    torch.testing.assert_close(values.std(0, unbiased=False), torch.ones(2), atol=1e-4, rtol=0)


def test_eval_windows_cover_every_split_point_in_order() -> None:
    datamodule = synthetic()
    batches = list(datamodule.val_dataloader())
    starts = torch.cat([batch["starts"] for batch in batches])
    assert starts[0] == -15 and starts[-1] == SMALL["val"] - 16 and (torch.diff(starts) == 1).all()
    first = batches[0]
    val_values, val_labels = datamodule.split_series("val")
    row = int(torch.nonzero(first["starts"] == 0)[0])  # the window starting at the split's first point
    torch.testing.assert_close(first["inputs"][row], val_values[:16])
    assert torch.equal(first["targets"][row], val_labels[:16])
    assert datamodule.spec.target_kind == "anomaly" and datamodule.spec.input_size == 2


def test_same_seed_same_series_other_seed_other_series() -> None:
    a, b = synthetic().scaled_values(), synthetic().scaled_values()
    other = SyntheticAnomalyDataModule(lengths=SMALL, window_length=16, seed=6)
    other.setup()
    assert torch.equal(a, b) and not torch.equal(a, other.scaled_values())


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"window_length": 0}, "data.window_length"),
        ({"kinds": ["spike", "meteor"]}, "data.kinds"),
        ({"anomaly_rate": 0.7}, "data.anomaly_rate"),
        ({"lengths": {"train": 5, "val": 500, "test": 500}}, "data.lengths.train"),
        ({"lengths": {"train": 600, "val": 60, "test": 500}}, "data.lengths.val=60: too short"),
    ],
)
def test_bad_synthetic_settings_name_the_key(settings: dict, key: str) -> None:
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        SyntheticAnomalyDataModule(**{"lengths": SMALL, **settings}).setup()


def test_real_ucr_series_has_its_archive_label_in_test() -> None:
    datamodule = RealAnomalyDataModule()
    datamodule.setup()
    assert datamodule.bounds["train"] == (0, 1200)
    assert datamodule.labels.sum() == 12 and datamodule.labels[4187:4199].all()
    test_start, test_end = datamodule.bounds["test"]
    assert test_start <= 4187 and 4199 <= test_end
    assert not datamodule.split_series("train")[1].any() and not datamodule.split_series("val")[1].any()
    assert datamodule.spec.input_size == 1


def test_real_mitbih_excerpt_has_its_label_in_test() -> None:
    datamodule = RealAnomalyDataModule(source="mitbih")
    datamodule.prepare_series()
    assert datamodule.bounds["train"] == (0, 3000) and datamodule.bounds["test"][1] == 7500
    assert datamodule.labels.nonzero().flatten().tolist() == list(range(6936, 7288))
    with pytest.raises(ValueError, match=r"data\.source='ucr_999'"):
        RealAnomalyDataModule(source="ucr_999")


def test_csv_with_timestamps_windows_file_and_gaps(tmp_path: Path) -> None:
    values, labels, timestamps = read_labelled_csv(FIXTURES / "series_with_gaps.csv", timestamp_column="time", windows_path=FIXTURES / "windows.csv")
    assert values.shape == (12, 2) and timestamps[0] == "2024-01-01T00:00"
    assert values[2, 0] == pytest.approx(3.0) and values[0, 1] == pytest.approx(20.0)  # interpolated / edge-filled
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0]


def test_missing_drop_drops_the_rows_with_their_labels_and_timestamps() -> None:
    values, labels, timestamps = read_labelled_csv(
        FIXTURES / "series_with_gaps.csv", timestamp_column="time", windows_path=FIXTURES / "windows.csv", missing="drop"
    )
    kept = [1, 3, 4, 5, 6, 7, 8, 9, 11]  # rows 0, 2 and 10 have a gap; windows still count every row
    assert values.shape == (9, 2) and values[:2].tolist() == [[2.0, 20.0], [4.0, 22.0]]
    assert labels.tolist() == [[0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 1, 0][row] for row in kept]
    assert timestamps == [f"2024-01-01T{row:02d}:00" for row in kept]


def test_csv_label_column_and_splits(tmp_path: Path) -> None:
    path = tmp_path / "series.csv"
    path.write_text("value,label\n" + "".join(f"{i % 7},{int(i in (50, 51))}\n" for i in range(100)))
    datamodule = CSVAnomalyDataModule(path=str(path), label_column="label", window_length=8, split_fractions={"train": 0.4, "val": 0.3, "test": 0.3})
    datamodule.setup()
    assert datamodule.bounds == {"train": (0, 40), "val": (40, 70), "test": (70, 100)}
    assert datamodule.labels.nonzero().flatten().tolist() == [50, 51]


@pytest.mark.parametrize(
    ("fixture", "settings", "message"),
    [
        ("bad_number.csv", {"label_column": "label"}, r"bad_number\.csv, line 4, column 'value': 'abc' is not a number"),
        ("bad_label.csv", {"label_column": "label"}, r"bad_label\.csv, line 3, column 'label': label must be 0 or 1, got '2'"),
        ("ragged.csv", {}, r"ragged\.csv, line 3: 1 fields, the header has 2"),
        ("bad_number.csv", {"label_column": "is_anomaly"}, r"column 'is_anomaly' \(data\.label_column\) is not in the header"),
        ("series_with_gaps.csv", {"timestamp_column": "time", "missing": "error"}, r"series_with_gaps\.csv, line 2, column 'b': missing value"),
    ],
)
def test_bad_csv_input_names_file_line_and_column(fixture: str, settings: dict, message: str) -> None:
    with pytest.raises(TableError, match=message):
        read_labelled_csv(FIXTURES / fixture, **settings)


def test_bad_windows_file_and_missing_path(tmp_path: Path) -> None:
    windows = tmp_path / "windows.csv"
    windows.write_text("start,end\n3,99\n")
    with pytest.raises(TableError, match=r"windows\.csv, line 2, column 'end': row index 99 is past the series' last row index 5"):
        read_labelled_csv(FIXTURES / "plain.csv", windows_path=windows)
    with pytest.raises(TableError, match=r"nowhere\.csv: no such file"):
        CSVAnomalyDataModule(path=str(tmp_path / "nowhere.csv")).setup()
    with pytest.raises(ValueError, match=r"data\.path"):
        CSVAnomalyDataModule()
