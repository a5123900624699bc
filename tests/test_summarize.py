"""Sweep summary: on a real 3-job multirun through the CLIs, and on hand-made job folders."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from helpers import read_metrics, run_cli
from seqexp.grid import BASIC_SWEEPER
from seqexp.summarize import load_jobs, main, planned_jobs, sort_jobs, summarize, sweep_figure, varied_keys

TINY = ["data.num_windows.train=128", "data.num_windows.val=64", "data.num_windows.test=64", "model.hidden_size=8", "trainer.max_epochs=1", "logger=none"]


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sweep_dir = tmp_path_factory.mktemp("multirun") / "sweep"
    run_cli("train", "-m", "model=rnn,lstm,gru", *TINY, f"hydra.sweep.dir={sweep_dir}")
    return sweep_dir


@pytest.mark.slow
def test_multirun_gives_one_folder_per_job(sweep_dir: Path) -> None:
    jobs = sorted(p.name for p in sweep_dir.iterdir() if p.is_dir())
    assert jobs == ["0", "1", "2"]
    assert all(read_metrics(sweep_dir / job)["status"] == "completed" for job in jobs)


@pytest.mark.slow
def test_summary_table_of_a_real_sweep_is_sorted_by_the_monitored_metric(sweep_dir: Path) -> None:
    result = run_cli("summarize", str(sweep_dir))
    printed = result.stdout
    assert f"Wrote {sweep_dir / 'summary.md'}, {sweep_dir / 'summary.csv'}, {sweep_dir / 'summary.png'}" in result.stderr
    assert (sweep_dir / "summary.png").read_bytes().startswith(b"\x89PNG")
    assert printed.startswith(f"{sweep_dir}: 3 jobs (3 completed), sorted by best val/mse (min)")
    assert printed == (sweep_dir / "summary.md").read_text()

    with open(sweep_dir / "summary.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0])[:4] == ["job", "model", "status", "best val/mse"]  # only the override that varied
    assert {"test/mse", "best_epoch", "wall_time_s"} <= set(rows[0])
    objectives = [float(row["best val/mse"]) for row in rows]
    assert objectives == sorted(objectives)
    expected = {str(job): read_metrics(sweep_dir / str(job))["objective"] for job in range(3)}
    assert {row["job"]: float(row["best val/mse"]) for row in rows} == expected
    assert sorted(row["model"] for row in rows) == ["gru", "lstm", "rnn"]
    first_line = printed.splitlines()[4]  # title, blank, header, rule, best job
    assert f"| {rows[0]['job']} " in first_line and rows[0]["model"] in first_line


def _job(root: Path, name: str, overrides: list[str], record: dict | None, mode: str = "min") -> None:
    folder = root / name
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text("".join(f"- {item}\n" for item in overrides))
    (folder / ".hydra" / "config.yaml").write_text(f"monitor:\n  metric: val/acc\n  mode: {mode}\n")
    if record is not None:
        (folder / "metrics.json").write_text(json.dumps(record))


def test_summary_orders_max_metrics_and_puts_failed_and_unfinished_jobs_last(tmp_path: Path) -> None:
    done = lambda acc: {"status": "completed", "monitor": "val/acc", "objective": acc, "metrics": {"val/acc": acc}}  # noqa: E731
    _job(tmp_path, "0", ["optim.lr=0.1", "seed=1"], done(0.7), "max")
    _job(tmp_path, "1", ["optim.lr=0.01", "seed=1"], {"status": "failed", "error": "ValueError: boom", "objective": None}, "max")
    _job(tmp_path, "2", ["optim.lr=0.001", "seed=1"], done(0.9), "max")
    _job(tmp_path, "3", ["optim.lr=0.0001", "seed=1"], None, "max")  # killed: no metrics.json

    jobs = load_jobs(tmp_path)
    assert varied_keys(jobs) == ["optim.lr"]  # seed is the same everywhere
    assert [job.name for job in sort_jobs(jobs, "max")] == ["2", "0", "1", "3"]
    table = summarize(tmp_path)
    assert "4 jobs (2 completed, 1 failed, 1 unfinished), sorted by best val/acc (max)" in table
    assert "| 3   | 0.0001   | unfinished |" in table  # the job table says what the settings table and README say
    assert "ValueError: boom" in table
    assert (tmp_path / "summary.csv").read_text().splitlines()[0].endswith("wall_time_s,error")


def _multirun_yaml(root: Path, task: list[str], params: dict[str, str] | None = None, sweeper: str = BASIC_SWEEPER) -> None:
    """The part of Hydra's ``multirun.yaml`` that says what the sweep plans: its sweeper and the command line's overrides."""
    sweeper_params = "".join(f"\n      {key}: {value}" for key, value in (params or {}).items()) or " null"
    (root / "multirun.yaml").write_text(
        f"hydra:\n  sweeper:\n    _target_: {sweeper}\n    params:{sweeper_params}\n"
        f"  overrides:\n    hydra:\n    - hydra.mode=MULTIRUN\n    task:\n" + "".join(f"    - '{item}'\n" for item in task)
    )


def test_a_grid_stopped_early_counts_the_jobs_that_never_started(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`-m model=rnn,gru,lstm` got SIGTERM during job 0: jobs 1 and 2 have no folder, yet the sweep planned them."""
    _multirun_yaml(tmp_path, ["model=rnn,gru,lstm", "trainer.max_epochs=1"])
    _job(tmp_path, "0", ["model=rnn", "trainer.max_epochs=1"], {"status": "interrupted", "reason": "SIGTERM", "objective": None})

    main([str(tmp_path)])
    printed = capsys.readouterr().out
    assert printed.startswith(f"{tmp_path}: 3 jobs planned: 1 interrupted, 2 never started, sorted by best objective (min)\n")
    assert printed == (tmp_path / "summary.md").read_text()

    done = {"status": "completed", "monitor": "val/mse", "objective": 0.1, "metrics": {"val/mse": 0.1}}
    _job(tmp_path, "1", ["model=gru", "trainer.max_epochs=1"], done)
    _job(tmp_path, "2", ["model=lstm", "trainer.max_epochs=1"], done)
    assert summarize(tmp_path).startswith(f"{tmp_path}: 3 jobs (1 interrupted, 2 completed), sorted by best val/mse (min)")


def test_a_sweep_without_a_readable_grid_counts_the_job_folders(tmp_path: Path) -> None:
    """An Optuna search plans trials, not a grid; a one-job summary says `1 job`."""
    _multirun_yaml(tmp_path, ["model=rnn,gru,lstm"], sweeper="hydra_plugins.seqexp_optuna_sweeper.OptunaSweeper")
    _job(tmp_path, "0", ["model=rnn"], {"status": "interrupted", "objective": None})
    assert summarize(tmp_path).startswith(f"{tmp_path}: 1 job (1 interrupted), sorted by")


@pytest.mark.parametrize(
    ("task", "params", "planned"),
    [
        (["model=rnn,gru,lstm", "seed=range(2)", "+data.name=choice(a,b)", "trainer.max_epochs=1"], None, 12),
        (["optim.lr=0.1,0.01"], {"model.hidden_size": "16,32,64"}, 6),  # hydra.sweeper.params sweeps too
        (["model.hidden_size=8"], {"model.hidden_size": "16,32,64"}, 1),  # the command line replaces a param
        (["experiment=glob(*)"], None, None),  # needs the config groups: not read
        (["optim.lr=interval(0.1,1)"], None, None),  # the basic sweeper refuses it
        (["model=rnn,"], None, None),  # not an override
    ],
)
def test_planned_jobs_expands_the_grid_as_hydras_basic_sweeper(tmp_path: Path, task: list[str], params: dict[str, str] | None, planned: int | None) -> None:
    _multirun_yaml(tmp_path, task, params)
    assert planned_jobs(tmp_path) == planned


def test_summary_of_a_folder_without_jobs_says_what_it_expected(tmp_path: Path) -> None:
    result = run_cli("summarize", str(tmp_path), check=False)
    assert result.returncode != 0
    assert "no job folders" in result.stderr and "multirun" in result.stderr


def test_metrics_json_is_strict_json_with_null_for_what_could_not_be_computed(tmp_path: Path) -> None:
    from seqexp.reporting import write_metrics_file

    write_metrics_file(
        tmp_path / "metrics.json", {"metrics": {"test/auroc": float("nan"), "test/f1": 0.5}, "curve": [1.0, float("inf")], "objective": float("-inf")}
    )
    text = (tmp_path / "metrics.json").read_text()
    assert "NaN" not in text and "Infinity" not in text
    record = json.loads(text, parse_constant=lambda name: pytest.fail(f"non-JSON constant {name}"))
    assert record == {"metrics": {"test/auroc": None, "test/f1": 0.5}, "curve": [1.0, None], "objective": None}


def test_summary_png_of_an_optuna_search_titles_stars_the_best_and_keeps_the_search_scales(tmp_path: Path) -> None:
    """An Optuna search as `hparams_search=sine_optuna` leaves it: lr sampled with tag(log, ...) (the values drawn
    span less than 100x), hidden sizes from a geometric choice, layers from range(1, 3); one trial failed."""
    (tmp_path / "multirun.yaml").write_text(
        "hydra:\n  sweeper:\n    params:\n      model.hidden_size: choice(16, 32, 64)\n"
        "      model.num_layers: range(1, 3)\n      optim.lr: tag(log, interval(0.0003, 0.03))\n"
    )
    trials = [("0.0012", "16", "1", 0.30), ("0.0041", "64", "2", 0.12), ("0.0093", "32", "1", 0.05), ("0.0150", "16", "2", 0.21), ("0.0021", "32", "2", None)]
    for job, (lr, hidden, layers, mse) in enumerate(trials):
        record = (
            {"status": "completed", "monitor": "val/mse", "objective": mse, "metrics": {"val/mse": mse}}
            if mse is not None
            else {"status": "failed", "error": "ValueError: boom", "objective": None}
        )
        _job(tmp_path, str(job), [f"optim.lr={lr}", f"model.hidden_size={hidden}", f"model.num_layers={layers}"], record)

    figure = sweep_figure(load_jobs(tmp_path), "val/mse", "min", tmp_path)
    figure.canvas.draw()
    panels = {axis.get_xlabel(): axis for axis in figure.axes}
    assert list(panels) == ["optim.lr", "model.hidden_size", "model.num_layers"]
    assert figure._suptitle is not None and "best val/mse (min) of 4 jobs; best job 2 (val/mse = 0.05)" in figure._suptitle.get_text()
    assert panels["optim.lr"].get_xscale() == "log"  # searched on a log scale, though 0.0012-0.015 spans only 12x
    assert panels["model.hidden_size"].get_xscale() == "log"  # a geometric choice
    assert panels["model.num_layers"].get_xscale() == "linear"
    assert {"0.001", "0.003", "0.01"} <= {t.get_text() for t in panels["optim.lr"].get_xticklabels()}
    assert [t.get_text() for t in panels["model.hidden_size"].get_xticklabels()] == ["16", "32", "64"]
    assert [t.get_text() for t in panels["model.num_layers"].get_xticklabels()] == ["1", "2"]  # no 1.2, 1.4, ...
    best_marks = [collection for collection in panels["optim.lr"].collections if collection.get_label() == "best: job 2"]
    assert len(best_marks) == 1 and best_marks[0].get_offsets().tolist() == [[0.0093, 0.05]]
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["job", "best: job 2"]
