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
    """Raise on a non-finite ``training_step`` loss; refuse to save non-finite weights.

    Lightning runs checkpoint callbacks after all others, so the raise in ``on_train_batch_end``
    comes before any ``ModelCheckpoint`` of that step could save the broken weights.
    """

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = outputs["loss"] if isinstance(outputs, dict) else outputs
        if loss is None or torch.isfinite(loss).all():
            return
        raise NonFiniteLossError(
            f"training loss became {loss.item()} at global step {trainer.global_step} "
            f"(epoch {trainer.current_epoch}, batch {batch_idx}); stopped. {self._last_good(trainer)} "
            "Try a lower optim.lr or trainer.gradient_clip_val=1.0; trainer.detect_anomaly=true shows where it starts."
        )

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        broken = [name for name, value in checkpoint["state_dict"].items()
                  if torch.is_floating_point(value) and not torch.isfinite(value).all()]
        if broken:
            raise NonFiniteLossError(
                f"refusing to save a checkpoint at global step {trainer.global_step}: non-finite weights in {broken[:5]}. "
                f"{self._last_good(trainer)}"
            )

    @staticmethod
    def _last_good(trainer: L.Trainer) -> str:
        saved = {Path(path) for callback in trainer.checkpoint_callbacks
                 for path in (getattr(callback, "last_model_path", ""), getattr(callback, "best_model_path", "")) if path}
        saved = [path for path in saved if path.is_file()]
        if not saved:
            return "No checkpoint was saved before this step."
        return f"Last good checkpoint (kept): {max(saved, key=lambda path: path.stat().st_mtime_ns)}."
