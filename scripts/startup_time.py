"""Start-up cost of the CLI for ``benchmark.py``: seconds to a finished ``python -m seqexp.train
trainer.fast_dev_run=true`` against seconds to ``import lightning``, interleaved, each in a fresh process."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def timed_command(command: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env={**os.environ, "HYDRA_FULL_ERROR": "1"})
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return time.perf_counter() - started


def startup(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Seconds to a finished fast_dev_run against seconds to import Lightning, interleaved."""
    print("\n=== start-up: python -m seqexp.train trainer.fast_dev_run=true vs python -c 'import lightning'", flush=True)
    bare = [sys.executable, "-c", "import lightning"]
    accelerator = "gpu" if args.device == "cuda" else "cpu"
    run = [sys.executable, "-m", "seqexp.train", "trainer.fast_dev_run=true", f"trainer.accelerator={accelerator}"]
    import_s, fast_dev_run_s = [], []
    for repeat in range(args.startup_repeats):
        import_s.append(timed_command(bare))
        fast_dev_run_s.append(timed_command([*run, f"hydra.run.dir={workdir / 'startup' / str(repeat)}"]))
    result = {
        "import_lightning_s": round(statistics.median(import_s), 3),
        "fast_dev_run_s": round(statistics.median(fast_dev_run_s), 3),
        "ratio": round(statistics.median(fast_dev_run_s) / statistics.median(import_s), 3),
        "repeats_import_lightning_s": [round(value, 3) for value in import_s],
        "repeats_fast_dev_run_s": [round(value, 3) for value in fast_dev_run_s],
    }
    print(f"=== start-up: import lightning {result['import_lightning_s']} s, fast_dev_run {result['fast_dev_run_s']} s, ratio {result['ratio']}", flush=True)
    return result
