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

    Each step only keeps a detached reference to its loss (no device op, no host sync); the kept
    losses are checked together every ``check_every_n_steps`` steps, at each epoch's last batch and
    before every checkpoint save, so no checkpoint is written after the first bad step and the
    message names that step.
    """

    def __init__(self, check_every_n_steps: int = 1) -> None:
        self.check_every_n_steps = max(check_every_n_steps, 1)
        self._losses: list[torch.Tensor] = []  # unchecked training losses ...
        self._steps: list[int] = []  # ... and the global step after each
        self._failure: str | None = None  # once a bad loss is seen, every later check fails with it

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None:
            return
        self._losses.append(loss.detach())
        self._steps.append(trainer.global_step)
        if len(self._losses) >= self.check_every_n_steps or trainer.is_last_batch:
            self._raise_if_bad(trainer)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        self._raise_if_bad(trainer)
        broken = [name for name, value in checkpoint["state_dict"].items() if torch.is_floating_point(value) and not torch.isfinite(value).all()]
        if broken:
            raise NonFiniteLossError(
                f"refusing to save a checkpoint at global step {trainer.global_step}: non-finite weights in {broken[:5]}. {self._last_good(trainer)}"
            )

    def _raise_if_bad(self, trainer: L.Trainer) -> None:
        if self._failure is None and self._losses:
            losses, steps = torch.stack([loss.float().mean() for loss in self._losses]), self._steps
            self._losses, self._steps = [], []
            bad = (~torch.isfinite(losses)).nonzero()
            if len(bad):
                first = int(bad[0, 0])
                self._failure = f"training loss became {losses[first].item()} at global step {steps[first]}"
        if self._failure is not None:
            raise NonFiniteLossError(
                f"{self._failure}; stopped at global step {trainer.global_step} (epoch {trainer.current_epoch}). "
                f"{self._last_good(trainer)} "
                "Try a lower optim.lr or trainer.gradient_clip_val=1.0; trainer.detect_anomaly=true shows where it starts."
            )

    @staticmethod
    def _last_good(trainer: L.Trainer) -> str:
        saved = {
            Path(path)
            for callback in trainer.checkpoint_callbacks
            for path in (getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", ""))
            if path
        }
        saved = [path for path in saved if path.is_file()]
        if not saved:
            return "No checkpoint had been saved yet."
        return f"Last good checkpoint (kept): {max(saved, key=lambda path: path.stat().st_mtime_ns)}."
