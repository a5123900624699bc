"""Which steps of a padded batch are real: one helper for every layer (data, models, the export), so this
module imports nothing of seqexp's."""

from __future__ import annotations

import torch


def valid_step_mask(lengths: torch.Tensor, time: int, device: torch.device | None = None) -> torch.Tensor:
    """``(batch, time)`` bool: True on each sequence's first ``lengths[b]`` steps (its real ones), False on the
    padding after them; on ``device`` (default: that of ``lengths``)."""
    lengths = lengths.to(device) if device is not None else lengths
    return torch.arange(time, device=lengths.device) < lengths.unsqueeze(1)
