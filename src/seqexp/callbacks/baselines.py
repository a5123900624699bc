"""The classical baselines of the run's task, computed when test starts, on the splits the model sees.

The DataModule hands its splits over (``SeqDataModule.baseline_inputs``); ``seqexp.baselines`` scores each baseline
with the model's own metric functions; this callback logs the figures as ``baseline/<name>/<split>/<metric>``, so
they reach every logger (TensorBoard: a run per baseline, see ``seqexp.loggers``), ``trainer.callback_metrics``
and, through ``seqexp.train``, ``metrics.json`` beside the model's, as test's epoch figures. A baseline that cannot
be computed is kept in :attr:`Baselines.skipped` with the reason, which ``metrics.json`` records as ``baselines_skipped``.

The baselines need nothing of the model's test run, so they are scored before its first batch
(``on_test_epoch_start``): what the task gathers over the test epoch (an anomaly run's per-point sums of the
whole test split) is not yet held while a baseline scores a long series (at the epoch's end, Lightning calls
the callbacks' hooks before the task's own, so the sums were all still there).
"""

from __future__ import annotations

import logging
import time

import lightning as L

from seqexp.allocator import release_freed_memory
from seqexp.baselines import AnomalyScoring, BaselineOptions, compute_baselines, headline_metric
from seqexp.tasks.anomaly import AnomalyTask

log = logging.getLogger(__name__)


class Baselines(L.Callback):
    def __init__(self, dtw: bool = False, anomaly_windows: list[int] | None = None, text_strengths: list[float] | None = None) -> None:
        defaults = BaselineOptions()
        self.options = BaselineOptions(
            dtw=dtw, anomaly_windows=tuple(anomaly_windows or defaults.anomaly_windows), text_strengths=tuple(text_strengths or defaults.text_strengths)
        )
        self.figures: dict[str, float] = {}  # "baseline/<name>/<split>/<metric>" -> value
        self.skipped: dict[str, str] = {}  # baseline name -> why it has no figures
        self.headline: tuple[str, str] | None = None  # (val metric, min | max) compared when the run's monitor has no baseline
        self.ran = False  # whether test ran with this callback: figures and skipped are the run's

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        started, self.ran = time.perf_counter(), True
        try:
            inputs = trainer.datamodule.baseline_inputs()
        except NotImplementedError as error:
            self.skipped = {"all": str(error)}
            log.info("baselines: none (%s)", error)
            return
        options = self.options
        if isinstance(pl_module, AnomalyTask):  # scored at the task's threshold rule and VUS settings
            options = BaselineOptions(
                options.dtw,
                options.anomaly_windows,
                options.text_strengths,
                AnomalyScoring(dict(pl_module.threshold_settings), pl_module.ucr_tolerance, pl_module.vus_window, pl_module.vus_thresholds),
            )
        self.figures, self.skipped = {}, {}
        for name, outcome in compute_baselines(inputs, options).items():
            if isinstance(outcome, str):
                self.skipped[name] = outcome
                continue
            self.figures.update({f"baseline/{name}/{metric}": value for metric, value in outcome.items()})
        self.headline = headline_metric(inputs)
        del inputs
        release_freed_memory()  # the baselines' series and scores: not resident under the test epoch
        for tag, value in self.figures.items():
            pl_module.log(tag, value)
        log.info(
            "baselines: %d figures of %s in %.2f s%s",
            len(self.figures),
            ", ".join(sorted({tag.split("/")[1] for tag in self.figures})) or "none",
            time.perf_counter() - started,
            "".join(f"; {name}: {reason}" for name, reason in self.skipped.items()),
        )
