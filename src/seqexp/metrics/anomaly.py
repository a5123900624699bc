"""Anomaly-detection metrics over one scored series: what torchmetrics lacks, on top of what it has.

All functions take 1-D tensors over the time points of a split: ``scores`` (float, higher = more
anomalous), ``labels`` (0/1) and ``predictions`` (0/1, scores above the threshold).

Point-wise precision/recall/F1 count every time point. Point-adjusted scores (Xu et al., 2018)
first mark a whole labelled window as detected when any one of its points is flagged: this
rewards a single lucky alarm inside a long window and inflates the numbers, so both are reported.
Event-level recall is the share of labelled windows with at least one flagged point; false alarms
are flagged normal points per 1,000 normal points (1,000 x the false-positive rate), so a detector
that flags everything scores 1,000 however few runs its flags form.

The threshold-free curves (precision-recall, best-F1 threshold, AUROC, AUPRC) are computed here on
the raw score scale in float64: torchmetrics' binary curves pass scores outside [0, 1] through a
sigmoid, which saturates in float32 past ~17 (distinct scores tie) and returns thresholds on the
sigmoid scale rather than the score's. AUROC and AUPRC follow scikit-learn's ``roc_auc_score`` and
``average_precision_score`` (ties at one score form one step of the curve).

The range-aware metrics (VUS-ROC, VUS-PR, range-based precision/recall) live in
``seqexp.metrics.range_aware``; :func:`anomaly_metrics` reports them with the rest.
"""

from __future__ import annotations

import torch
from torchmetrics.functional.classification import binary_f1_score, binary_precision, binary_recall

from seqexp.metrics.range_aware import VUS_THRESHOLDS, VUS_WINDOW, range_precision_recall_f1, volume_under_surface

THRESHOLD_RULES = ("best_f1", "quantile", "mean_std")
# Metrics of anomaly_metrics that mean nothing on a split without anomalous points: nan, or 0 by the
# zero_division convention.
NEED_AN_ANOMALY = ("auroc", "auprc", "vus_roc", "vus_pr", "event_recall", "ucr_hit", "recall", "f1", "pa_recall", "pa_f1",
                   "range_recall", "range_f1")
# Metrics of anomaly_metrics that mean nothing on a split whose points are all labelled anomalous: nan.
NEED_A_NORMAL_POINT = ("auroc", "auprc", "vus_roc", "vus_pr", "false_alarms_per_1k")
# Metrics of anomaly_metrics that are nan when a point's score is nan.
NEED_SCORES = ("vus_roc", "vus_pr")


def runs(mask: torch.Tensor) -> list[tuple[int, int]]:
    """Maximal runs of True as ``(start, end)`` with ``end`` exclusive."""
    flags = torch.cat([torch.zeros(1, dtype=torch.int8), mask.to(torch.int8).cpu(), torch.zeros(1, dtype=torch.int8)])
    edges = torch.diff(flags)
    starts = torch.nonzero(edges == 1).flatten().tolist()
    ends = torch.nonzero(edges == -1).flatten().tolist()
    return list(zip(starts, ends))


def point_adjust(predictions: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Predictions with every labelled window set to 1 where any of its points is flagged."""
    adjusted = predictions.clone().bool()
    for start, end in runs(labels.bool()):
        if adjusted[start:end].any():
            adjusted[start:end] = True
    return adjusted.long()


def precision_recall_f1(predictions: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Point-wise precision, recall and F1 (torchmetrics; 0 where undefined)."""
    predictions, labels = predictions.long(), labels.long()
    return {
        "precision": float(binary_precision(predictions, labels, zero_division=0)),
        "recall": float(binary_recall(predictions, labels, zero_division=0)),
        "f1": float(binary_f1_score(predictions, labels, zero_division=0)),
    }


def event_recall(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of labelled windows with at least one flagged point (nan when there is none)."""
    windows = runs(labels.bool())
    if not windows:
        return float("nan")
    return sum(bool(predictions[start:end].any()) for start, end in windows) / len(windows)


def false_alarms_per_1000(predictions: torch.Tensor, labels: torch.Tensor) -> float:
    """Flagged normal points per 1,000 normal points (points labelled 0): 0 flags nothing normal,
    1,000 flags every normal point. nan when no point is labelled normal: there is nothing a false
    alarm could be raised on (the task warns, naming the split)."""
    normal = ~labels.bool()
    normal_points = int(normal.sum())
    if normal_points == 0:
        return float("nan")
    return 1000.0 * int((predictions.bool() & normal).sum()) / normal_points


def ucr_hit(scores: torch.Tensor, labels: torch.Tensor, tolerance: int = 100) -> float:
    """The UCR Anomaly Archive's rule: 1 if the top-scoring point lies within ``tolerance`` points of a
    labelled window, else 0 (nan when there is no labelled window)."""
    windows = runs(labels.bool())
    if not windows:
        return float("nan")
    top = int(torch.argmax(scores))
    return float(any(start - tolerance <= top < end + tolerance for start, end in windows))


def counts_by_threshold(scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each distinct score as a threshold, highest first, with the true and false positives of
    flagging every point scored >= it; float64 throughout, on the raw score scale."""
    scores, labels = scores.detach().cpu().double().flatten(), labels.detach().cpu().double().flatten()
    order = torch.argsort(scores, descending=True, stable=True)
    scores, labels = scores[order], labels[order]
    last_of_tie = torch.cat([scores[1:] != scores[:-1], torch.tensor([True])])  # one point per distinct score
    true_positives = labels.cumsum(0)[last_of_tie]
    false_positives = (1 - labels).cumsum(0)[last_of_tie]
    return scores[last_of_tie], true_positives, false_positives


def precision_recall_curve(scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precision, recall and the thresholds they hold at, highest threshold first (recall nan
    when there is no anomaly)."""
    thresholds, true_positives, false_positives = counts_by_threshold(scores, labels)
    precision = true_positives / (true_positives + false_positives)
    recall = true_positives / true_positives[-1]
    return precision, recall, thresholds


def best_f1_threshold(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """The score threshold with the highest point-wise F1 (points with score >= threshold are flagged);
    among equal F1, the highest such threshold."""
    thresholds, true_positives, false_positives = counts_by_threshold(scores, labels)
    f1 = 2 * true_positives / (true_positives + false_positives + true_positives[-1])  # 2TP / (2TP + FP + FN)
    return float(thresholds[int(torch.argmax(f1))])


def auroc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve by the trapezoidal rule (tied scores count half), as scikit-learn's
    ``roc_auc_score``; nan unless both classes are present."""
    _, true_positives, false_positives = counts_by_threshold(scores, labels)
    if true_positives[-1] == 0 or false_positives[-1] == 0:
        return float("nan")
    zero = torch.zeros(1, dtype=torch.float64)
    tpr = torch.cat([zero, true_positives / true_positives[-1]])
    fpr = torch.cat([zero, false_positives / false_positives[-1]])
    return float(torch.trapezoid(tpr, fpr))


def average_precision(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the precision-recall curve as scikit-learn's ``average_precision_score``: the sum
    over thresholds of precision times the recall gained (no interpolation); nan without anomalies."""
    precision, recall, _ = precision_recall_curve(scores, labels)
    if not bool(torch.isfinite(recall[-1])):
        return float("nan")
    gained = torch.diff(recall, prepend=torch.zeros(1, dtype=torch.float64))
    return float((gained * precision).sum())


def choose_threshold(
    rule: str, scores: torch.Tensor, labels: torch.Tensor, quantile: float = 0.99, k: float = 3.0
) -> tuple[float, str]:
    """Threshold by ``rule`` on validation scores; returns it and the rule actually used.

    best_f1   highest point-wise F1 on the labelled validation points
    quantile  the ``quantile`` of the scores of validation points labelled normal
    mean_std  mean + ``k`` * std of those normal scores
    best_f1 needs at least one anomaly in validation; without one it falls back to quantile.
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"task.threshold.rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    if rule == "best_f1" and bool(labels.any()) and not bool(labels.all()):
        return best_f1_threshold(scores, labels), rule
    normal = scores[~labels.bool()].double()
    if normal.numel() == 0:
        normal = scores.double()
    if rule == "mean_std":
        return float(normal.mean() + k * normal.std(unbiased=False)), rule
    return float(torch.quantile(normal, quantile)), "quantile"


def anomaly_metrics(
    scores: torch.Tensor, labels: torch.Tensor, threshold: float, ucr_tolerance: int = 100,
    vus_window: int = VUS_WINDOW, vus_thresholds: int = VUS_THRESHOLDS,
) -> dict[str, float]:
    """Every metric of one split at one threshold: AUROC/AUPRC and VUS-ROC/VUS-PR of the raw score,
    point-wise, point-adjusted and range-based precision/recall/F1, event recall, false alarms per
    1,000 normal points, UCR hit. Threshold-free metrics are nan when the split has no anomaly or no
    normal point (VUS also with a nan score)."""
    scores, labels = scores.double().cpu(), labels.long().cpu()
    predictions = (scores >= threshold).long()
    has_both = bool(labels.any()) and not bool(labels.all())
    vus_roc, vus_pr = volume_under_surface(scores, labels, vus_window, vus_thresholds)
    metrics = {
        "auroc": auroc(scores, labels) if has_both else float("nan"),
        "auprc": average_precision(scores, labels) if has_both else float("nan"),
        "vus_roc": vus_roc,
        "vus_pr": vus_pr,
        **precision_recall_f1(predictions, labels),
        **{f"pa_{name}": value for name, value in precision_recall_f1(point_adjust(predictions, labels), labels).items()},
        **range_precision_recall_f1(predictions, labels),
        "event_recall": event_recall(predictions, labels),
        "false_alarms_per_1k": false_alarms_per_1000(predictions, labels),
        "ucr_hit": ucr_hit(scores, labels, ucr_tolerance),
    }
    return metrics


def smooth(scores: torch.Tensor, width: int) -> torch.Tensor:
    """Centred moving average over ``width`` points (1 = unchanged); edges average what exists."""
    if width <= 1:
        return scores
    kernel = torch.ones(1, 1, width, dtype=scores.dtype, device=scores.device)
    padding = width // 2
    total = torch.nn.functional.conv1d(scores.view(1, 1, -1), kernel, padding=padding)
    count = torch.nn.functional.conv1d(torch.ones_like(scores).view(1, 1, -1), kernel, padding=padding)
    return (total / count).flatten()[: len(scores)]
