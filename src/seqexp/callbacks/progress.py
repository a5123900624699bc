"""Lightning's rich progress bar, brought up to date every few batches instead of every batch."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import RichProgressBar


class ProgressBar(RichProgressBar):
    """``RichProgressBar`` that updates its bars and metrics every ``every_n_batches`` batches and at the last.

    Lightning's ``refresh_rate`` only caps redraws per second; the bookkeeping that the rich bar
    does after every batch (reading every progress-bar metric out of the logged results, updating
    its tasks) costs about as much as a whole training step of a small RNN on a CPU.
    """

    def __init__(self, every_n_batches: int = 10, refresh_rate: int = 10, leave: bool = False, **kwargs: Any) -> None:
        if not isinstance(every_n_batches, int) or every_n_batches < 1:
            raise ValueError(f"callbacks.progress_bar.every_n_batches={every_n_batches!r}: must be an integer >= 1")
        super().__init__(refresh_rate=refresh_rate, leave=leave, **kwargs)
        self.every_n_batches = every_n_batches

    def _due(self, batch_idx: int, total: float) -> bool:
        done = batch_idx + 1
        return done == 1 or done % self.every_n_batches == 0 or done >= total  # the first one starts the it/s clock

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._due(batch_idx, self.total_train_batches):
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)

    def on_validation_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if self._due(batch_idx, self.total_val_batches_current_dataloader):
            super().on_validation_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)

    def on_test_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if self._due(batch_idx, self.total_test_batches_current_dataloader):
            super().on_test_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)

    def on_predict_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None:
        if self._due(batch_idx, self.total_predict_batches_current_dataloader):
            super().on_predict_batch_end(trainer, pl_module, outputs, batch, batch_idx, dataloader_idx)
