"""Matplotlib figures for TensorBoard. matplotlib is imported on first use, not at start-up."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from seqexp.metrics.range_aware import ranges


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


def forecast_figure(
    origins: np.ndarray,
    forecasts: np.ndarray,
    truths: np.ndarray,
    title: str,
    names: Sequence[str] = (),
    times: Sequence[str] | None = None,
    interval: tuple[np.ndarray, np.ndarray, str] | None = None,
) -> Any:
    """Truth over the scored range and the forecasts of the windows starting every ``horizon`` rows.

    ``origins`` ``(windows,)`` is each window's first target row of the series (the prediction file's
    ``step``); ``forecasts``/``truths`` are ``(windows, horizon, targets)`` in original units, one target
    per name of ``names`` (the data's columns); ``times`` the series' time stamps, when it has them;
    ``interval`` (lower, upper, label), both ``(windows, horizon, targets)``: quantile forecasts shaded
    between. Tiling shows every step forecast exactly once.
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
            if interval is not None:
                axis.fill_between(
                    steps,
                    interval[0][index, :, column],
                    interval[1][index, :, column],
                    color="tab:orange",
                    alpha=0.25,
                    linewidth=0,
                    label=None if count else interval[2],
                )
        axis.set_ylabel(names[column] if column < len(names) else f"target {column}")
        axis.legend(loc="upper right", fontsize="small")
    axes[0, 0].set_title(title)
    time_axis(axes[-1, 0], times)
    figure.tight_layout()
    return figure


SERIES_PANELS = 4  # up to this many value columns get a panel (and a y scale) each; more share one panel
PLOT_COLUMNS = 2_000  # columns across the x axis a long series is drawn with (more than the figure has pixels)
CHUNK = 1 << 16  # points placed in their columns at a time


def column_extremes(x: np.ndarray, y: np.ndarray, span: tuple[float, float], columns: int = PLOT_COLUMNS) -> np.ndarray:
    """Which points of a line over sorted ``x`` to draw (their indices, in order): with more than
    ``2 * columns`` points, the first, the last and the lowest and highest of each of ``columns`` equal
    columns across ``span`` (x's first to last step; ties: the first lowest, the last highest), which draw
    the same picture at that resolution (a spike stays, however narrow); else every point. Memory and time
    to draw stay bounded on any length: the columns are found ``CHUNK`` points at a time, then searched one by one."""
    if len(x) <= 2 * columns:
        return np.arange(len(x))
    scale = columns / max(span[1] - span[0], 1)
    firsts, previous = [], -1  # where each column's points start (x is sorted, so a column's points are contiguous)
    for start in range(0, len(x), CHUNK):
        column = np.minimum(((x[start : start + CHUNK] - span[0]) * scale).astype(np.int64), columns - 1)
        firsts.extend((start + np.flatnonzero(np.diff(column, prepend=previous))).tolist())
        previous = column[-1]
    drawn = [0, len(x) - 1]
    for first, end in zip(firsts, firsts[1:] + [len(x)]):
        part = y[first:end]
        drawn += [first + int(np.argmin(part)), end - 1 - int(np.argmax(part[::-1]))]
    return np.unique(drawn)


def labelled_spans(steps: np.ndarray, labels: np.ndarray, width: float) -> list[tuple[float, float]]:
    """The x extent of each run of labelled points (from half a step before its first to half a step after its
    last); with ``width`` > 0 (a drawing column's), runs closer than that are one span and a narrower span is
    widened to it around its centre, so every labelled run stays visible and they number at most the columns."""
    starts, lasts = ranges(labels != 0)
    spans: list[list[float]] = []
    for start, last in zip(starts.tolist(), lasts.tolist()):
        left, right = float(steps[start]) - 0.5, float(steps[last]) + 0.5
        if right - left < width:
            centre = (left + right) / 2
            left, right = centre - width / 2, centre + width / 2
        if spans and left - spans[-1][1] < width:
            spans[-1][1] = max(spans[-1][1], right)
        else:
            spans.append([left, right])
    return [(left, right) for left, right in spans]


def anomaly_figure(
    steps: np.ndarray,
    series: np.ndarray,
    names: Sequence[str],
    scores: np.ndarray,
    labels: np.ndarray,
    threshold: float,
    title: str,
    times: Sequence[str] | None = None,
    first_step: int = 0,
) -> Any:
    """Series ``(points, feature)`` in the data's units, one line per name of ``names`` (its columns; a
    panel each, so columns of other units keep their scale), above the points' anomaly ``scores``:
    threshold line, labelled windows shaded, points flagged (score >= threshold) marked. ``steps``
    numbers the points as the prediction file does; ``times`` (the time stamps from step ``first_step``
    on) labels them when the data has them.

    A long series is drawn with the lowest and highest point of each of ``PLOT_COLUMNS`` columns per line
    (and of the flagged points), and each labelled run at least a column wide: the same picture, at a
    bounded cost whatever the length."""
    plt = _pyplot()
    features = series.shape[1]
    groups = [[feature] for feature in range(features)] if features <= SERIES_PANELS else [list(range(features))]
    figure, axes = plt.subplots(len(groups) + 1, 1, figsize=(10, 2.2 + 1.6 * len(groups)), sharex=True)
    tops, bottom = axes[:-1], axes[-1]
    span = (float(steps[0]), float(steps[-1])) if len(steps) else (0.0, 1.0)
    flagged = np.flatnonzero(scores >= threshold)

    def line(axis: Any, y: np.ndarray, *args: Any, **kwargs: Any) -> None:
        drawn = column_extremes(steps, y, span)
        axis.plot(steps[drawn], y[drawn], *args, **kwargs)

    def marks(axis: Any, y: np.ndarray) -> None:
        drawn = flagged[column_extremes(steps[flagged], y[flagged], span)]
        axis.plot(steps[drawn], y[drawn], "rx", markersize=4, label="detected")

    for axis, group in zip(tops, groups):
        for feature in group:
            line(axis, series[:, feature], linewidth=0.8, label=names[feature])
        marks(axis, series[:, group[0]])
        if len(group) == 1:
            axis.set_ylabel(names[group[0]])
    line(bottom, scores, color="black", linewidth=0.8, label="score")
    marks(bottom, scores)
    bottom.axhline(threshold, color="red", linestyle="--", linewidth=1, label="threshold")
    bottom.set_ylabel("score")
    width = (span[1] - span[0]) / PLOT_COLUMNS if len(steps) > 2 * PLOT_COLUMNS else 0.0
    for count, (left, right) in enumerate(labelled_spans(steps, labels, width)):
        for axis in axes:
            axis.axvspan(left, right, color="orange", alpha=0.3, label=None if count else "labelled anomaly")
    bottom.set_yscale("log" if np.all(scores > 0) else "linear")
    time_axis(bottom, times, first_step)
    tops[0].set_title(title)
    for axis in axes:
        axis.legend(loc="upper right", fontsize="small")
    figure.tight_layout()
    return figure
