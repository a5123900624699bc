"""scripts/baseline_anomaly.py's sub-sequence PCA detector: per-point scores as the mean over the windows
that hold a point, worked out window by window, and an injected anomaly scored far above the points no window over it holds."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
baseline = importlib.import_module("baseline_anomaly")


def sines(points: int) -> torch.Tensor:
    """Two channels of periodic signal, ``(time, feature)``."""
    steps = torch.arange(points, dtype=torch.float64)
    return torch.stack([torch.sin(steps / 5), torch.cos(steps / 9) + 0.5 * torch.sin(steps / 3)], dim=1)


def test_a_point_scores_the_mean_error_of_the_windows_that_hold_it() -> None:
    values = sines(120) + 0.05 * torch.randn(120, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    bounds, window = {"train": (0, 60), "val": (60, 90), "test": (90, 120)}, 8
    scores = baseline.subsequence_pca(values, bounds, "test", window, variance=0.8)
    # By hand: the subspace of the train windows, each test point's windows listed one by one.
    train = torch.stack([values[s : s + window].T.reshape(-1) for s in range(60 - window + 1)])
    mean = train.mean(0)
    _, singular, directions = torch.linalg.svd(train - mean, full_matrices=False)
    share = singular.pow(2).cumsum(0) / singular.pow(2).sum()
    basis = directions[: int((share < 0.8).sum()) + 1]

    def error(first: int) -> float:
        centred = values[first : first + window].T.reshape(-1) - mean
        return float((centred - basis.T @ (basis @ centred)).pow(2).mean())

    for point in range(90, 120):
        holding = [first for first in range(point - window + 1, point + 1) if first + window <= 120]
        assert abs(float(scores[point - 90]) - sum(map(error, holding)) / len(holding)) < 1e-12


def test_an_injected_flat_line_scores_above_every_normal_point() -> None:
    values = sines(600)
    values[500:520] = values[500]  # the signal stops moving for 20 points
    scores = baseline.subsequence_pca(values, {"train": (0, 300), "val": (300, 450), "test": (450, 600)}, "test", 16, 0.99)
    far = torch.ones(150, dtype=torch.bool)
    far[50 - 16 : 70 + 16] = False  # points no window overlapping the flat line holds
    assert 35 <= int(scores.argmax()) < 85  # near the flat line; its own windows smear it by up to 15 points
    assert scores[50:70].mean() > 5 * scores[far].max()
