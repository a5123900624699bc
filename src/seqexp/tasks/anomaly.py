"""Anomaly detection: learn the normal behaviour of a series, score each point by how badly it is
predicted, flag points above a threshold chosen on validation.

Modes (``task.mode``), both over any ``model=`` preset as the encoder:
    forecast        the first ``window - horizon`` steps of a window predict its last ``horizon``
                    steps (encoder -> last step -> linear); score = squared prediction error
    reconstruction  an RNN autoencoder: encoder -> last step (the code) -> a decoder RNN fed the
                    code at every step -> linear; score = squared reconstruction error

Per-point scores: each val/test batch adds its windows' scores to per-point sums and counts
(``seqexp.metrics.point_scores``: memory grows with the points, not points x window); at the end of
the epoch each point's score is the mean over every window that scored it (then an optional centred
moving average, ``score_smoothing``). Prediction returns each window's scored steps only (forecast
mode: the last ``horizon``), folded into per-point sums the same way as each batch ends
(``ScoredPoints``), and the prediction file is built from them. Training is
unsupervised: labels are used on validation only, to pick the threshold (``threshold.rule``) and to
report metrics. The threshold is a buffer, so it is saved in every checkpoint and a test or
``seqexp.eval`` run uses the one chosen on validation.

Under DDP each rank scores its share of the windows; the epoch end sums every rank's per-point sums
and counts (an all-reduce of O(points)) and each rank computes the same metrics over the whole series
(padding copies that a distributed sampler adds score identically, so averaging per point is unaffected).

A split without anomalous points leaves best_f1 and the detection metrics undefined, and one without
normal points leaves AUROC, AUPRC, VUS and the false-alarm rate undefined: the task says so once per
split and run, in a warning that names the keys to change (the DataModule's ``split_keys`` when it
declares them). VUS-ROC/VUS-PR (``seqexp.metrics.range_aware``, buffer windows up to ``vus_window``)
are also undefined, and said to be, when a point's score is nan.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal, Mapping

import torch
from torch import nn

from seqexp.allocator import map_large_allocations, release_freed_memory
from seqexp.checks import ConfigError, Range, check_arguments
from seqexp.data.core.spec import PredictionIndex
from seqexp.metrics.anomaly import (
    NEED_A_NORMAL_POINT,
    NEED_AN_ANOMALY,
    NEED_SCORES,
    THRESHOLD_RULES,
    ScoreCurve,
    anomaly_metrics,
    choose_threshold,
)
from seqexp.metrics.point_scores import PointScores
from seqexp.models.encoder import CELLS
from seqexp.models.pooling import last_valid_step
from seqexp.predictions import Columns, PredictionOutputs, time_columns
from seqexp.tasks.base import SequenceTask
from seqexp.tasks.instance_norm import window_statistics

MODES = ("forecast", "reconstruction")
Mode = Literal[MODES]  # type: ignore[valid-type]
AtLeastOne = Annotated[int, Range(ge=1)]
Batch = dict[str, torch.Tensor]


class AnomalyTask(SequenceTask):
    """Scores per step from ``forward``; val/test collect them per window and compute the metrics,
    the loss included, over the whole series at the end of the epoch."""

    loss_per_epoch = True
    counts_repeated_cases_once = True  # a repeated window adds its points' scores and counts again: their means stay
    sync_epoch_metrics = True  # every rank computes the same values, over the gathered series

    def __init__(
        self,
        spec: dict,
        model: dict,
        optim: dict,
        scheduler: dict,
        embedding: dict | None = None,
        mode: Mode = "forecast",
        horizon: AtLeastOne = 1,
        score_smoothing: AtLeastOne = 1,
        threshold: dict | None = None,
        ucr_tolerance: int = 100,
        instance_norm: bool = False,
        vus_window: Annotated[int, Range(ge=0)] = 100,
        vus_thresholds: AtLeastOne = 250,
    ) -> None:
        super().__init__(spec, model, optim, scheduler, embedding)
        if self.spec.target_kind != "anomaly" or self.spec.input_kind != "features":
            raise ValueError(f"AnomalyTask needs feature inputs and anomaly labels, the data declares {self.spec}")
        check_arguments(type(self), "task", mode=mode, horizon=horizon, score_smoothing=score_smoothing, vus_window=vus_window, vus_thresholds=vus_thresholds)
        self.threshold_settings = {"rule": "best_f1", "quantile": 0.99, "k": 3.0, **(threshold or {})}
        if self.threshold_settings["rule"] not in THRESHOLD_RULES:
            raise ValueError(f"task.threshold.rule={self.threshold_settings['rule']!r}: must be one of {list(THRESHOLD_RULES)}")
        if not 0 < self.threshold_settings["quantile"] < 1:
            raise ValueError(f"task.threshold.quantile={self.threshold_settings['quantile']!r}: must be in (0, 1)")
        self.mode, self.horizon, self.score_smoothing, self.ucr_tolerance = mode, horizon, score_smoothing, ucr_tolerance
        self.instance_norm = instance_norm
        self.vus_window, self.vus_thresholds = vus_window, vus_thresholds
        features = self.spec.output_size
        if mode == "forecast":
            self.head = nn.Linear(self.encoder_output_size, horizon * features)
        else:
            hidden_size = self.encoder.hidden_size  # a decoder like the encoder's recurrent layer
            self.decoder = CELLS[self.encoder.cell](self.encoder_output_size, hidden_size, batch_first=True)
            self.head = nn.Linear(hidden_size, features)
        # Chosen on validation; a buffer so that checkpoints carry it. nan = not chosen yet.
        self.register_buffer("threshold", torch.tensor(float("nan")))
        self._points: dict[str, PointScores] = {}  # per split: per-point score sums of the epoch so far
        self._series: dict[str, dict[str, torch.Tensor]] = {}  # the last epoch's split, until its figure is drawn

    @classmethod
    def check_config(cls, cfg: Mapping[str, Any]) -> None:
        """Forecast mode predicts the last ``task.horizon`` steps of a window from the rest: some must be left."""
        task, window = cfg["task"], cfg.get("data", {}).get("window_length")
        horizon = task.get("horizon", 1)
        if task.get("mode", "forecast") == "forecast" and isinstance(window, int) and horizon >= window:
            raise ConfigError(f"task.horizon={horizon}: must be smaller than data.window_length={window}")

    def setup(self, stage: str) -> None:
        """Evaluation builds per-point arrays of whole splits, one phase after another: each goes back to the
        system when freed (``seqexp.allocator``), so a phase's peak does not stack on what earlier ones left."""
        map_large_allocations()

    # --- scoring ------------------------------------------------------------------------------
    def forward(self, batch: Batch, stage: str = "predict") -> torch.Tensor:
        """Per-step scores ``(batch, time)``: squared error averaged over features; nan where a step
        is not scored (the context steps of forecast mode). With ``instance_norm`` each window is first
        standardised by the mean and spread of what the model sees (forecast mode: the context), so on
        a drifting series errors are measured against the window's own level and scale, as on train."""
        inputs = batch["inputs"]  # (batch, time, features): whole windows, never padded
        window = inputs.shape[1]
        if self.mode == "forecast" and self.horizon >= window:
            raise ValueError(f"task.horizon={self.horizon}: must be smaller than data.window_length={window}")
        if self.instance_norm:
            mean, std = window_statistics(inputs[:, : window - self.horizon] if self.mode == "forecast" else inputs)
            inputs = (inputs - mean) / std
        if self.mode == "forecast":
            context = self.encode(inputs[:, : window - self.horizon], None, stage)
            code = last_valid_step(context, None, self.num_directions)
            prediction = self.head(code).view(inputs.shape[0], self.horizon, -1)
            errors = (prediction - inputs[:, window - self.horizon :]).pow(2).mean(-1)
            unscored = errors.new_full((inputs.shape[0], window - self.horizon), float("nan"))
            return torch.cat([unscored, errors], dim=1)
        code = last_valid_step(self.encode(inputs, None, stage), None, self.num_directions)
        decoded, _ = self.decoder(code.unsqueeze(1).expand(-1, window, -1).contiguous())
        return (self.head(decoded) - inputs).pow(2).mean(-1)

    def compute_loss(self, batch: Batch, outputs: torch.Tensor) -> torch.Tensor:
        return outputs[:, -self.horizon :].mean() if self.mode == "forecast" else outputs.mean()

    def update_metrics(self, stage: str, batch: Batch, outputs: torch.Tensor, batch_idx: int) -> None:
        if stage == "train":  # training is unsupervised: no metrics
            return
        points = self._points.setdefault(stage, PointScores())
        points.add(batch["starts"], outputs.detach().float(), batch["targets"], batch["inputs"].detach())

    def clear_epoch(self, stage: str) -> None:
        self._points.pop(stage, None)

    # --- per-point series at the end of an epoch ----------------------------------------------
    def _reduce(self, tensor: torch.Tensor, op: str) -> torch.Tensor:
        return self.trainer.strategy.reduce(tensor, reduce_op=op)

    def epoch_metrics(self, stage: str) -> dict[str, Any]:
        """Loss (mean score of the normal points), threshold (chosen here on val) and detection metrics."""
        points = self._points.pop(stage, None)
        if points is None:
            return {}
        if self._trainer is not None and self.trainer.world_size > 1:
            points.reduce(self._reduce)
        series = points.series(self.score_smoothing, release=True)  # the sums freed before the metrics' own memory
        scores, labels = series["scores"], series["labels"]  # (points,) float32 and uint8
        has_both = bool(labels.any()) and not bool(labels.all())
        curve = None  # one sort of the split's scores, shared by the best-F1 threshold, AUROC and AUPRC
        if stage == "val":
            settings = self.threshold_settings
            curve = ScoreCurve.of(scores, labels) if has_both and settings["rule"] == "best_f1" else None
            value, used = choose_threshold(settings["rule"], scores, labels, settings["quantile"], settings["k"], curve)
            if used != settings["rule"]:
                self._warn_once(
                    stage,
                    "threshold",
                    f"task.threshold.rule={settings['rule']} needs anomalous points in the val split, which has none: "
                    f"the threshold falls back to the {used} rule (task.threshold.quantile={settings['quantile']}). "
                    f"Set task.threshold.rule={used} to choose it, or give val anomalies ({self._split_keys()}).",
                )
            self.threshold.fill_(value)
        elif math.isnan(float(self.threshold)):
            raise RuntimeError("AnomalyTask has no threshold: it is chosen on validation, run fit or validate first")
        threshold = float(self.threshold)
        normal = scores[labels == 0]
        loss = float(normal.mean()) if normal.numel() else float(scores.mean())
        del normal
        metrics = {
            "loss": loss,
            "threshold": threshold,
            **anomaly_metrics(scores, labels, threshold, self.ucr_tolerance, self.vus_window, self.vus_thresholds, curve),
        }
        del curve
        release_freed_memory()  # the sums, sorts and flags of this split: not resident under the next phase
        self._series = {stage: {**series, "threshold": torch.tensor(threshold)}}  # not the previous split's: O(points) each
        if not bool(labels.any()):
            self._warn_once(
                stage,
                "metrics",
                f"the {stage} split has no anomalous point among its {len(labels)} scored points: "
                f"{', '.join(f'{stage}/{name}' for name in NEED_AN_ANOMALY)} cannot be computed (logged as nan, "
                f"or 0 by convention). Give the split anomalies ({self._split_keys()}).",
            )
        if bool(labels.all()):
            self._warn_once(
                stage,
                "normal",
                f"the {stage} split has no normal point: all its {len(labels)} scored points are labelled anomalous, "
                f"so {', '.join(f'{stage}/{name}' for name in NEED_A_NORMAL_POINT)} cannot be computed (logged as nan; "
                f"false alarms are counted per 1,000 normal points). Give the split normal points ({self._split_keys()}).",
            )
        unscored = int(torch.isnan(scores).sum())
        if unscored:
            self._warn_once(
                stage,
                "nan scores",
                f"{unscored} of the {len(scores)} scored points of the {stage} split have a nan score: "
                f"{', '.join(f'{stage}/{name}' for name in NEED_SCORES)} cannot be computed (logged as nan).",
            )
        return {f"{stage}/{name}": value for name, value in metrics.items()}

    def _split_keys(self) -> str:
        """The data keys that decide which split holds anomalies, as the DataModule declares them."""
        datamodule = self.trainer.datamodule if self._trainer is not None else None
        keys = datamodule.split_keys if datamodule is not None else ()  # SeqDataModule.split_keys; None: dataloaders given directly
        return ", ".join(keys) if keys else "the data keys that set the splits"

    def on_predict_start(self) -> None:
        self._series.clear()  # a split whose figure was not drawn (no TensorBoard logger): not held while predicting
        release_freed_memory()

    def predict_batch(self, batch: Batch) -> Batch:
        """Each window's scored steps ``(batch, steps)`` (forecast mode: the last ``horizon``; reconstruction:
        all), the position of its first scored step (``starts``) and their labels (uint8): what the
        prediction file needs, not the unscored context steps."""
        scores = self(batch, "predict").float()
        first = scores.shape[1] - self.horizon if self.mode == "forecast" else 0
        # contiguous copies: a slice would keep every step of the window alive until the file is written
        return {"starts": batch["starts"] + first, "scores": scores[:, first:].contiguous(), "labels": batch["targets"][:, first:].to(torch.uint8).contiguous()}

    def prediction_outputs(self) -> PredictionOutputs:
        return ScoredPoints()

    def prediction_table(self, outputs: PointScores, index: PredictionIndex) -> Columns:
        """One row per scored point, as the test metrics see it: ``step`` and ``timestamp``, the values
        in the data's units, ``score`` (mean over the windows that scored the point, then smoothed),
        the ``threshold`` chosen on validation, ``flag`` (score >= threshold) and the true label
        (``truth``, when known): the file's scores and labels give the logged AUROC and AUPRC."""
        series = outputs.series(self.score_smoothing, release=True)  # the sums freed before the file's columns are built
        points, scores = series["points"], series["scores"]
        columns = time_columns(index, points)
        if index.values is not None:
            values = point_values(index, points)
            columns.update({name: values[:, k].contiguous() for k, name in enumerate(index.names)})  # one feature: no copy
        threshold = self.threshold.detach().cpu()
        # flag and truth 0/1 in a byte a point (a Parquet file's columns are uint8; CSV and JSON lines read as before)
        columns.update(score=scores, threshold=threshold.expand(len(scores)), flag=(scores >= threshold).to(torch.uint8))
        if index.truth:
            columns["truth"] = series["labels"]
        return columns

    def figures(self, stage: str, index: PredictionIndex | None = None) -> dict[str, Any]:
        """The split's series above its scores, on the prediction file's axis: ``index`` (the split's) gives
        the points' steps, time stamps, column names and values as read; without it, split positions and
        the values as the model sees them (scaled)."""
        if stage not in self._series:
            return {}
        from seqexp.plotting import anomaly_figure

        series = self._series.pop(stage)  # drawn once: the series is not held into the next phase
        points = series["points"]
        if index is not None and index.values is not None:
            values, names = point_values(index, points).numpy(), index.names
        else:
            index, values = PredictionIndex(), series["series"].numpy()
            names = tuple(f"feature {feature} (scaled)" for feature in range(values.shape[1]))
        title = self.figure_title(stage, f"{self.mode} score")
        figure = anomaly_figure(
            index.first_step + points.numpy(),
            values,
            names,
            series["scores"].numpy(),
            series["labels"].numpy(),
            float(series["threshold"]),
            title,
            index.times,
            index.first_step,
        )
        return {f"{stage}/anomaly_scores": figure}


def point_values(index: PredictionIndex, points: torch.Tensor) -> torch.Tensor:
    """The index's values ``(points, feature)`` at the scored ``points`` (distinct positions of the split, in
    order): the values themselves, not a copy, when every point was scored (as a full evaluation scores them)."""
    values = torch.as_tensor(index.values)
    return values if len(points) == len(values) else values[points]


class ScoredPoints(PredictionOutputs):
    """Prediction outputs folded into per-point score sums and counts as each batch ends (O(points), where
    keeping every window's scores until the end is O(windows x steps)), in the order the windows come, as
    the test metrics sum them; under DDP every rank's sums are added up (all-reduce), as for the metrics."""

    def __init__(self) -> None:
        self.points = PointScores(keep_values=False)

    def add(self, outputs: Batch, indices: Any, trainer: Any) -> None:
        self.points.add(outputs["starts"], outputs["scores"], outputs["labels"])

    def result(self, trainer: Any) -> PointScores:
        points, self.points = self.points, PointScores(keep_values=False)
        if trainer.world_size > 1:
            points.to(trainer.strategy.root_device)  # the collective runs where the strategy's backend does
            points.reduce(lambda tensor, op: trainer.strategy.reduce(tensor, reduce_op=op))
        return points
