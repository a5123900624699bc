"""What a run leaves behind, through the CLI as users run it (from their own folder, default keys):
the prediction file's bytes and values, the end-of-run line, and what Ctrl-C leaves."""

from __future__ import annotations

import csv
import functools
import math
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import run_cli
from seqexp.config import ConfigError
from seqexp.predictions import check_output_file


def test_the_prediction_file_holds_the_values_as_read_and_the_last_line_lists_the_run_folder(tmp_path: Path) -> None:
    """Truths used to be float32 brought back from the model's scale (123.979996 for 123.98), lines ended
    with CRLF, and the end-of-run line named tensorboard/ whatever the logger."""
    cells = [repr(round(100 + 20 * math.sin(step / 4) + (step % 7) * 0.37, 2)) for step in range(120)]
    (tmp_path / "sales.csv").write_text("sales\n" + "".join(cell + "\n" for cell in cells), encoding="utf-8")
    result = run_cli(
        "train", "data=series", "data.path=sales.csv", "data.input_length=12", "data.horizon=4", "trainer.max_epochs=1", "logger=csv", cwd=tmp_path
    )
    (run,) = (tmp_path / "outputs").glob("*/*")
    written = (run / "predictions" / "test.csv").read_bytes()
    assert b"\r" not in written
    rows = list(csv.DictReader(written.decode("utf-8").splitlines()))
    assert len(rows) > 10 and all(row["sales_truth"] == cells[int(row["step"])] for row in rows)

    listing = ", ".join(sorted(entry.name + "/" * entry.is_dir() for entry in run.iterdir() if not entry.name.startswith(".")))
    last = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Run folder:")][-1]
    assert last == f"Run folder: {run} ({listing})" and "csv/" in listing and "tensorboard" not in listing


def test_ctrl_c_prints_the_resume_command_and_leaves_no_empty_predictions_folder(tmp_path: Path) -> None:
    overrides = ["model=lstm", "data=sine", "trainer.max_epochs=1000"]
    process = subprocess.Popen(
        [sys.executable, "-m", "seqexp.train", *overrides],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # as in a terminal's foreground job: a suite started in the background by a non-interactive shell (`cmd &`)
        # passes SIGINT down ignored, and Python then never raises KeyboardInterrupt (the run completed, exit 0)
        preexec_fn=functools.partial(signal.signal, signal.SIGINT, signal.SIG_DFL),
    )
    try:
        deadline = time.monotonic() + 300
        while not list(tmp_path.glob("outputs/*/*/checkpoints/last.ckpt")):  # after the first epoch
            assert process.poll() is None and time.monotonic() < deadline, process.stdout.read() if process.poll() is not None else "timed out"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)  # what Ctrl-C in a terminal sends
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    (run,) = (tmp_path / "outputs").glob("*/*")
    assert process.returncode == 1, output[-4000:]  # what the run printed, should Ctrl-C ever not stop it
    assert f"    python -m seqexp.train {' '.join(overrides)} ckpt_path={run}/checkpoints/last.ckpt" in output.splitlines()
    assert not (run / "predictions").exists()


def test_checking_where_predictions_go_creates_nothing_and_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    check_output_file(tmp_path / "run" / "predictions" / "test.csv", "paths.output_dir")
    assert not (tmp_path / "run").exists()  # made when the file is written
    (tmp_path / "blocker").write_text("")
    with pytest.raises(ConfigError, match=r"^output_file=\S*blocker/x/p\.csv: cannot make its folder \(\S*blocker is a file, not a folder\)$"):
        check_output_file(tmp_path / "blocker" / "x" / "p.csv", "output_file")
