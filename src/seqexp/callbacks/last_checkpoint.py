"""``last.ckpt`` holds the newest weights: every N optimizer steps, after every epoch, and at the end of fit.

Lightning's ``ModelCheckpoint(save_last=True)`` refreshes ``last.ckpt`` at an epoch's end only when it also
saved a top-k checkpoint there, and its step trigger fires only every N steps: a run whose last epochs did
not improve ended with a ``last.ckpt`` from the middle of an earlier epoch, and ``seqexp.eval`` on it tested
old weights. This callback owns ``last.ckpt`` and writes it whenever the weights it holds are stale.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint


class LastCheckpoint(ModelCheckpoint):
    """``<dirpath>/last.ckpt`` every ``every_n_train_steps`` steps (a kill loses at most that many), after each
    epoch's validation, early stopping and best checkpoint (so a resume restores their state too), and when
    fit ends anywhere else (``trainer.max_steps`` or early stopping mid-epoch)."""

    def __init__(self, dirpath: str, every_n_train_steps: int = 100) -> None:
        super().__init__(dirpath=dirpath, monitor=None, save_top_k=0, save_last=True,
                         every_n_train_steps=every_n_train_steps, enable_version_counter=False)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """Nothing here: the epoch's end (below) saves after every callback has seen this validation."""

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save_last_unless_current(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save_last_unless_current(trainer)

    def _save_last_unless_current(self, trainer: L.Trainer) -> None:
        if not self._should_skip_saving_checkpoint(trainer):  # skips when this global step is saved already
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
