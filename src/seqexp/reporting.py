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

from seqexp.callbacks import ValidationHistory

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
