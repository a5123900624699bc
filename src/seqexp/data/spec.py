"""What a DataModule declares to the task, so that any model can meet any data.

A DataModule never imports a model and a model never imports a DataModule; the task reads
this spec (plain values, safe to store in a checkpoint) and builds the input layer and head.

Batches are dicts of tensors, batch-first:
    "inputs":  (batch, time, input_size) float features, or (batch, time) long token ids
    "targets": (batch, time, output_size) per-step values, (batch, horizon, output_size)
               forecasts, (batch,) class ids, or (batch, time) anomaly labels
    "lengths": (batch,) valid steps per sequence, on the CPU (only for padded batches)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

InputKind = Literal["features", "tokens"]
TargetKind = Literal["per_step", "horizon", "class", "anomaly"]


@dataclass(frozen=True)
class DataSpec:
    input_kind: InputKind
    input_size: int  # features per step, or vocabulary size for tokens
    target_kind: TargetKind
    output_size: int  # values per step to predict, or number of classes
    horizon: int = 0  # steps ahead for target_kind="horizon"
    padding_index: int | None = None  # token id of <pad>, for token inputs
    burn_in_steps: int = 0  # leading steps of each window left out of loss and metrics
    stateful: bool = False  # consecutive batches continue the same streams (carry hidden state)
    class_names: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``save_hyperparameters`` (checkpoints stay weights-only loadable)."""
        values = asdict(self)
        values["class_names"] = list(self.class_names)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DataSpec":
        return cls(**{**values, "class_names": tuple(values.get("class_names", ()))})
