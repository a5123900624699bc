"""Anomaly metrics on hand-made series whose values are worked out by hand, and the threshold-free
curves against scikit-learn on scores far outside [0, 1]."""

import math

import numpy as np
import pytest
import torch

from seqexp.metrics.anomaly import (
    NEED_A_NORMAL_POINT,
    anomaly_metrics,
    auroc,
    average_precision,
    best_f1_threshold,
    choose_threshold,
    event_recall,
    false_alarms_per_1000,
    point_adjust,
    precision_recall_curve,
    precision_recall_f1,
    runs,
    smooth,
    ucr_hit,
)

#                      0  1  2  3  4  5  6  7  8  9
LABELS = torch.tensor([0, 0, 1, 1, 1, 0, 0, 1, 1, 0])  # windows [2, 5) and [7, 9)
FLAGS = torch.tensor([0, 1, 0, 1, 0, 0, 0, 0, 0, 0])  # one false alarm (1), one hit inside the first window (3)


def test_runs_are_half_open_windows() -> None:
    assert runs(LABELS.bool()) == [(2, 5), (7, 9)]
    assert runs(torch.tensor([1, 1, 0, 1]).bool()) == [(0, 2), (3, 4)]
    assert runs(torch.zeros(4).bool()) == []


def test_point_wise_scores() -> None:
    # TP = 1 (3), FP = 1 (1), FN = 4 (2, 4, 7, 8): P = 1/2, R = 1/5, F1 = 2/7.
    scores = precision_recall_f1(FLAGS, LABELS)
    assert scores["precision"] == pytest.approx(0.5)
    assert scores["recall"] == pytest.approx(0.2)
    assert scores["f1"] == pytest.approx(2 / 7)


def test_point_adjusted_scores_credit_the_whole_window() -> None:
    adjusted = point_adjust(FLAGS, LABELS)
    assert adjusted.tolist() == [0, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    # TP = 3, FP = 1, FN = 2: P = 3/4, R = 3/5, F1 = 2/3.
    scores = precision_recall_f1(adjusted, LABELS)
    assert (scores["precision"], scores["recall"]) == (pytest.approx(0.75), pytest.approx(0.6))
    assert scores["f1"] == pytest.approx(2 / 3)


def test_event_recall_and_false_alarms() -> None:
    assert event_recall(FLAGS, LABELS) == 0.5
    # Normal points 0, 1, 5, 6, 9; one of them (1) flagged: 1 per 5 normal points = 200 per 1,000.
    assert false_alarms_per_1000(FLAGS, LABELS) == pytest.approx(200.0)
    assert math.isnan(event_recall(FLAGS, torch.zeros(10, dtype=torch.long)))


def test_false_alarms_count_flagged_normal_points_per_1000_normal_points() -> None:
    ones, zeros = torch.ones(10, dtype=torch.long), torch.zeros(10, dtype=torch.long)
    assert false_alarms_per_1000(ones, LABELS) == 1000.0  # flags all: every normal point is a false alarm
    assert false_alarms_per_1000(zeros, LABELS) == 0.0
    assert false_alarms_per_1000(LABELS, LABELS) == 0.0  # flags exactly the windows
    assert false_alarms_per_1000(ones, zeros) == 1000.0  # no anomaly at all
    # Two normal points flagged as two separate runs and one run of two: 4 of 5 normal points.
    assert false_alarms_per_1000(torch.tensor([1, 0, 0, 0, 0, 1, 1, 0, 0, 1]), LABELS) == pytest.approx(800.0)
    # The user's detector: 2,580 of 2,755 test points flagged in one long run that covers both windows.
    labels = torch.zeros(2755, dtype=torch.long)
    labels[1000:1060] = 1
    labels[2000:2060] = 1
    flags = torch.ones(2755, dtype=torch.long)
    flags[:175] = 0
    assert int(flags.sum()) == 2580
    # Flagged normal points: 2,580 - 120 = 2,460 of 2,755 - 120 = 2,635 normal points.
    assert false_alarms_per_1000(flags, labels) == pytest.approx(1000 * 2460 / 2635)
    assert anomaly_metrics(flags.double(), labels, 0.5)["false_alarms_per_1k"] == pytest.approx(1000 * 2460 / 2635)


def test_false_alarms_and_curves_are_nan_without_a_normal_point() -> None:
    ones = torch.ones(10, dtype=torch.long)
    assert math.isnan(false_alarms_per_1000(ones, ones))  # nothing normal to raise a false alarm on
    metrics = anomaly_metrics(SCORES, ones, 0.5)
    assert all(math.isnan(metrics[name]) for name in NEED_A_NORMAL_POINT)
    assert metrics["recall"] == pytest.approx(0.5)  # 5 of 10 scores >= 0.5: still defined


def test_ucr_hit_uses_the_top_score_and_the_tolerance() -> None:
    scores = torch.zeros(10)
    scores[8] = 1.0
    assert ucr_hit(scores, LABELS, tolerance=0) == 1.0
    scores = torch.zeros(10)
    scores[6] = 1.0  # one point before the second window
    assert ucr_hit(scores, LABELS, tolerance=0) == 0.0
    assert ucr_hit(scores, LABELS, tolerance=1) == 1.0


SCORES = torch.tensor([0.1, 0.2, 0.9, 0.8, 0.7, 0.3, 0.1, 0.6, 0.65, 0.05])  # anomalies score >= 0.6


def test_best_f1_threshold_separates_a_separable_score() -> None:
    threshold = best_f1_threshold(SCORES, LABELS)
    assert threshold == pytest.approx(0.6)
    metrics = anomaly_metrics(SCORES, LABELS, threshold)
    for name in ("f1", "pa_f1", "auroc", "auprc", "event_recall"):
        assert metrics[name] == pytest.approx(1.0), name
    assert metrics["false_alarms_per_1k"] == 0.0


def test_normal_score_rules_use_only_points_labelled_normal() -> None:
    normal = SCORES[LABELS == 0]  # 0.1 0.2 0.3 0.1 0.05
    value, rule = choose_threshold("mean_std", SCORES, LABELS, k=2.0)
    assert rule == "mean_std"
    assert value == pytest.approx(float(normal.mean() + 2 * normal.std(unbiased=False)))
    value, rule = choose_threshold("quantile", SCORES, LABELS, quantile=0.5)
    assert (value, rule) == (pytest.approx(0.1), "quantile")


def test_best_f1_without_anomalies_falls_back_to_the_quantile_rule() -> None:
    value, rule = choose_threshold("best_f1", SCORES, torch.zeros(10, dtype=torch.long), quantile=0.5)
    assert rule == "quantile" and value == pytest.approx(float(torch.quantile(SCORES, 0.5)))
    with pytest.raises(ValueError, match="task.threshold.rule"):
        choose_threshold("top_k", SCORES, LABELS)


def test_smoothing_is_a_centred_moving_average() -> None:
    torch.testing.assert_close(smooth(torch.tensor([0.0, 0.0, 3.0, 0.0, 0.0]), 3), torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0]))
    torch.testing.assert_close(smooth(SCORES, 1), SCORES)


# --- threshold-free curves on the raw score scale, against scikit-learn ------------------------------


def test_issue_example_best_f1_threshold_is_on_the_raw_scale() -> None:
    # torchmetrics' curve squashed these through a sigmoid: 18, 25, 30 and 40 tied at 1.0 in float32.
    scores = torch.tensor([0.5, 1, 2, 18, 40, 25, 30.0])
    labels = torch.tensor([0, 0, 0, 0, 1, 0, 1])
    assert best_f1_threshold(scores, labels) == 30.0
    metrics = anomaly_metrics(scores, labels, 30.0)
    assert (metrics["auroc"], metrics["auprc"], metrics["f1"]) == (1.0, 1.0, 1.0)


def scored_series(seed: int, scale: float, ties: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Scores far outside [0, 1] (negative too) where anomalies score higher on average; with
    ``ties``, rounded to a few distinct values."""
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.rand(300, generator=generator) < 0.1).long()
    labels[0], labels[1] = 0, 1  # both classes present
    scores = scale * (torch.randn(300, generator=generator, dtype=torch.float64) + 1.5 * labels)
    if ties:
        scores = (scores / scale * 2).round() * scale
    return scores, labels


def hand_f1(scores: torch.Tensor, labels: torch.Tensor, threshold: float) -> float:
    flagged = scores >= threshold
    true_positives = int((flagged & labels.bool()).sum())
    return 2 * true_positives / (int(flagged.sum()) + int(labels.sum()))


CASES = [(seed, scale, ties) for seed in range(4) for scale, ties in ((1.0, False), (40.0, False), (1e4, False), (1e4, True))]


@pytest.mark.parametrize(("seed", "scale", "ties"), CASES)
def test_curves_match_scikit_learn_far_outside_unit_range(seed: int, scale: float, ties: bool) -> None:
    metrics_module = pytest.importorskip("sklearn.metrics")
    scores, labels = scored_series(seed, scale, ties)
    metrics = anomaly_metrics(scores, labels, threshold=0.0)
    y_true, y_score = labels.numpy(), scores.numpy()
    assert metrics["auroc"] == pytest.approx(metrics_module.roc_auc_score(y_true, y_score), abs=1e-12)
    assert metrics["auprc"] == pytest.approx(metrics_module.average_precision_score(y_true, y_score), abs=1e-12)
    # The same curve as scikit-learn's, which runs lowest threshold first and appends (recall 0,
    # precision 1); older versions also stop at the first threshold of full recall.
    precision, recall, thresholds = precision_recall_curve(scores, labels)
    expected_precision, expected_recall, expected_thresholds = metrics_module.precision_recall_curve(y_true, y_score)
    shown = len(expected_thresholds)
    np.testing.assert_allclose(thresholds[:shown].numpy(), expected_thresholds[::-1])
    np.testing.assert_allclose(precision[:shown].numpy(), expected_precision[-2::-1])
    np.testing.assert_allclose(recall[:shown].numpy(), expected_recall[-2::-1])


@pytest.mark.parametrize(("seed", "scale", "ties"), CASES)
def test_best_f1_threshold_reaches_the_best_f1_over_every_threshold(seed: int, scale: float, ties: bool) -> None:
    scores, labels = scored_series(seed, scale, ties)
    threshold = best_f1_threshold(scores, labels)
    assert threshold in set(scores.tolist())  # a raw score, not a squashed one
    best = max(hand_f1(scores, labels, candidate) for candidate in set(scores.tolist()))
    assert hand_f1(scores, labels, threshold) == pytest.approx(best)
    assert anomaly_metrics(scores, labels, threshold)["f1"] == pytest.approx(best)


def test_tied_scores_count_half_in_auroc() -> None:
    # One anomaly tied with one of two normal points, above the other: AUROC = (1 + 0.5) / 2.
    assert auroc(torch.tensor([1e4, 1e4, -1e4]), torch.tensor([1, 0, 0])) == 0.75
    assert math.isnan(auroc(SCORES, torch.zeros(10, dtype=torch.long)))
    assert math.isnan(average_precision(SCORES, torch.zeros(10, dtype=torch.long)))
