"""Range-aware anomaly metrics: VUS-ROC and VUS-PR (threshold-free) and range-based precision/recall
(at a threshold), as the TSB-AD benchmark reports them.

VUS (Paparrizos et al., "Volume Under the Surface", PVLDB 15(11), 2022) scores a detector against
labelled *ranges* rather than points. For a buffer window ``w`` every labelled range gains ``w // 2``
points on each side whose label fades from 1 (``sqrt(1 - d / w)`` at distance ``d``; points near two
ranges count 1). At a threshold, with ``P`` labelled points and ``B`` the buffer weight of the flagged
buffer points:

    TP        = flagged labelled points + B             precision = TP / flagged points
    recall    = min(TP / (P + B / 2), 1)                TPR = recall x (share of the buffered ranges,
    FPR       = (flagged points - TP) / (n - P - B / 2)        merged where they touch, with a flag)

Range-AUC-ROC is the trapezoidal area under (FPR, TPR) from (0, 0) to (1, 1); Range-AUC-PR sums
precision x the TPR gained. VUS averages both over ``w = 0 .. window``. Thresholds are the scores at
``thresholds`` evenly spaced ranks from the highest (the reference's sampling, 250 by default), on
the raw score scale: only the order of the scores matters, never a squashing of them.

This follows the reference implementation (TSB-AD 1.5, ``basic_metricor.RangeAUC_volume_opt``;
the same in TheDatumOrg/VUS) to rounding, but costs O(points) memory and O(window x points near a
labelled range) time: each point's first threshold is found once by binary search, and per window
the buffer weights, and the maxima of the buffered ranges, are summed per threshold with one
``bincount`` each, where the reference loops over every threshold and range in Python.

Range-based precision and recall (Tatbul et al., NeurIPS 2018, flat positional bias, as TSB-AD's
``range_recall_new``): recall averages over labelled ranges ``alpha x [any flagged point]
+ (1 - alpha) x (share of the range flagged) / (number of flagged runs it overlaps)`` with
``alpha = 0.2``; precision does the same over flagged runs with ``alpha = 0``.
"""

from __future__ import annotations

import numpy as np
import torch

VUS_WINDOW = 100  # the reference's slidingWindow default (TSB-AD get_metrics; the VUS README's example)
VUS_THRESHOLDS = 250  # the reference's thre default
RANGE_RECALL_ALPHA = 0.2  # weight of existence in range recall (TSB-AD); range precision uses 0


def _numpy(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """A flat view of ``values`` (no copy where none is needed)."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values).ravel()


def _scores(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """Scores as they are when float32 or float64 (only their order and their values as thresholds matter,
    and float32 converts to float64 exactly), else as float64."""
    values = _numpy(values)
    return values if values.dtype in (np.float32, np.float64) else values.astype(np.float64)


def _flags(values: torch.Tensor | np.ndarray) -> np.ndarray:
    """0/1 values as a bool array (a byte a point)."""
    return _numpy(values) != 0


def ranges(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of True as arrays of ``starts`` and ``lasts`` (inclusive), in order."""
    padded = np.zeros(len(mask) + 2, dtype=np.int8)  # a byte a point: concatenating with [0] made int64
    padded[1:-1] = mask
    edges = np.diff(padded)
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1


def volume_under_surface(
    scores: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, window: int = VUS_WINDOW, thresholds: int = VUS_THRESHOLDS
) -> tuple[float, float]:
    """``(vus_roc, vus_pr)`` of one scored series; nan when the series has no labelled or no normal
    point or a nan score (the metric is undefined there)."""
    scores, labels = _scores(scores), _flags(labels)
    points = len(scores)
    if points == 0 or not labels.any() or labels.all() or np.isnan(scores).any():
        return float("nan"), float("nan")
    starts, lasts = ranges(labels)
    positives = int(labels.sum())
    # The thresholds, highest first; a point counts as flagged from its first threshold <= its score on.
    ascending = np.sort(scores)[::-1][np.linspace(0, points - 1, thresholds).astype(int)][::-1]

    def first_threshold(values: np.ndarray) -> np.ndarray:
        first = np.searchsorted(ascending, values, side="right")
        return np.subtract(thresholds, first, out=first)  # in place: one index array a point, not two

    def per_threshold(first: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """How many (or how much weight of) the values are >= each threshold."""
        return np.cumsum(np.bincount(first, weights=weights, minlength=thresholds + 1)[:thresholds])

    flagged = per_threshold(first_threshold(scores))  # (thresholds,)
    flagged_positives = per_threshold(first_threshold(scores[labels]))
    # The buffer: unlabelled points within window // 2 of a labelled range, with their distances to
    # the two nearest range ends on the left and the two nearest starts on the right.
    reach = window // 2
    cover = np.zeros(points + 1, dtype=np.int32)  # how many buffered ranges reach each point
    np.add.at(cover, np.maximum(starts - reach, 0), 1)
    np.add.at(cover, np.minimum(lasts + reach, points - 1) + 1, -1)
    buffer = np.flatnonzero((np.cumsum(cover[:points], dtype=np.int32) > 0) & ~labels)
    buffer_first = first_threshold(scores[buffer])
    left = np.searchsorted(lasts, buffer) - 1  # index of the nearest range ending before each buffer point
    right = np.searchsorted(starts, buffer)  # ... and of the nearest one starting after it
    far = np.iinfo(np.int64).max // 2

    def distance(index: np.ndarray, edges: np.ndarray, sign: int) -> np.ndarray:
        inside = (index >= 0) & (index < len(edges))
        return np.where(inside, sign * (buffer - edges[np.clip(index, 0, len(edges) - 1)]), far)

    nearest_left, second_left = distance(left, lasts, 1), distance(left - 1, lasts, 1)
    nearest_right, second_right = distance(right, starts, -1), distance(right + 1, starts, -1)
    padded_scores = np.append(scores, -np.inf)  # reduceat needs every range end to be an index
    roc_areas, pr_areas = [], []
    for width in range(window + 1):
        half = width // 2
        near = [distance <= half for distance in (nearest_left, second_left, nearest_right, second_right)]
        covering = sum(mask.astype(np.int8) for mask in near)
        single = np.where(near[0], nearest_left, nearest_right).astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            weights = np.where(covering >= 2, 1.0, np.where(covering == 1, np.sqrt(1 - single / max(width, 1)), 0.0))
        buffer_weight = per_threshold(buffer_first, weights)
        # Buffered ranges: labelled ranges within 2 x half of each other merge into one.
        new_group = np.concatenate([[True], starts[1:] - lasts[:-1] > 2 * half])
        group_starts = np.maximum(starts[new_group] - half, 0)
        group_ends = np.minimum(lasts[np.append(np.flatnonzero(new_group)[1:] - 1, len(lasts) - 1)] + half, points - 1) + 1
        group_max = np.maximum.reduceat(padded_scores, np.column_stack([group_starts, group_ends]).ravel())[::2]
        detected = per_threshold(first_threshold(group_max))
        true_positives = flagged_positives + buffer_weight
        labelled = positives + buffer_weight / 2
        tpr = np.minimum(true_positives / labelled, 1) * detected / len(group_starts)
        fpr = (flagged - true_positives) / (points - labelled)
        precision = true_positives / flagged
        curve_tpr, curve_fpr = np.concatenate([[0.0], tpr, [1.0]]), np.concatenate([[0.0], fpr, [1.0]])
        roc_areas.append(float(np.dot(np.diff(curve_fpr), (curve_tpr[1:] + curve_tpr[:-1]) / 2)))
        pr_areas.append(float(np.dot(np.diff(curve_tpr[:-1]), precision)))
    return float(np.mean(roc_areas)), float(np.mean(pr_areas))


def _range_score(truth: np.ndarray, found: np.ndarray, alpha: float) -> float:
    """Mean over the runs of ``truth`` of ``alpha x [found any] + (1 - alpha) x (share found) /
    (runs of found it overlaps)``; 0 without runs (TSB-AD's ``range_recall_new``, flat bias)."""
    starts, lasts = ranges(truth)
    if len(starts) == 0:
        return 0.0
    found_starts, found_lasts = ranges(found)
    found_before = np.zeros(len(found) + 1, dtype=np.int64 if len(found) >= 2**31 else np.int32)
    np.cumsum(found, dtype=found_before.dtype, out=found_before[1:])  # flagged points before each position
    hits = found_before[lasts + 1] - found_before[starts]
    overlapping = np.searchsorted(found_starts, lasts, side="right") - np.searchsorted(found_lasts, starts, side="left")
    overlap = np.where(overlapping > 0, hits / (lasts - starts + 1) / np.maximum(overlapping, 1), 0.0)
    return float(np.mean(alpha * (hits > 0) + (1 - alpha) * overlap))


def range_precision_recall_f1(predictions: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray) -> dict[str, float]:
    """Range-based precision, recall and F1 of 0/1 predictions (0 where undefined, as TSB-AD)."""
    predictions, labels = _flags(predictions), _flags(labels)
    recall = _range_score(labels, predictions, RANGE_RECALL_ALPHA)
    precision = _range_score(predictions, labels, 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return {"range_precision": precision, "range_recall": recall, "range_f1": f1}
