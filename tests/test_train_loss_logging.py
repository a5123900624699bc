"""Every epoch leaves a ``train/loss`` in TensorBoard, also when it has fewer batches than ``log_every_n_steps``."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import compose_train
from seqexp.train import train


def test_short_epochs_log_train_loss_once_each(tmp_path: Path) -> None:
    # 4 batches an epoch, the default log_every_n_steps=50: Lightning alone writes no train/loss at all
    train(
        compose_train(
            "data.num_windows.train=256",
            "data.num_windows.val=64",
            "data.num_windows.test=64",
            "model.hidden_size=8",
            "trainer.max_epochs=3",
            f"paths.output_dir={tmp_path}",
        )
    )
    events = EventAccumulator(str(tmp_path / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    points = events.Scalars("train/loss")
    assert [point.step for point in points] == [3, 7, 11]  # each epoch's last batch, on Lightning's step axis
    assert points[-1].value < points[0].value  # the mean loss of each epoch, falling
