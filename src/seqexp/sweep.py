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
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Callable

from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from seqexp.console import users_mistake
from seqexp.distributed import in_multirun, job_scope, joined_process_group

log = logging.getLogger(__name__)


def run_job(train: Callable[[DictConfig], float | None], cfg: DictConfig) -> float | None:
    """``train(cfg)``; in a multirun, a failure becomes a failed entry instead of the end of the sweep."""
    if not in_multirun():
        return train(cfg)
    started = time.perf_counter()
    with job_scope():
        try:
            return train(cfg)
        except Exception as error:
            from seqexp.reporting import write_metrics_file  # noqa: PLC0415 - Lightning: not before a single run's config pass

            job, overrides = HydraConfig.get().job.num, list(HydraConfig.get().overrides.task)
            if _pruned(error):  # the search stopped this trial early: not a failure
                log.info("job %s: trial %s", job, error)
                write_metrics_file(
                    cfg.paths.metrics_file,
                    {
                        "status": "pruned",
                        "reason": str(error),
                        "overrides": overrides,
                        "monitor": cfg.monitor.metric,
                        "objective": None,
                        "wall_time_s": round(time.perf_counter() - started, 3),
                    },
                )
                raise
            if users_mistake(error) is None:  # a bug: keep its traceback
                log.exception("job %s failed; overrides: %s", job, " ".join(overrides))
            else:
                log.error("job %s failed; overrides: %s\n%s", job, " ".join(overrides), error)
            write_metrics_file(
                cfg.paths.metrics_file,
                {
                    "status": "failed",
                    "error": f"{type(error).__name__}: {error}",
                    "overrides": overrides,
                    "monitor": cfg.monitor.metric,
                    "objective": None,
                    "wall_time_s": round(time.perf_counter() - started, 3),
                },
            )
            if cfg.get("fail_fast", False) or joined_process_group():
                # SystemExit passes through Hydra's per-job error capture: no further job starts.
                reason = "fail_fast=true" if cfg.get("fail_fast", False) else "its DDP ranks cannot be left behind"
                raise SystemExit(f"job {job} failed ({type(error).__name__}: {error}); sweep stopped: {reason}") from error
            return None


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
