"""Anomaly metrics on hand-made series whose values are worked out by hand."""

import math

import pytest
import torch

from seqexp.metrics.anomaly import (
    anomaly_metrics,
    best_f1_threshold,
    choose_threshold,
    event_recall,
    false_alarms_per_1000,
    point_adjust,
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
    assert false_alarms_per_1000(FLAGS, LABELS) == pytest.approx(100.0)  # one false run in 10 points
    assert math.isnan(event_recall(FLAGS, torch.zeros(10, dtype=torch.long)))


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
