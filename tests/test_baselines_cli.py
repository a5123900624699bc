"""The baselines beside every run: metrics.json and TensorBoard hold baseline/<name>/<split>/<metric>, scored on the
run's own splits; the log compares the model with them on validation; a baseline that cannot be computed says why."""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import compose_train, read_metrics, run_cli
from seqexp.baselines.text import NEEDS_SKLEARN
from seqexp.train import train

ASSETS = Path(__file__).resolve().parents[1] / "src" / "seqexp" / "data" / "assets"
AIRLINE = ["data=series", "data.name=airline", "data.input_length=24", "data.horizon=12"]


def airline_passengers() -> np.ndarray:
    with open(ASSETS / "series" / "Airline.csv", newline="") as handle:
        return np.array([float(row["Passengers"]) for row in csv.DictReader(handle)])


@pytest.mark.slow
def test_a_series_run_logs_its_baselines_beside_the_model(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_cli("train", *AIRLINE, "trainer.max_epochs=2", run_dir=run_dir)
    record = read_metrics(run_dir)
    metrics = record["metrics"]
    for name in ("last_value", "seasonal_naive", "train_mean", "drift"):
        assert {f"baseline/{name}/{split}/{metric}" for split in ("val", "test") for metric in ("mae", "rmse", "mape", "smape", "mase")} <= set(metrics)
    assert record["baselines_skipped"] == {}
    # Seasonal naive on the test windows, worked out from the CSV and the run's own ranges.
    y = airline_passengers()
    train_first, train_last = record["data_ranges"]["train"]
    test_first, test_last = record["data_ranges"]["test"]
    history = y[train_first : train_last + 1]
    scale = np.abs(history[12:] - history[:-12]).mean()
    errors = [abs(y[origin + k] - y[origin + k - 12]) for origin in range(test_first, test_last - 12 + 2) for k in range(12)]
    assert metrics["baseline/seasonal_naive/test/mase"] == pytest.approx(np.mean(errors) / scale, rel=1e-5)
    assert metrics["baseline/seasonal_naive/test/mae"] == pytest.approx(np.mean(errors), rel=1e-5)
    # TensorBoard: each baseline a run of its own beside the model's, under the model's tags (a point in its charts)
    model_events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0}).Reload()
    assert "test/mase" in model_events.Tags()["scalars"] and not [tag for tag in model_events.Tags()["scalars"] if tag.startswith("baseline/")]
    assert sorted(folder.name for folder in (run_dir / "tensorboard_baselines").iterdir()) == ["drift", "last_value", "seasonal_naive", "train_mean"]
    naive_events = EventAccumulator(str(run_dir / "tensorboard_baselines" / "seasonal_naive"), size_guidance={"scalars": 0}).Reload()
    ((point,),) = [naive_events.Scalars("test/mase")]
    assert point.value == pytest.approx(metrics["baseline/seasonal_naive/test/mase"], rel=1e-6)
    assert point.step == model_events.Scalars("test/mase")[-1].step  # beside the model's test point
    assert {"val/mase", "test/mae"} <= set(naive_events.Tags()["scalars"])
    # Two epochs leave the model behind seasonal naive: the log says so in one line, with the figures.
    log = (run_dir / "train.log").read_text()
    verdict = next(line for line in log.splitlines() if "baseline(s) on validation" in line)
    assert f"val/mase={metrics['val/mase']:.4g}" in verdict and f"seasonal_naive {metrics['baseline/seasonal_naive/val/mase']:.4g}" in verdict


def run_in_process(tmp_path: Path, *overrides: str) -> dict:
    train(compose_train(*overrides, "debug=fast_dev_run", f"paths.output_dir={tmp_path}"))
    return read_metrics(tmp_path)


def names(metrics: dict) -> set[str]:
    return {name.split("/")[1] for name in metrics if name.startswith("baseline/")}


@pytest.mark.parametrize(
    ("overrides", "expected", "skipped"),
    [
        (["data=sine"], {"train_mean", "linear"}, set()),
        (["data=sine", "data.target=forecast"], {"train_mean", "linear", "last_value", "drift"}, set()),
        (["data=ucr"], {"majority_class", "1nn_euclidean"}, set()),
        (["data=ucr", "data.name=JapaneseVowels"], {"majority_class"}, {"1nn_euclidean"}),  # cases of several lengths
        (["data=anomaly"], {"rolling_zscore"}, set()),
    ],
)
def test_every_data_family_gets_its_baselines(overrides: list[str], expected: set[str], skipped: set[str], tmp_path: Path) -> None:
    record = run_in_process(tmp_path, *overrides)
    assert names(record["metrics"]) == expected
    assert set(record["baselines_skipped"]) == skipped
    assert all(
        math.isfinite(value)
        for name, value in record["metrics"].items()
        if name.startswith("baseline/") and "/test/" in name and not name.endswith(("auroc", "auprc", "vus_roc", "vus_pr"))
    )  # threshold-free anomaly metrics: nan without test anomalies only


@pytest.mark.slow
def test_a_text_file_of_three_classes_gets_its_tfidf_baseline(tmp_path: Path) -> None:
    # the README's user-file command, with star ratings as labels: three classes
    words = {"1": "dull cold flat boring", "2": "plain average fair middling", "3": "fine warm bright lovely"}
    rows = [{"review": f"{words[stars].split()[k % 4]} {words[stars].split()[(k + 1) % 4]} film {k}", "stars": stars} for stars in words for k in range(40)]
    (tmp_path / "reviews.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    run_dir = tmp_path / "run"
    user_file = ["data=text_csv", "data.path=reviews.jsonl", "data.text_column=review", "data.label_column=stars"]
    run_cli("train", *user_file, "trainer.max_epochs=1", run_dir=run_dir, cwd=tmp_path)
    metrics = read_metrics(run_dir)["metrics"]
    assert metrics["baseline/tfidf_logreg/val/acc"] == 1.0  # each class has words of its own
    assert {"baseline/tfidf_logreg/test/acc", "baseline/tfidf_logreg/test/f1_macro", "test/acc"} <= set(metrics)


def test_text_without_scikit_learn_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn", None)
    record = run_in_process(tmp_path, "data=text")
    assert record["baselines_skipped"] == {"tfidf_logreg": NEEDS_SKLEARN}
    assert "baseline/majority_class/test/acc" in record["metrics"]


def test_baselines_can_be_switched_off(tmp_path: Path) -> None:
    record = run_in_process(tmp_path, "data=sine", "callbacks.baselines=null")
    assert not names(record["metrics"]) and record["baselines_skipped"] is None


def test_summarize_shows_the_baselines_after_the_models_metrics(tmp_path: Path) -> None:
    import json

    from seqexp.summarize import summarize

    for job, (seed, model, baseline) in enumerate([(0, 0.9, 0.7), (1, 0.8, 0.7)]):
        folder = tmp_path / str(job)
        (folder / ".hydra").mkdir(parents=True)
        (folder / ".hydra" / "overrides.yaml").write_text(f"- seed={seed}\n")
        (folder / ".hydra" / "config.yaml").write_text("monitor:\n  metric: val/mase\n  mode: min\n")
        metrics = {"val/mase": model, "test/mase": model + 0.1, "baseline/seasonal_naive/val/mase": baseline, "baseline/seasonal_naive/test/mase": baseline}
        (folder / "metrics.json").write_text(json.dumps({"status": "completed", "monitor": "val/mase", "objective": model, "metrics": metrics}))
    summarize(tmp_path)
    header = (tmp_path / "summary.csv").read_text().splitlines()[0].split(",")
    assert header.index("test/mase") < header.index("baseline/seasonal_naive/test/mase") < header.index("baseline/seasonal_naive/val/mase")
    groups = (tmp_path / "summary_groups.csv").read_text()
    assert "baseline/seasonal_naive/test/mase_mean" in groups  # mean ± sd over seeds, as the model's figures
