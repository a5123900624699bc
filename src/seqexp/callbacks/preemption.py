"""Save ``last.ckpt`` when the run is told to stop with SIGTERM (what SLURM sends before preemption).

Lightning already catches SIGTERM while a stage runs: it finishes the current batch, then raises
``SIGTERMException`` (a ``SystemExit``; ``seqexp.sweep.run_job`` turns it into exit status 143 and
``metrics.json`` ``status: interrupted``). It saves nothing by itself outside SLURM auto-requeue, and
``ModelCheckpoint(save_on_exception=True)`` would also save after a NaN loss; this callback saves on SIGTERM only.

Lightning only looks at the signal between batches that are not a stage's last: a SIGTERM during the last
batch of test, during predict or in the end-of-fit hooks is recorded (``trainer.received_sigterm``) and then
forgotten when the next stage starts, so the run would complete and a sweep would start its next job.
The ``teardown`` hook runs once Lightning has put the previous handler back (a SIGTERM after that ends the
process at once), so it is where the stage raises what Lightning left unraised.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities.exceptions import SIGTERMException

log = logging.getLogger(__name__)


class StopOnSigterm(L.Callback):
    """Raise the ``SIGTERMException`` Lightning recorded but left unraised, once the stage is over (eval and predict
    use it alone: they save nothing)."""

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if trainer.received_sigterm:  # caught where Lightning's loops no longer look: stop here, as they would have
            raise SIGTERMException


class SaveOnSigterm(StopOnSigterm):
    def __init__(self, dirpath: str, filename: str = "last") -> None:
        self.path = Path(dirpath) / f"{filename}.ckpt"

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        fitting = trainer.state.fn == TrainerFn.FITTING and not trainer.sanity_checking and not trainer.fast_dev_run
        if not isinstance(exception, SIGTERMException) or not fitting:
            return  # nothing to save outside training (a test or predict run just stops)
        trainer.save_checkpoint(self.path, weights_only=False)  # the whole training state (None: the same, with an info line)
        log.warning(f"SIGTERM at global step {trainer.global_step}: saved {self.path}; resume with ckpt_path={self.path}")
