"""Length-bucketed batches: similar lengths in one batch, so little compute goes into padding.

``BucketBatchSampler`` draws indices from an ordinary ``sampler`` (random for training), cuts the
stream into pools of ``batch_size * pool_batches`` indices, sorts each pool by length, cuts it into
batches and shuffles the batches. The batch order depends only on ``(seed, epoch)``: Lightning calls
``set_epoch`` each epoch (forwarded to the inner sampler), so a resumed run replays the same order.

DDP: the class is a ``BatchSampler`` with a ``sampler`` argument, so Lightning re-creates it around
its ``DistributedSampler`` (``use_distributed_sampler=True``, the default): every rank buckets its
own shard of the indices. DistributedSampler gives each rank the same number of indices, so every
rank gets the same number of batches.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import BatchSampler, Sampler

from seqexp.data.core.errors import DataError
from seqexp.data.core.resumable import epoch_generator


class BucketBatchSampler(BatchSampler):
    def __init__(
        self,
        sampler: Sampler[int] | Sequence[int],
        batch_size: int,
        drop_last: bool = False,
        lengths: Sequence[int] | torch.Tensor = (),
        pool_batches: int = 50,
        shuffle_batches: bool = True,
        seed: int = 0,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        if pool_batches < 1:
            raise DataError(f"data.bucketing.pool_batches={pool_batches}: must be an integer >= 1")
        self.lengths = torch.as_tensor(lengths, dtype=torch.long)
        self.pool_batches = pool_batches
        self.shuffle_batches = shuffle_batches
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def _batches_of_pool(self, pool: list[int]) -> list[list[int]]:
        order = torch.argsort(self.lengths[pool], stable=True).tolist()
        ordered = [pool[i] for i in order]
        batches = [ordered[start : start + self.batch_size] for start in range(0, len(ordered), self.batch_size)]
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            batches.pop()
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        pool_size = self.batch_size * self.pool_batches
        indices = list(self.sampler)
        batches: list[list[int]] = []
        for start in range(0, len(indices), pool_size):
            batches += self._batches_of_pool(indices[start : start + pool_size])
        if self.shuffle_batches:
            order = torch.randperm(len(batches), generator=epoch_generator(self.seed, self.epoch)).tolist()
            batches = [batches[i] for i in order]
        return iter(batches)

    def __len__(self) -> int:
        count, pool_size = len(self.sampler), self.batch_size * self.pool_batches
        full_pools, rest = divmod(count, pool_size)
        per_pool = self.pool_batches
        if self.drop_last:
            return full_pools * per_pool + rest // self.batch_size
        return full_pools * per_pool + -(-rest // self.batch_size)
