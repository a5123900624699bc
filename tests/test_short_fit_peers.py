"""scripts/short_fit_peers.py runs without darts and neuralforecast: it says they are not installed, skips them and
still measures seqexp (no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_peers_not_installed_are_skipped(tmp_path: Path) -> None:
    hidden = tmp_path / "hidden"  # packages that fail to import, as where the peers are not installed
    hidden.mkdir()
    for package in ("darts", "neuralforecast"):
        (hidden / f"{package}.py").write_text("raise ImportError('not installed here')\n")
    out = tmp_path / "peers.json"
    command = [sys.executable, str(REPO / "scripts" / "short_fit_peers.py"), "--tools", "hand,seqexp,darts,neuralforecast", "--repeats", "1", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hidden), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    assert "darts: darts not installed" in result.stdout and "neuralforecast: neuralforecast not installed" in result.stdout

    tools = json.loads(out.read_text())["tools"]
    assert tools["darts"] == {"skipped": "darts not installed"} and tools["neuralforecast"] == {"skipped": "neuralforecast not installed"}
    assert tools["hand"]["steps"] == [60] and tools["hand"]["eval_lstm_passes"] == 30  # 30 epochs of 2 steps, validated each
    assert 0 < tools["seqexp"]["steps"][0] <= 60 and tools["seqexp"]["fit_cpu_s"] > 0 and "build_cpu_s" in tools["seqexp"]
    assert not (tmp_path / "lightning_logs").exists()  # the runs wrote into the script's own temporary folder
