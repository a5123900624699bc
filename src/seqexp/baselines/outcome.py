"""A baseline's result: its figures under the model's metric names, or the reason it has none."""

from __future__ import annotations

import torch
import torchmetrics

Figures = dict[str, float]  # "val/mase" -> value, the names the model's own metrics have
Outcome = Figures | str  # the figures, or one sentence saying why the baseline could not be computed


def collection_figures(collection: torchmetrics.MetricCollection, split: str) -> Figures:
    """A metric collection's values as ``{"<split>/<name>": float}`` (scalars only, as the model's are logged)."""
    return {f"{split}/{name}": float(value) for name, value in collection.compute().items() if torch.as_tensor(value).numel() == 1}
