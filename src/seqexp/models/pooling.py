"""Sequence pooling: one vector per sequence from encoder outputs ``(batch, time, features)``."""

from __future__ import annotations

import torch
from torch import nn

from seqexp.masks import valid_step_mask

POOLINGS = ("last", "mean", "max", "attention")


def last_valid_step(outputs: torch.Tensor, lengths: torch.Tensor | None, num_directions: int) -> torch.Tensor:
    """Forward direction at each sequence's last real step; backward direction at step 0."""
    batch, time, features = outputs.shape
    if lengths is None:
        last = outputs[:, -1]
    else:
        index = (lengths.to(outputs.device) - 1).clamp(min=0).view(batch, 1, 1).expand(batch, 1, features)
        last = outputs.gather(1, index).squeeze(1)
    if num_directions == 1:
        return last
    hidden = features // 2
    return torch.cat([last[:, :hidden], outputs[:, 0, hidden:]], dim=1)


class AttentionPooling(nn.Module):
    """Learned attention weights over the valid steps (additive scoring, one query)."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(features, features), nn.Tanh(), nn.Linear(features, 1, bias=False))

    def forward(self, outputs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        scores = self.score(outputs).squeeze(-1).masked_fill(~mask, float("-inf"))
        weights = torch.softmax(scores, dim=1)  # (batch, time)
        return torch.bmm(weights.unsqueeze(1), outputs).squeeze(1)


def pool_sequence(
    outputs: torch.Tensor,
    lengths: torch.Tensor | None,
    method: str,
    num_directions: int = 1,
    attention: AttentionPooling | None = None,
) -> torch.Tensor:
    """(batch, time, features) -> (batch, features), ignoring padded steps."""
    if method == "last":
        return last_valid_step(outputs, lengths, num_directions)
    batch, time = outputs.shape[:2]
    mask = torch.ones(batch, time, dtype=torch.bool, device=outputs.device) if lengths is None else valid_step_mask(lengths, time, outputs.device)
    if method == "mean":
        weights = mask.unsqueeze(-1).to(outputs.dtype)
        return (outputs * weights).sum(1) / weights.sum(1).clamp(min=1.0)
    if method == "max":
        return outputs.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values
    if method == "attention":
        if attention is None:
            raise ValueError("pooling 'attention' needs an AttentionPooling module")
        return attention(outputs, mask)
    raise ValueError(f"pooling must be one of {POOLINGS}, got {method!r}")
