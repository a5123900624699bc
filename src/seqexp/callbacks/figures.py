"""Sends the task's figures to every TensorBoard logger, from rank 0 only.

A figure set costs about 0.1 s (drawing, then rendering the PNG TensorBoard stores): in a fit of a few
seconds, one set every few epochs was a third of the fit. Between the first and the last validation it is
drawn only when ``min_interval_s`` seconds have passed since the last one, so a short fit draws once (after
its last validation) and a long one on its epoch schedule as before.
"""

from __future__ import annotations

import gc
import time
from typing import Annotated

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger

from seqexp.allocator import release_freed_memory
from seqexp.checks import Range, check_arguments


class FigureLogger(L.Callback):
    """Logs ``task.figures(stage, index)`` after every ``every_n_epochs``-th validation epoch once ``min_interval_s``
    seconds have passed since the last figures (or the start of training), after the fit's last validation (the
    last epoch, early stopping, ``max_steps``) and after testing; ``index`` (the DataModule's ``split_index``) gives
    the steps, time stamps, column names and values in the data's units that a prediction file of the split shows,
    so the figure's axes read as the file does."""

    def __init__(self, every_n_epochs: int = 5, min_interval_s: Annotated[float, Range(ge=0)] = 0.0) -> None:
        check_arguments(type(self), "callbacks.figures", min_interval_s=min_interval_s)
        self.every_n_epochs = every_n_epochs
        self.min_interval_s = min_interval_s
        self._drawn_at = float("-inf")  # time.monotonic() when the last figures were logged
        self._froze = False  # whether setup froze the objects alive then (see setup)

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
        self._drawn_at = time.monotonic()

    # A full collection scans every object the process holds (400,000 once torch and Lightning are imported: 0.1-0.2 s
    # each); the ones that exist when a stage starts (modules, the model, the data) are set aside for its duration,
    # so a collection after drawing scans what the stage made since (the drawing's cycles among them). A process that
    # froze objects itself keeps them frozen: gc.unfreeze() cannot tell its objects from ours, so nothing is frozen here.
    def setup(self, trainer: L.Trainer, task: L.LightningModule, stage: str) -> None:
        self._froze = gc.get_freeze_count() == 0
        if self._froze:
            gc.freeze()

    def teardown(self, trainer: L.Trainer, task: L.LightningModule, stage: str) -> None:
        self._unfreeze()  # collectable again: a process that fits several times frees each fit's objects

    def on_exception(self, trainer: L.Trainer, task: L.LightningModule, exception: BaseException) -> None:
        self._unfreeze()  # Lightning skips teardown when a stage fails

    def _unfreeze(self) -> None:
        if self._froze:
            gc.unfreeze()
            self._froze = False

    def on_train_start(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        self._drawn_at = time.monotonic()  # the interval counts from the start of training

    # *_end, not *_epoch_end: Lightning calls callbacks' epoch-end hooks before the task's own, and
    # tasks that summarise an epoch there (anomaly scores, confusion matrices) must have done so.
    def on_validation_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        due = time.monotonic() - self._drawn_at >= self.min_interval_s
        if (self.draws_after(trainer.current_epoch, trainer.max_epochs) and due) or self.last_validation(trainer):
            self._log(trainer, task, "val")

    def draws_after(self, epoch: int, max_epochs: int | None) -> bool:
        """After epochs n-1, 2n-1, ... and the last: ``max_epochs / n`` figures at most, none of the untrained
        model after epoch 0 (unless n is 1), and no second figure a few epochs before the last one."""
        return (epoch + 1) % self.every_n_epochs == 0 or epoch + 1 >= (max_epochs or 0)

    @staticmethod
    def last_validation(trainer: L.Trainer) -> bool:
        """The fit's last validation, whatever ends it: its last epoch, ``max_steps``, or a stop that a callback
        called for at this validation (early stopping comes before this callback in ``callbacks``)."""
        last_epoch = trainer.max_epochs is not None and trainer.max_epochs >= 0 and trainer.current_epoch + 1 >= trainer.max_epochs
        return last_epoch or trainer.should_stop or 0 <= trainer.max_steps <= trainer.global_step

    def on_test_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        self._log(trainer, task, "test")
