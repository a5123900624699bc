"""The private Lightning names seqexp relies on, in one place.

Lightning has no public equivalent for any of them. tests/test_lightning_internals.py checks each one
against the installed Lightning, so an upgrade that renames or changes them fails there, by name,
instead of somewhere deep in a run.
"""

from __future__ import annotations

from typing import get_args

import lightning as L
from lightning.fabric.connector import _PRECISION_INPUT
from lightning.pytorch.overrides.distributed import _IndexBatchSamplerWrapper
from lightning.pytorch.strategies.launchers import _SubprocessScriptLauncher

# Every precision value the Trainer accepts: Lightning's own Literal, so the list follows Lightning.
PRECISIONS: list[str | int] = [value for literal in get_args(_PRECISION_INPUT) for value in get_args(literal)]


def starts_rank_processes(trainer: L.Trainer) -> bool:
    """True when ``fit`` will start ranks 1..N-1 by re-running the command line (not under torchrun or SLURM)."""
    return isinstance(trainer.strategy.launcher, _SubprocessScriptLauncher)


def loggers_write_this_step(trainer: L.Trainer) -> bool:
    """True when Lightning writes this training step's ``self.log`` values to the loggers (every
    ``trainer.log_every_n_steps`` batches, counted across epochs)."""
    return trainer._logger_connector.should_update_logs


def forget_predicted_batch_indices(trainer: L.Trainer, dataloader_idx: int, batch_idx: int) -> None:
    """Drop what Lightning keeps of a predicted batch's sample indices once a writer has them: the batch
    sampler it wraps prediction loaders in (``_IndexBatchSamplerWrapper``) holds every batch's list of
    Python ints until predict ends, O(samples) objects however little the writer keeps. The entry becomes
    None, not removed: Lightning looks batches up there by ``batch_idx``, but only the current one's."""
    loaders = trainer.predict_dataloaders
    loader = loaders[dataloader_idx] if isinstance(loaders, (list, tuple)) else loaders
    sampler = getattr(loader, "batch_sampler", None)
    if isinstance(sampler, _IndexBatchSamplerWrapper) and batch_idx < len(sampler.seen_batch_indices):
        sampler.seen_batch_indices[batch_idx] = None
