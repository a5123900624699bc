"""Sends the task's figures to every TensorBoard logger, from rank 0 only."""

from __future__ import annotations

import gc

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger

from seqexp.allocator import release_freed_memory


class FigureLogger(L.Callback):
    """Logs ``task.figures(stage, index)`` after every ``every_n_epochs``-th validation epoch (and the last) and after testing; ``index``
    (the DataModule's ``split_index``) gives the steps, time stamps, column names and values in the data's units
    that a prediction file of the split shows, so the figure's axes read as the file does."""

    def __init__(self, every_n_epochs: int = 5) -> None:
        self.every_n_epochs = every_n_epochs

    def _log(self, trainer: L.Trainer, task: L.LightningModule, stage: str) -> None:
        writers = [logger.experiment for logger in trainer.loggers if isinstance(logger, TensorBoardLogger)]
        if not writers or not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        index = datamodule.split_index(stage) if datamodule is not None else None  # steps as prediction files name them
        for tag, figure in task.figures(stage, index).items():
            for writer in writers:
                writer.add_figure(tag, figure, global_step=trainer.global_step, close=False)
            import matplotlib.pyplot as plt

            plt.close(figure)
        gc.collect()  # drawing leaves reference cycles (a figure, frames that hold the split's arrays) until a full collection
        release_freed_memory()

    # *_end, not *_epoch_end: Lightning calls callbacks' epoch-end hooks before the task's own, and
    # tasks that summarise an epoch there (anomaly scores, confusion matrices) must have done so.
    def on_validation_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        if not trainer.sanity_checking and self.draws_after(trainer.current_epoch, trainer.max_epochs):
            self._log(trainer, task, "val")

    def draws_after(self, epoch: int, max_epochs: int | None) -> bool:
        """After epochs n-1, 2n-1, ... and the last: ``max_epochs / n`` figures at most, none of the untrained
        model after epoch 0 (unless n is 1), and no second figure a few epochs before the last one."""
        return (epoch + 1) % self.every_n_epochs == 0 or epoch + 1 >= (max_epochs or 0)

    def on_test_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        self._log(trainer, task, "test")
