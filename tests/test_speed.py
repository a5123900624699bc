"""The cheap versions of per-step work: train loss logged on logger steps only, hooks not profiled."""

from __future__ import annotations

import math
from pathlib import Path

from lightning.pytorch.profilers import SimpleProfiler
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import compose_train, read_metrics
from seqexp.builder import build
from seqexp.profiler import NoProfiler
from seqexp.train import train


def test_train_loss_reaches_the_logger_on_the_same_steps_as_a_per_step_log(tmp_path: Path) -> None:
    # 4 batches per epoch, 2 epochs, logger every 3 steps: Lightning writes step metrics at steps 2 and 5.
    cfg = compose_train(
        "data.num_windows.train=256",
        "data.num_windows.val=64",
        "data.num_windows.test=64",
        "trainer.max_epochs=2",
        "trainer.log_every_n_steps=3",
        "model.hidden_size=8",
        f"paths.output_dir={tmp_path}",
    )
    train(cfg)
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    points = events.Scalars("train/loss")
    assert [point.step for point in points] == [2, 5]
    assert all(math.isfinite(point.value) and point.value > 0 for point in points)
    assert math.isfinite(read_metrics(tmp_path)["metrics"]["train/loss"])  # the last epoch's last batch


def test_default_trainer_profiles_nothing_through_one_shared_context(tmp_path: Path) -> None:
    # Lightning wraps each hook call in profiler.profile(name); the default hands back one reusable no-op context.
    _, _, trainer = build(compose_train(f"paths.output_dir={tmp_path}"))
    assert isinstance(trainer.profiler, NoProfiler)
    first, second = trainer.profiler.profile("[Callback]a.on_train_batch_end"), trainer.profiler.profile("[Strategy]b.training_step")
    assert first is second
    with first:
        pass


def test_trainer_profiler_key_gives_lightnings_profiler_and_its_report(tmp_path: Path) -> None:
    cfg = compose_train("trainer.profiler=simple", "trainer.max_epochs=1", "model.hidden_size=8", f"paths.output_dir={tmp_path}")
    _, _, trainer = build(cfg)
    assert isinstance(trainer.profiler, SimpleProfiler)
    train(cfg)
    assert read_metrics(tmp_path)["status"] == "completed"
