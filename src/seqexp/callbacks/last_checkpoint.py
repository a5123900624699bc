"""``last.ckpt`` holds the newest weights: every N optimizer steps, at epoch ends at most every few seconds, and at
the end of fit.

Lightning's ``ModelCheckpoint(save_last=True)`` refreshes ``last.ckpt`` at an epoch's end only when it also
saved a top-k checkpoint there, and its step trigger fires only every N steps: a run whose last epochs did
not improve ended with a ``last.ckpt`` from the middle of an earlier epoch, and ``seqexp.eval`` on it tested
old weights. This callback owns ``last.ckpt`` and writes it whenever the weights it holds are stale. Saving after
every epoch cost a short run (hundreds of 2-step epochs) a save per epoch, so epoch ends save only once
``min_interval_s`` seconds have passed since the last save; the step trigger and the end of fit are unchanged.
When the best checkpoint was saved at the same global step (after the validation that ended the epoch, once
early stopping and every other callback had seen it), ``last.ckpt`` is a copy of that file: the same state,
without serializing it a second time (about 2 ms of a small model's save; on a short run, most epochs improve).
A save is current only while no validation and no other checkpoint's save at its step came after it: the step
trigger fires on a batch before the validation that follows it, and that file's best checkpoint (since replaced
and deleted) and early stopping were out of date, so a resume from it failed.
"""

from __future__ import annotations

import os
import shutil
import time
from typing import Annotated
from weakref import proxy

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.trainer.states import TrainerFn

from seqexp.checks import Range, check_arguments
from seqexp.lightning_internals import full_checkpoint_saved_at


class LastCheckpoint(ModelCheckpoint):
    """``<dirpath>/last.ckpt`` every ``every_n_train_steps`` steps (a kill loses at most that many), at an epoch's
    end (after its validation, early stopping and best checkpoint, so a resume restores their state too) when
    ``min_interval_s`` seconds or more have passed since the last save (0: after every epoch), and when fit ends,
    wherever it ends (``trainer.max_steps`` or early stopping mid-epoch)."""

    def __init__(self, dirpath: str, every_n_train_steps: int = 100, min_interval_s: Annotated[float, Range(ge=0)] = 0.0) -> None:
        check_arguments(type(self), "callbacks.last_every_n_steps", min_interval_s=min_interval_s)
        super().__init__(dirpath=dirpath, monitor=None, save_top_k=0, save_last=True, every_n_train_steps=every_n_train_steps, enable_version_counter=False)
        self.min_interval_s = min_interval_s
        self._saved_at = float("-inf")  # time.monotonic() of the last save
        self._validated_since_save = False  # a validation of this fit (not the sanity check) came after the last write
        self._copied_from: str | None = None  # the checkpoint that write copied (None: a save of its own)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        self._saved_at = time.monotonic()  # the interval counts from the start of training

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        """A last.ckpt of this step, written before this validation, is written again (a kill mid-epoch then resumes
        from this validation's state); otherwise the epoch's end (below) saves, after every callback has seen it."""
        if not self._fit_saves_nothing_now(trainer):
            self._validated_since_save = True
            if self._last_global_step_saved == trainer.global_step:
                self._save_last_unless_current(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if time.monotonic() - self._saved_at >= self.min_interval_s or self._last_global_step_saved == trainer.global_step:
            self._save_last_unless_current(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save_last_unless_current(trainer)

    def _save_last_checkpoint(self, trainer: L.Trainer, monitor_candidates: dict) -> None:
        # every save: step trigger, epoch end, end of fit
        same_step = self._same_step_checkpoint(trainer)
        if same_step:
            self._copy_as_last(trainer, same_step, self.format_checkpoint_name(monitor_candidates, self.CHECKPOINT_NAME_LAST))
        else:
            super()._save_last_checkpoint(trainer, monitor_candidates)
        self._saved_at, self._validated_since_save, self._copied_from = time.monotonic(), False, same_step

    def _copy_as_last(self, trainer: L.Trainer, source: str, filepath: str) -> None:
        """What Lightning's save of ``last.ckpt`` does (path, step, loggers told, ranks in step), with a copy of ``source``
        for the write: into a temporary file beside it, renamed over the old one (a kill leaves one whole file)."""
        if trainer.is_global_zero:
            temporary = f"{filepath}.{os.getpid()}.tmp"
            shutil.copyfile(source, temporary)
            os.replace(temporary, filepath)
        self.last_model_path = self._last_checkpoint_saved = filepath
        self._last_global_step_saved = trainer.global_step
        if trainer.is_global_zero:
            for logger in trainer.loggers:
                logger.after_save_checkpoint(proxy(self))
        trainer.strategy.barrier()

    def _monitor_candidates(self, trainer: L.Trainer) -> dict[str, torch.Tensor]:
        """What ``last.ckpt``'s name may hold: epoch and step. Lightning's candidates deep-copy every logged value too,
        twice an epoch here, for a name that uses none of them."""
        return {"epoch": torch.tensor(trainer.current_epoch), "step": torch.tensor(trainer.global_step)}

    def _same_step_checkpoint(self, trainer: L.Trainer) -> str | None:
        """The file another checkpoint callback saved at this global step with the whole training state, if any."""
        others = (callback for callback in trainer.checkpoint_callbacks if callback is not self)
        return next((path for callback in others if (path := full_checkpoint_saved_at(callback, trainer.global_step))), None)

    @staticmethod
    def _fit_saves_nothing_now(trainer: L.Trainer) -> bool:
        """Lightning's reasons to save no checkpoint, a step saved already aside: fast_dev_run, not fitting, sanity check."""
        return bool(trainer.fast_dev_run) or trainer.state.fn != TrainerFn.FITTING or trainer.sanity_checking

    def _save_last_unless_current(self, trainer: L.Trainer) -> None:
        current = (
            self._last_global_step_saved == trainer.global_step
            and not self._validated_since_save
            and self._same_step_checkpoint(trainer) == self._copied_from  # no best saved since (or the one copied)
        )
        if not current and not self._fit_saves_nothing_now(trainer):
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))
