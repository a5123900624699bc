"""``hydra/launcher=slurm`` on a real scheduler: the one-node cluster of ``scripts/slurm_cluster.sh`` (munged,
slurmctld, slurmd on this machine, no accounting). Every job below is a real SLURM job; the sweep waits for them,
a failed job makes it exit 1, a job SLURM cancels ends it with one error line, a requeued job (SIGTERM) saves ``last.ckpt`` and resumes from it, and an Optuna
search runs its trials as SLURM jobs over one study storage. Skipped, with the reason, without root or SLURM
(as root: ``scripts/slurm_cluster.sh install``; .ci/run does it) or without the ``cluster`` extra; the reading of
squeue's states is also tested without a cluster."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

from helpers import read_metrics, run_cli

pytest.importorskip("hydra_plugins.hydra_submitit_launcher", reason="needs the cluster extra: pip install -e '.[cluster]'")

SCRIPT = Path(__file__).parents[1] / "scripts" / "slurm_cluster.sh"
CLUSTER_DIR = Path("/tmp/seqexp-slurm")  # the script's default: a cluster someone already started is used as it is
LAUNCHER = [
    "hydra/launcher=slurm",
    "hydra.launcher.partition=debug",
    "hydra.launcher.gpus_per_node=0",
    "hydra.launcher.cpus_per_task=1",
    "hydra.launcher.mem_gb=1",
    "hydra.launcher.timeout_min=10",
]
TINY = [
    "data=sine",
    "data.num_windows.train=128",
    "data.num_windows.val=32",
    "data.num_windows.test=32",
    "model.hidden_size=8",
    "logger=none",
    "trainer.max_epochs=1",
]


def test_squeue_states_read_as_submitit_reads_sacct() -> None:
    """Without accounting the launcher reads squeue: a job still starting, paused or held has not ended, and a job
    squeue no longer lists has (it ended more than MinJobAge ago), so the sweep neither stops early nor waits forever."""
    from hydra_plugins.seqexp_slurm_launcher._squeue import SqueueInfoWatcher  # noqa: PLC0415

    watcher = SqueueInfoWatcher(delay_s=60)
    for job in ("7_0", "7_1", "7_2", "9", "11"):
        watcher.register_job(job)
    watcher._info_dict.update(watcher.read_info(b"7_[1-2%64]|PENDING|\n7_0|CONFIGURING|vm\n9|CANCELLED|vm\n"))
    assert {job: watcher.is_done(job, mode="cache") for job in ("7_0", "7_1", "7_2", "9", "11")} == {
        "7_0": False,
        "7_1": False,
        "7_2": False,
        "9": True,
        "11": True,
    }


@pytest.fixture(scope="module")
def slurm() -> Iterator[dict[str, str]]:
    """The environment that points SLURM's commands at the cluster; stopped at the end if this module started it."""
    if os.geteuid() != 0:
        pytest.skip("starting slurmd needs root")
    if not all(shutil.which(daemon) for daemon in ("munged", "slurmctld", "slurmd", "sbatch")):
        pytest.skip("SLURM is not installed (as root: scripts/slurm_cluster.sh install)")
    env = {"SLURM_CONF": str(CLUSTER_DIR / "slurm.conf")}
    running = subprocess.run(["sinfo", "--noheader"], env={**os.environ, **env}, capture_output=True).returncode == 0
    started = subprocess.run([str(SCRIPT), "start", str(CLUSTER_DIR)], capture_output=True, text=True)
    assert started.returncode == 0, started.stdout + started.stderr
    yield env
    if not running:
        subprocess.run([str(SCRIPT), "stop", str(CLUSTER_DIR)], check=True, capture_output=True)


def _slurm(env: dict[str, str], *command: str) -> str:
    return subprocess.run(command, env={**os.environ, **env}, check=True, capture_output=True, text=True).stdout


def _slurm_jobs(env: dict[str, str], sweep_dir: Path) -> dict[str, str]:
    """SLURM's state of each job submitit submitted for the sweep (a folder each in .submitit, named by the job id)."""
    ids = {folder.name for folder in (sweep_dir / ".submitit").iterdir() if any(folder.glob("*_submitted.pkl"))}
    listed = dict(line.split("|") for line in _slurm(env, "squeue", "--me", "--noheader", "--states=all", "--format=%i|%T").split())
    return {job: listed.get(job, "not listed") for job in sorted(ids)}


def test_each_sweep_job_is_a_slurm_job_the_sweep_waits_and_a_failed_job_makes_it_exit_1(slurm: dict[str, str], tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    # job 1 reads a file that is not there: the run fails (a config mistake would stop the sweep before submitting)
    reviews = Path(__file__).parent / "fixtures" / "text" / "reviews.csv"
    text = ["data=text_csv", f"data.path={reviews},missing.csv", "data.text_column=review", "data.label_column=sentiment", *TINY[4:]]
    result = run_cli("train", "-m", *LAUNCHER, *text, "model=gru", f"hydra.sweep.dir={sweep_dir}", env=slurm, check=False)
    assert "status may be inaccurate" not in result.stderr  # states come from squeue, not from a failing sacct
    jobs = _slurm_jobs(slurm, sweep_dir)
    assert len(jobs) == 2 and "not listed" not in jobs.values(), jobs
    assert read_metrics(sweep_dir / "0")["status"] == "completed"  # the command returned once both jobs had ended
    assert "SLURM auto-requeueing enabled" in (sweep_dir / "0" / "train.log").read_text()  # Lightning saw SLURM
    assert result.returncode == 1  # as with the local launcher: the failed job is recorded, listed, and the exit is 1
    assert f"1 job(s) of the sweep in {sweep_dir} failed" in result.stderr
    assert f"{sweep_dir / '1'}: " in result.stderr and "data.path=missing.csv: no such file" in result.stderr
    assert read_metrics(sweep_dir / "1")["status"] == "failed"


def test_a_requeued_job_saves_last_ckpt_on_sigterm_and_resumes_from_it(slurm: dict[str, str], tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    # Trains for 6 s of training time (Lightning's Timer, which a resumed fit continues), on any machine's speed.
    command = [
        sys.executable,
        "-m",
        "seqexp.train",
        "-m",
        *LAUNCHER,
        *TINY,
        "trainer.max_epochs=-1",
        "+trainer.max_time=00:00:00:06",
        "ckpt_path=last",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    sweep = subprocess.Popen(command, env={**os.environ, **slurm}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = sweep_dir / "0" / "checkpoints" / "last.ckpt"
    while not last.exists() and sweep.poll() is None:  # the first epoch ended
        time.sleep(0.1)
    (job,) = _slurm_jobs(slurm, sweep_dir)
    _slurm(slurm, "scontrol", "requeue", job)  # what preemption does: SIGTERM, then the job waits in the queue again
    output, _ = sweep.communicate(timeout=300)
    assert sweep.returncode == 0, output[-3000:]
    log = (sweep_dir / "0" / "train.log").read_text()
    saved = re.search(r"SIGTERM at global step (\d+): saved (\S+);", log)
    assert saved and saved.group(2) == str(last), log[-3000:]
    assert f"Restored all states from the checkpoint at {last}" in log  # the requeued job, with ckpt_path=last
    metrics = read_metrics(sweep_dir / "0")
    assert metrics["status"] == "completed" and metrics["global_step"] > int(saved.group(1))
    assert "Restarts=1" in _slurm(slurm, "scontrol", "show", "job", job)


def test_an_optuna_search_runs_its_trials_as_slurm_jobs_over_one_storage(slurm: dict[str, str], tmp_path: Path) -> None:
    optuna = pytest.importorskip("optuna")
    sweep_dir = tmp_path / "search"
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    run_cli(
        "train",
        "hparams_search=sine_optuna",
        *LAUNCHER,
        *TINY,
        "trainer.max_epochs=2",
        "hydra.sweeper.n_trials=2",
        "hydra.sweeper.n_jobs=2",
        f"hydra.sweeper.storage={storage}",
        f"hydra.sweep.dir={sweep_dir}",
        env=slurm,
    )
    assert len(_slurm_jobs(slurm, sweep_dir)) == 2
    trials = optuna.load_study(study_name="sine_optuna", storage=storage).trials
    assert [trial.state.name for trial in trials] == ["COMPLETE", "COMPLETE"]
    for trial in trials:  # each job wrote its validations into the study from its own SLURM job
        job = read_metrics(sweep_dir / str(trial.number))
        assert sorted(trial.intermediate_values) == [0, 1] and trial.value == pytest.approx(job["objective"])


def test_a_job_slurm_ends_without_a_result_ends_the_sweep_with_one_error_line(slurm: dict[str, str], tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    long_job = [item for item in TINY if not item.startswith("trainer.max_epochs=")] + ["trainer.max_epochs=1000"]  # still running at scancel on a busy machine
    command = [sys.executable, "-m", "seqexp.train", "-m", *LAUNCHER, *long_job, f"hydra.sweep.dir={sweep_dir}"]
    sweep = subprocess.Popen(command, env={**os.environ, **slurm}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while not list(sweep_dir.glob(".submitit/*/*_submitted.pkl")) and sweep.poll() is None:
        time.sleep(0.1)
    (job,) = _slurm_jobs(slurm, sweep_dir)
    _slurm(slurm, "scancel", job)  # without accounting, submitit alone would wait for this job forever
    _, stderr = sweep.communicate(timeout=120)
    assert sweep.returncode == 1
    assert f"Error: hydra/launcher=slurm: Job {job} (task: 0) with path " in stderr and "(state: CANCELLED)" in stderr
    assert "Traceback" not in stderr


def test_jobs_that_ask_for_more_than_the_node_has_are_refused_at_once(slurm: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("train", "-m", *LAUNCHER, *TINY, "hydra.launcher.cpus_per_task=4096", f"hydra.sweep.dir={tmp_path / 'sweep'}", env=slurm, check=False)
    assert result.returncode == 1  # not a sweep that waits forever for jobs that can never start
    assert "Error: hydra/launcher=slurm: sbatch: error: Batch job submission failed: " in result.stderr
    assert "Traceback" not in result.stderr


def test_a_restarted_cluster_starts_with_an_empty_queue(slurm: dict[str, str]) -> None:
    """A cluster stopped with a job still running comes back idle at once, not busy with the revived job until its time limit."""
    job = _slurm(slurm, "sbatch", "--parsable", "--time=5", "--output=/dev/null", "--wrap", "sleep 600").strip()
    subprocess.run([str(SCRIPT), "stop", str(CLUSTER_DIR)], check=True, capture_output=True)
    started = subprocess.run([str(SCRIPT), "start", str(CLUSTER_DIR)], capture_output=True, text=True)
    assert started.returncode == 0, started.stdout + started.stderr
    assert job not in _slurm(slurm, "squeue", "--noheader", "--states=all", "--format=%i").split()
