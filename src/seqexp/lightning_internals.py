"""The private Lightning names seqexp relies on, in one place.

Lightning has no public equivalent for either. tests/test_lightning_internals.py checks each one
against the installed Lightning, so an upgrade that renames or changes them fails there, by name,
instead of somewhere deep in a run.
"""

from __future__ import annotations

from typing import get_args

import lightning as L
from lightning.fabric.connector import _PRECISION_INPUT
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
