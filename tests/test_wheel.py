"""A non-editable install runs from any folder: configs ship inside the wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_runs_fast_dev_run_outside_the_repo(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(REPO)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("seqexp-*.whl"))
    # The venv sees the already installed torch/lightning/hydra, but gets seqexp only from the wheel.
    venv.create(tmp_path / "venv", system_site_packages=True, with_pip=False)
    python = tmp_path / "venv" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    where = subprocess.run([str(python), "-c", "import seqexp; print(seqexp.__file__)"], cwd=workdir,
                           capture_output=True, text=True, check=True).stdout
    assert str(tmp_path / "venv") in where  # not the editable source tree
    result = subprocess.run(
        [str(python), "-m", "seqexp.train", "debug=fast_dev_run", "callbacks.progress_bar=null",
         "data.num_windows.train=128", "data.num_windows.val=64", "data.num_windows.test=64"],
        cwd=workdir, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    (metrics_file,) = (workdir / "outputs").glob("*/*/metrics.json")
    assert json.loads(metrics_file.read_text())["status"] == "completed"
