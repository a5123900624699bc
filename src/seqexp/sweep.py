"""One job of a Hydra multirun: a failing job is recorded and the sweep goes on.

Left alone, an exception in one job ends the whole sweep with an error (Hydra's basic sweeper after
its batch of jobs, the Optuna sweeper after its batch of trials). In a multirun, ``run_job`` instead logs the
error with the job's overrides, writes ``metrics.json`` with ``status: failed`` (the sweep summary
shows it) and returns None, which the Optuna sweeper records as a failed trial. With
``fail_fast=true`` the first failure stops the sweep at once (no further job starts). A DDP job that
fails after its ranks connected always stops the sweep: its other rank processes cannot be left behind.

A job of an Optuna search (``hydra/sweeper=seqexp_optuna``) reports each validation to its trial
(``search_callbacks``); one the pruner stops writes ``status: pruned`` and re-raises ``optuna.TrialPruned`` for the
sweeper, which records the trial as pruned, not failed.

A run or job stopped by SIGTERM (Lightning's ``SIGTERMException``, after ``SaveOnSigterm`` saved ``last.ckpt``)
writes ``status: interrupted`` and ends the process with exit status 143 (128 + SIGTERM, what a shell reports
for a process the signal ends): a sweep starts no further job, and a scheduler sees that the run did not finish.
``exits_143_on_sigterm`` gives ``python -m seqexp.eval`` and ``seqexp.predict`` the same exit status.

A job that runs in a child process of the sweep (``hydra/launcher=joblib``) stops the same way when the sweep's
process ends first: a SIGTERM sent to that process alone (``kill <pid>``, ``timeout``), or the OOM killer's SIGKILL,
would otherwise leave its workers training on, orphaned, for as long as their jobs last. ``stop_with_the_sweep``
watches the parent and sends the job's own process SIGTERM when it is gone.
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, NoReturn, TypeVar

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqexp.console import users_mistake
from seqexp.distributed import in_multirun, job_scope, joined_process_group

log = logging.getLogger(__name__)

SIGTERM_EXIT_STATUS = 128 + signal.SIGTERM  # 143: a run stopped by SIGTERM, single or in a sweep
Result = TypeVar("Result")
SWEEP_PROCESS_VARIABLE = "SEQEXP_SWEEP_PID"  # set by the sweep's process (seqexp.hydra_callbacks.MarkSweepProcess)
WATCH_INTERVAL_S = 1.0
_watched: list[int] = []  # the sweep's process, once a worker watches it (one watcher per worker, however many jobs)
_in_job = threading.Event()  # set while this process runs a job


def run_job(train: Callable[[DictConfig], float | None], cfg: DictConfig) -> float | None:
    """``train(cfg)``; in a multirun, a failure becomes a failed entry instead of the end of the sweep; SIGTERM
    ends the run (and the sweep) with ``status: interrupted`` and exit status 143."""
    started = time.perf_counter()
    try:
        if not in_multirun():
            return train(cfg)
        stop_with_the_sweep()
        _in_job.set()
        with job_scope():
            return _recorded_job(train, cfg, started)
    except SystemExit as stop:
        if not _terminated(stop):
            raise
        _stop_for_sigterm(cfg, started)
    finally:
        _in_job.clear()


def stop_with_the_sweep() -> None:
    """In a job that runs in a child process of the sweep (a joblib worker): watch the sweep's process, and send
    this process SIGTERM when it has ended (the job then saves ``last.ckpt`` and exits 143, as on any SIGTERM).
    Between two Trainer stages, where SIGTERM would end the process before the job records why, it waits for the
    next stage's handler (or the job's end)."""
    sweep = os.environ.get(SWEEP_PROCESS_VARIABLE)
    if sweep is None or int(sweep) != os.getppid() or _watched:
        return
    _watched.append(int(sweep))

    def watch() -> None:
        while not _sweep_ended():
            time.sleep(WATCH_INTERVAL_S)
        log.warning("the sweep's process %s has ended: stopping this job's process %d", sweep, os.getpid())
        while _in_job.is_set() and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            time.sleep(WATCH_INTERVAL_S / 10)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="seqexp-sweep-watch", daemon=True).start()


def _sweep_ended() -> bool:
    """Whether this is a worker whose sweep's process has ended (it was adopted by another)."""
    return bool(_watched) and os.getppid() != _watched[0]


def exits_143_on_sigterm(entry: Callable[..., Result]) -> Callable[..., Result]:
    """``python -m seqexp.eval`` and ``seqexp.predict``: a SIGTERM that stopped their Trainer stage (Lightning's
    ``SIGTERMException``, a ``SystemExit`` with status 0) ends the program with 143, as it ends a run."""

    @functools.wraps(entry)
    def wrapper(*args: Any, **kwargs: Any) -> Result:
        try:
            return entry(*args, **kwargs)
        except SystemExit as stop:
            if not _terminated(stop):
                raise
            log.warning("SIGTERM stopped the command in its Trainer stage (exit %d)", SIGTERM_EXIT_STATUS)
            raise SystemExit(SIGTERM_EXIT_STATUS) from None

    return wrapper


def _recorded_job(train: Callable[[DictConfig], float | None], cfg: DictConfig, started: float) -> float | None:
    """One job of a multirun: an exception is written to its ``metrics.json`` and, unless it must stop the sweep, passed over."""
    try:
        return train(cfg)
    except Exception as error:
        job, overrides = HydraConfig.get().job.num, list(HydraConfig.get().overrides.task)
        if _pruned(error):  # the search stopped this trial early: not a failure
            log.info("job %s: trial %s", job, error)
            _write_record(cfg, "pruned", started, reason=str(error))
            raise
        mistake = users_mistake(error)  # the user's own error, not Hydra's wrapper of a constructor's ("Error in call to target ...")
        if mistake is None:  # a bug: keep its traceback
            log.exception("job %s failed; overrides: %s", job, " ".join(overrides))
        else:
            log.error("job %s failed; overrides: %s\n%s", job, " ".join(overrides), mistake)
        shown = mistake or error
        _write_record(cfg, "failed", started, error=f"{type(shown).__name__}: {shown}")
        if cfg.get("fail_fast", False) or joined_process_group():
            # SystemExit passes through Hydra's per-job error capture: no further job starts.
            reason = "fail_fast=true" if cfg.get("fail_fast", False) else "its DDP ranks cannot be left behind"
            raise SystemExit(f"job {job} failed ({type(shown).__name__}: {shown}); sweep stopped: {reason}") from error
        return None


def _stop_for_sigterm(cfg: DictConfig, started: float) -> NoReturn:
    """Record the run as interrupted, say how to resume it, and exit 143. A SystemExit passes through Hydra's
    launchers, so no later job of a sweep starts."""
    from seqexp.builder import resume_command  # noqa: PLC0415 - Lightning is imported: it raised the SIGTERMException

    last = Path(cfg.paths.checkpoint_dir, "last.ckpt")
    _write_record(cfg, "interrupted", started, reason="SIGTERM", last_checkpoint=str(last) if last.is_file() else None)
    run = f"job {HydraConfig.get().job.num}" if in_multirun() else "the run"
    then = "; the sweep stops (no later job starts)" if in_multirun() else ""
    resume = f"resume with:\n    {resume_command(cfg)} ckpt_path={last}" if last.is_file() else "no last.ckpt to resume from"
    log.warning("SIGTERM stopped %s (metrics.json: status interrupted)%s; %s", run, then, resume)
    if _sweep_ended():  # a worker whose sweep has ended: no one to hand the job's end to
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(SIGTERM_EXIT_STATUS)  # a SystemExit would go back to the worker's loop, to wait for jobs forever
    raise SystemExit(SIGTERM_EXIT_STATUS)


def _write_record(cfg: DictConfig, status: str, started: float, **fields: Any) -> None:
    """The job's ``metrics.json`` when it did not complete: why, with its overrides and no objective."""
    from seqexp.reporting import write_metrics_file  # noqa: PLC0415 - Lightning: not before a single run's config pass

    record = {"status": status, **fields, "overrides": list(HydraConfig.get().overrides.task), "monitor": cfg.monitor.metric, "objective": None}
    write_metrics_file(cfg.paths.metrics_file, {**record, "wall_time_s": round(time.perf_counter() - started, 3)})


def _terminated(stop: SystemExit) -> bool:
    exceptions = sys.modules.get("lightning.pytorch.utilities.exceptions")  # imported by the run's Trainer, if it got that far
    return exceptions is not None and isinstance(stop, exceptions.SIGTERMException)


def _pruned(error: BaseException) -> bool:
    optuna = sys.modules.get("optuna")  # imported by the job's trial, if it has one
    return optuna is not None and isinstance(error, optuna.TrialPruned)


def search_callbacks(cfg: DictConfig) -> list:
    """In a job of the ``seqexp_optuna`` sweeper (which sets ``hydra.sweeper.trial``): the callback that reports
    ``monitor.metric`` to the job's trial after each validation and stops the job when ``hydra.sweeper.pruner`` says so."""
    sweeper = HydraConfig.get().sweeper if in_multirun() else None
    if sweeper is None or OmegaConf.select(sweeper, "trial", default=None) is None:
        return []
    from seqexp.callbacks import OptunaPruning  # noqa: PLC0415
    from seqexp.search import job_trial, storage_url  # noqa: PLC0415  (Optuna: only in a search)

    url = storage_url(sweeper.storage, HydraConfig.get().runtime.cwd)
    trial = job_trial(url, sweeper.study_name, sweeper.trial, instantiate(sweeper.pruner) if sweeper.pruner else None)
    if trial is None:
        log.warning(
            "trial %s: its study is in the memory of another process, so this job cannot report to it and is "
            "never pruned; set hydra.sweeper.storage (e.g. sqlite:///optuna.db) to prune jobs of a parallel launcher",
            sweeper.trial,
        )
        return []
    return [OptunaPruning(trial, cfg.monitor.metric)]
