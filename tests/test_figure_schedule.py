"""When ``FigureLogger`` draws during fit: on its epoch schedule only once ``min_interval_s`` has passed since
the last figures, always after the fit's last validation (whatever ends the fit), and the full collection
after drawing scans only what the fit made (the objects from before it are frozen for its duration)."""

from __future__ import annotations

import gc
from pathlib import Path
from types import SimpleNamespace

import lightning as L
import pytest

from helpers import compose_train
from seqexp import plotting
from seqexp.builder import build
from seqexp.callbacks import figures as figures_module

# 4 training batches an epoch; the default callbacks, logger and figures (sine data: one prediction figure per set).
SMALL = ["data.num_windows.train=256", "data.num_windows.val=64", "data.num_windows.test=64", "model.hidden_size=8"]


def fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *overrides: str, first: list[L.Callback] = ()) -> tuple[list[str], L.Trainer]:
    """The titles of the validation figures a fit draws (``<stage>: first window, epoch <n>``), in order."""
    titles: list[str] = []
    draw = plotting.prediction_figure
    monkeypatch.setattr(plotting, "prediction_figure", lambda *args, **kwargs: titles.append(args[2]) or draw(*args, **kwargs))
    cfg = compose_train(*SMALL, "callbacks.figures.every_n_epochs=1", *overrides, f"paths.output_dir={tmp_path}")
    datamodule, task, trainer = build(cfg)
    trainer.callbacks[:0] = list(first)
    trainer.fit(task, datamodule=datamodule)
    return titles, trainer


class EpochsOfMinutes(L.Callback):
    """A clock for ``FigureLogger`` that moves a minute per training epoch: a long fit."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        monkeypatch.setattr(figures_module, "time", SimpleNamespace(monotonic=lambda: self.now))

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.now += 60.0


def test_a_short_fit_draws_once_after_its_last_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    titles, _ = fit(tmp_path, monkeypatch, "trainer.max_epochs=4", "callbacks.figures.min_interval_s=1e9")
    assert titles == ["val: first window, epoch 3"]


def test_a_long_fit_draws_on_the_epoch_schedule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    titles, _ = fit(tmp_path, monkeypatch, "trainer.max_epochs=4", "callbacks.figures.min_interval_s=10", first=[EpochsOfMinutes(monkeypatch)])
    assert titles == [f"val: first window, epoch {epoch}" for epoch in range(4)]
    titles, _ = fit(tmp_path / "zero", monkeypatch, "trainer.max_epochs=4", "callbacks.figures.min_interval_s=0")
    assert titles == [f"val: first window, epoch {epoch}" for epoch in range(4)]  # 0: the schedule alone


class StopAfterEpoch(L.Callback):
    """Calls for a stop at one epoch's validation, as early stopping does (before ``FigureLogger``)."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        trainer.should_stop = trainer.should_stop or trainer.current_epoch == self.epoch


@pytest.mark.parametrize("ending", ["early_stop", "max_steps"])
def test_a_fit_that_ends_before_max_epochs_still_draws_its_last_validation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ending: str) -> None:
    schedule = ["trainer.max_epochs=20", "callbacks.figures.every_n_epochs=5", "callbacks.figures.min_interval_s=0"]
    if ending == "max_steps":
        titles, trainer = fit(tmp_path, monkeypatch, *schedule, "trainer.max_steps=12")  # 3 epochs of 4 steps
    else:
        titles, trainer = fit(tmp_path, monkeypatch, *schedule, first=[StopAfterEpoch(6)])
    assert titles[-1] == f"val: first window, epoch {trainer.current_epoch - 1}"
    assert titles == (["val: first window, epoch 2"] if ending == "max_steps" else ["val: first window, epoch 4", "val: first window, epoch 6"])


class FrozenCount(L.Callback):
    def __init__(self, fail: bool = False) -> None:
        self.seen, self.fail = -1, fail

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.seen = gc.get_freeze_count()
        if self.fail:
            raise RuntimeError("a failing fit")


def test_objects_from_before_the_fit_are_frozen_during_it_and_collectable_after(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    counter = FrozenCount()
    fit(tmp_path, monkeypatch, "trainer.max_epochs=1", first=[counter])
    assert counter.seen > 10_000  # torch, Lightning, the model and data: not scanned by the collection after drawing
    assert gc.get_freeze_count() == 0
    failing = FrozenCount(fail=True)
    with pytest.raises(RuntimeError, match="a failing fit"):
        fit(tmp_path / "failing", monkeypatch, "trainer.max_epochs=1", first=[failing])
    assert failing.seen > 10_000 and gc.get_freeze_count() == 0


def test_objects_the_process_froze_itself_stay_frozen_after_a_fit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gc.freeze()  # e.g. a server that froze its start-up objects before forking workers
    try:
        frozen = gc.get_freeze_count()
        counter = FrozenCount()
        fit(tmp_path, monkeypatch, "trainer.max_epochs=1", first=[counter])
        # nothing more frozen (unfreezing ours would unfreeze the process's too; freed objects leave the count)
        assert 0.9 * frozen < counter.seen <= frozen
        assert 0.9 * frozen < gc.get_freeze_count() <= frozen
    finally:
        gc.unfreeze()
