"""A training budget sized to the data (``data.budget`` of ``data=series``): epochs with a floor in optimizer steps.

Real series differ 100-fold in length: airline has 66 training windows (2 batches of 64 an epoch),
Seattle's hourly temperatures 6,036 (95 batches). A budget in epochs gives the short ones a few dozen
updates and an early-stopping patience of a few steps; a fixed number of steps makes a yearly series run
thousands of one-step epochs, validated rarely, past the early optimum that small data has. This budget:

    steps per epoch   = ceil(training batches / trainer.accumulate_grad_batches)
    trainer.max_epochs = max(epochs, ceil(min_steps / steps per epoch))
    validation         every epoch (trainer.check_val_every_n_epoch=1, val_check_interval=null, max_steps=-1)
    callbacks.early_stopping.patience = ceil(patience * trainer.max_epochs) validation runs
    callbacks.figures.every_n_epochs  = ceil(trainer.max_epochs / figures)

so a long series trains ``epochs`` passes, a short one at least ``min_steps`` updates, both validated
after every pass (cheap on short data, where the best weights can come after a handful of steps), and
early stopping waits the same share of the budget whatever the series' length; the validation figures
stay as few as in a long series' run (a figure costs more than a one-step epoch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from seqexp.data.core.errors import DataError

# The Trainer keys a budget sets; one of them typed on the command line (or a debug= option) wins over the whole budget.
TRAINER_KEYS = ("max_epochs", "max_steps", "val_check_interval", "check_val_every_n_epoch")


@dataclass(frozen=True)
class StepBudget:
    epochs: int  # passes over the training windows ...
    min_steps: int  # ... but at least this many optimizer steps
    patience: float  # share of the budget's validation runs without a better monitored value before early stopping
    figures: int  # validation figures over the budget, at most

    @classmethod
    def from_config(cls, values: dict[str, Any] | None, key: str = "data.budget") -> "StepBudget | None":
        """``None`` (no budget: the trainer's own) or the four keys, checked naming the key."""
        if values is None:
            return None
        values = dict(values)
        if set(values) != {"epochs", "min_steps", "patience", "figures"}:
            raise DataError(f"{key}={values}: needs exactly epochs, min_steps, patience and figures (or null: the trainer's own budget)")
        for name in ("epochs", "min_steps", "figures"):
            if not isinstance(values[name], int) or isinstance(values[name], bool) or values[name] < 1:
                raise DataError(f"{key}.{name}={values[name]!r}: must be an integer >= 1")
        if not isinstance(values["patience"], (int, float)) or isinstance(values["patience"], bool) or not 0 < values["patience"] <= 1:
            raise DataError(f"{key}.patience={values['patience']!r}: must be a number in (0, 1] (a share of the budget)")
        return cls(**values)

    def trainer_settings(self, batches_per_epoch: int, accumulate_grad_batches: int = 1) -> dict[str, Any]:
        """Trainer keyword arguments for data of ``batches_per_epoch`` training batches (see the module docstring)."""
        steps_per_epoch = math.ceil(max(batches_per_epoch, 1) / accumulate_grad_batches)
        epochs = max(self.epochs, math.ceil(self.min_steps / steps_per_epoch))
        return {"max_epochs": epochs, "max_steps": -1, "val_check_interval": None, "check_val_every_n_epoch": 1}

    def callback_settings(self, max_epochs: int) -> dict[str, int]:
        """Early stopping's patience in validation runs (one an epoch) and the figures' spacing in epochs, for a
        budget of ``max_epochs``."""
        return {
            "early_stopping.patience": max(1, math.ceil(self.patience * max_epochs)),
            "figures.every_n_epochs": max(1, math.ceil(max_epochs / self.figures)),
        }
