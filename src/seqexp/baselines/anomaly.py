"""Classical anomaly detectors on the series the model scores, with the task's threshold rule and metrics.

rolling_zscore  score of point t: the largest over features of |x_t - mean| / std of the ``w`` points before it
                (context from the preceding split allowed, as for the model's windows); ``w`` chosen on val AUPRC
subsequence_pca every window of ``m`` points is a vector; its score is its squared distance to the principal
                subspace of the train split's windows (Sub-PCA of TSB-AD, Liu et al., NeurIPS 2024); a point
                takes the mean of the windows holding it (``scripts/baseline_anomaly.py`` reports it)

The threshold is chosen on val by the task's rule (``task.threshold.*``) and both splits are scored by the task's
``anomaly_metrics`` (``task.ucr_tolerance``, ``task.vus_window``, ``task.vus_thresholds``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from seqexp.baselines.inputs import AnomalyInputs, SlicedRows
from seqexp.baselines.outcome import Figures, Outcome
from seqexp.metrics.anomaly import anomaly_metrics, average_precision, choose_threshold

Scorer = Callable[[str, int], torch.Tensor]  # (split, setting) -> one score per point of the split
CHUNK = 1 << 16  # points scored at a time


@dataclass(frozen=True)
class AnomalyScoring:
    """How the task turns scores into figures: its ``threshold`` settings, ``ucr_tolerance`` and VUS settings."""

    threshold: dict = field(default_factory=lambda: {"rule": "best_f1", "quantile": 0.99, "k": 3.0})
    ucr_tolerance: int = 100
    vus_window: int = 100
    vus_thresholds: int = 250


def rolling_zscore(values: torch.Tensor | SlicedRows, start: int, end: int, window: int) -> torch.Tensor:
    """Scores of points ``start..end-1`` of ``values`` ``(time, feature)`` from their ``window`` predecessors (only
    rows ``start - window .. end-1`` are read, each once). Memory follows the scores alone (float64: z-scores reach
    1e6): the running sums are made ``CHUNK`` rows at a time, each chunk's sums continuing the last kept one, so
    they are the sums one cumulative sum over every row gives (torch sums a dimension in order), to the last bit."""
    offset = max(start - window, 0)  # running sums start here: row i's sum holds rows offset .. i-1
    features = values.shape[1]
    sums = torch.zeros(1, features, dtype=torch.float64)  # running sums of rows ``summed - len(sums) + 1 .. summed``
    squares = torch.zeros_like(sums)
    summed = offset  # the row whose running sum ends ``sums``
    scores = torch.empty(end - start, dtype=torch.float64)
    for first_point in range(start, end, CHUNK):
        last_point = min(first_point + CHUNK, end)
        x = values[summed:last_point].double()  # the rows not summed yet, to the chunk's last point (scaled here: sliced rows)
        inputs = x[first_point - summed :]  # the chunk's own points
        sums = torch.cat([sums, torch.cumsum(torch.cat([sums[-1:], x]), 0)[1:]])  # from the last sum on, in order
        squares = torch.cat([squares, torch.cumsum(torch.cat([squares[-1:], x * x]), 0)[1:]])
        row_of_first, summed = last_point - len(sums) + 1, last_point  # the row whose running sum is sums[0]
        points = torch.arange(first_point, last_point)
        first = (points - window).clamp(min=offset)
        count = (points - first).clamp(min=1).unsqueeze(1).to(torch.float64)
        mean = (sums[points - row_of_first] - sums[first - row_of_first]) / count
        variance = ((squares[points - row_of_first] - squares[first - row_of_first]) / count - mean * mean).clamp(min=0)
        scores[first_point - start : last_point - start] = ((inputs - mean).abs() / (variance.sqrt() + 1e-6)).amax(1)
        keep = last_point - max(last_point - window, offset) + 1  # the next chunk's first points reach back window rows
        sums, squares = sums[-keep:], squares[-keep:]
    return scores


def windows_of(values: torch.Tensor, window: int) -> torch.Tensor:
    """Every run of ``window`` consecutive points of ``values`` ``(time, feature)`` as one row ``(runs, window x feature)``."""
    return values.double().unfold(0, window, 1).reshape(len(values) - window + 1, -1)


def subsequence_pca(values: torch.Tensor | SlicedRows, bounds: dict[str, tuple[int, int]], split: str, window: int, variance: float) -> torch.Tensor:
    """Scores of the points of ``split``: the mean reconstruction error of the windows holding each point
    (windows start up to ``window - 1`` points before the split and end inside it), against the principal
    subspace that keeps ``variance`` of the variance of the train split's windows."""
    train = windows_of(values[slice(*bounds["train"])], window)
    mean = train.mean(0)
    _, singular, directions = torch.linalg.svd(train - mean, full_matrices=False)
    kept = singular.pow(2).cumsum(0) / singular.pow(2).sum()
    components = directions[: int(torch.searchsorted(kept, torch.tensor(variance, dtype=kept.dtype))) + 1]
    start, end = bounds[split]
    first = max(start - window + 1, 0)  # the first window holding the split's first point
    centred = windows_of(values[first:end], window) - mean
    errors = (centred - centred @ components.T @ components).pow(2).mean(1)  # (windows,), window k starts at first + k
    total = torch.cat([torch.zeros(1, dtype=errors.dtype), errors.cumsum(0)])
    points = torch.arange(start, end) - first
    low, high = (points - window + 1).clamp(min=0), points.clamp(max=len(errors) - 1) + 1
    return (total[high] - total[low]) / (high - low)


def evaluate(data: AnomalyInputs, scorer: Scorer, settings: list[int], scoring: AnomalyScoring) -> tuple[int, Figures]:
    """The setting chosen on val (best AUPRC; the middle one when val has no anomaly) and the detector's val and
    test figures with it, at the threshold the task's rule picks on val."""
    labels = {split: data.labels[slice(*data.bounds[split])] for split in ("val", "test")}  # 0/1 in their own dtype (uint8 read)
    if labels["val"].any() and not labels["val"].all():
        auprc = {setting: average_precision(scorer("val", setting), labels["val"]) for setting in settings}
        setting = max(auprc, key=auprc.get)
    else:
        setting = settings[len(settings) // 2]
    rule = scoring.threshold
    val_scores = scorer("val", setting)
    value, _ = choose_threshold(rule["rule"], val_scores, labels["val"], rule["quantile"], rule["k"])
    figures = split_figures("val", val_scores, labels["val"], value, scoring)
    del val_scores  # not held while test is scored
    return setting, {**figures, **split_figures("test", scorer("test", setting), labels["test"], value, scoring)}


def split_figures(split: str, scores: torch.Tensor, labels: torch.Tensor, threshold: float, scoring: AnomalyScoring) -> Figures:
    """The task's metrics of one split's scores at ``threshold``, as ``{"<split>/<metric>": value}``."""
    metrics = anomaly_metrics(scores, labels, threshold, scoring.ucr_tolerance, scoring.vus_window, scoring.vus_thresholds)
    return {f"{split}/{name}": float(metric) for name, metric in metrics.items()}


def anomaly_baselines(data: AnomalyInputs, scoring: AnomalyScoring, windows: list[int]) -> dict[str, Outcome]:
    """The rolling z-score's figures with the window (among ``windows``) chosen on val, that window as ``window``."""
    window, figures = evaluate(data, lambda split, w: rolling_zscore(data.values, *data.bounds[split], w), list(windows), scoring)
    return {"rolling_zscore": {**figures, "window": float(window)}}
