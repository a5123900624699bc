"""scripts/cv_inside_train.py: folds that partition TRAIN, and held-out scores read from the fold runs."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from cv_inside_train import write_folds
from seqexp.data.ucr.datamodule import _asset
from seqexp.data.ucr.ts_format import read_ts

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "cv_inside_train.py"


def test_folds_partition_train_and_keep_the_class_balance(tmp_path: Path) -> None:
    train_file = _asset("ItalyPowerDemand", "TRAIN")
    train = read_ts(train_file)
    pairs = write_folds(train_file, folds=5, seed=0, out=tmp_path)

    held_out_cases = []
    for fit_path, held_out_path in pairs:
        fit, held_out = read_ts(fit_path), read_ts(held_out_path)
        assert len(fit.labels) + len(held_out.labels) == len(train.labels)
        fit_cases = {tuple(case.flatten().tolist()) for case in fit.series}
        held_out_here = [tuple(case.flatten().tolist()) for case in held_out.series]
        assert fit_cases.isdisjoint(held_out_here)
        held_out_cases += held_out_here
        counts = Counter(held_out.labels)
        for label, total in Counter(train.labels).items():
            assert abs(counts[label] - total / 5) < 1  # each class dealt out evenly
    assert sorted(held_out_cases) == sorted(tuple(case.flatten().tolist()) for case in train.series)  # each case once


def test_more_folds_than_the_smallest_class_is_refused(tmp_path: Path) -> None:
    train_file = _asset("BasicMotions", "TRAIN")  # 10 cases a class
    with pytest.raises(SystemExit, match="--folds 11: must be at least 2 and at most the smallest class's size"):
        write_folds(train_file, folds=11, seed=0, out=tmp_path)
    assert len(write_folds(train_file, folds=10, seed=0, out=tmp_path)) == 10


def test_overrides_that_the_script_sets_per_fold_are_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "ItalyPowerDemand", "--out", str(tmp_path), "--", "experiment=ucr", "data.test_path=Mine_TEST.ts"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "data.test_path is set per fold by this script; leave it out of the overrides" in result.stderr
    assert not any(tmp_path.iterdir())  # refused before any fold was written


@pytest.mark.slow
def test_cli_prints_the_fold_runs_held_out_scores_and_their_mean(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "ItalyPowerDemand",
            "--folds",
            "2",
            "--out",
            str(tmp_path),
            "--",
            "experiment=ucr",
            "trainer.max_epochs=2",
            "logger=none",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = tmp_path.glob("ItalyPowerDemand/*/*")  # <date>/<time>: a second call gets a folder of its own
    assert f"Folds and runs: {folder}" in result.stdout
    runs = [json.loads((folder / f"fold_{k}" / "run" / "metrics.json").read_text())["metrics"] for k in (0, 1)]
    printed = [float(value) for value in re.findall(r"fold \d: held-out accuracy ([0-9.]+)", result.stdout)]
    assert printed == pytest.approx([run["test/acc"] for run in runs], abs=1e-4)
    mean = float(re.search(r"mean over 2 folds: held-out accuracy ([0-9.]+)", result.stdout).group(1))
    assert mean == pytest.approx((runs[0]["test/acc"] + runs[1]["test/acc"]) / 2, abs=1e-4)
    held_out_total = sum(len(read_ts(folder / f"fold_{k}" / "held_out_TEST.ts").labels) for k in (0, 1))
    assert held_out_total == len(read_ts(_asset("ItalyPowerDemand", "TRAIN")).labels)  # TEST never enters
