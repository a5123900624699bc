"""Matplotlib figures for TensorBoard. matplotlib is imported on first use, not at start-up."""

from __future__ import annotations

from typing import Any

import numpy as np


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def prediction_figure(target: np.ndarray, prediction: np.ndarray, title: str, burn_in_steps: int = 0) -> Any:
    """Prediction against target for one window; ``target``/``prediction`` are ``(time, feature)``."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 3))
    steps = np.arange(len(target))
    for feature in range(target.shape[1]):
        axis.plot(steps, target[:, feature], label=f"target {feature}" if target.shape[1] > 1 else "target")
        axis.plot(steps, prediction[:, feature], "--", label=f"prediction {feature}" if target.shape[1] > 1 else "prediction")
    if burn_in_steps:
        axis.axvspan(-0.5, burn_in_steps - 0.5, color="grey", alpha=0.2, label="burn-in (not scored)")
    axis.set_xlabel("step")
    axis.set_title(title)
    axis.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    return figure


def confusion_matrix_figure(matrix: np.ndarray, class_names: list[str], title: str) -> Any:
    """Counts ``matrix[true, predicted]`` as a heat map, each cell annotated with its count."""
    plt = _pyplot()
    size = max(3.5, 0.6 * len(class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    axis.imshow(matrix, cmap="Blues")
    ticks = np.arange(len(class_names))
    axis.set_xticks(ticks, class_names, rotation=45, ha="right")
    axis.set_yticks(ticks, class_names)
    threshold = matrix.max() / 2 if matrix.size else 0
    for row in range(matrix.shape[0]):
        for column in range(matrix.shape[1]):
            color = "white" if matrix[row, column] > threshold else "black"
            axis.text(column, row, str(int(matrix[row, column])), ha="center", va="center", color=color, fontsize="small")
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    axis.set_title(title)
    figure.tight_layout()
    return figure


def forecast_figure(origins: np.ndarray, forecasts: np.ndarray, truths: np.ndarray, title: str) -> Any:
    """Truth over the scored range and the forecasts of the windows starting every ``horizon`` rows.

    ``origins`` ``(windows,)`` is each window's first target row; ``forecasts``/``truths`` are
    ``(windows, horizon, targets)`` in original units. Tiling shows every step forecast exactly once.
    """
    plt = _pyplot()
    _, horizon, targets = truths.shape
    first = int(origins.min())
    truth = np.full((int(origins.max()) - first + horizon, targets), np.nan)
    for origin, window in zip(origins, truths):
        truth[origin - first : origin - first + horizon] = window
    tiled = np.flatnonzero((origins - first) % horizon == 0)
    figure, axes = plt.subplots(targets, 1, figsize=(9, 2.6 * targets), squeeze=False, sharex=True)
    for column, axis in enumerate(axes[:, 0]):
        axis.plot(first + np.arange(len(truth)), truth[:, column], color="black", linewidth=1, label="truth")
        for count, index in enumerate(tiled):
            steps = origins[index] + np.arange(horizon)
            axis.plot(steps, forecasts[index, :, column], color="tab:orange", linewidth=1, label=None if count else "forecast")
        if targets > 1:
            axis.set_ylabel(f"target {column}")
        axis.legend(loc="upper right", fontsize="small")
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel("row of the series")
    figure.tight_layout()
    return figure


def anomaly_figure(series: np.ndarray, scores: np.ndarray, labels: np.ndarray, threshold: float, title: str) -> Any:
    """Series ``(time, feature)`` above its anomaly score: threshold line, labelled windows shaded,
    points flagged (score >= threshold) marked on both panels."""
    plt = _pyplot()
    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5), sharex=True)
    steps = np.arange(len(scores))
    for feature in range(series.shape[1]):
        top.plot(steps, series[:, feature], linewidth=0.8, label=f"feature {feature}")
    bottom.plot(steps, scores, color="black", linewidth=0.8, label="score")
    bottom.axhline(threshold, color="red", linestyle="--", linewidth=1, label="threshold")
    edges = np.diff(np.concatenate([[0], labels.astype(int), [0]]))
    for start, end in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
        for axis in (top, bottom):
            axis.axvspan(start - 0.5, end - 0.5, color="orange", alpha=0.3, label="labelled anomaly" if start == np.flatnonzero(edges == 1)[0] else None)
    flagged = scores >= threshold
    top.plot(steps[flagged], series[flagged, 0], "rx", markersize=4, label="detected")
    bottom.plot(steps[flagged], scores[flagged], "rx", markersize=4, label="detected")
    bottom.set_yscale("log" if np.all(scores > 0) else "linear")
    bottom.set_xlabel("step")
    top.set_title(title)
    for axis in (top, bottom):
        axis.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    return figure
