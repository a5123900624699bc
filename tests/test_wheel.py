"""A non-editable install runs from any folder: configs ship inside the wheel."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_install_runs_fast_dev_run_outside_the_repo(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path / "dist"), str(REPO)],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("seqexp-*.whl"))
    # The venv sees the packages of the interpreter running the tests (torch, lightning, hydra: the active
    # virtualenv, where there is one) but gets seqexp only from the wheel. system_site_packages=True would
    # see the base interpreter's instead; plain path lines add no .pth file of theirs, so no editable seqexp.
    venv.create(tmp_path / "venv", with_pip=False)
    python = tmp_path / "venv" / "bin" / "python"
    venv_site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True
        ).stdout.strip()
    )
    our_site = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (venv_site / "test-env-packages.pth").write_text("".join(f"{folder}\n" for folder in our_site))
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)], check=True, capture_output=True)
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    where = subprocess.run([str(python), "-c", "import seqexp; print(seqexp.__file__)"], cwd=workdir, capture_output=True, text=True, check=True).stdout
    assert str(tmp_path / "venv") in where  # not the editable source tree
    result = subprocess.run(
        [str(python), "-m", "seqexp.train", "debug=fast_dev_run", "data.num_windows.train=128", "data.num_windows.val=64", "data.num_windows.test=64"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    (metrics_file,) = (workdir / "outputs").glob("*/*/metrics.json")
    assert json.loads(metrics_file.read_text())["status"] == "completed"
