"""What a run leaves behind at the end: metrics.json and hparams with real metrics in TensorBoard."""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Sequence

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only
from torch.utils.tensorboard import summary as tensorboard_summary
from torch.utils.tensorboard.writer import FileWriter

log = logging.getLogger(__name__)


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    return {name: float(value) for name, value in metrics.items() if torch.as_tensor(value).numel() == 1}


def best_checkpoint_summary(trainer: L.Trainer) -> dict[str, Any]:
    """Path, score and epoch of the best checkpoint, when one was kept."""
    callback = trainer.checkpoint_callback
    if callback is None or not getattr(callback, "best_model_path", ""):
        return {"best_model_path": None, "best_score": None, "best_epoch": None}
    checkpoint = torch.load(callback.best_model_path, map_location="cpu", weights_only=True, mmap=True)
    score = callback.best_model_score
    return {
        "best_model_path": callback.best_model_path,
        "best_score": None if score is None else float(score),
        "best_epoch": checkpoint.get("epoch"),
    }


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
def log_final_metrics(metrics: dict[str, float]) -> None:
    """The final metrics as one log line, so the run's log file holds what the console's tables showed."""
    log.info("Final metrics: %s", "  ".join(f"{name}={value:.6g}" for name, value in sorted(metrics.items())))


def flat_hparams(sections: dict[str, Any], first: Sequence[str] = ()) -> dict[str, Any]:
    """Config sections as ``{"model/hidden_size": 64, ...}``, the keys in ``first`` leading.

    TensorBoard's HPARAMS table shows its first few columns: what the user set on the command line
    (what a sweep varies) goes there, not the keys that are equal in every run.
    """
    flat: dict[str, Any] = {}

    def add(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                add(f"{prefix}/{key}", item)
        else:
            flat[prefix] = value if isinstance(value, (bool, int, float, str)) else str(value)

    for name, section in sections.items():
        add(name, section)
    leading = [key for key in first if key in flat]
    return {**{key: flat[key] for key in leading}, **{key: value for key, value in flat.items() if key not in leading}}


@rank_zero_only
def log_hparams_with_metrics(trainer: L.Trainer, hparams: dict[str, Any], metric_tags: Sequence[str]) -> None:
    """The run's parameters to every logger. TensorBoard: one HPARAMS entry whose metric columns read the
    run's own ``val/*`` and ``test/*`` scalars (each tag's last value): no ``hp/*`` copies crowding the
    SCALARS page, no ``hp_metric``."""
    for logger in trainer.loggers:
        if not isinstance(logger, TensorBoardLogger):  # MLflow, CSV: their own parameter records
            logger.log_hyperparams(hparams)
            logger.save()
        else:
            writer = FileWriter(logger.log_dir)  # an event file beside the scalars': the same TensorBoard run
            for proto in tensorboard_summary.hparams(hparams, dict.fromkeys(metric_tags, 0.0)):
                writer.add_summary(proto)
            writer.close()
