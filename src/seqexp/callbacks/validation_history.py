"""Each validation's ``val/*`` figures by global step, so a run reports those of the weights it tested.

The metrics Lightning holds after fit are the last validation's; the tested weights are the best
checkpoint's, often epochs earlier. An anomaly run showed ``val/threshold=11.94`` (last epoch) beside
``test/threshold=9.02`` (the best checkpoint's, the one applied). The record goes into checkpoints, so a
resumed run still knows the figures of epochs before the resume, as one JSON string: ``torch.save`` calls a
Python hook per object it pickles, and as a dict the record cost a millisecond of every save after 300
validations.
"""

from __future__ import annotations

import json
from typing import Any

import lightning as L
import torch


class ValidationHistory(L.Callback):
    def __init__(self) -> None:
        self.by_step: dict[int, dict[str, float]] = {}

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        self.by_step[trainer.global_step] = {
            name: float(value) for name, value in trainer.callback_metrics.items() if name.startswith("val/") and torch.as_tensor(value).numel() == 1
        }

    def at_step(self, step: int | None) -> tuple[int, dict[str, float]] | None:
        """The figures of the validation at ``step`` (None: the newest), with its step; None when there is none."""
        if not self.by_step:
            return None
        step = max(self.by_step) if step is None else step
        return (step, self.by_step[step]) if step in self.by_step else None

    def state_dict(self) -> dict[str, Any]:
        return {"by_step_json": json.dumps(self.by_step)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if "by_step_json" in state_dict:  # JSON keys are strings
            self.by_step = {int(step): figures for step, figures in json.loads(state_dict["by_step_json"]).items()}
        else:  # checkpoints written before the JSON form
            self.by_step = dict(state_dict.get("by_step", {}))
