"""The cheap versions of per-step work: train loss logged on logger steps only, hooks not profiled, no-op callback hooks skipped."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import lightning as L
from lightning.pytorch.callbacks import Callback, Checkpoint
from lightning.pytorch.demos.boring_classes import BoringModel
from lightning.pytorch.profilers import PassThroughProfiler, SimpleProfiler
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


def recording_hook(name: str) -> Callable[..., None]:
    def hook(self: Callback, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any, **kwargs: Any) -> None:
        self.calls.append((type(self).__name__, name, pl_module._current_fx_name, len(args), sorted(kwargs)))

    return hook


CALLBACK_HOOKS = [name for name in vars(Callback) if name.startswith("on_") or name in ("setup", "teardown")]
Recorder = type("Recorder", (Callback,), {name: recording_hook(name) for name in CALLBACK_HOOKS})
CheckpointRecorder = type("CheckpointRecorder", (Recorder, Checkpoint), {})  # one of Lightning's "monitoring" callbacks


class OneHook(Callback):
    """Overrides one hook: the others are Callback's no-ops, which the default profiler's dispatch skips."""

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def on_after_backward(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.calls.append(("OneHook", "on_after_backward", pl_module._current_fx_name, 0, []))


def hook_calls(profiler: PassThroughProfiler, folder: Path) -> list[tuple]:
    calls: list[tuple] = []
    checkpoint, recorder = CheckpointRecorder(), Recorder()
    checkpoint.calls = recorder.calls = calls
    trainer = L.Trainer(
        default_root_dir=folder, max_epochs=2, limit_train_batches=3, limit_val_batches=2, logger=False, enable_progress_bar=False,
        enable_model_summary=False, profiler=profiler, callbacks=[checkpoint, Callback(), OneHook(calls), recorder],
    )  # fmt: skip
    trainer.fit(BoringModel())
    trainer.validate(BoringModel(), verbose=False)
    return calls


def test_default_profiler_dispatches_every_overridden_callback_hook_as_lightning_does(tmp_path: Path) -> None:
    # NoProfiler skips the hooks a callback leaves as Callback's no-ops; every other call keeps Lightning's order
    # (the monitoring callbacks after the others where Lightning splits them), arguments and _current_fx_name.
    lightnings = hook_calls(PassThroughProfiler(), tmp_path)
    assert hook_calls(NoProfiler(), tmp_path) == lightnings
    assert {name for _, name, *_ in lightnings} >= {"on_fit_start", "on_train_batch_end", "on_before_optimizer_step", "on_validation_end", "teardown"}
    assert ("OneHook", "on_after_backward", "on_after_backward", 0, []) in lightnings
    epoch_ends = [label for label, name, *_ in lightnings if name == "on_train_epoch_end"]
    assert epoch_ends[:2] == ["Recorder", "CheckpointRecorder"]  # Lightning's split, though listed first
