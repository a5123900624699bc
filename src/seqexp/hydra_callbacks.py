"""Hydra callbacks: what happens around a run or a sweep rather than inside a job."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, ListConfig, OmegaConf

from seqexp.checks import ConfigError
from seqexp.config import OPTUNA_DIRECTIONS, validate_config
from seqexp.grid import grid_jobs
from seqexp.sweep import SWEEP_PROCESS_VARIABLE

log = logging.getLogger(__name__)

# Made (O_EXCL) in a sweep folder by the sweep that owns it: of two sweeps started at once, one gets the folder.
SWEEP_OWNER_FILE = ".sweep_owner"


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


def _claim_sweep_folder(folder: str) -> None:
    """Make ``folder`` this sweep's own before Hydra writes into it: the owner file is created atomically, so of
    two sweeps given one folder only one gets it, and a folder that already holds anything (another sweep, a run)
    is refused. Its jobs' folders then hold no other run's files."""
    owner = Path(folder) / SWEEP_OWNER_FILE
    try:
        with open(owner, "x") as handle:
            handle.write(f"pid {os.getpid()} on {socket.gethostname()} at {time.strftime('%Y-%m-%d %H:%M:%S')}: {' '.join(sys.argv)}\n")
    except FileExistsError:
        raise SystemExit(f"Error: hydra.sweep.dir={folder}: belongs to another sweep ({owner}); choose another hydra.sweep.dir") from None
    others = sorted(entry.name for entry in Path(folder).iterdir() if entry.name != SWEEP_OWNER_FILE)
    if others:
        owner.unlink()
        shown = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
        raise SystemExit(
            f"Error: hydra.sweep.dir={folder}: already holds {shown} from another run, which this sweep's "
            "jobs would mix with or overwrite; choose another hydra.sweep.dir"
        )


class CheckRunFolder(Callback):
    """Makes the run (or sweep) folder before Hydra does, with a message that names the key; a sweep folder must
    be new or empty, and is claimed for this sweep alone."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_folder("hydra.run.dir", config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_folder("hydra.sweep.dir", config.hydra.sweep.dir)
        _claim_sweep_folder(config.hydra.sweep.dir)


class MarkSweepProcess(Callback):
    """Tells the sweep's jobs which process is the sweep's: a job in a child process of it (a joblib worker) stops
    when that process ends (seqexp.sweep.stop_with_the_sweep), rather than train on, orphaned."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        os.environ[SWEEP_PROCESS_VARIABLE] = str(os.getpid())


class CheckSweepJobs(Callback):
    """Every job of a grid sweep of ``seqexp.train`` (Hydra's basic sweeper) has its config checked as a run checks
    its own (``seqexp.config.validate_config``) before the first job starts: a bad value in the last job fails the
    sweep at once, naming the job, rather than after every job before it has trained."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        jobs = grid_jobs(config) if config.hydra.job.config_name == "train" else None
        if not jobs or len(jobs) == 1:
            return  # not a grid of training jobs, or one job: it checks its config itself
        from hydra.core.global_hydra import GlobalHydra  # noqa: PLC0415
        from hydra.types import RunMode  # noqa: PLC0415

        hydra = GlobalHydra.instance().hydra
        for number, overrides in enumerate(jobs):
            job = hydra.compose_config(config_name="train", overrides=overrides, run_mode=RunMode.RUN)
            try:
                validate_config(job)
            except ConfigError as error:
                swept = [item for item in overrides if any(item not in other for other in jobs)]  # what sets this job apart
                raise SystemExit(f"Error: job {number} of the sweep ({' '.join(swept)}): {error}") from None


class CheckSweepDirection(Callback):
    """A sweeper that optimises (Optuna) must go the way ``monitor.mode`` ranks the monitored metric; a
    ``hydra.sweeper.direction`` that disagrees is refused before the first trial, naming both keys."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        direction = OmegaConf.select(config, "hydra.sweeper.direction", default=None)
        if direction is None:  # Hydra's basic sweeper runs every job; it optimises nothing
            return
        mode, metric = OmegaConf.select(config, "monitor.mode", default=None), OmegaConf.select(config, "monitor.metric", default=None)
        if mode not in OPTUNA_DIRECTIONS:
            raise SystemExit(f"Error: monitor.mode={mode}: must be one of {sorted(OPTUNA_DIRECTIONS)} (how monitor.metric={metric} ranks)")
        directions = [getattr(item, "name", item) for item in (direction if isinstance(direction, (list, ListConfig)) else [direction])]
        if directions != [OPTUNA_DIRECTIONS[mode]]:
            shown = directions[0] if len(directions) == 1 else f"[{','.join(map(str, directions))}]"
            raise SystemExit(
                f"Error: hydra.sweeper.direction={shown} disagrees with monitor.mode={mode} (monitor.metric={metric}): the search "
                f"would report the worst trial as best; set hydra.sweeper.direction={OPTUNA_DIRECTIONS[mode]} "
                "(hparams_search=sine_optuna follows monitor.mode by itself)"
            )


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
