"""Sweeps through Hydra's own machinery: failing jobs, the Optuna sweeper, the joblib launcher."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from helpers import compose_train, read_metrics, run_cli

TINY = ["data.num_windows.train=128", "data.num_windows.val=64", "data.num_windows.test=64", "model.hidden_size=8",
        "logger=none"]


def _jobs(sweep_dir: Path) -> list[Path]:
    return sorted((p for p in sweep_dir.iterdir() if p.is_dir()), key=lambda p: int(p.name))


def test_failing_job_is_recorded_the_sweep_goes_on_then_exits_1_listing_it(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = run_cli("train", "-m", "model.hidden_size=0,8", "debug=fast_dev_run", *TINY[:3], "logger=none",
                     f"hydra.sweep.dir={sweep_dir}", check=False)
    assert result.returncode == 1
    assert f"1 job(s) of the sweep in {sweep_dir} failed" in result.stderr
    assert f"{sweep_dir / '0'}: model.hidden_size=0 " in result.stderr  # the folder and overrides of the failed job
    assert "Traceback" not in result.stdout + result.stderr  # a config mistake, not a bug
    failed, completed = (read_metrics(job) for job in _jobs(sweep_dir))
    assert failed["status"] == "failed" and failed["objective"] is None
    assert "model.hidden_size=0: must be an integer >= 1" in failed["error"]
    assert "model.hidden_size=0" in failed["overrides"]
    (logged,) = [line for line in (result.stdout + result.stderr).splitlines() if "job 0 failed; overrides:" in line]
    assert "model.hidden_size=0" in logged
    assert completed["status"] == "completed"


def test_fail_fast_stops_the_sweep_at_the_first_failure(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = run_cli("train", "-m", "fail_fast=true", "model.hidden_size=0,8", "debug=fast_dev_run", *TINY[:3],
                     "logger=none", f"hydra.sweep.dir={sweep_dir}", check=False)
    assert result.returncode != 0
    assert "sweep stopped: fail_fast=true" in result.stderr
    assert [p.name for p in _jobs(sweep_dir)] == ["0"]  # job 1 never started
    assert read_metrics(sweep_dir / "0")["status"] == "failed"


@pytest.mark.slow
def test_optuna_search_runs_three_trials_and_reports_the_best(tmp_path: Path) -> None:
    pytest.importorskip("hydra_plugins.hydra_optuna_sweeper", reason="needs the sweep extra: pip install -e '.[sweep]'")
    sweep_dir = tmp_path / "sweep"
    run_cli("train", "hparams_search=sine_optuna", "hydra.sweeper.n_trials=3", "model.cell=choice(rnn,gru)",
            "model.hidden_size=choice(4,8)", "model.num_layers=choice(1)", "trainer.max_epochs=1", *TINY[:3],
            "logger=none", f"hydra.sweep.dir={sweep_dir}")
    trials = [read_metrics(job) for job in _jobs(sweep_dir)]
    assert len(trials) == 3 and all(trial["status"] == "completed" for trial in trials)
    result = yaml.safe_load((sweep_dir / "optimization_results.yaml").read_text())
    assert result["best_value"] == pytest.approx(min(trial["objective"] for trial in trials))  # direction: minimize
    for job in _jobs(sweep_dir):
        overrides = yaml.safe_load((job / ".hydra" / "overrides.yaml").read_text())
        assert {item.split("=")[0] for item in overrides} >= {"model.cell", "model.hidden_size", "optim.lr"}


@pytest.mark.slow
def test_joblib_launcher_runs_a_two_job_sweep(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    result = run_cli("train", "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "model=rnn,gru", "trainer.max_epochs=1",
            *TINY, f"hydra.sweep.dir={sweep_dir}")
    assert "Joblib.Parallel(n_jobs=2" in result.stdout + result.stderr
    jobs = _jobs(sweep_dir)
    assert [p.name for p in jobs] == ["0", "1"]
    assert [json.loads((job / "metrics.json").read_text())["status"] for job in jobs] == ["completed", "completed"]
    configs = [yaml.safe_load((job / ".hydra" / "config.yaml").read_text()) for job in jobs]
    assert [config["model"]["cell"] for config in configs] == ["rnn", "gru"]


def test_slurm_launcher_config_composes_on_submitit() -> None:
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="needs the cluster extra: pip install -e '.[cluster]'")
    launcher = compose_train("hydra/launcher=slurm", "hydra.launcher.tasks_per_node=4").hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.tasks_per_node, launcher.timeout_min) == (4, 240)
