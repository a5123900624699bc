"""scripts/benchmark.py runs end to end and writes the figures it documents (no timing is asserted)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_benchmark_writes_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "benchmark.json"
    command = [
        sys.executable,
        str(REPO / "scripts" / "benchmark.py"),
        "--cases",
        "seed",
        "--repeats",
        "1",
        "--steps",
        "5",
        "--startup-repeats",
        "1",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]

    report = json.loads(out.read_text())
    assert {"torch", "lightning", "device", "precision", "torch_threads", "load_average_at_start"} <= report["meta"].keys()
    seed = report["cases"]["seed"]
    assert seed["batch_size"] == 64 and seed["chunks_per_batch"] == 8
    assert seed["timed_steps"] == 8  # whole batches of the preset's 8 chunks (optimizer steps), at least --steps
    for side in ("hand_written", "seqexp", "bare_lightning"):
        assert seed[side]["steps_per_s"] > 0
        assert seed[side]["samples_per_s"] == pytest.approx(seed[side]["steps_per_s"] * 64, rel=0.01)
    assert seed["ratio"] == pytest.approx(seed["seqexp"]["steps_per_s"] / seed["hand_written"]["steps_per_s"], rel=0.02)
    assert seed["ratio_bare_lightning"] == pytest.approx(seed["bare_lightning"]["steps_per_s"] / seed["hand_written"]["steps_per_s"], rel=0.02)
    assert seed["ratio_cpu"] > 0 and seed["seqexp"]["cpu_steps_per_s"] > 0
    startup = report["startup"]
    assert startup["fast_dev_run_s"] > 0 and startup["import_lightning_s"] > 0
    assert startup["ratio"] == pytest.approx(startup["fast_dev_run_s"] / startup["import_lightning_s"], rel=0.01)
    assert "ratio" in result.stdout  # the table is printed, not only written
    assert not list(tmp_path.glob("outputs")), "the benchmark's runs belong in a temporary folder"


@pytest.mark.slow
def test_benchmark_short_case_reports_whole_fits(tmp_path: Path) -> None:
    out = tmp_path / "benchmark.json"
    command = [
        sys.executable,
        str(REPO / "scripts" / "benchmark.py"),
        "--cases",
        "short",
        "--repeats",
        "1",
        "--startup-repeats",
        "0",
        "--threads",
        "1",
        "--out",
        str(out),
    ]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    short = json.loads(out.read_text())["cases"]["short"]
    for side in ("hand_written", "seqexp", "bare_lightning"):
        assert short[side]["steps"] == 60  # 30 epochs of airline's 2 training batches, each side
        assert short[side]["fit_cpu_s"] > 0
    assert short["ratio_cpu"] == pytest.approx(short["seqexp"]["cpu_steps_per_s"] / short["hand_written"]["cpu_steps_per_s"], rel=0.02)
    assert "fit CPU-s" in result.stdout
