"""Resume with nothing lost: SIGKILL mid-epoch, then resume from last.ckpt; SIGTERM saves, records the run as
interrupted and exits 143, and stops a sweep at the job it interrupted.

Bit-identical on CPU: ``trainer.deterministic=true``, the shuffle order follows (seed, epoch), the
training loader resumes at the batch the checkpoint was taken after, and the checkpoint carries the
RNG states (dropout masks).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import Interrupted, compose_train, read_metrics, run_cli, sigterm_when
from seqexp.config import folder_to_resume
from seqexp.sweep import SIGTERM_EXIT_STATUS
from seqexp.train import train

EVERY_N_STEPS = 3
# 8 batches per epoch, 2 epochs: 16 steps, most of them not at an epoch end.
RUN = [
    "data.num_windows.train=512",
    "data.num_windows.val=64",
    "data.num_windows.test=64",
    "model=stacked",  # dropout 0.2
    "model.hidden_size=16",
    "trainer.max_epochs=2",
    "trainer.deterministic=true",
    "logger=none",
    "callbacks.figures=null",
    f"callbacks.last_every_n_steps.every_n_train_steps={EVERY_N_STEPS}",
]
TOTAL_STEPS = 16


def run_in_process(output_dir: Path, *overrides: str) -> dict:
    train(compose_train(*RUN, f"paths.output_dir={output_dir}", *overrides))
    return read_metrics(output_dir)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_in_process(tmp_path_factory.mktemp("uninterrupted"))


def start_and_signal(run_dir: Path, signum: int, *sweep: str) -> tuple[subprocess.Popen, int]:
    """Start the CLI, freeze it as soon as ``run_dir`` has a last.ckpt, send ``signum``; return it and the saved step.
    With ``sweep`` (``-m``, its overrides and ``hydra.sweep.dir``), ``run_dir`` is the folder of the job to watch.

    Its output goes to ``console.txt`` beside the run or sweep folder (a file: a full pipe would stall the run)."""
    where = list(sweep) or [f"hydra.run.dir={run_dir}"]
    command = [sys.executable, "-m", "seqexp.train", *where[:1], *RUN, *where[1:]]
    with open(console_file(run_dir, *sweep), "w") as console:
        process = subprocess.Popen(command, stdout=console, stderr=subprocess.STDOUT, env={**os.environ, "HYDRA_FULL_ERROR": "1"})
    last = run_dir / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 300
    while not last.exists():
        assert process.poll() is None, console_file(run_dir, *sweep).read_text()[-4000:]
        assert time.monotonic() < deadline, "no last.ckpt within 300 s"
        time.sleep(0.01)
    process.send_signal(signal.SIGSTOP)  # hold it still while we read the checkpoint
    saved_step = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    process.send_signal(signum)
    process.send_signal(signal.SIGCONT)
    return process, saved_step


def console_file(run_dir: Path, *sweep: str) -> Path:
    return (run_dir.parent.parent if sweep else run_dir.parent) / "console.txt"  # outside the sweep folder, which must be new


@pytest.mark.slow
def test_sigkill_mid_epoch_then_resume_gives_the_identical_test_metric(uninterrupted: dict, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process, saved_step = start_and_signal(run_dir, signal.SIGKILL)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (run_dir / "metrics.json").exists()  # it really died before finishing
    assert 0 < saved_step < TOTAL_STEPS

    # as the README says: the same overrides and ckpt_path, from the folder it was started in, no hydra.run.dir
    result = run_cli("train", *RUN, f"ckpt_path={run_dir / 'checkpoints' / 'last.ckpt'}", cwd=tmp_path)
    assert "dirpath has changed" not in result.stdout + result.stderr
    assert not (tmp_path / "outputs").exists()  # it went on in the killed run's folder, not a new one
    resumed = read_metrics(run_dir)
    assert resumed["global_step"] == uninterrupted["global_step"] == TOTAL_STEPS
    assert resumed["metrics"]["test/mse"] == uninterrupted["metrics"]["test/mse"]  # bit-identical
    assert resumed["best_score"] == uninterrupted["best_score"]


def test_resume_from_a_last_ckpt_copied_from_the_best_gives_the_identical_test_metric(tmp_path: Path) -> None:
    # The first epoch always makes a best checkpoint, saved after its validation, and the epoch's end copies that file
    # as last.ckpt. The learning rate halves after each epoch: a resume that skipped the epoch's scheduler step would
    # train the second epoch at twice the rate, and the test metric would differ.
    halving = ["scheduler=step", "scheduler.step_size=1"]
    uninterrupted = run_in_process(tmp_path / "uninterrupted", *halving)
    first = tmp_path / "first"
    run_in_process(first, *halving, "trainer.max_epochs=1")
    last, best = first / "checkpoints" / "last.ckpt", first / "checkpoints" / "epoch_000.ckpt"
    assert last.read_bytes() == best.read_bytes()
    resumed = run_in_process(tmp_path / "resumed", *halving, f"ckpt_path={last}")
    assert resumed["global_step"] == uninterrupted["global_step"] == TOTAL_STEPS
    assert resumed["metrics"]["test/mse"] == uninterrupted["metrics"]["test/mse"]  # bit-identical
    assert resumed["best_score"] == uninterrupted["best_score"]


@pytest.mark.slow
def test_sigterm_saves_last_ckpt_records_the_run_as_interrupted_and_exits_143(uninterrupted: dict, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    process, _ = start_and_signal(run_dir, signal.SIGTERM)
    process.wait(timeout=120)
    output = (tmp_path / "console.txt").read_text()
    assert process.returncode == SIGTERM_EXIT_STATUS == 143, output[-4000:]
    assert "Traceback" not in output and "weights_only" not in output  # Lightning's info line when a save names no weights_only
    last = run_dir / "checkpoints" / "last.ckpt"
    assert "SIGTERM at global step" in output and f"resume with ckpt_path={last}" in output
    stopped_at = int(output.split("SIGTERM at global step ")[1].split(":")[0])
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == stopped_at  # saved at the step it stopped, nothing lost
    record = read_metrics(run_dir)
    assert (record["status"], record["reason"], record["last_checkpoint"], record["objective"]) == ("interrupted", "SIGTERM", str(last), None)

    resumed = run_in_process(run_dir, f"ckpt_path={last}")
    assert resumed["status"] == "completed"
    assert resumed["metrics"]["test/mse"] == uninterrupted["metrics"]["test/mse"]


@pytest.mark.slow
def test_sigterm_stops_a_sweep_at_the_job_it_interrupts_and_that_job_resumes(tmp_path: Path) -> None:
    sweep_dir = tmp_path / "sweep"
    job_dir, last = sweep_dir / "0", sweep_dir / "0" / "checkpoints" / "last.ckpt"
    process, saved_step = start_and_signal(job_dir, signal.SIGTERM, "-m", "seed=1,2", f"hydra.sweep.dir={sweep_dir}")
    process.wait(timeout=120)
    output = (tmp_path / "console.txt").read_text()
    assert process.returncode == SIGTERM_EXIT_STATUS, output[-4000:]  # was 0: a scheduler took the sweep as done
    assert "Traceback" not in output and "SIGTERM stopped job 0" in output
    assert not (sweep_dir / "1").exists()  # no job started after the signal
    record = read_metrics(job_dir)
    assert (record["status"], record["last_checkpoint"]) == ("interrupted", str(last))
    stopped_at = torch.load(last, map_location="cpu", weights_only=True)["global_step"]
    assert saved_step <= stopped_at < TOTAL_STEPS

    # the command the log gives: the job's overrides and its last.ckpt, going on in the job's folder
    resume = output.split("resume with:\n")[1].splitlines()[0].split()
    assert resume[:3] == ["python", "-m", "seqexp.train"] and resume[-1] == f"ckpt_path={last}"
    resumed = run_cli("train", *resume[3:], cwd=tmp_path)
    assert not (tmp_path / "outputs").exists() and "Traceback" not in resumed.stderr
    assert (read_metrics(job_dir)["status"], read_metrics(job_dir)["global_step"]) == ("completed", TOTAL_STEPS)


@pytest.mark.slow
def test_sigterm_during_predict_stops_the_sweep_too(tmp_path: Path) -> None:
    """Lightning's predict loop (and the last batch of test, and the end of fit) records a SIGTERM without acting
    on it: the job used to complete, the next one started and the sweep exited 0."""
    sweep_dir = tmp_path / "sweep"
    signalled = ["+callbacks.sigterm._target_=helpers.SigtermDuringPredict", f"hydra.sweep.dir={sweep_dir}"]
    result = run_cli("train", "-m", *RUN, "seed=1,2", *signalled, check=False, env={"PYTHONPATH": str(Path(__file__).parent)})
    assert result.returncode == SIGTERM_EXIT_STATUS, (result.stdout + result.stderr)[-4000:]
    assert not (sweep_dir / "1").exists()
    record = read_metrics(sweep_dir / "0")
    assert (record["status"], record["last_checkpoint"]) == ("interrupted", str(sweep_dir / "0" / "checkpoints" / "last.ckpt"))


def test_a_resume_with_other_overrides_starts_a_fresh_folder_and_keeps_the_old_one(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "overrides.yaml").write_text("- model.hidden_size=16\n- hydra.run.dir=x\n")
    last = str(run_dir / "checkpoints" / "last.ckpt")
    fresh = "outputs/new"
    assert folder_to_resume(last, True, ["model.hidden_size=16", f"ckpt_path={last}"], fresh) == str(run_dir)
    assert folder_to_resume(last, True, ["model.hidden_size=32", f"ckpt_path={last}"], fresh) == fresh
    assert folder_to_resume(last, False, ["model.hidden_size=16", f"ckpt_path={last}"], fresh) == fresh  # test only
    assert folder_to_resume("elsewhere/last.ckpt", True, ["model.hidden_size=16"], fresh) == fresh


@pytest.mark.slow
def test_stateful_run_resumed_mid_epoch_carries_the_hidden_state(tmp_path: Path) -> None:
    stateful = ["data.stateful=true", "data.shuffle=false", "data.batch_size=32", "model=lstm"]  # 16 steps per epoch
    uninterrupted = run_in_process(tmp_path / "uninterrupted", *stateful)
    with pytest.raises(Interrupted):
        run_in_process(tmp_path / "run", *stateful, "+callbacks.interrupt._target_=helpers.InterruptAt", f"+callbacks.interrupt.step={4 * EVERY_N_STEPS}")
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 4 * EVERY_N_STEPS and checkpoint["carried_train_state"] is not None

    resumed = run_in_process(tmp_path / "run", *stateful, f"ckpt_path={tmp_path / 'run' / 'checkpoints' / 'last.ckpt'}")
    assert resumed["metrics"]["test/mse"] == uninterrupted["metrics"]["test/mse"]


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run_dir = tmp_path_factory.mktemp("small") / "run"
    run_cli("train", *RUN[:3], "model.hidden_size=16", "trainer.max_epochs=1", "test=false", run_dir=run_dir)
    return run_dir / "checkpoints" / "last.ckpt"


@pytest.mark.slow
@pytest.mark.parametrize("recipe", ["eval", "predict"])
def test_sigterm_during_eval_or_predict_exits_143(small_checkpoint: Path, tmp_path: Path, recipe: str) -> None:
    """Lightning's test loop raised a SIGTERMException that exited 0, and its predict loop let predict complete (exit 0)."""
    command = [sys.executable, "-m", f"seqexp.{recipe}", f"ckpt_path={small_checkpoint}", "+data.num_windows.test=20000", f"hydra.run.dir={tmp_path / 'out'}"]
    command += [f"output_file={tmp_path / 'predictions.csv'}"] if recipe == "predict" else []
    status, output = sigterm_when(command, tmp_path / "console.txt", lambda process: catches_sigterm(process.pid))  # the stage runs
    assert status == SIGTERM_EXIT_STATUS, output[-4000:]  # was 0: a scheduler took the command as done
    assert "Traceback" not in output and "SIGTERM stopped the command in its Trainer stage (exit 143)" in output
    assert not (tmp_path / "out" / "metrics.json").exists() and "Final metrics" not in output


def catches_sigterm(pid: int) -> bool:
    """Whether process ``pid`` has a SIGTERM handler (Linux: the SigCgt mask), which Lightning installs as a stage starts."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    caught = int(next(line for line in status if line.startswith("SigCgt:")).split()[1], 16)
    return bool(caught >> (signal.SIGTERM - 1) & 1)


def children_of(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux's /proc), e.g. a joblib sweep's workers."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (command)": state, ppid, ...
        except OSError:
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except (OSError, IndexError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the sweep's workers from Linux's /proc")
def test_joblib_workers_save_and_stop_when_the_sweeps_process_is_killed(tmp_path: Path) -> None:
    """A SIGTERM to a joblib sweep's process alone (``kill <pid>``, ``timeout``) used to leave its workers training
    on, orphaned, for as long as their jobs lasted; now each saves last.ckpt, records its job as interrupted, and ends."""
    sweep_dir = tmp_path / "sweep"
    never_ending = ["data.num_windows.train=512", "model.hidden_size=8", "callbacks.early_stopping=null", "trainer.max_epochs=100000"]
    command = [sys.executable, "-m", "seqexp.train", "-m", "hydra/launcher=joblib", *never_ending, "seed=1,2,3"]
    with open(tmp_path / "console.txt", "w") as console:
        sweep = subprocess.Popen([*command, f"hydra.sweep.dir={sweep_dir}"], cwd=tmp_path, stdout=console, stderr=subprocess.STDOUT)
    lasts = [sweep_dir / job / "checkpoints" / "last.ckpt" for job in ("0", "1")]
    deadline = time.monotonic() + 300
    while not all(last.is_file() for last in lasts):  # both jobs are training
        assert sweep.poll() is None and time.monotonic() < deadline, (tmp_path / "console.txt").read_text()[-4000:]
        time.sleep(0.1)
    workers = [pid for pid in children_of(sweep.pid) if "popen_loky" in Path(f"/proc/{pid}/cmdline").read_text()]
    assert len(workers) == 2
    sweep.send_signal(signal.SIGTERM)  # the sweep's process alone, not its process group
    sweep.wait(timeout=60)
    try:
        while any(alive(pid) for pid in workers):
            assert time.monotonic() < deadline + 60, "a worker trains on after its sweep ended"
            time.sleep(0.1)
    finally:  # none left to slow the rest of the suite
        for pid in filter(alive, workers):
            os.kill(pid, signal.SIGKILL)
    for job, last in zip(("0", "1"), lasts):
        record = read_metrics(sweep_dir / job)
        assert (record["status"], record["last_checkpoint"]) == ("interrupted", str(last))
    assert not (sweep_dir / "2").exists()  # no job started after the signal
    output = (tmp_path / "console.txt").read_text()
    assert output.count("has ended: stopping this job's process") == 2 and "Traceback" not in output
