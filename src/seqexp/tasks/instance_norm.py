"""Per-window standardisation (the normalisation half of RevIN, Kim et al. 2022), shared by the tasks that
offer ``task.instance_norm``: a level or spread the train range never saw (a trend, a drift) reaches the
model as the same shapes it learnt."""

from __future__ import annotations

import torch

EPS = 1e-5  # added to each window's variance: a flat window is left flat, not blown up


def window_statistics(values: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation over time of ``values`` ``(batch, time, features)``, each ``(batch, 1, features)``."""
    mean = values.mean(dim=1, keepdim=True)
    return mean, (values.var(dim=1, keepdim=True, unbiased=False) + EPS).sqrt()
