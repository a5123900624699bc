"""False alarms per 1,000 normal points on a run with the default keys, recomputed by hand from the
run's own predictions file: a detector that flags (nearly) every test point must score near 1,000,
not the handful of "runs" it forms; a test split without a normal point says why the rate is nan."""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import pytest

from helpers import compose_train, read_metrics
from seqexp.train import train


def write_series(path: Path, test_level: float, test_labels: range) -> Path:
    """400 points of a sine (train 0-199, val 200-279 with a spike at 240-244, test 280-399); the test
    split is shifted by ``test_level``, far outside the train range, so every test point scores high."""
    rows = []
    for i in range(400):
        value = math.sin(i / 5) + (3.0 if 240 <= i < 245 else 0.0) + (test_level if i >= 280 else 0.0)
        rows.append(f"{i},{value:.4f},{int(240 <= i < 245 or i in test_labels)}\n")
    path.write_text("time,value,label\n" + "".join(rows))
    return path


def run(tmp_path: Path, csv_file: Path) -> Path:
    cfg = compose_train(
        "data=anomaly_csv",
        f"data.path={csv_file}",
        "data.timestamp_column=time",
        "data.label_column=label",
        "trainer.max_epochs=2",
        "model.hidden_size=8",
        f"paths.output_dir={tmp_path}",
    )
    train(cfg)
    return tmp_path


def test_a_detector_that_flags_every_test_point_scores_near_1000(tmp_path: Path) -> None:
    run_dir = run(tmp_path, write_series(tmp_path / "plant.csv", test_level=40.0, test_labels=range(330, 340)))
    with open(run_dir / "predictions" / "test.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    normal = [row for row in rows if row["truth"] == "0"]
    flagged_normal = sum(row["flag"] == "1" for row in normal)
    assert len(rows) >= 100 and sum(row["flag"] == "1" for row in rows) >= 0.95 * len(rows)  # flags (nearly) all
    metrics = read_metrics(run_dir)["metrics"]
    assert metrics["test/false_alarms_per_1k"] == pytest.approx(1000 * flagged_normal / len(normal))
    assert metrics["test/false_alarms_per_1k"] > 900


def test_a_test_split_without_normal_points_says_why_false_alarms_are_nan(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    csv_file = write_series(tmp_path / "plant.csv", test_level=0.0, test_labels=range(280, 400))  # all test points anomalous
    with caplog.at_level(logging.WARNING, logger="seqexp.tasks.anomaly"):
        run_dir = run(tmp_path, csv_file)
    assert read_metrics(run_dir)["metrics"]["test/false_alarms_per_1k"] is None  # nan is written as null
    warnings = [record.getMessage() for record in caplog.records if "has no normal point" in record.getMessage()]
    assert len(warnings) == 1 and warnings[0].startswith("the test split"), warnings
    assert "test/false_alarms_per_1k" in warnings[0] and "per 1,000 normal points" in warnings[0]
    assert "data.split_fractions" in warnings[0]
