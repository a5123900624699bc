"""Sequence classification: one label per sequence, from pooled encoder outputs.

Inputs are token ids (text: an embedding in front of the encoder) or real-valued features
(sensor series): whatever the data spec declares. Padded batches carry ``lengths``; the encoder
packs them and the pooling ignores padded steps, so a sequence's prediction does not depend on
what it is batched with.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Mapping

import torch
import torchmetrics
from torch import nn

from seqexp.checks import ConfigError, Range, check_arguments
from seqexp.data.core.spec import PredictionIndex
from seqexp.models.pooling import POOLINGS, AttentionPooling, pool_sequence
from seqexp.predictions import Columns
from seqexp.tasks.base import SequenceTask

STAGES = ("val", "test")
Pooling = Literal[POOLINGS]  # type: ignore[valid-type]
Share = Annotated[float, Range(ge=0, lt=1)]


class ClassificationTask(SequenceTask):
    """Cross-entropy (optional class weights, label smoothing); accuracy, macro-F1, per-class precision/recall."""

    progress_bar_metrics = ("acc",)

    def __init__(
        self,
        spec: dict,
        model: dict,
        optim: dict,
        scheduler: dict,
        embedding: dict | None = None,
        pooling: Pooling | list[Pooling] = "max",
        dropout: Share = 0.0,
        class_weights: list[float] | None = None,
        label_smoothing: Share = 0.0,
    ) -> None:
        check_arguments(type(self), "task", pooling=pooling, dropout=dropout, label_smoothing=label_smoothing)
        self.check_config({"task": {"pooling": pooling}})
        super().__init__(spec, model, optim, scheduler, embedding)
        classes = self.spec.output_size
        self.poolings = [pooling] if isinstance(pooling, str) else list(pooling)
        token_embedding = (embedding or {}) if self.spec.input_kind == "tokens" else {}
        self.word_dropout = token_embedding.get("word_dropout", 0.0)
        self._validate(self.poolings, dropout, self.word_dropout, class_weights, label_smoothing, classes)
        self.embedding_dropout = nn.Dropout(token_embedding.get("dropout", 0.0))
        self.attention = AttentionPooling(self.encoder_output_size) if "attention" in self.poolings else None
        pooled_size = self.encoder_output_size * len(self.poolings)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(pooled_size, classes))
        weight = torch.tensor(class_weights, dtype=torch.float) if class_weights is not None else None
        self.loss = nn.CrossEntropyLoss(weight=weight, label_smoothing=label_smoothing)
        self.class_names = list(self.spec.class_names) or [str(index) for index in range(classes)]
        self.metrics = nn.ModuleDict({stage: self._metric_collection(stage, classes) for stage in STAGES})
        self.train_metrics = torchmetrics.MetricCollection({"acc": torchmetrics.Accuracy(task="multiclass", num_classes=classes)}, prefix="train/")
        self.confusion = nn.ModuleDict({stage: torchmetrics.ConfusionMatrix(task="multiclass", num_classes=classes) for stage in STAGES})

    @classmethod
    def check_config(cls, cfg: Mapping[str, Any]) -> None:
        """``task.pooling``: a list names distinct methods (their outputs are concatenated)."""
        pooling = cfg["task"].get("pooling", "max")
        if isinstance(pooling, list) and (not pooling or len(set(pooling)) < len(pooling)):
            raise ConfigError(f"task.pooling={pooling!r}: must be one of {list(POOLINGS)}, or a list of distinct ones (concatenated)")

    def _validate(
        self, poolings: list[str], dropout: float, word_dropout: float, class_weights: list[float] | None, label_smoothing: float, classes: int
    ) -> None:
        if self.spec.target_kind != "class":
            raise ValueError(f"ClassificationTask needs class targets, the data declares {self.spec.target_kind!r}")
        if not 0 <= word_dropout < 1:
            raise ValueError(f"task.embedding.word_dropout={word_dropout!r}: must be a number in [0, 1)")
        if class_weights is not None and (len(class_weights) != classes or any(w < 0 for w in class_weights)):
            raise ValueError(f"task.class_weights={class_weights}: must be null or {classes} numbers >= 0, one per class {list(self.spec.class_names)}")

    @staticmethod
    def _metric_collection(stage: str, classes: int) -> torchmetrics.MetricCollection:
        return torchmetrics.MetricCollection(
            {
                "acc": torchmetrics.Accuracy(task="multiclass", num_classes=classes),
                "f1_macro": torchmetrics.F1Score(task="multiclass", num_classes=classes, average="macro"),
                "precision": torchmetrics.Precision(task="multiclass", num_classes=classes, average="none"),
                "recall": torchmetrics.Recall(task="multiclass", num_classes=classes, average="none"),
            },
            prefix=f"{stage}/",
        )

    def embed(self, inputs: torch.Tensor) -> torch.Tensor:
        embedded = self.embedding_dropout(super().embed(inputs))
        if self.training and self.word_dropout > 0:  # whole tokens dropped: their vectors become zeros, like <pad>'s
            embedded = embedded * (torch.rand(embedded.shape[:2], device=embedded.device) >= self.word_dropout).unsqueeze(-1)
        return embedded

    def forward(self, batch: dict[str, torch.Tensor], stage: str = "predict") -> torch.Tensor:
        """Class logits ``(batch, classes)``."""
        lengths = batch.get("lengths")
        outputs = self.encode(batch["inputs"], lengths, stage)  # (batch, time, encoder_output_size)
        pooled = [pool_sequence(outputs, lengths, method, self.num_directions, self.attention) for method in self.poolings]
        return self.head(pooled[0] if len(pooled) == 1 else torch.cat(pooled, dim=1))

    def compute_loss(self, batch: dict[str, torch.Tensor], outputs: torch.Tensor) -> torch.Tensor:
        return self.loss(outputs, batch["targets"])

    def update_metrics(self, stage: str, batch: dict[str, torch.Tensor], outputs: torch.Tensor, batch_idx: int) -> None:
        self.stage_metrics(stage).update(outputs, batch["targets"])
        if stage in self.confusion:
            self.confusion[stage].update(outputs, batch["targets"])

    def epoch_metrics(self, stage: str) -> dict[str, Any]:
        """Scalars for accuracy and macro-F1; per-class precision/recall as ``<stage>/precision/<class>``, nan
        where it cannot be computed (torchmetrics gives 0): recall of a class the split has no case of,
        precision of a class the model predicted for no case, each said once in the log."""
        undefined = self._undefined_per_class(stage)
        scalars = {}
        for name, value in super().epoch_metrics(stage).items():
            if value.ndim == 0:
                scalars[name] = value
                continue
            kind = name.rsplit("/", 1)[-1]
            value = value.float().masked_fill(undefined[kind], float("nan")) if kind in undefined else value
            scalars.update({f"{name}/{label}": value[index] for index, label in enumerate(self.class_names)})
        return scalars

    def _undefined_per_class(self, stage: str) -> dict[str, torch.Tensor]:
        """Per metric (``precision``, ``recall``), the classes where it is 0/0, from the epoch's confusion matrix."""
        if stage not in self.confusion or not self.confusion[stage].update_called:
            return {}
        matrix = self.confusion[stage].compute()  # rows: true class, columns: predicted class
        undefined = {"recall": matrix.sum(1) == 0, "precision": matrix.sum(0) == 0}
        reasons = {"recall": "has no case of", "precision": "has no case predicted as"}
        for kind, classes in undefined.items():
            names = [self.class_names[index] for index in classes.nonzero().flatten().tolist()]
            if names:
                self._warn_once(
                    stage,
                    f"{kind} {names}",
                    f"the {stage} split {reasons[kind]} {', '.join(map(repr, names))}: "
                    f"{', '.join(f'{stage}/{kind}/{name}' for name in names)} cannot be computed (logged as nan)",
                )
        return undefined

    def clear_epoch(self, stage: str) -> None:
        # At the start, not the end, of an epoch: FigureLogger draws the matrix after the epoch-end hooks.
        if stage in self.confusion:
            self.confusion[stage].reset()

    def predict_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The predicted class (the largest logit, as the accuracy metric takes it), class probabilities
        ``(batch, classes)`` and the batch's targets."""
        logits = self(batch, "predict").float()
        return {"class": logits.argmax(1), "probabilities": logits.softmax(1), "truth": batch["targets"]}

    def prediction_table(self, outputs: dict[str, torch.Tensor], index: PredictionIndex) -> Columns:
        """One row per case: ``id`` (its number in what was served: the test split or the input), the
        ``text`` for text data, the predicted ``label``, the ``probabilities`` of the classes (columns
        ``p_<class>`` in a CSV file) and the true label (``truth``, when known): the share of rows
        where label equals truth is the logged accuracy."""
        predicted = outputs["class"]
        columns: Columns = {"id": torch.arange(len(predicted))}
        if index.texts:
            columns["text"] = list(index.texts[: len(predicted)])  # fewer rows only when prediction was cut short
        columns["label"] = [self.class_names[k] for k in predicted.tolist()]
        columns["probabilities"] = {name: outputs["probabilities"][:, k] for k, name in enumerate(self.class_names)}  # p_<class>
        if index.truth:
            columns["truth"] = [self.class_names[k] for k in outputs["truth"].tolist()]
        return columns

    def figures(self, stage: str, index: PredictionIndex | None = None) -> dict[str, Any]:
        """Confusion matrix of the epoch that just ended (reset when the next one starts)."""
        if stage not in self.confusion or not self.confusion[stage].update_called:
            return {}
        from seqexp.plotting import confusion_matrix_figure

        matrix = self.confusion[stage].compute().cpu().numpy()
        title = self.figure_title(stage, "confusion matrix")
        return {f"{stage}/confusion_matrix": confusion_matrix_figure(matrix, self.class_names, title)}
