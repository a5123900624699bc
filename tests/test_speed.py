"""The cheap versions of per-step work: train loss logged on logger steps only, progress bar every N batches."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import pytest
from lightning.pytorch.callbacks import RichProgressBar
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from conftest import compose_train, read_metrics
from seqexp.callbacks import ProgressBar
from seqexp.train import train


def test_train_loss_reaches_the_logger_on_the_same_steps_as_a_per_step_log(tmp_path: Path) -> None:
    # 4 batches per epoch, 2 epochs, logger every 3 steps: Lightning writes step metrics at steps 2 and 5.
    cfg = compose_train("data.num_windows.train=256", "data.num_windows.val=64", "data.num_windows.test=64",
                        "trainer.max_epochs=2", "trainer.log_every_n_steps=3", "model.hidden_size=8",
                        f"paths.output_dir={tmp_path}", "callbacks.progress_bar=null", "trainer.enable_model_summary=false")
    train(cfg)
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    points = events.Scalars("train/loss")
    assert [point.step for point in points] == [2, 5]
    assert all(math.isfinite(point.value) and point.value > 0 for point in points)
    assert math.isfinite(read_metrics(tmp_path)["metrics"]["train/loss"])  # the last epoch's last batch


def test_progress_bar_updates_on_the_first_every_nth_and_last_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    updated: list[int] = []
    monkeypatch.setattr(RichProgressBar, "on_train_batch_end", lambda self, trainer, module, outputs, batch, index: updated.append(index))
    bar = ProgressBar(every_n_batches=3)
    bar._trainer = SimpleNamespace(max_epochs=1, num_training_batches=8)
    for index in range(8):
        bar.on_train_batch_end(bar._trainer, None, None, None, index)
    assert [index + 1 for index in updated] == [1, 3, 6, 8]


def test_progress_bar_rejects_a_period_below_one() -> None:
    with pytest.raises(ValueError, match="callbacks.progress_bar.every_n_batches=0"):
        ProgressBar(every_n_batches=0)
