"""Report every validation to an Optuna trial, and stop the run when the study's pruner says so.

Optuna's pruners compare a trial's value at a step with other trials' values at the same step; the step here
is the validation's index (0, 1, ...: the epoch, when validation runs once an epoch). The trial comes from the
search (``seqexp.search.job_trial``); this callback knows nothing of Hydra.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import lightning as L

log = logging.getLogger(__name__)


class OptunaPruning(L.Callback):
    """After each validation run, ``trial.report(<monitor>, step)``; when ``trial.should_prune()``, raise
    ``optuna.TrialPruned`` (the job records ``status: pruned``, the sweeper tells the study the trial was pruned).
    Under DDP it only reports (rank 0): every rank would have to stop at the same validation."""

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial, self.monitor, self.validations = trial, monitor, 0

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        step, self.validations = self.validations, self.validations + 1
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        value = float(value)
        self.trial.report(value if math.isfinite(value) else float("nan"), step)
        if trainer.world_size == 1 and self.trial.should_prune():
            import optuna  # noqa: PLC0415  (only a search has a trial)

            raise optuna.TrialPruned(f"pruned at validation {step} (epoch {trainer.current_epoch}, step {trainer.global_step}): {self.monitor}={value:.4g}")
