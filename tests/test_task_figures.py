"""Figure titles name the epoch the weights are from: a tested checkpoint's own epoch (issue 15), not the
epoch the trainer reached, and the current epoch again once a fit moves the weights on."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from seqexp.tasks.regression import RegressionTask

SPEC = {"input_kind": "features", "input_size": 1, "target_kind": "per_step", "output_size": 1}
MODEL = {"cell": "gru", "hidden_size": 4, "num_layers": 1, "bidirectional": False, "dropout": 0.0}


def windows() -> DataLoader:
    """8 windows of sin -> cos over 12 steps, as dict batches of 4 (batch, time, feature)."""
    steps = torch.linspace(0, 6, 12).view(1, 12, 1) + torch.arange(8.0).view(8, 1, 1)
    batches = [{"inputs": steps[k : k + 4].sin(), "targets": steps[k : k + 4].cos()} for k in (0, 4)]
    return DataLoader(batches, batch_size=None)


def title(figures: dict) -> str:
    figure = figures["test/prediction_vs_target"]
    text = figure.axes[0].get_title()
    plt.close(figure)
    return text


def test_test_figure_names_the_tested_checkpoints_epoch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    task = RegressionTask(SPEC, MODEL, {"name": "adam", "lr": 0.01}, {"name": "none"})
    every_epoch = ModelCheckpoint(dirpath=tmp_path, filename="{epoch}", save_top_k=-1)
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[every_epoch])
    trainer.fit(task, train_dataloaders=windows(), val_dataloaders=windows())
    assert trainer.current_epoch == 3

    trainer.test(task, dataloaders=windows(), ckpt_path=str(tmp_path / "epoch=0.ckpt"), verbose=False)
    assert title(task.figures("test")) == "test: first window, epoch 0"
    trainer.test(task, dataloaders=windows(), ckpt_path=str(tmp_path / "epoch=2.ckpt"), verbose=False)
    assert title(task.figures("test")) == "test: first window, epoch 2"

    # Fitting on from a checkpoint: the weights are the fit's own again, titled with the trainer's epoch.
    resumed = L.Trainer(max_epochs=4, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, enable_checkpointing=False)
    resumed.fit(task, train_dataloaders=windows(), val_dataloaders=windows(), ckpt_path=str(tmp_path / "epoch=0.ckpt"))
    resumed.test(task, dataloaders=windows(), verbose=False)
    assert title(task.figures("test")) == f"test: first window, epoch {resumed.current_epoch}"
