"""Replicates in a sweep summary: jobs that differ only in seed (or backtest fold) described per group.

A real seed sweep through Hydra's launcher and the summarize CLI, checked against numbers computed here from
each job's metrics.json; hand-made job folders for failed jobs, null metrics and a seed-only sweep."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import read_metrics, run_cli
from seqexp.replicates import describe, t_quantile_975
from seqexp.summarize import group_jobs, load_jobs, replicates_figure, summarize, summarize_groups

T_975_DF2 = 4.302653  # Student t, 0.975 quantile, 2 degrees of freedom (three replicates), from a printed table
TINY = ["data=sine", "data.num_windows.train=64", "data.num_windows.val=32", "data.num_windows.test=32", "trainer.max_epochs=1", "logger=none"]


@pytest.fixture(scope="module")
def seed_sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m seqexp.train -m data=sine seed=0,1,2 model.hidden_size=4,8`, tiny, then `python -m seqexp.summarize`."""
    sweep_dir = tmp_path_factory.mktemp("replicates") / "sweep"
    run_cli("train", "-m", "seed=0,1,2", "model.hidden_size=4,8", *TINY, f"hydra.sweep.dir={sweep_dir}")
    result = run_cli("summarize", str(sweep_dir))
    assert "summary_groups.csv" in result.stderr
    return sweep_dir


def read_csv(path: Path) -> list[dict[str, str]]:
    assert b"\r\n" not in path.read_bytes()
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def by_hand(values: list[float]) -> tuple[float, float, float, float]:
    """Mean, sample sd and 95 % t interval of three values, with numpy and the printed t quantile."""
    mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
    half_width = T_975_DF2 * sd / np.sqrt(len(values))
    return mean, sd, mean - half_width, mean + half_width


@pytest.mark.slow
def test_a_seed_sweep_is_described_per_setting(seed_sweep: Path) -> None:
    rows = read_csv(seed_sweep / "summary_groups.csv")
    assert list(rows[0])[:4] == ["model.hidden_size", "n", "failed", "jobs"]  # the seed is what replicates vary
    assert {"test/mse_mean", "test/mse_sd", "test/mse_ci95_low", "test/mse_ci95_high", "best val/mse_mean"} <= set(rows[0])
    assert not any(name.endswith("_n") for name in rows[0])  # no metric was null
    assert sorted(row["model.hidden_size"] for row in rows) == ["4", "8"]
    records = {job.name: read_metrics(job) for job in seed_sweep.iterdir() if job.is_dir()}
    for row in rows:
        members = [
            name
            for name, record in records.items()
            if f"model.hidden_size={row['model.hidden_size']}" in (seed_sweep / name / ".hydra" / "overrides.yaml").read_text()
        ]
        assert sorted(row["jobs"].split()) == sorted(members) and row["n"] == "3" and row["failed"] == "0"
        for metric in ("test/mse", "test/mae", "val/mse"):
            expected = by_hand([records[name]["metrics"][metric] for name in members])
            got = [float(row[f"{metric}_{part}"]) for part in ("mean", "sd", "ci95_low", "ci95_high")]
            assert got == pytest.approx(expected, rel=1e-5), metric
        objective = by_hand([records[name]["objective"] for name in members])
        assert float(row["best val/mse_mean"]) == pytest.approx(objective[0], rel=1e-6)
    means = [float(row["best val/mse_mean"]) for row in rows]
    assert means == sorted(means)  # best (lowest: monitor.mode min) first

    markdown = (seed_sweep / "summary.md").read_text()
    assert markdown.startswith(f"{seed_sweep}: 6 jobs (6 completed), sorted by best val/mse (min)")  # the job table stays
    assert "2 groups of jobs that differ only in seed, sorted by mean best val/mse (min)" in markdown
    mean, sd, low, high = (float(rows[0][f"test/mse_{part}"]) for part in ("mean", "sd", "ci95_low", "ci95_high"))
    assert f"| {mean:.4g} ± {sd:.2g} [{low:.3g}, {high:.3g}] |" in markdown.replace("  ", " ")


@pytest.mark.slow
def test_summary_png_of_a_seed_sweep_has_error_bars_and_stars_the_best_mean(seed_sweep: Path) -> None:
    assert (seed_sweep / "summary.png").read_bytes().startswith(b"\x89PNG")
    jobs = load_jobs(seed_sweep)
    figure = replicates_figure(summarize_groups(group_jobs(jobs), "val/mse", "min"), jobs, "val/mse", "min", seed_sweep)
    (axis,) = figure.axes
    assert axis.get_xlabel() == "model.hidden_size"
    assert [t.get_text() for t in axis.get_xticklabels()] == ["4", "8"]  # integer ticks at the values tried
    rows = {row["model.hidden_size"]: row for row in read_csv(seed_sweep / "summary_groups.csv")}
    (bars,) = axis.containers  # one errorbar: mean ± sd per group
    (segments,) = bars.lines[2]
    drawn = {int(x): (low, high) for (x, low), (_, high) in segments.get_segments()}
    for size, row in rows.items():
        mean, sd = float(row["best val/mse_mean"]), float(row["best val/mse_sd"])
        assert drawn[int(size)] == pytest.approx((mean - sd, mean + sd))
    best = min(rows.values(), key=lambda row: float(row["best val/mse_mean"]))
    (star,) = [c for c in axis.collections if c.get_label().startswith("best: ")]
    assert star.get_label() == f"best: model.hidden_size={best['model.hidden_size']}"
    assert star.get_offsets().tolist() == [[float(best["model.hidden_size"]), pytest.approx(float(best["best val/mse_mean"]))]]
    (dots,) = [c for c in axis.collections if c.get_label() == "job"]
    assert len(dots.get_offsets()) == 6
    assert f"best: model.hidden_size={best['model.hidden_size']}" in figure._suptitle.get_text()


@pytest.mark.slow
def test_a_failed_replicate_is_counted_apart_from_n(seed_sweep: Path, tmp_path: Path) -> None:
    """A seventh job of the sweep (seed 3, hidden size 8) that failed, as seqexp.sweep records it."""
    sweep = shutil.copytree(seed_sweep, tmp_path / "sweep", ignore=shutil.ignore_patterns("checkpoints", "predictions"))
    shutil.copytree(sweep / "1" / ".hydra", sweep / "6" / ".hydra")
    overrides = sweep / "6" / ".hydra" / "overrides.yaml"
    overrides.write_text(overrides.read_text().replace("seed=0", "seed=3"))
    (sweep / "6" / "metrics.json").write_text(json.dumps({"status": "failed", "error": "ValueError: boom", "objective": None}))
    before = {row["model.hidden_size"]: row for row in read_csv(sweep / "summary_groups.csv")}

    markdown = summarize(sweep)
    after = {row["model.hidden_size"]: row for row in read_csv(sweep / "summary_groups.csv")}
    assert (after["8"]["n"], after["8"]["failed"], after["8"]["jobs"]) == ("3", "1", "1 3 5 6")
    assert after == {**before, "8": {**before["8"], "failed": "1", "jobs": "1 3 5 6"}}  # figures over the 3 that completed
    assert "7 jobs (6 completed, 1 failed)" in markdown and "ValueError: boom" in markdown


def _job(root: Path, name: str, overrides: list[str], metrics: dict | None, status: str = "completed") -> None:
    """A job folder as train leaves it (``metrics`` None: no metrics.json, as a killed job)."""
    (root / name / ".hydra").mkdir(parents=True)
    (root / name / ".hydra" / "overrides.yaml").write_text("".join(f"- {item}\n" for item in overrides))
    (root / name / ".hydra" / "config.yaml").write_text("monitor:\n  metric: val/acc\n  mode: max\n")
    if metrics is not None:
        record = {"status": status, "monitor": "val/acc", "objective": metrics.get("val/acc"), "metrics": metrics}
        (root / name / "metrics.json").write_text(json.dumps(record))


def test_a_null_metric_is_named_and_described_over_the_jobs_that_have_it(tmp_path: Path) -> None:
    _job(tmp_path, "0", ["optim.lr=0.1", "seed=0"], {"val/acc": 0.7, "test/auroc": 0.9})
    _job(tmp_path, "1", ["optim.lr=0.1", "seed=1"], {"val/acc": 0.8, "test/auroc": None})  # strict JSON: null
    _job(tmp_path, "2", ["optim.lr=0.1", "seed=2"], {"val/acc": 0.9, "test/auroc": 0.7})
    _job(tmp_path, "3", ["optim.lr=0.01", "seed=0"], {"val/acc": 0.6, "test/auroc": 0.6})
    _job(tmp_path, "4", ["optim.lr=0.01", "seed=1"], None)  # killed

    markdown = summarize(tmp_path)
    rows = read_csv(tmp_path / "summary_groups.csv")
    assert [row["optim.lr"] for row in rows] == ["0.1", "0.01"]  # mode max: highest mean val/acc first
    assert [(row["n"], row["failed"], row["unfinished"]) for row in rows] == [("3", "0", "0"), ("1", "0", "1")]
    assert rows[0]["test/auroc_n"] == "2" and "val/acc_n" not in rows[0]  # an n column for the metric with a null only
    assert float(rows[0]["test/auroc_mean"]) == pytest.approx(0.8)
    assert float(rows[0]["test/auroc_sd"]) == pytest.approx(np.std([0.9, 0.7], ddof=1))
    assert (rows[1]["val/acc_mean"], rows[1]["val/acc_sd"], rows[1]["val/acc_ci95_low"]) == ("0.6", "", "")  # one job: no spread
    assert "- test/auroc: null in job 1 of optim.lr=0.1; described over the 2 others" in markdown
    assert "0.8 ± 0.14 [-0.471, 2.07] (n=2)" in markdown  # t(1 df) = 12.71
    assert "nan" not in markdown.lower()


def test_a_sweep_over_seeds_only_is_one_group_and_one_error_bar(tmp_path: Path) -> None:
    for seed, acc in enumerate([0.5, 0.6, 0.7]):
        _job(tmp_path, str(seed), [f"seed={seed}"], {"val/acc": acc})
    summarize(tmp_path)
    (row,) = read_csv(tmp_path / "summary_groups.csv")
    assert (row["n"], row["jobs"], float(row["val/acc_mean"])) == ("3", "0 1 2", pytest.approx(0.6))
    jobs = load_jobs(tmp_path)
    figure = replicates_figure(summarize_groups(group_jobs(jobs), "val/acc", "max"), jobs, "val/acc", "max", tmp_path)
    (axis,) = figure.axes
    assert axis.get_xlabel() == "seed" and [t.get_text() for t in axis.get_xticklabels()] == ["all jobs"]
    assert len(axis.containers) == 1 and "one group\nall jobs (0.6 ± 0.1, n=3)" in figure._suptitle.get_text()
    assert not [c for c in axis.collections if c.get_label().startswith("best")]  # nothing to compare with

    (tmp_path / "2" / "metrics.json").unlink()
    (tmp_path / "1" / "metrics.json").unlink()  # one job left: no replicates, no grouped table, no stale file
    assert "groups of jobs" not in summarize(tmp_path)
    assert not (tmp_path / "summary_groups.csv").exists()


def test_t_quantile_and_describe_agree_with_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    for degrees in range(1, 201):
        assert t_quantile_975(degrees) == pytest.approx(stats.t.ppf(0.975, degrees), abs=2e-6)
    values = [0.31, 0.27, 0.35, 0.30]
    estimate = describe(values)
    low, high = stats.t.interval(0.95, len(values) - 1, loc=np.mean(values), scale=stats.sem(values))
    assert (estimate.n, estimate.mean, estimate.sd) == (4, pytest.approx(np.mean(values)), pytest.approx(np.std(values, ddof=1)))
    assert (estimate.low, estimate.high) == (pytest.approx(low), pytest.approx(high))
    assert describe([]).mean is None and describe([1.0]).sd is None
