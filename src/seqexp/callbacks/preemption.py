"""Save ``last.ckpt`` when the run is told to stop with SIGTERM (what SLURM sends before preemption).

Lightning already catches SIGTERM: it finishes the current batch, then raises ``SIGTERMException``
(a ``SystemExit``), which ends the run with exit status 0 and no traceback. It saves nothing by
itself outside SLURM auto-requeue, and ``ModelCheckpoint(save_on_exception=True)`` would also save
after a NaN loss; this callback saves on SIGTERM only.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)


class SaveOnSigterm(L.Callback):
    def __init__(self, dirpath: str, filename: str = "last") -> None:
        self.path = Path(dirpath) / f"{filename}.ckpt"

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        fitting = trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking and not trainer.fast_dev_run
        if not isinstance(exception, SIGTERMException) or not fitting:
            return  # nothing to save outside training (a test or predict run just stops)
        trainer.save_checkpoint(self.path)
        log.warning(f"SIGTERM at global step {trainer.global_step}: saved {self.path}; resume with ckpt_path={self.path}")
