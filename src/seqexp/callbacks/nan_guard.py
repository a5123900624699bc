"""Stop at the first non-finite training loss, and never write a checkpoint with NaN/inf weights.

Lightning's own tools catch this late or slowly: ``EarlyStopping(check_finite=True)`` looks only at
the validation metric, after the epoch's ``last.ckpt`` may already hold NaN weights, and
``Trainer(detect_anomaly=True)`` slows every backward pass (use it to find *where* a NaN starts).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or inf; the message names the step and the last good checkpoint."""


class NanGuard(L.Callback):
    """Stop when a ``training_step`` loss is NaN/inf; refuse to save non-finite weights.

    Each step records the first non-finite loss on the device (no host sync); the record is read
    every ``check_every_n_steps`` steps, at each epoch's last batch and before every checkpoint
    save, so no checkpoint is written after the first bad step and the message names that step.
    """

    def __init__(self, check_every_n_steps: int = 1) -> None:
        self.check_every_n_steps = max(check_every_n_steps, 1)
        self._first_bad: tuple[torch.Tensor, torch.Tensor] | None = None  # (global step or -1, loss)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        loss = loss.detach().float().mean()
        if self._first_bad is None:
            self._first_bad = (torch.tensor(-1, device=loss.device), torch.zeros((), device=loss.device))
        step, value = self._first_bad
        first = ~torch.isfinite(loss) & (step < 0)
        self._first_bad = (torch.where(first, trainer.global_step, step), torch.where(first, loss, value))
        if trainer.global_step % self.check_every_n_steps == 0 or trainer.is_last_batch:
            self._raise_if_bad(trainer)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        self._raise_if_bad(trainer)
        broken = [name for name, value in checkpoint["state_dict"].items()
                  if torch.is_floating_point(value) and not torch.isfinite(value).all()]
        if broken:
            raise NonFiniteLossError(
                f"refusing to save a checkpoint at global step {trainer.global_step}: non-finite weights in {broken[:5]}. "
                f"{self._last_good(trainer)}"
            )

    def _raise_if_bad(self, trainer: L.Trainer) -> None:
        if self._first_bad is None or (step := int(self._first_bad[0].item())) < 0:
            return
        raise NonFiniteLossError(
            f"training loss became {self._first_bad[1].item()} at global step {step}; stopped at global step "
            f"{trainer.global_step} (epoch {trainer.current_epoch}). {self._last_good(trainer)} "
            "Try a lower optim.lr or trainer.gradient_clip_val=1.0; trainer.detect_anomaly=true shows where it starts."
        )

    @staticmethod
    def _last_good(trainer: L.Trainer) -> str:
        saved = {Path(path) for callback in trainer.checkpoint_callbacks
                 for path in (getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", "")) if path}
        saved = [path for path in saved if path.is_file()]
        if not saved:
            return "No checkpoint had been saved yet."
        return f"Last good checkpoint (kept): {max(saved, key=lambda path: path.stat().st_mtime_ns)}."
