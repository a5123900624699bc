"""What an anomaly run says about its splits: the anomalous points and windows of each split at
setup, and one warning per split that names the keys to change when a split has no anomaly."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import pytest

from helpers import compose_train, read_metrics
from seqexp.data.anomaly import CSVAnomalyDataModule, SyntheticAnomalyDataModule
from seqexp.metrics.anomaly import runs
from seqexp.train import train


def write_series(path: Path, anomalous: range) -> Path:
    """400 points of two sines; default split fractions put train at 0-199, val 200-279, test 280-399."""
    path.write_text("time,a,b,label\n" + "".join(f"{i},{math.sin(i / 5):.4f},{math.cos(i / 7):.4f},{int(i in anomalous)}\n" for i in range(400)))
    return path


def test_setup_logs_anomalous_points_and_windows_per_split(caplog: pytest.LogCaptureFixture) -> None:
    data = SyntheticAnomalyDataModule(lengths={"train": 300, "val": 300, "test": 300}, window_length=16, seed=3)
    with caplog.at_level(logging.INFO, logger="seqexp.data.anomaly.windows"):
        data.setup("fit")
    lines = [record.getMessage() for record in caplog.records if record.name == "seqexp.data.anomaly.windows"]
    assert len(lines) == 3
    for split, line in zip(("train", "val", "test"), lines):
        labels = data.split_series(split)[1]
        points, windows = int(labels.sum()), len(runs(labels.bool()))
        assert f"{split} split has 300 points, {points} anomalous" in line and f"in {windows} windows" in line
    assert "train split has 300 points, 0 anomalous" in lines[0] and " 0 anomalous" not in lines[2]


def test_csv_setup_logs_a_split_without_anomalies(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    csv_file = write_series(tmp_path / "series.csv", range(300, 310))
    data = CSVAnomalyDataModule(path=str(csv_file), timestamp_column="time", label_column="label")
    with caplog.at_level(logging.INFO, logger="seqexp.data.anomaly.windows"):
        data.setup("fit")
    assert "val split has 80 points, 0 anomalous (0.00%) in 0 windows" in caplog.text
    assert "test split has 120 points, 10 anomalous (8.33%) in 1 windows" in caplog.text


def test_splits_without_anomalies_warn_once_and_name_the_keys(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    csv_file = write_series(tmp_path / "series.csv", range(50, 60))  # anomalies in train only
    cfg = compose_train(
        "data=anomaly_csv",
        f"data.path={csv_file}",
        "data.timestamp_column=time",
        "data.label_column=label",
        "task.threshold.rule=best_f1",
        "trainer.max_epochs=2",
        "trainer.limit_train_batches=2",
        "model.hidden_size=8",
        f"paths.output_dir={tmp_path}",
    )
    with caplog.at_level(logging.WARNING, logger="seqexp.tasks.anomaly"):
        train(cfg)
    warnings = [record.getMessage() for record in caplog.records if record.name == "seqexp.tasks.anomaly"]
    test_warnings = [message for message in warnings if message.startswith("the test split")]
    assert len(test_warnings) == 1, warnings
    assert all(f"test/{name}" in test_warnings[0] for name in ("auroc", "auprc", "event_recall", "ucr_hit", "f1"))
    assert "data.split_fractions" in test_warnings[0] and "data.label_column" in test_warnings[0]
    # Val has none either: the best_f1 fallback and val's metrics, each once over two epochs.
    fallback = [message for message in warnings if "falls back to the quantile rule" in message]
    assert len(fallback) == 1 and "task.threshold.rule=quantile" in fallback[0] and "data.split_fractions" in fallback[0]
    assert sum(message.startswith("the val split") for message in warnings) == 1
    metrics = read_metrics(tmp_path)["metrics"]
    assert metrics["test/auroc"] is None and math.isfinite(metrics["test/threshold"])  # nan is written as null
