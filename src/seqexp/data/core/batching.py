"""Whole-batch loading from tensors built once.

Indexing a tensor with a batch of indices is one op; collating per-sample tuples is one op
per sample. ``BatchedTensorDataset`` implements ``__getitems__`` so that a standard
``DataLoader(batch_size=...)`` fetches each batch with a single gather, and Lightning can
still swap in a ``DistributedSampler`` under DDP.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset

from seqexp.data.core.resumable import EpochShuffleSampler, ResumableDataLoader
from seqexp.data.core.spec import PredictionIndex

Batch = dict[str, torch.Tensor]


class BatchedTensorDataset(Dataset):
    """Map-style dataset over equally long tensors, fetched a batch at a time."""

    def __init__(self, **tensors: torch.Tensor) -> None:
        sizes = {name: len(t) for name, t in tensors.items()}
        if len(set(sizes.values())) != 1:
            raise ValueError(f"tensors differ in length: {sizes}")
        self.tensors = tensors

    def __len__(self) -> int:
        return len(next(iter(self.tensors.values())))

    def __getitem__(self, index: int) -> Batch:
        return {name: t[index] for name, t in self.tensors.items()}

    def __getitems__(self, indices: list[int]) -> Batch:
        index = torch.as_tensor(indices)
        return {name: t[index] for name, t in self.tensors.items()}


def keep_batch(batch: Batch) -> Batch:
    """Collate function for datasets that already return whole batches."""
    return batch


class ChunkedBatches:
    """Collate function: ``chunks`` consecutive batches fetched as one, each tensor reshaped to
    ``(chunk, batch_size, ...)`` (truncated BPTT over consecutive stateful batches in one step)."""

    def __init__(self, batch_size: int) -> None:
        self.batch_size = batch_size

    def __call__(self, batch: Batch) -> Batch:
        return {name: t.view(-1, self.batch_size, *t.shape[1:]) for name, t in batch.items()}


def tensor_loader(
    dataset: BatchedTensorDataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int = 0,
    seed: int | None = None,
    chunks: int = 1,
) -> DataLoader:
    """Resumable mid-epoch (see ``resumable.py``); the shuffle order follows ``seed`` and the epoch
    (``seed=None``: the seed ``seed_everything`` gave torch, read without drawing from the RNG).
    ``chunks > 1``: each item is that many consecutive batches, ``(chunk, batch, ...)`` (see ``ChunkedBatches``)."""
    seed = torch.initial_seed() if seed is None else seed
    return ResumableDataLoader(
        dataset,
        batch_size=batch_size * chunks,
        sampler=EpochShuffleSampler(len(dataset), shuffle, seed),
        generator=torch.Generator().manual_seed(seed),  # worker seeds from here: iterators leave the global RNG alone
        collate_fn=keep_batch if chunks == 1 else ChunkedBatches(batch_size),
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


class TensorSplitLoaders:
    """The three loaders of a DataModule whose splits are pre-built ``self.datasets[split]``.

    Mixed into such DataModules (sine, series, UCR, anomaly windows), which set ``datasets``,
    ``batch_size``, ``num_workers`` and ``seed``; training batches are shuffled unless the module
    sets ``shuffle = False`` (e.g. stateful streams); val and test keep their order.
    """

    datasets: dict[str, BatchedTensorDataset]
    batch_size: int
    num_workers: int
    seed: int
    shuffle: bool = True
    chunks_per_batch: int = 1  # training items of this many consecutive batches (stateful truncated BPTT)

    def _loader(self, split: str, shuffle: bool, chunks: int = 1) -> DataLoader:
        return tensor_loader(self.datasets[split], self.batch_size, shuffle, self.num_workers, seed=self.seed, chunks=chunks)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.shuffle, self.chunks_per_batch)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    def predict_dataloader(self) -> DataLoader:
        """New input set for prediction (``datasets["predict"]``, where a module supports it), else the test split."""
        return self._loader("predict" if "predict" in self.datasets else "test", False)

    def prediction_index(self) -> PredictionIndex:
        """How to name the rows of what ``predict_dataloader`` serves (modules with time stamps or names override it)."""
        return PredictionIndex()

    def split_index(self, split: str) -> PredictionIndex:
        """How figures of ``split`` name its steps: as prediction files do. Here the prediction index, right
        for modules whose steps are rows of one series whatever the split; modules that number a split's points
        from its own start (anomaly) override it."""
        return self.prediction_index()
