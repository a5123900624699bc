"""Shared fixtures. Helpers that tests import live in tests/helpers.py."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# The baseline scripts (scripts/*.py) are imported by the tests that compare against them.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

# One torch thread per process, here and in the CLI subprocesses: the suite runs on 2 shared cores, where
# more threads than free cores slow small RNNs down many times over (see scripts/benchmark.py --threads).
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture
def in_tmp_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a fresh folder so outputs/ lands in tmp_path."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
