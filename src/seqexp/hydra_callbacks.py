"""Hydra callbacks: what happens around a run or a sweep rather than inside a job."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def _make_folder(key: str, folder: str) -> None:
    """Create ``folder`` now, so a path under a file or without permission names its key, not a raw OSError."""
    path = Path(folder)
    blocking = next((parent for parent in [path, *path.parents] if parent.exists() and not parent.is_dir()), None)
    if blocking is not None:
        raise SystemExit(f"Error: {key}={folder}: {blocking} is a file, not a folder; choose another {key}")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise SystemExit(f"Error: {key}={folder}: cannot create it ({error.strerror or error}); choose another {key}") from None


class CheckRunFolder(Callback):
    """Makes the run (or sweep) folder before Hydra does, with a message that names the key."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_folder("hydra.run.dir", config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_folder("hydra.sweep.dir", config.hydra.sweep.dir)


def failed_jobs(sweep_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Job folders of a sweep whose ``metrics.json`` says ``status: failed``, in job order."""
    failed = []
    job_order = lambda path: [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.parts]  # noqa: E731
    for metrics_file in sorted(sweep_dir.rglob("metrics.json"), key=job_order):  # 2 before 10
        try:
            record = json.loads(metrics_file.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if record.get("status") == "failed":
            failed.append((metrics_file.parent, record))
    return failed


class ReportFailedJobs(Callback):
    """A sweep goes on past a failed job (see seqexp.sweep); at its end it exits 1, listing the failures."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        failed = failed_jobs(sweep_dir)
        if not failed:
            log.info("Sweep folder: %s (python -m seqexp.summarize %s tabulates it)", sweep_dir, sweep_dir)
            return
        lines = [f"  {folder}: {' '.join(record.get('overrides', []))}: {record.get('error')}" for folder, record in failed]
        raise SystemExit(f"Error: {len(failed)} job(s) of the sweep in {sweep_dir} failed:\n" + "\n".join(lines))
