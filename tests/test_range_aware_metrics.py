"""VUS-ROC/VUS-PR and range-based precision/recall against independent computations: the paper's
formula written out point by point below (always), and the reference implementation (TSB-AD 1.5,
the ``test-reference`` extra) when it is installed; on scores far outside [0, 1], ties, infinities,
ranges at the series' ends, empty classes and nan scores. Then the task's warnings and keys."""

from __future__ import annotations

import logging
import math
import tracemalloc

import numpy as np
import pytest
import torch

from seqexp.metrics.anomaly import NEED_A_NORMAL_POINT, NEED_AN_ANOMALY, anomaly_metrics
from seqexp.metrics.point_scores import PointScores
from seqexp.metrics.range_aware import range_precision_recall_f1, volume_under_surface
from seqexp.tasks.anomaly import AnomalyTask


def labelled_ranges(labels: np.ndarray) -> list[tuple[int, int]]:
    """(first, last) of each run of 1s, by walking the series."""
    found, start = [], None
    for t, label in enumerate([*labels.tolist(), 0]):
        if label and start is None:
            start = t
        if not label and start is not None:
            found.append((start, t - 1))
            start = None
    return found


def vus_by_hand(scores: np.ndarray, labels: np.ndarray, window: int, thresholds: int) -> tuple[float, float]:
    """Paparrizos et al. (PVLDB 2022), section 4, one buffer window and one threshold at a time."""
    points, positives = len(scores), int(labels.sum())
    found = labelled_ranges(labels)
    descending = sorted(scores.tolist(), reverse=True)
    levels = [descending[int(rank)] for rank in np.linspace(0, points - 1, thresholds)]
    roc, pr = [], []
    for width in range(window + 1):
        half = width // 2
        label = labels.astype(float)  # continuous label: 1 on a range, sqrt(1 - d / width) at distance d <= half
        for first, last in found:
            for d in range(1, half + 1):
                for t in (first - d, last + d):
                    if 0 <= t < points:
                        label[t] += math.sqrt(1 - d / width)
        label = np.minimum(label, 1.0)
        groups: list[list[int]] = []  # buffered ranges, merged where they overlap
        for first, last in found:
            low, high = max(first - half, 0), min(last + half, points - 1)
            if groups and low <= groups[-1][1]:
                groups[-1][1] = high
            else:
                groups.append([low, high])
        tpr, fpr, precision = [0.0], [0.0], []
        for level in levels:
            flag = scores >= level
            true_positives = float((label * flag).sum())
            buffer_hits = float((label * flag * (labels == 0)).sum())
            labelled = positives + buffer_hits / 2
            existence = sum(bool(flag[low : high + 1].any()) for low, high in groups) / len(groups)
            tpr.append(min(true_positives / labelled, 1.0) * existence)
            fpr.append((flag.sum() - true_positives) / (points - labelled))
            precision.append(true_positives / flag.sum())
        tpr.append(1.0)
        fpr.append(1.0)
        roc.append(sum((fpr[k + 1] - fpr[k]) * (tpr[k + 1] + tpr[k]) / 2 for k in range(len(tpr) - 1)))
        pr.append(sum((tpr[k + 1] - tpr[k]) * precision[k] for k in range(thresholds)))
    return float(np.mean(roc)), float(np.mean(pr))


def series(seed: int, points: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels with ranges of 1-25 points (some touching the series' ends or one point apart) and
    scores where labelled points score higher on average, on a scale far outside [0, 1]."""
    rng = np.random.default_rng(seed)
    labels = np.zeros(points, dtype=np.int64)
    for first in rng.integers(0, points, 5):
        labels[first : first + rng.integers(1, 26)] = 1
    labels[0] = seed % 2  # a range at the start on odd seeds
    labels[-2:] = (1, 0) if seed % 3 == 0 else (0, 1)  # one point from the end, or at it
    labels[points // 2 : points // 2 + 3] = (1, 0, 1)  # two ranges one point apart
    scores = rng.normal(size=points) + 1.5 * labels
    if kind == "huge":
        scores = 1e12 * scores - 3e13
    elif kind == "ties":
        scores = np.round(scores) * 1e6
    elif kind == "inf":
        scores = np.where(rng.random(points) < 0.05, np.inf, -1e9 * scores)
    return scores, labels


CASES = [
    (seed, kind, window, thresholds)
    for seed, (kind, window, thresholds) in enumerate(
        [("huge", 20, 250), ("ties", 20, 250), ("inf", 9, 40), ("huge", 0, 30), ("ties", 1, 30), ("huge", 37, 60)]
    )
]


@pytest.mark.parametrize(("seed", "kind", "window", "thresholds"), CASES)
def test_vus_matches_the_paper_formula(seed: int, kind: str, window: int, thresholds: int) -> None:
    scores, labels = series(seed, 160, kind)
    ours = volume_under_surface(torch.from_numpy(scores), torch.from_numpy(labels), window, thresholds)
    np.testing.assert_allclose(ours, vus_by_hand(scores, labels, window, thresholds), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("seed", "kind", "window", "thresholds"), CASES)
def test_vus_and_range_scores_match_the_reference_implementation(seed: int, kind: str, window: int, thresholds: int) -> None:
    reference = pytest.importorskip("TSB_AD.evaluation.basic_metrics", reason="the test-reference extra (TSB-AD)")
    scores, labels = series(seed, 400, kind)
    expected = reference.generate_curve(labels, scores, window, "opt", thresholds)[-2:]
    np.testing.assert_allclose(volume_under_surface(scores, labels, window, thresholds), expected, rtol=0, atol=1e-12)
    grader = reference.basic_metricor()
    flags = (scores >= np.sort(scores)[-60]).astype(np.int64)
    ours = range_precision_recall_f1(flags, labels)
    assert ours["range_recall"] == pytest.approx(grader.range_recall_new(labels, flags, 0.2)[0], abs=1e-12)
    assert ours["range_precision"] == pytest.approx(grader.range_recall_new(flags, labels, 0)[0], abs=1e-12)


def test_vus_reads_only_the_order_of_the_scores() -> None:
    # Raw scale: no sigmoid (which would tie every score above ~17 in float32), no rescaling.
    scores, labels = series(3, 300, "plain")
    expected = volume_under_surface(scores, labels)
    for transformed in (1e12 * scores - 3e13, np.exp(scores / 3), np.arctan(scores)):
        np.testing.assert_allclose(volume_under_surface(transformed, labels), expected, rtol=0, atol=1e-12)
    # Reversed scores rank the ranges last (a short window: buffers of 50 points would cover most of 300).
    assert volume_under_surface(-scores, labels, window=4)[0] < 0.5 < volume_under_surface(scores, labels, window=4)[0]


@pytest.mark.parametrize("labels", [np.zeros(50), np.ones(50), np.zeros(0)], ids=["no anomaly", "all anomalous", "empty"])
def test_vus_is_nan_without_both_classes(labels: np.ndarray) -> None:
    assert all(math.isnan(value) for value in volume_under_surface(np.arange(len(labels)) * 1e9, labels))
    assert {"vus_roc", "vus_pr"} <= set(NEED_AN_ANOMALY) & set(NEED_A_NORMAL_POINT)


def test_vus_is_nan_with_a_nan_score() -> None:
    scores, labels = series(1, 100, "plain")
    scores[7] = np.nan
    assert all(math.isnan(value) for value in volume_under_surface(scores, labels))


def test_vus_memory_grows_with_the_points_not_points_x_window() -> None:
    scores, labels = series(2, 200_000, "plain")
    labels[::1000] = 1  # 200 more ranges, so that a fifth of the series lies in a buffer
    tracemalloc.start()
    volume_under_surface(scores, labels, window=100)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 64 * len(scores), peak  # bytes per point; one (points, window) float64 array alone is 800


def test_range_precision_and_recall_by_hand() -> None:
    #                    0  1  2  3  4  5  6  7  8  9
    labels = np.array([0, 0, 1, 1, 1, 0, 0, 1, 1, 0])  # ranges 2-4 and 7-8
    flags = np.array([0, 1, 0, 1, 0, 0, 0, 0, 0, 0])  # runs 1 and 3
    # Recall: range 2-4 found (0.2) with a third flagged by one run (0.8 / 3); range 7-8 nothing.
    # Precision: run 1 holds no labelled point, run 3 is all labelled and overlaps one range.
    scores = range_precision_recall_f1(torch.from_numpy(flags), torch.from_numpy(labels))
    recall, precision = (0.2 + 0.8 / 3) / 2, 0.5
    assert scores["range_recall"] == pytest.approx(recall)
    assert scores["range_precision"] == pytest.approx(precision)
    assert scores["range_f1"] == pytest.approx(2 * precision * recall / (precision + recall))
    # One flagged run over both ranges: each range is all flagged by one run (recall 1); the run's 7
    # points hold 5 labelled ones and it overlaps two ranges, so its precision is 5/7 halved.
    spanning = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 0])
    assert range_precision_recall_f1(spanning, labels)["range_precision"] == pytest.approx(5 / 14)
    assert range_precision_recall_f1(spanning, labels)["range_recall"] == pytest.approx(1.0)
    assert range_precision_recall_f1(np.zeros(10), labels) == {"range_precision": 0.0, "range_recall": 0.0, "range_f1": 0.0}


def test_anomaly_metrics_report_the_range_aware_keys() -> None:
    scores, labels = series(4, 200, "huge")
    metrics = anomaly_metrics(torch.from_numpy(scores), torch.from_numpy(labels), threshold=float(np.median(scores)), vus_window=10, vus_thresholds=50)
    assert (metrics["vus_roc"], metrics["vus_pr"]) == pytest.approx(volume_under_surface(scores, labels, 10, 50))
    assert 0 < metrics["range_precision"] < 1 and 0 < metrics["range_recall"] <= 1 and 0 < metrics["range_f1"] < 1


def task(**settings: object) -> AnomalyTask:
    model = {"cell": "gru", "hidden_size": 4, "num_layers": 1, "bidirectional": False, "dropout": 0.0}
    spec = {"input_kind": "features", "input_size": 1, "target_kind": "anomaly", "output_size": 1}
    return AnomalyTask(spec, model, {"name": "adam", "lr": 0.01}, {"name": "none"}, **settings)


@pytest.mark.parametrize(("key", "value"), [("vus_window", -1), ("vus_thresholds", 0), ("vus_window", 2.5)])
def test_bad_vus_settings_name_the_key(key: str, value: object) -> None:
    with pytest.raises(ValueError, match=rf"task\.{key}={value}: must be an integer >= "):
        task(**{key: value})


def scored_test_split(labels: torch.Tensor, nan_at: int | None = None) -> AnomalyTask:
    """A task whose test split holds one window per point, scored by the point's position."""
    detector = task(vus_window=4)
    detector.threshold.fill_(10.0)
    points = PointScores(keep_values=False)
    scores = torch.arange(len(labels), dtype=torch.float32).view(-1, 1) * 1e6
    points.add(torch.arange(len(labels)), scores, labels.view(-1, 1))
    if nan_at is not None:
        points.total[nan_at] = float("nan")
    detector._points["test"] = points
    return detector


def test_the_task_says_why_vus_is_missing(caplog: pytest.LogCaptureFixture) -> None:
    labels = torch.zeros(30, dtype=torch.long)
    with caplog.at_level(logging.WARNING, logger="seqexp.tasks.anomaly"):
        metrics = scored_test_split(labels).epoch_metrics("test")
    assert math.isnan(metrics["test/vus_pr"]) and math.isnan(metrics["test/vus_roc"])
    assert any("no anomalous point" in record.getMessage() and "test/vus_pr" in record.getMessage() for record in caplog.records)
    caplog.clear()
    labels[20:25] = 1
    with caplog.at_level(logging.WARNING, logger="seqexp.tasks.anomaly"):
        metrics = scored_test_split(labels, nan_at=3).epoch_metrics("test")
    assert math.isnan(metrics["test/vus_pr"]) and math.isfinite(metrics["test/range_f1"])
    warnings = [record.getMessage() for record in caplog.records if "nan score" in record.getMessage()]
    assert len(warnings) == 1 and "1 of the 30" in warnings[0] and "test/vus_roc, test/vus_pr" in warnings[0], warnings
    # Without the nan, the task's metrics are the function's on the same series.
    metrics = scored_test_split(labels).epoch_metrics("test")
    expected = volume_under_surface(torch.arange(30.0) * 1e6, labels, 4)
    assert (metrics["test/vus_roc"], metrics["test/vus_pr"]) == pytest.approx(expected)
