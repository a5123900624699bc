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

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torchmetrics.functional.classification import binary_f1_score, binary_precision, binary_recall

from seqexp.metrics.range_aware import VUS_THRESHOLDS, VUS_WINDOW, range_precision_recall_f1, volume_under_surface

THRESHOLD_RULES = ("best_f1", "quantile", "mean_std")
# Metrics of anomaly_metrics that mean nothing on a split without anomalous points: nan, or 0 by the
# zero_division convention.
NEED_AN_ANOMALY = ("auroc", "auprc", "vus_roc", "vus_pr", "event_recall", "ucr_hit", "recall", "f1", "pa_recall", "pa_f1", "range_recall", "range_f1")
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
    adjusted = predictions.bool()  # a copy unless already bool
    adjusted = adjusted.clone() if adjusted is predictions else adjusted
    for start, end in runs(labels.bool()):
        if adjusted[start:end].any():
            adjusted[start:end] = True
    return adjusted.to(torch.uint8)


def precision_recall_f1(predictions: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    """Point-wise precision, recall and F1 (torchmetrics; 0 where undefined). The flags are 0/1 by
    construction, so torchmetrics' value checks (a sort of each input) are skipped; one byte a point."""
    predictions, labels = predictions.to(torch.uint8), labels.to(torch.uint8)
    return {
        "precision": float(binary_precision(predictions, labels, zero_division=0, validate_args=False)),
        "recall": float(binary_recall(predictions, labels, zero_division=0, validate_args=False)),
        "f1": float(binary_f1_score(predictions, labels, zero_division=0, validate_args=False)),
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


CHUNK = 1 << 16  # curve points computed at a time: float64 intermediates stay a few MB, whatever the split's length


@dataclass(frozen=True)
class ScoreCurve:
    """Each distinct score of a split as a threshold, highest first, with the true and false positives of
    flagging every point scored >= it: the one sort that AUROC, AUPRC and the best-F1 threshold share.
    Thresholds keep the scores' own dtype (a float32 score converts to float64 exactly, so the curves are
    on the raw score scale as in float64); counts are integers (int32 below 2**31 points), exact, and
    turned into float64 a chunk at a time where they are divided, with the operations float64 counts
    always went through, so every metric keeps its value to the last bit."""

    thresholds: torch.Tensor  # (distinct,) highest first
    true_positives: torch.Tensor  # (distinct,) labelled points scored >= each threshold
    false_positives: torch.Tensor  # (distinct,) normal points scored >= each threshold

    @classmethod
    def of(cls, scores: torch.Tensor, labels: torch.Tensor) -> ScoreCurve:
        """Sort the scores once; transient memory is a few bytes a point (the sorted scores, an int64 order
        until the labels are sorted by it, 1-byte labels, 4-byte counts), not float64 copies of each step."""
        scores = scores.detach().cpu().flatten()
        if not scores.is_floating_point():
            scores = scores.double()
        sorted_scores, order = torch.sort(scores, descending=True, stable=True)
        sorted_labels = labels.detach().cpu().flatten()[order] != 0  # (points,) bool
        del order
        last_of_tie = torch.ones_like(sorted_labels)  # one point per distinct score: the last of its tie
        torch.ne(sorted_scores[1:], sorted_scores[:-1], out=last_of_tie[:-1])
        thresholds = sorted_scores[last_of_tie]
        del sorted_scores
        counts = torch.int32 if len(sorted_labels) < 2**31 else torch.int64
        true_positives = sorted_labels.cumsum(0, dtype=counts)[last_of_tie]
        false_positives = sorted_labels.logical_not_().cumsum(0, dtype=counts)[last_of_tie]
        return cls(thresholds, true_positives, false_positives)

    @property
    def positives(self) -> int:
        return int(self.true_positives[-1])

    @property
    def negatives(self) -> int:
        return int(self.false_positives[-1])

    def chunks(self) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """``(start, true positives, false positives)`` of ``CHUNK`` thresholds at a time, as float64, each
        with the point before it (zeros before the first): what a difference along the curve needs."""
        zero = self.true_positives.new_zeros(1)
        for start in range(0, len(self.thresholds), CHUNK):
            end = min(start + CHUNK, len(self.thresholds))
            before = slice(start - 1, end) if start else None
            true_positives = self.true_positives[before] if before else torch.cat([zero, self.true_positives[:end]])
            false_positives = self.false_positives[before] if before else torch.cat([zero, self.false_positives[:end]])
            yield start, true_positives.double(), false_positives.double()


def counts_by_threshold(scores: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each distinct score as a threshold, highest first, with the true and false positives of
    flagging every point scored >= it; float64 throughout, on the raw score scale."""
    curve = ScoreCurve.of(scores, labels)
    return curve.thresholds.double(), curve.true_positives.double(), curve.false_positives.double()


def _curve(scores: torch.Tensor, labels: torch.Tensor, curve: ScoreCurve | None) -> ScoreCurve:
    return curve if curve is not None else ScoreCurve.of(scores, labels)


def precision_recall_curve(scores: torch.Tensor, labels: torch.Tensor, curve: ScoreCurve | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Precision, recall and the thresholds they hold at, highest threshold first (recall nan
    when there is no anomaly); ``curve``: the split's ``ScoreCurve``, when already sorted."""
    curve = _curve(scores, labels, curve)
    true_positives = curve.true_positives.double()
    precision = true_positives / (curve.true_positives + curve.false_positives).double()
    recall = true_positives.div_(float(curve.positives))
    return precision, recall, curve.thresholds.double()


def best_f1_threshold(scores: torch.Tensor, labels: torch.Tensor, curve: ScoreCurve | None = None) -> float:
    """The score threshold with the highest point-wise F1 (points with score >= threshold are flagged);
    among equal F1, the highest such threshold."""
    curve = _curve(scores, labels, curve)
    best, best_index = -math.inf, 0
    for start, true_positives, false_positives in curve.chunks():
        true_positives, false_positives = true_positives[1:], false_positives[1:]
        # 2TP / (2TP + FP + FN) = 2TP / (TP + FP + every labelled point), in float64 (never nan: TP + FP >= 1)
        f1 = (2 * true_positives).div_(true_positives.add_(false_positives).add_(curve.positives))
        index = int(torch.argmax(f1))
        if float(f1[index]) > best:  # the first of equal maxima, as one argmax over the whole curve
            best, best_index = float(f1[index]), start + index
    return float(curve.thresholds[best_index])


def _curve_sum(products: Iterator[torch.Tensor], length: int) -> float:
    """The sum of per-threshold float64 terms computed a chunk at a time, summed as one tensor (torch's
    summation order depends on the whole tensor, so the sum is the one a single expression gave)."""
    terms = torch.empty(length, dtype=torch.float64)
    position = 0
    for product in products:
        terms[position : position + len(product)] = product
        position += len(product)
    return float(terms.sum())


def auroc(scores: torch.Tensor, labels: torch.Tensor, curve: ScoreCurve | None = None) -> float:
    """Area under the ROC curve by the trapezoidal rule (tied scores count half), as scikit-learn's
    ``roc_auc_score``; nan unless both classes are present."""
    curve = _curve(scores, labels, curve)
    positives, negatives = float(curve.positives), float(curve.negatives)
    if positives == 0 or negatives == 0:
        return float("nan")

    def trapezoids() -> Iterator[torch.Tensor]:
        # torch.trapezoid(tpr, fpr) over the curve from (0, 0), written out with the same operations:
        # (fpr[1:] - fpr[:-1]) * (tpr[1:] + tpr[:-1]), summed, halved
        for _, true_positives, false_positives in curve.chunks():
            tpr, fpr = true_positives.div_(positives), false_positives.div_(negatives)
            yield (fpr[1:] - fpr[:-1]).mul_(tpr[1:] + tpr[:-1])

    return _curve_sum(trapezoids(), len(curve.thresholds)) / 2.0


def average_precision(scores: torch.Tensor, labels: torch.Tensor, curve: ScoreCurve | None = None) -> float:
    """Area under the precision-recall curve as scikit-learn's ``average_precision_score``: the sum
    over thresholds of precision times the recall gained (no interpolation); nan without anomalies."""
    curve = _curve(scores, labels, curve)
    positives = float(curve.positives)
    if positives == 0:
        return float("nan")

    def steps() -> Iterator[torch.Tensor]:
        for _, true_positives, false_positives in curve.chunks():
            precision = true_positives[1:] / (true_positives[1:] + false_positives[1:])
            recall = true_positives.div_(positives)
            yield torch.diff(recall).mul_(precision)

    return _curve_sum(steps(), len(curve.thresholds))


def choose_threshold(
    rule: str,
    scores: torch.Tensor,
    labels: torch.Tensor,
    quantile: float = 0.99,
    k: float = 3.0,
    curve: ScoreCurve | None = None,
) -> tuple[float, str]:
    """Threshold by ``rule`` on validation scores; returns it and the rule actually used.

    best_f1   highest point-wise F1 on the labelled validation points
    quantile  the ``quantile`` of the scores of validation points labelled normal
    mean_std  mean + ``k`` * std of those normal scores
    best_f1 needs at least one anomaly in validation; without one it falls back to quantile.
    ``curve``: the split's ``ScoreCurve``, when already sorted.
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"task.threshold.rule must be one of {THRESHOLD_RULES}, got {rule!r}")
    if rule == "best_f1" and bool(labels.any()) and not bool(labels.all()):
        return best_f1_threshold(scores, labels, curve), rule
    normal = scores[~labels.bool()].double()
    if normal.numel() == 0:
        normal = scores.double()
    if rule == "mean_std":
        return float(normal.mean() + k * normal.std(unbiased=False)), rule
    return float(torch.quantile(normal, quantile)), "quantile"


def anomaly_metrics(
    scores: torch.Tensor,
    labels: torch.Tensor,
    threshold: float,
    ucr_tolerance: int = 100,
    vus_window: int = VUS_WINDOW,
    vus_thresholds: int = VUS_THRESHOLDS,
    curve: ScoreCurve | None = None,
) -> dict[str, float]:
    """Every metric of one split at one threshold: AUROC/AUPRC and VUS-ROC/VUS-PR of the raw score,
    point-wise, point-adjusted and range-based precision/recall/F1, event recall, false alarms per
    1,000 normal points, UCR hit. Threshold-free metrics are nan when the split has no anomaly or no
    normal point (VUS also with a nan score). ``curve``: the split's ``ScoreCurve``, when already sorted.

    Memory: a few bytes a point at a time. The scores keep their dtype (float32 from the task: every
    comparison and sort gives what float64 gives, as float32 converts exactly), the flags take a byte a
    point, one sort serves AUROC and AUPRC and is freed before VUS sorts again."""
    scores, labels = scores.detach().cpu(), labels.detach().cpu().to(torch.uint8)
    if not scores.is_floating_point():
        scores = scores.double()
    predictions = torch.ge(scores.double(), threshold).to(torch.uint8)  # against the float64 threshold, as always
    has_both = bool(labels.any()) and not bool(labels.all())
    if has_both:
        curve = _curve(scores, labels, curve)
        threshold_free = {"auroc": auroc(scores, labels, curve), "auprc": average_precision(scores, labels, curve)}
    else:
        threshold_free = {"auroc": float("nan"), "auprc": float("nan")}
    del curve  # the caller's reference, if any, is the caller's to drop
    vus_roc, vus_pr = volume_under_surface(scores, labels, vus_window, vus_thresholds)
    metrics = {
        **threshold_free,
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
