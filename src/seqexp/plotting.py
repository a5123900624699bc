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
