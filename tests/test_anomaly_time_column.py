"""The README's `data=anomaly_csv data.path=plant.csv data.label_column=is_anomaly` on a file with a time
stamp column: the column is found (as `data=series` finds one), names the points and is not a value;
where it cannot be guessed (a windows file, whose `start,end` would change meaning), the error names
`data.timestamp_column`."""

from __future__ import annotations

import csv
import math
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from helpers import run_cli
from seqexp.data.anomaly import CSVAnomalyDataModule
from seqexp.data.core.errors import DataError

START = datetime(2023, 1, 1)


def write_plant(path: Path, points: int = 400) -> Path:
    """An hourly sensor with ISO time stamps, an anomaly in val (240-244) and one in test (330-339)."""
    rows = []
    for i in range(points):
        anomalous = 240 <= i < 245 or 330 <= i < 340
        value = math.sin(i / 5) + (3.0 if anomalous else 0.0)
        rows.append(f"{(START + timedelta(hours=i)).isoformat()},{value:.4f},{int(anomalous)}\n")
    path.write_text("timestamp,temperature,is_anomaly\n" + "".join(rows))
    return path


def test_the_readme_command_finds_the_time_stamp_column(tmp_path: Path) -> None:
    plant = write_plant(tmp_path / "plant.csv")
    run_dir = tmp_path / "run"
    result = run_cli("train", "data=anomaly_csv", f"data.path={plant}", "data.label_column=is_anomaly", "trainer.max_epochs=1", run_dir=run_dir)
    assert "column 'timestamp' looks like a time axis" in result.stdout + result.stderr
    assert "data.timestamp_column=timestamp" in result.stdout + result.stderr
    with open(run_dir / "predictions" / "test.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # The time stamps name the test points (280-399 of the file); the only value column is the temperature.
    assert rows[0]["timestamp"] == (START + timedelta(hours=280)).isoformat() and len(rows) == 120
    assert "temperature" in rows[0] and "timestamp" not in [name for name in rows[0] if name not in ("step", "timestamp")]
    assert (run_dir / "metrics.json").exists()


def test_a_time_stamp_column_that_cannot_be_guessed_is_named_in_the_error(tmp_path: Path) -> None:
    plant = write_plant(tmp_path / "plant.csv")
    windows = tmp_path / "windows.csv"
    windows.write_text("start,end\n330,339\n")
    data = CSVAnomalyDataModule(path=str(plant), windows_path=str(windows))  # row-index windows: no guessing
    with pytest.raises(DataError, match=r"'timestamp'.*data\.timestamp_column=timestamp"):
        data.setup("fit")
