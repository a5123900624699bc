"""Variable-length sequences, padded per batch: ``{"inputs", "targets", "lengths"}``.

Each batch is padded only to its own longest sequence; ``lengths`` stays on the CPU, where
``pack_padded_sequence`` wants it. Like ``BatchedTensorDataset`` it fetches whole batches through
``__getitems__``, so a plain ``DataLoader`` with any (batch) sampler works, DDP included.
"""

from __future__ import annotations

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import Dataset

Batch = dict[str, torch.Tensor]


class PaddedSequenceDataset(Dataset):
    """Sequences ``(time,)`` token ids or ``(time, feature)`` values, one target per sequence."""

    def __init__(self, sequences: list[torch.Tensor], targets: torch.Tensor, padding_value: float = 0) -> None:
        if len(sequences) != len(targets):
            raise ValueError(f"{len(sequences)} sequences but {len(targets)} targets")
        if any(len(sequence) == 0 for sequence in sequences):
            raise ValueError("empty sequences cannot be packed: drop them before batching")
        self.sequences = sequences
        self.targets = targets
        self.lengths = torch.tensor([len(sequence) for sequence in sequences], dtype=torch.long)
        self.padding_value = padding_value

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> Batch:
        return {"inputs": self.sequences[index], "targets": self.targets[index], "lengths": self.lengths[index]}

    def __getitems__(self, indices: list[int]) -> Batch:
        index = torch.as_tensor(indices, dtype=torch.long)
        inputs = pad_sequence([self.sequences[i] for i in indices], batch_first=True, padding_value=self.padding_value)
        return {"inputs": inputs, "targets": self.targets[index], "lengths": self.lengths[index]}
