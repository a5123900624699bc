"""A DataLoader that resumes mid-epoch at the batch where a checkpoint was taken.

Lightning saves ``state_dict()`` of the training loader into every checkpoint and, when a fit
resumes mid-epoch, calls ``load_state_dict()`` before iterating again. Two things make the resumed
epoch identical to the uninterrupted one:

- the shuffle order depends only on ``(seed, epoch)`` (``EpochShuffleSampler``; Lightning calls
  ``set_epoch`` each epoch), not on the global RNG, which a checkpoint does not restore;
- the loader counts the batches it served this epoch and, after a resume, skips as many.
"""

from __future__ import annotations

from typing import Any, Iterator

import torch
from torch.utils.data import DataLoader, Sampler

PYTHON_INDEX_CHUNK = 65_536  # shuffled indices turned into Python ints this many at a time


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """The random stream of one epoch: a function of (seed, epoch) only, so a resumed run reshuffles alike.
    The prime multiplier keeps (seed, epoch) pairs from sharing a stream (seed 1 epoch 0 vs seed 0 epoch 1)."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


class EpochShuffleSampler(Sampler[int]):
    """Indices in a random order drawn from ``(seed, epoch)`` alone, or in order when ``shuffle`` is false."""

    def __init__(self, length: int, shuffle: bool, seed: int) -> None:
        self.length, self.shuffle, self.seed, self.epoch = length, shuffle, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.length

    def __iter__(self) -> Iterator[int]:
        if not self.shuffle:
            return iter(range(self.length))
        order = torch.randperm(self.length, generator=epoch_generator(self.seed, self.epoch))
        # Python ints a chunk at a time: a whole list would cost ~36 bytes a window (180 MB for 5M windows).
        return (index for chunk in order.split(PYTHON_INDEX_CHUNK) for index in chunk.tolist())


class ResumableDataLoader(DataLoader):
    """``DataLoader`` with the ``state_dict``/``load_state_dict`` pair Lightning uses for mid-epoch resume.

    Skipped batches are fetched and dropped, which is cheap for pre-built tensors.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batches_served = 0  # batches handed out by the current pass
        self.resume_at = 0  # batches to skip on the next pass (set from a checkpoint)

    def __iter__(self) -> Iterator[Any]:  # type: ignore[override]
        skip, self.resume_at = self.resume_at, 0
        self.batches_served = skip
        batches = super().__iter__()
        for _ in range(skip):
            next(batches, None)
        for batch in batches:
            self.batches_served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        return {"batches_served": self.batches_served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.resume_at = int(state["batches_served"])
