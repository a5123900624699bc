"""What ``benchmark.py`` writes: the measuring context (``meta``), the JSON report and the table it prints."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import lightning as L
import torch

import seqexp

REPO = Path(__file__).resolve().parents[1]


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip() or None
    except OSError:
        return None


def meta(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "commit": git_commit(),
        "seqexp": str(Path(seqexp.__file__).parent),  # which checkout was measured
        "python": platform.python_version(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "device": args.device if args.device == "cpu" else torch.cuda.get_device_name(),
        "precision": args.precision,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "repeats": args.repeats,
    }


def write_report(report: dict[str, Any], path: Path) -> None:
    report["meta"]["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    path.write_text(json.dumps(report, indent=2) + "\n")


def print_table(report: dict[str, Any]) -> None:
    print(
        f"\n{'case':<20}{'hand steps/s':>14}{'seqexp steps/s':>16}{'hand samples/s':>16}{'seqexp samples/s':>18}{'ratio':>8}"
        f"{'ratio (CPU time)':>18}{'bare Lightning ratio':>22}"
    )
    for name, case in report["cases"].items():
        if "skipped" in case:
            print(f"{name:<20}skipped: {case['skipped'].splitlines()[0]}")
            continue
        hand, framework = case["hand_written"], case["seqexp"]
        print(
            f"{name:<20}{hand['steps_per_s']:>14}{framework['steps_per_s']:>16}{hand['samples_per_s']:>16}"
            f"{framework['samples_per_s']:>18}{case['ratio']:>8}{case['ratio_cpu']:>18}{case['ratio_bare_lightning']:>22}"
        )
    for name, case in report["cases"].items():
        if "padding_fraction" in case:
            print(f"{name}: padding {case['padding_fraction']:.1%} of the token slots, seqexp {case['seqexp_tokens_per_s']} tokens/s")
    if "startup" in report:
        start = report["startup"]
        print(f"start-up: fast_dev_run {start['fast_dev_run_s']} s / import lightning {start['import_lightning_s']} s = {start['ratio']}")
