"""Matplotlib figures for TensorBoard. matplotlib is imported on first use, not at start-up."""

from __future__ import annotations

from typing import Any, Sequence

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


def time_axis(axis: Any, times: Sequence[str] | None, first_step: int = 0) -> None:
    """An x axis of steps numbered as prediction files number them (their ``step`` column); with the
    data's time stamps (``times[i]`` is step ``first_step + i``) the ticks read as those, as the file's
    ``timestamp`` column does."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    axis.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True))
    if times is None:
        axis.set_xlabel("step")
        return

    def stamp(step: float, _: Any) -> str:
        position = int(round(step)) - first_step
        return times[position] if 0 <= position < len(times) else ""

    axis.xaxis.set_major_formatter(FuncFormatter(stamp))
    axis.tick_params(axis="x", labelrotation=20, labelsize="small")
    axis.set_xlabel("timestamp")


def forecast_figure(origins: np.ndarray, forecasts: np.ndarray, truths: np.ndarray, title: str,
                    names: Sequence[str] = (), times: Sequence[str] | None = None) -> Any:
    """Truth over the scored range and the forecasts of the windows starting every ``horizon`` rows.

    ``origins`` ``(windows,)`` is each window's first target row of the series (the prediction file's
    ``step``); ``forecasts``/``truths`` are ``(windows, horizon, targets)`` in original units, one target
    per name of ``names`` (the data's columns); ``times`` the series' time stamps, when it has them.
    Tiling shows every step forecast exactly once.
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
        axis.set_ylabel(names[column] if column < len(names) else f"target {column}")
        axis.legend(loc="upper right", fontsize="small")
    axes[0, 0].set_title(title)
    time_axis(axes[-1, 0], times)
    figure.tight_layout()
    return figure


SERIES_PANELS = 4  # up to this many value columns get a panel (and a y scale) each; more share one panel


def anomaly_figure(steps: np.ndarray, series: np.ndarray, names: Sequence[str], scores: np.ndarray, labels: np.ndarray,
                   threshold: float, title: str, times: Sequence[str] | None = None, first_step: int = 0) -> Any:
    """Series ``(points, feature)`` in the data's units, one line per name of ``names`` (its columns; a
    panel each, so columns of other units keep their scale), above the points' anomaly ``scores``:
    threshold line, labelled windows shaded, points flagged (score >= threshold) marked. ``steps``
    numbers the points as the prediction file does; ``times`` (the time stamps from step ``first_step``
    on) labels them when the data has them."""
    plt = _pyplot()
    features = series.shape[1]
    groups = [[feature] for feature in range(features)] if features <= SERIES_PANELS else [list(range(features))]
    figure, axes = plt.subplots(len(groups) + 1, 1, figsize=(10, 2.2 + 1.6 * len(groups)), sharex=True)
    tops, bottom = axes[:-1], axes[-1]
    flagged = scores >= threshold
    for axis, group in zip(tops, groups):
        for feature in group:
            axis.plot(steps, series[:, feature], linewidth=0.8, label=names[feature])
        axis.plot(steps[flagged], series[flagged, group[0]], "rx", markersize=4, label="detected")
        if len(group) == 1:
            axis.set_ylabel(names[group[0]])
    bottom.plot(steps, scores, color="black", linewidth=0.8, label="score")
    bottom.plot(steps[flagged], scores[flagged], "rx", markersize=4, label="detected")
    bottom.axhline(threshold, color="red", linestyle="--", linewidth=1, label="threshold")
    bottom.set_ylabel("score")
    edges = np.diff(np.concatenate([[0], labels.astype(int), [0]]))
    for count, (start, end) in enumerate(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1))):
        for axis in axes:
            axis.axvspan(steps[start] - 0.5, steps[end - 1] + 0.5, color="orange", alpha=0.3, label=None if count else "labelled anomaly")
    bottom.set_yscale("log" if np.all(scores > 0) else "linear")
    time_axis(bottom, times, first_step)
    tops[0].set_title(title)
    for axis in axes:
        axis.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    return figure
