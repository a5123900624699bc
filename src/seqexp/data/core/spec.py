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

SPLITS = ("train", "val", "test")  # the splits every DataModule serves, in this order
InputKind = Literal["features", "tokens"]
TargetKind = Literal["per_step", "horizon", "class", "anomaly"]


@dataclass(frozen=True)
class DataSpec:
    input_kind: InputKind
    input_size: int  # features per step, or vocabulary size for tokens
    target_kind: TargetKind
    output_size: int  # values per step to predict, or number of classes
    horizon: int = 0  # steps ahead for target_kind="horizon"
    input_length: int = 0  # steps of every input window when all have the same length (0: lengths vary)
    padding_index: int | None = None  # token id of <pad>, for token inputs
    burn_in_steps: int = 0  # leading steps of each window left out of loss and metrics
    stateful: bool = False  # consecutive batches continue the same streams (carry hidden state)
    class_names: tuple[str, ...] = field(default_factory=tuple)
    target_features: tuple[int, ...] = ()  # horizon targets: which input features they are (empty: not inputs)
    chunks_per_batch: int = 1  # >1: each training batch holds this many consecutive stateful batches, (chunk, batch, ...)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for ``save_hyperparameters`` (checkpoints stay weights-only loadable)."""
        values = asdict(self)
        values["class_names"] = list(self.class_names)
        values["target_features"] = list(self.target_features)
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "DataSpec":
        return cls(**{**values, "class_names": tuple(values.get("class_names", ())), "target_features": tuple(values.get("target_features", ()))})


@dataclass(frozen=True)
class PredictionIndex:
    """What names the rows of a prediction file: a DataModule declares it for what its
    ``predict_dataloader`` serves (the test split, or new input), in plain values, so the task that
    lays out the rows (``SequenceTask.prediction_table``) never sees the DataModule.

    Position ``i`` of ``times``, ``values`` and ``texts`` is the ``i``-th step (series), point (anomaly)
    or case (classification) of what is served; a step's number in the whole series is ``first_step + i``.
    """

    truth: bool = True  # the batches carry the true targets or labels (new input may not)
    first_step: int = 0  # number of the first step served in the whole series (anomaly: the split's first point)
    times: tuple[str, ...] | None = None  # each step's time stamp; None when the data has no time column
    names: tuple[str, ...] = ()  # series: the target columns; anomaly: the value columns
    values: Any = None  # the steps or points served, as read (data's units, float64), one column per name: (steps, names)
    texts: tuple[str, ...] = ()  # text classification: the texts served
