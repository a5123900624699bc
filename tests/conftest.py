"""Shared helpers: run the real CLI in a subprocess, compose the real conf/ in-process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_module
from omegaconf import DictConfig

# The baseline scripts (scripts/*.py) are imported by the tests that compare against them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

# One torch thread per process, here and in the CLI subprocesses: the suite runs on 2 shared cores, where
# more threads than free cores slow small RNNs down many times over (see scripts/benchmark.py --threads).
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Quiet training runs: no rich bar redraws or model summary in captured output.
QUIET = ["callbacks.progress_bar=null", "trainer.enable_progress_bar=false", "trainer.enable_model_summary=false"]


def run_cli(module: str, *overrides: str, run_dir: Path | None = None, cwd: Path | None = None,
            timeout: float = 600, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``python -m seqexp.<module> overrides...`` as a user runs it; ``run_dir`` pins hydra.run.dir."""
    quiet = QUIET if module == "train" else []
    flags = [item for item in overrides if item.startswith("-")]  # e.g. -m, --config-dir=DIR: before overrides
    overrides = tuple(item for item in overrides if not item.startswith("-"))
    command = [sys.executable, "-m", f"seqexp.{module}", *flags, *quiet, *overrides]
    if run_dir is not None:
        command.append(f"hydra.run.dir={run_dir}")
    result = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "HYDRA_FULL_ERROR": "1", **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


def read_metrics(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "metrics.json").read_text())


def compose_train(*overrides: str) -> DictConfig:
    """The train config composed from the package's own conf/, with Hydra's runtime filled in."""
    with initialize_config_module(config_module="seqexp.conf", version_base="1.3"):
        return compose(config_name="train", overrides=list(overrides), return_hydra_config=True)


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a fresh folder so outputs/ lands in tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
