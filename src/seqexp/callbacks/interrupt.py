"""Say how to resume when the user stops a run with Ctrl-C.

Lightning catches ``KeyboardInterrupt`` in ``fit``/``test``/``predict``, tells every callback
(``on_exception``) and exits with status 1; what a user then needs is the command that continues the
run from its newest weights, ``last.ckpt``, which ``LastCheckpoint`` keeps fresh.
"""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L

log = logging.getLogger(__name__)


class ResumeHint(L.Callback):
    """On Ctrl-C, log ``<command> ckpt_path=<checkpoint>`` when ``checkpoint`` exists (else that nothing was saved yet)."""

    def __init__(self, command: str, checkpoint: str | Path) -> None:
        self.command, self.checkpoint = command, Path(checkpoint)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, KeyboardInterrupt) or not trainer.is_global_zero:
            return
        if self.checkpoint.is_file():
            log.warning(
                "Interrupted at global step %d. Resume from %s with:\n    %s ckpt_path=%s",
                trainer.global_step,
                self.checkpoint.name,
                self.command,
                self.checkpoint,
            )
        else:
            log.warning(
                "Interrupted at global step %d, before the first checkpoint (%s): nothing to resume; run the same command again",
                trainer.global_step,
                self.checkpoint,
            )
