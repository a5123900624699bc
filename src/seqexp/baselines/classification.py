"""Baselines of sequence classification, scored like ``ClassificationTask``: accuracy and macro-F1.

majority_class  the train split's most frequent class for every case: what accuracy means nothing below
1nn_euclidean   the label of the nearest train case by Euclidean distance (cases of one length; the
                archive's first reference classifier, Dau et al. 2019)
1nn_dtw         the same by dynamic time warping (full window, dependent DTW over channels; when asked: it
                costs cases^2 x length^2)
"""

from __future__ import annotations

import torch
import torchmetrics

from seqexp.baselines.inputs import CaseClassificationInputs
from seqexp.baselines.outcome import Figures, Outcome, collection_figures

SPLITS = ("val", "test")


def classification_figures(predicted: torch.Tensor, labels: torch.Tensor, classes: int, split: str) -> Figures:
    """Accuracy and macro-F1 of ``predicted`` class ids, by the task's own torchmetrics."""
    metrics = torchmetrics.MetricCollection(
        {
            "acc": torchmetrics.Accuracy(task="multiclass", num_classes=classes),
            "f1_macro": torchmetrics.F1Score(task="multiclass", num_classes=classes, average="macro"),
        }
    )
    metrics.update(predicted, labels)
    return collection_figures(metrics, split)


def majority_class(train_labels: torch.Tensor, classes: int) -> int:
    """The most frequent class id of ``train_labels`` (the lowest id on a tie)."""
    return int(torch.bincount(train_labels, minlength=classes).argmax())


def majority_figures(labels: dict[str, torch.Tensor], classes: int, splits: list[str]) -> Figures:
    """The figures of predicting the train split's majority class for every case of ``splits``."""
    majority = majority_class(labels["train"], classes)
    return {
        key: value for split in splits for key, value in classification_figures(torch.full_like(labels[split], majority), labels[split], classes, split).items()
    }


def pad_cases(series: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cases ``(time_i, channels)`` as one zero-padded ``(cases, time, channels)`` tensor and their lengths."""
    lengths = torch.tensor([len(case) for case in series])
    return torch.nn.utils.rnn.pad_sequence(series, batch_first=True), lengths


def euclidean_distances(queries: list[torch.Tensor], references: list[torch.Tensor]) -> torch.Tensor:
    """``(queries, references)`` Euclidean distances between cases of one length."""
    return torch.cdist(torch.stack(queries).flatten(1).double(), torch.stack(references).flatten(1).double())


def dtw_distances(queries: list[torch.Tensor], references: list[torch.Tensor]) -> torch.Tensor:
    """``(queries, references)`` DTW distances (squared Euclidean step cost, full window); every pair at once,
    one step of the query at a time."""
    a, a_lengths = pad_cases(queries)  # (Q, Ta, C)
    b, b_lengths = pad_cases(references)  # (R, Tb, C)
    a, b = a.double(), b.double()
    result = torch.empty(len(queries), len(references), dtype=torch.float64)
    end_columns = (b_lengths - 1).view(1, -1, 1).expand(len(queries), -1, 1)
    previous = None  # accumulated cost of the previous query step: (Q, R, Tb)
    for i in range(a.shape[1]):
        cost = ((a[:, None, i, None, :] - b[None, :, :, :]) ** 2).sum(-1)  # (Q, R, Tb)
        row = torch.empty_like(cost)
        for j in range(b.shape[1]):
            if previous is None:
                best = row[..., j - 1] if j else torch.zeros_like(cost[..., 0])
            else:
                candidates = [previous[..., j]] + ([previous[..., j - 1], row[..., j - 1]] if j else [])
                best = torch.stack(candidates).amin(0)
            row[..., j] = cost[..., j] + best
        previous = row
        ends_here = (a_lengths - 1) == i  # queries whose last step is i: read their distances now
        result[ends_here] = row[ends_here].gather(2, end_columns[ends_here]).squeeze(2)
    return result


def case_baselines(data: CaseClassificationInputs, dtw: bool = False) -> dict[str, Outcome]:
    """Each baseline's figures on the splits present (UCR may have no val), or why it has none."""
    splits = [split for split in SPLITS if split in data.labels]
    train_labels = data.labels["train"]
    outcomes: dict[str, Outcome] = {"majority_class": majority_figures(data.labels, data.classes, splits)}
    distances = {"1nn_euclidean": euclidean_distances}
    lengths = {len(case) for split in ("train", *splits) for case in data.cases[split]}
    if len(lengths) > 1:
        distances = {}
        outcomes["1nn_euclidean"] = f"the cases have {len(lengths)} different lengths: Euclidean distance needs one (ask for callbacks.baselines.dtw=true)"
    if dtw:
        distances["1nn_dtw"] = dtw_distances
    for name, distance in distances.items():
        figures: Figures = {}
        for split in splits:
            nearest = distance(data.cases[split], data.cases["train"]).argmin(dim=1)
            figures.update(classification_figures(train_labels[nearest], data.labels[split], data.classes, split))
        outcomes[name] = figures
    return outcomes
