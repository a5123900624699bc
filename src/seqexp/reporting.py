"""What a run leaves behind at the end: metrics.json and hparams with real metrics in TensorBoard."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.tensorboard import summary as tensorboard_summary
from torch.utils.tensorboard.writer import FileWriter

from seqexp.callbacks import Baselines, ValidationHistory

log = logging.getLogger(__name__)


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.items() if torch.as_tensor(value).numel() == 1}


def best_checkpoint_summary(trainer: L.Trainer) -> dict[str, Any]:
    """Path, score, epoch and global step of the best checkpoint, when one was kept."""
    callback = trainer.checkpoint_callback
    if callback is None or not getattr(callback, "best_model_path", ""):
        return {"best_model_path": None, "best_score": None, "best_epoch": None, "best_step": None}
    checkpoint = torch.load(callback.best_model_path, map_location="cpu", weights_only=True, mmap=True)
    score = callback.best_model_score
    return {
        "best_model_path": callback.best_model_path,
        "best_score": None if score is None else float(score),
        "best_epoch": checkpoint.get("epoch"),
        "best_step": checkpoint.get("global_step"),
    }


def tested_weights_validation(trainer: L.Trainer, best: dict[str, Any]) -> tuple[dict[str, float], str | None]:
    """The ``val/*`` figures of the weights that are tested (the best checkpoint's, else the final ones) and
    which validation they come from; ``({}, None)`` when no validation ran."""
    history = next((callback for callback in trainer.callbacks if isinstance(callback, ValidationHistory)), None)
    record = history.at_step(best["best_step"]) if history is not None else None
    if record is None:
        return {}, None
    step, figures = record
    weights = "the best checkpoint" if best["best_step"] is not None else "the final weights"
    stale = "" if best["best_step"] is not None or step == trainer.global_step else f"; fit ended at step {trainer.global_step}"
    return figures, f"validation at global step {step}, of {weights}{stale}"


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float, at any depth, as None: JSON has no NaN or Infinity."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(item) for item in value]
    return value


@rank_zero_only
def write_metrics_file(path: str | Path, payload: dict[str, Any]) -> None:
    """Strict JSON (null where a metric could not be computed; the log says why)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(strict_json(payload), indent=2, sort_keys=True, default=str, allow_nan=False) + "\n")


@rank_zero_only
def log_final_metrics(metrics: dict[str, float], validation_source: str | None = None) -> None:
    """The final metrics as one log line, so the run's log file holds what the console's tables showed."""
    log.info("Final metrics: %s", "  ".join(f"{name}={value:.6g}" for name, value in sorted(metrics.items())))
    if validation_source:
        log.info("val/* above: the %s", validation_source)


def flat_hparams(sections: dict[str, Any]) -> dict[str, Any]:
    """Config sections as ``{"model/hidden_size": 64, ...}``: one HPARAMS column per key."""
    flat: dict[str, Any] = {}

    def add(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                add(f"{prefix}/{key}", item)
        else:
            flat[prefix] = value if isinstance(value, (bool, int, float, str)) else str(value)

    for name, section in sections.items():
        add(name, section)
    return flat


@rank_zero_only
def log_hparams(trainer: L.Trainer, hparams: dict[str, Any]) -> None:
    """The run's parameters to every logger.

    TensorBoard: the run's hparams (a session start and end), and no table layout of its own (no
    ``_hparams_/experiment`` tag). TensorBoard then builds the HPARAMS table from every run it shows:
    a column per key, marked ``differs`` where the runs disagree, and the HPARAMS tab shows the differing
    columns first (its first five are ticked): what a sweep varied, never keys that are equal in every run.
    A run's own layout would be taken as the whole table's, from one run chosen arbitrarily, with no key
    marked as differing. The metric columns are the last values of the runs' own scalars (``val/*``,
    ``test/*``, ...): no ``hp/*`` copies on the SCALARS page, no ``hp_metric``.
    """
    for logger in trainer.loggers:
        if not isinstance(logger, TensorBoardLogger):  # MLflow, CSV: their own parameter records
            logger.log_hyperparams(hparams)
            logger.save()
        else:
            _layout, session_start, session_end = tensorboard_summary.hparams(hparams, {})
            writer = FileWriter(logger.log_dir)  # an event file beside the scalars': the same TensorBoard run
            for proto in (session_start, session_end):
                writer.add_summary(proto)
            writer.close()


def baseline_verdict(metrics: dict[str, float], monitor: str, mode: str, headline: tuple[str, str] | None) -> tuple[str, bool] | None:
    """One line comparing the model's validation figure with the baselines' (``baseline/<name>/<metric>`` in
    ``metrics``), and whether some baseline beats the model; ``None`` when nothing can be compared. The figure is
    the run's monitored metric when the baselines have it, else ``headline`` (the baselines' own, e.g. ``val/mase``)."""
    has_monitor = any(name.startswith("baseline/") and name.endswith(f"/{monitor}") for name in metrics)
    metric, mode = (monitor, mode) if has_monitor else (headline or (None, None))
    model = metrics.get(metric) if metric else None
    if model is None or not math.isfinite(model):
        return None
    prefix, suffix = "baseline/", f"/{metric}"
    scores = {
        name[len(prefix) : -len(suffix)]: value for name, value in metrics.items() if name.startswith(prefix) and name.endswith(suffix) and math.isfinite(value)
    }
    if not scores:
        return None
    better = (lambda value: value < model) if mode == "min" else (lambda value: value > model)
    best = (min if mode == "min" else max)(scores, key=scores.get)
    winners = [name for name, value in scores.items() if better(value)]
    if winners:
        figures = ", ".join(f"{name} {scores[name]:.4g}" for name in sorted(winners, key=scores.get, reverse=mode == "max"))
        return f"The model is worse than {len(winners)} baseline(s) on validation: {metric}={model:.4g}, {figures}", True
    return f"The model beats every baseline on validation: {metric}={model:.4g}, the best baseline {best} {scores[best]:.4g}", False


@rank_zero_only
def log_baseline_verdict(trainer: L.Trainer, metrics: dict[str, float], monitor: str, mode: str) -> None:
    """The line of :func:`baseline_verdict`, a warning when a baseline beats the model."""
    callback = baselines_callback(trainer)
    verdict = baseline_verdict(metrics, monitor, mode, callback.headline if callback else None)
    if verdict is not None:
        (log.warning if verdict[1] else log.info)(verdict[0])


def baselines_callback(trainer: L.Trainer) -> Baselines | None:
    return next((callback for callback in trainer.callbacks if isinstance(callback, Baselines)), None)


def baselines_skipped(trainer: L.Trainer) -> dict[str, str] | None:
    """Why each baseline without figures has none (``metrics.json``'s ``baselines_skipped``); ``None`` when the
    run computed no baselines (``callbacks.baselines=null``, or no test)."""
    callback = baselines_callback(trainer)
    return dict(callback.skipped) if callback is not None and callback.ran else None
