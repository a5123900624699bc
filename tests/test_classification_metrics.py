"""Per-class precision and recall of the classification task against scikit-learn, where a class has no case in
the split or none predicted (0/0: nan with the reason in the log, not torchmetrics' 0)."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from seqexp.tasks.classification import ClassificationTask

CLASSES = ["neg", "meh", "pos", "rare"]


def task() -> ClassificationTask:
    spec = {"input_kind": "features", "input_size": 3, "target_kind": "class", "output_size": 4, "class_names": CLASSES}
    model = {"cell": "gru", "hidden_size": 4, "num_layers": 1, "bidirectional": False, "dropout": 0.0, "conv": {"layers": 0}}
    return ClassificationTask(spec, model, {"name": "adam", "lr": 1e-3}, {"name": "none"})


def test_per_class_precision_and_recall_match_scikit_learn_with_empty_classes(caplog: pytest.LogCaptureFixture) -> None:
    metrics = pytest.importorskip("sklearn.metrics")
    truth = torch.tensor([0, 0, 1, 1, 1, 2, 2, 0])  # no case of "rare"
    predicted = torch.tensor([0, 1, 1, 1, 0, 0, 0, 0])  # nothing predicted as "pos" or "rare"
    logits = torch.nn.functional.one_hot(predicted, 4).float() * 5.0
    classification = task()
    for start in (0, 4):  # two batches
        classification.update_metrics("val", {"targets": truth[start : start + 4]}, logits[start : start + 4], 0)
    with caplog.at_level(logging.WARNING, logger="seqexp.tasks.classification"):
        values = {name: float(value) for name, value in classification.epoch_metrics("val").items()}
    precision, recall, _, _ = metrics.precision_recall_fscore_support(truth, predicted, labels=range(4), zero_division=np.nan)
    for index, name in enumerate(CLASSES):
        for kind, expected in (("precision", precision[index]), ("recall", recall[index])):
            got = values[f"val/{kind}/{name}"]
            assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected), (kind, name, got, expected)
    assert math.isnan(values["val/recall/rare"]) and math.isnan(values["val/precision/pos"]) and values["val/recall/pos"] == 0.0
    assert values["val/f1_macro"] == pytest.approx(metrics.f1_score(truth, predicted, average="macro"))  # over the classes present
    messages = [record.getMessage() for record in caplog.records]
    assert any("has no case of 'rare'" in message and "val/recall/rare" in message for message in messages)
    assert any("no case predicted as 'pos', 'rare'" in message and "val/precision/pos" in message for message in messages)
