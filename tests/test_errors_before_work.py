"""A user's mistake found during a run is one ``Error:`` line, found before work is lost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from helpers import run_cli

TINY = ["data.num_windows.train=256", "data.num_windows.val=64", "data.num_windows.test=64", "model.hidden_size=8", "trainer.max_epochs=2"]


def one_error_line(result) -> str:  # noqa: ANN001 - a CompletedProcess
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr[-3000:]
    return errors[0]


def test_an_unknown_monitor_metric_fails_before_the_first_training_step(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    result = run_cli("train", *TINY, "monitor.metric=val/accuracy", run_dir=run_dir, cwd=tmp_path, check=False)
    error = one_error_line(result)
    assert error.startswith("Error: monitor.metric=val/accuracy: this run does not log it")
    assert "'val/mse'" in error  # names what it could monitor
    assert not list(run_dir.glob("checkpoints/*.ckpt"))  # no epoch was trained


def test_resuming_with_another_model_size_names_the_setting_and_keeps_the_run(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_cli("train", *TINY, run_dir=run_dir, cwd=tmp_path)
    kept = {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()}
    last = run_dir / "checkpoints" / "last.ckpt"
    result = run_cli("train", *TINY[:-2], "model.hidden_size=16", "trainer.max_epochs=4", f"ckpt_path={last}", cwd=tmp_path, check=False)
    error = one_error_line(result)
    assert error.startswith(f"Error: ckpt_path={last}: its weights do not fit the model this config builds")
    assert "model.hidden_size=8 there, 16 here" in error
    assert {path: path.read_bytes() for path in run_dir.rglob("*") if path.is_file()} == kept  # nothing of the run lost


def test_a_non_finite_loss_is_one_error_line(tmp_path: Path) -> None:
    result = run_cli(
        "train", *TINY, "optim=sgd", "optim.lr=1e5", "data.num_windows.train=512", "trainer.max_epochs=4", run_dir=tmp_path / "run", cwd=tmp_path, check=False
    )
    assert one_error_line(result).startswith("Error: training loss became")


def test_a_loss_that_breaks_mid_epoch_ends_the_bar_before_its_error_line(tmp_path: Path) -> None:
    # a terminal shows the bar (stdout) and the error (stderr) on one screen: the error must not continue the bar's line.
    # The guard stops the run at its check after step 50 of 64, the bar mid-line.
    command = [sys.executable, "-m", "seqexp.train", "model.hidden_size=8", "optim.lr=1e30", "trainer.max_epochs=1", f"hydra.run.dir={tmp_path / 'run'}"]
    screen = subprocess.run(command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300).stdout
    errors = [line for line in screen.splitlines() if "Error: " in line]
    assert len(errors) == 1 and errors[0].startswith("Error: training loss became"), errors
