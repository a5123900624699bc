"""What a run leaves behind at the end: metrics.json and hparams with real metrics in TensorBoard."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_only


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


@rank_zero_only
def write_metrics_file(path: str | Path, payload: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in payload.items()}
    path.write_text(json.dumps(clean, indent=2, sort_keys=True, default=str) + "\n")


@rank_zero_only
def log_hparams_with_metrics(trainer: L.Trainer, hparams: dict[str, Any], metrics: dict[str, float]) -> None:
    """One hparams entry per run, carrying its final metrics (so TensorBoard shows no hp_metric=-1)."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(hparams, metrics={f"hp/{name}": value for name, value in metrics.items()})
            logger.save()
