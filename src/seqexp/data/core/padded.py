"""Variable-length sequences, padded per batch: ``{"inputs", "targets", "lengths"}``.

Each batch is padded only to its own longest sequence; ``lengths`` stays on the CPU, where
``pack_padded_sequence`` wants it. Like ``BatchedTensorDataset`` it fetches whole batches through
``__getitems__``, so a plain ``DataLoader`` with any (batch) sampler works, DDP included.
"""

from __future__ import annotations

import torch
from torch.utils.data import Dataset

from seqexp.masks import valid_step_mask

Batch = dict[str, torch.Tensor]


class PaddedSequenceDataset(Dataset):
    """Sequences ``(time,)`` token ids or ``(time, feature)`` values, one target per sequence.

    Stored as one flat tensor of every step and each sequence's offset into it (memory: the steps,
    not a tensor object per sequence); a batch gathers and pads its sequences with one fancy index.
    """

    def __init__(self, sequences: list[torch.Tensor], targets: torch.Tensor, padding_value: float = 0) -> None:
        if len(sequences) != len(targets):
            raise ValueError(f"{len(sequences)} sequences but {len(targets)} targets")
        if any(len(sequence) == 0 for sequence in sequences):
            raise ValueError("empty sequences cannot be packed: drop them before batching")
        self.steps = torch.cat(sequences)  # (all steps,) or (all steps, feature)
        self.lengths = torch.tensor([len(sequence) for sequence in sequences], dtype=torch.long)
        self.offsets = torch.cumsum(self.lengths, 0) - self.lengths  # first step of each sequence in ``steps``
        self.targets = targets
        self.padding_value = padding_value

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, index: int) -> Batch:
        start = int(self.offsets[index])
        return {"inputs": self.steps[start : start + int(self.lengths[index])], "targets": self.targets[index], "lengths": self.lengths[index]}

    def __getitems__(self, indices: list[int]) -> Batch:
        index = torch.as_tensor(indices, dtype=torch.long)
        lengths = self.lengths[index]
        time = int(lengths.max())
        padding = ~valid_step_mask(lengths, time)  # (batch, time)
        inputs = self.steps[(self.offsets[index].unsqueeze(1) + torch.arange(time)).masked_fill(padding, 0)]
        padding = padding.view(*padding.shape, *([1] * (inputs.dim() - 2)))
        return {"inputs": inputs.masked_fill(padding, self.padding_value), "targets": self.targets[index], "lengths": lengths}
