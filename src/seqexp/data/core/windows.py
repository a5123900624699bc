"""Windows over one long series as index arithmetic: memory grows with the series, not with series x window.

A window dataset holds the series once (in memory, or a memory-mapped ``.npy``) and a rule for its
windows' first steps (``WindowStarts``: first, stride, last); a batch gathers its windows when it is
fetched, with one fancy index. A 5M-point series with windows of 32 steps then costs its 5M values,
not 160M copies of them.

One convention for every family: a window's start is its first input row, the first step the model reads.
What a family places elsewhere is counted from it: a forecast's first target row (``origin``, series) is
``start + input_length``; an anomaly window's ``starts`` are the same rows, relative to its split's first point;
sine windows, drawn at times rather than rows, start at the time of their first input step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

Batch = dict[str, torch.Tensor]


@dataclass(frozen=True)
class WindowStarts:
    """The steps ``first, first + stride, ...`` up to ``last``, and ``last`` itself when ``cover_last``
    (so that evaluation windows reach a split's final point); computed per batch, never stored."""

    first: int
    last: int
    stride: int = 1
    cover_last: bool = False

    def __len__(self) -> int:
        if self.last < self.first:
            return 0
        span = self.last - self.first
        return span // self.stride + 1 + int(self.cover_last and span % self.stride != 0)

    def at(self, index: torch.Tensor) -> torch.Tensor:
        """The starts of windows number ``index`` ``(n,)``, as ``(n,)`` int64."""
        return (self.first + index.long() * self.stride).clamp(max=self.last)

    def all(self) -> torch.Tensor:
        return self.at(torch.arange(len(self)))


def gather_rows(values: np.ndarray | torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``values[rows]`` as a tensor: one fancy index, also on a memory-mapped array (read where it is indexed)."""
    if isinstance(values, torch.Tensor):
        return values[rows]
    return torch.from_numpy(np.ascontiguousarray(values[rows.numpy()]))


class WindowDataset(Dataset):
    """Map-style dataset of windows: ``gather(starts)`` builds the batch of the windows starting at ``starts``
    ``(batch,)``; like ``BatchedTensorDataset`` it serves whole batches through ``__getitems__``."""

    def __init__(self, starts: WindowStarts, gather: Callable[[torch.Tensor], Batch]) -> None:
        self.starts, self.gather = starts, gather

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, index: int) -> Batch:
        return {name: tensor[0] for name, tensor in self.__getitems__([index]).items()}

    def __getitems__(self, indices: list[int]) -> Batch:
        return self.gather(self.starts.at(torch.as_tensor(indices)))
