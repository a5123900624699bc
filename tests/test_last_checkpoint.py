"""``last.ckpt`` holds the newest weights after every epoch and at the end of fit, with the default callbacks."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from helpers import compose_train, read_metrics, run_cli
from seqexp.builder import build

# 4 training batches an epoch; the default callbacks (last.ckpt every 100 steps), logger and figures.
SMALL = ["data.num_windows.train=256", "data.num_windows.val=64", "data.num_windows.test=64", "model.hidden_size=8"]


def saved_step(path: Path) -> int:
    return torch.load(path, map_location="cpu", weights_only=True)["global_step"]


def test_last_ckpt_holds_the_final_step_when_fit_stops_mid_epoch(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_cli("train", *SMALL, "trainer.max_steps=10", run_dir=run_dir, cwd=tmp_path)  # stops in epoch 2, after batch 2
    metrics = read_metrics(run_dir)
    assert metrics["global_step"] == 10
    assert saved_step(run_dir / "checkpoints" / "last.ckpt") == 10


class RecordLastCheckpoint(L.Callback):
    """At each epoch's start: the global step that last.ckpt holds, beside the trainer's."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen = path, []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch > 0:
            self.seen.append((saved_step(self.path), trainer.global_step))


def test_last_ckpt_is_refreshed_after_every_epoch_even_without_a_new_best(tmp_path: Path) -> None:
    # monitor.mode=max: val/mse falls as the model learns, so epochs after the first rarely make a new "best"
    cfg = compose_train(*SMALL, "trainer.max_epochs=4", "monitor.mode=max", f"paths.output_dir={tmp_path}")
    datamodule, task, trainer = build(cfg)
    recorder = RecordLastCheckpoint(tmp_path / "checkpoints" / "last.ckpt")
    trainer.callbacks.append(recorder)
    trainer.fit(task, datamodule=datamodule)
    assert recorder.seen == [(4, 4), (8, 8), (12, 12)]
    assert saved_step(recorder.path) == trainer.global_step == 16
