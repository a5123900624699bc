"""Refuse a ``monitor.metric`` that the run does not log before training, not after a whole epoch.

Lightning's ModelCheckpoint and EarlyStopping find out only at the first epoch's end; the sanity check
(``trainer.num_sanity_val_steps`` validation batches before the first training step) already logs every
``val/*`` metric the task has.
"""

from __future__ import annotations

import lightning as L

from seqexp.checks import ConfigError  # not seqexp.config: callbacks stay free of Hydra


class MonitoredMetricCheck(L.Callback):
    def __init__(self, metric: str) -> None:
        self.metric = metric

    def on_sanity_check_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        logged = sorted(name for name in trainer.callback_metrics if name.startswith("val/"))
        if self.metric.startswith("val/") and logged and self.metric not in logged:
            raise ConfigError(
                f"monitor.metric={self.metric}: this run does not log it; its validation metrics are "
                f"{logged} (monitor.mode: min for losses and errors, max for scores)"
            )
