"""A user's files that train without a word but cannot mean what they say: time stamps out of order
(data=series, data=anomaly_csv), a label only the test file has (data=text_csv), and how many cells
data.missing=interpolate filled in."""

from __future__ import annotations

import logging
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from seqexp.data.anomaly import CSVAnomalyDataModule
from seqexp.data.anomaly.real import read_labelled_csv
from seqexp.data.core.errors import DataError
from seqexp.data.series.datamodule import BUILTIN_SERIES, SeriesDataModule
from seqexp.data.series.files import handle_missing, read_series_csv
from seqexp.data.text import TextDataModule

FIXTURES = Path(__file__).parent / "fixtures"


def write_sales(path: Path, days: int = 120, swap: int | None = None, stamp=lambda day: day.isoformat()) -> Path:  # type: ignore[no-untyped-def]
    """Daily ``date,units`` rows from 2024-01-01; ``swap``: the rows of data rows ``swap`` and ``swap + 1`` change places."""
    stamps = [stamp(date(2024, 1, 1) + timedelta(days=day)) for day in range(days)]
    if swap is not None:
        stamps[swap], stamps[swap + 1] = stamps[swap + 1], stamps[swap]
    path.write_text("date,units\n" + "".join(f"{day},{10 + day_number % 7}\n" for day_number, day in enumerate(stamps)))
    return path


def test_series_rows_out_of_time_order_are_refused_naming_file_line_column_and_values(tmp_path: Path) -> None:
    sales = write_sales(tmp_path / "sales.csv", swap=49)  # rows 50 and 51 (counted from 1): file lines 51 and 52
    with pytest.raises(DataError, match=r"sales.csv, line 52, column 'date': 2024-02-19 is not after 2024-02-20 on line 51; rows must be in time order"):
        SeriesDataModule(path=str(sales), time_column="date", targets=["units"], input_length=8, horizon=2).setup()


def test_a_repeated_time_stamp_is_refused(tmp_path: Path) -> None:
    sales = write_sales(tmp_path / "sales.csv")
    lines = sales.read_text().splitlines()
    lines[11] = lines[10].split(",")[0] + ",99"  # line 12 repeats line 11's date
    sales.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"line 12, column 'date': 2024-01-10 is not after 2024-01-10 on line 11"):
        read_series_csv(sales, time_column="date")


def test_a_time_axis_found_without_a_time_column_is_checked_too(tmp_path: Path) -> None:
    sales = write_sales(tmp_path / "sales.csv", swap=5)
    with pytest.raises(DataError, match=r"line 8, column 'date': 2024-01-06 is not after 2024-01-07 on line 7"):
        read_series_csv(sales)


@pytest.mark.parametrize(
    ("stamp", "unordered"),
    [
        (lambda day: day.strftime("%Y/%m/%d 12:00"), "2024/01/06 12:00"),  # as the built-in weather files write them
        (lambda day: f"{day.isoformat()}T00:00:00+01:00", "2024-01-06T00:00:00+01:00"),  # an offset: compared in UTC
        (lambda day: day.strftime("%Y%m%d"), "20240106"),  # a number, as co2.csv's dates
    ],
)
def test_time_stamps_in_other_readable_forms_are_ordered_too(stamp, unordered: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert len(read_series_csv(write_sales(tmp_path / "ordered.csv", stamp=stamp), time_column="date").values) == 120
    with pytest.raises(DataError, match=f"line 8, column 'date': {re.escape(unordered)} is not after"):
        read_series_csv(write_sales(tmp_path / "swapped.csv", swap=5, stamp=stamp), time_column="date")


def test_missing_and_unreadable_time_stamps_are_not_judged(tmp_path: Path) -> None:
    gappy = read_series_csv(write_sales(tmp_path / "gaps.csv", stamp=lambda day: "" if day.day == 5 else day.isoformat()), time_column="date")
    assert gappy.times[3:5] == ["2024-01-04", ""]
    na = read_series_csv(write_sales(tmp_path / "na.csv", stamp=lambda day: "NA" if day.day == 5 else day.isoformat()), time_column="date")
    assert na.times[4] == "NA"
    with pytest.raises(DataError, match=r"na.csv, line 8, column 'date': 2024-01-06 is not after 2024-01-07 on line 7"):
        read_series_csv(write_sales(tmp_path / "na.csv", swap=5, stamp=lambda day: "NA" if day.day == 5 else day.isoformat()), time_column="date")
    # day-first dates have no order numpy reads: read as before
    assert len(read_series_csv(write_sales(tmp_path / "dotted.csv", swap=5, stamp=lambda day: day.strftime("%d.%m.%Y")), time_column="date").values) == 120


@pytest.mark.parametrize("name", sorted(BUILTIN_SERIES))
def test_builtin_series_are_in_time_order(name: str) -> None:
    assert len(SeriesDataModule(name=name).load().values) > 0


def test_anomaly_csv_time_stamps_out_of_order_are_refused(tmp_path: Path) -> None:
    plant = tmp_path / "plant.csv"
    stamps = [f"2023-01-01T{hour:02d}:00:00" for hour in range(24)]
    stamps[10], stamps[11] = stamps[11], stamps[10]
    plant.write_text("timestamp,temperature,is_anomaly\n" + "".join(f"{stamp},{hour * 0.1:.1f},0\n" for hour, stamp in enumerate(stamps)))
    message = r"plant.csv, line 13, column 'timestamp': 2023-01-01T10:00:00 is not after 2023-01-01T11:00:00 on line 12; rows must be in time order"
    with pytest.raises(DataError, match=message):
        read_labelled_csv(plant, timestamp_column="timestamp", label_column="is_anomaly")
    with pytest.raises(DataError, match=message):  # the time axis found, as the README's command finds it
        CSVAnomalyDataModule(path=str(plant), label_column="is_anomaly", window_length=4).load_series()


def write_reviews(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("text,label\n" + "".join(f"{text},{label}\n" for text, label in rows))
    return path


def test_a_label_only_the_test_file_has_is_warned_about_and_stays_a_class(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    train = write_reviews(tmp_path / "tr.csv", [(f"review number {i} {'good' if i % 2 else 'bad'}", "pos" if i % 2 else "neg") for i in range(20)])
    test = write_reviews(tmp_path / "te.csv", [("a good film", "pos"), ("a bad film", "neg"), ("a great film", "great"), ("so so", "meh"), ("so so so", "meh")])
    datamodule = TextDataModule(train_path=str(train), test_path=str(test))
    with caplog.at_level(logging.WARNING, logger="seqexp.data.text.datamodule"):
        datamodule.setup()
    warnings = [record.getMessage() for record in caplog.records if "not among the train split's labels" in record.getMessage()]
    assert warnings == [
        f"{test}: labels 'great' (1 row), 'meh' (2 rows) are not among the train split's labels; the model cannot predict them and their recall is 0"
    ]
    assert datamodule.spec.class_names == ("great", "meh", "neg", "pos")  # classes as before: checkpoints and metrics depend on them


def test_a_fixed_label_list_still_refuses_unknown_labels_and_warns_of_untrained_ones(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    train = write_reviews(tmp_path / "tr.csv", [(f"review number {i}", "pos" if i % 2 else "neg") for i in range(20)])
    test = write_reviews(tmp_path / "te.csv", [("a good film", "pos"), ("a bad film", "neg"), ("a great film", "great")])
    with pytest.raises(DataError, match=r"te.csv, line 4: unknown label 'great'"):
        TextDataModule(train_path=str(train), test_path=str(test), labels=["neg", "pos"]).setup()
    datamodule = TextDataModule(train_path=str(train), test_path=str(test), labels=["neg", "pos", "great"])
    with caplog.at_level(logging.WARNING, logger="seqexp.data.text.datamodule"):
        datamodule.setup()
    assert f"{test}: label 'great' (1 row) is not among the train split's labels; the model cannot predict it and its recall is 0" in caplog.messages
    assert datamodule.spec.class_names == ("neg", "pos", "great")


def test_interpolation_logs_how_many_cells_it_filled_per_column(caplog: pytest.LogCaptureFixture) -> None:
    table = read_series_csv(FIXTURES / "series" / "gappy.csv", time_column="when")
    with caplog.at_level(logging.INFO, logger="seqexp.data.core.table"):
        handle_missing(table, "interpolate")
        handle_missing(table, "drop")
        read_labelled_csv(FIXTURES / "anomaly" / "plain.csv")
    filled = [message for message in caplog.messages if "interpolated" in message]
    assert filled == [f"{FIXTURES / 'series' / 'gappy.csv'}: interpolated 3 missing cells (load 2, temp 1)"]
