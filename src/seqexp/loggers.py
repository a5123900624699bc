"""Lightning's TensorBoard logger, minus the ``epoch`` scalar it adds to every write.

That one-line chart (epoch against step) sorts first on TensorBoard's SCALARS page and pushes the
learning curves (``train/``, ``val/``, ``test/``) below it; the x axis already counts steps.
"""

from __future__ import annotations

from typing import Any

from lightning.pytorch import loggers


class TensorBoardLogger(loggers.TensorBoardLogger):
    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        super().log_metrics({name: value for name, value in metrics.items() if name != "epoch"}, step)
