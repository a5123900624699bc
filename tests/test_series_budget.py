"""data=series sizes its training budget to the series (``data.budget``, issue 23 item 7).

The README's plain command on airline used to train 30 epochs of 2 batches: 60 optimizer steps, early
stopping after 20 steps without a better val/mase. The default budget trains ``epochs`` passes or at least
``min_steps`` steps, validates every epoch and waits a share of the budget before stopping early.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from lightning.pytorch.callbacks import EarlyStopping
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import compose_train, read_metrics, run_cli
from seqexp.builder import build
from seqexp.callbacks import FigureLogger
from seqexp.data.core.errors import DataError
from seqexp.data.series import SeriesDataModule

AIRLINE = ["data=series", "data.name=airline", "data.input_length=24", "data.horizon=12"]  # the README's command
SEATTLE = ["data=series"]  # the README's first command: seattle_temps


def built(tmp_path: Path, *overrides: str):
    """The composed config, DataModule and Trainer of a run, and its early stopping's patience."""
    cfg = compose_train(*overrides, f"paths.output_dir={tmp_path}")
    datamodule, _, trainer = build(cfg)
    patience = next(callback.patience for callback in trainer.callbacks if isinstance(callback, EarlyStopping))
    return cfg, datamodule, trainer, patience


def figure_spacing(trainer) -> int:
    return next(callback.every_n_epochs for callback in trainer.callbacks if isinstance(callback, FigureLogger))


@pytest.mark.parametrize(("overrides", "batches", "epochs"), [(AIRLINE, 2, 1000), (SEATTLE, 95, 100)])
def test_the_plain_commands_budget_is_sized_to_the_series(tmp_path: Path, overrides: list[str], batches: int, epochs: int) -> None:
    cfg, datamodule, trainer, patience = built(tmp_path, *overrides)
    budget = cfg.data.budget
    assert math.ceil(len(datamodule.window_starts("train")) / cfg.data.batch_size) == batches  # 66 and 6,036 windows
    # airline: 1,000 epochs of 2 steps reach min_steps (the old default: 60 steps); seattle_temps: its epochs.
    assert trainer.max_epochs == epochs == max(budget.epochs, math.ceil(budget.min_steps / batches))
    assert trainer.max_steps == -1 and trainer.max_epochs * batches >= budget.min_steps
    assert trainer.check_val_every_n_epoch == 1 and trainer.val_check_interval == 1.0  # validated after every epoch
    assert patience == math.ceil(budget.patience * epochs)  # airline 200 epochs (400 steps), seattle_temps 20
    assert figure_spacing(trainer) == math.ceil(epochs / budget.figures)  # airline every 100 epochs, seattle_temps 10


def test_typed_trainer_keys_and_presets_win_over_the_budget(tmp_path: Path) -> None:
    _, _, trainer, patience = built(tmp_path / "typed", *AIRLINE, "trainer.max_epochs=3")
    assert (trainer.max_epochs, trainer.max_steps, patience, figure_spacing(trainer)) == (3, -1, 10, 5)  # their own keys
    _, _, trainer, patience = built(tmp_path / "patience", *AIRLINE, "callbacks.early_stopping.patience=7")
    assert (trainer.max_epochs, patience) == (1000, 7)
    _, _, trainer, patience = built(tmp_path / "preset", "experiment=forecast", *AIRLINE[1:])
    assert (trainer.max_steps, trainer.val_check_interval, patience) == (6000, 100, 15)  # experiment=forecast's own budget
    _, _, trainer, patience = built(tmp_path / "old", *AIRLINE, "data.budget=null")
    assert (trainer.max_epochs, patience) == (30, 10)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("epochs", 0, "data.budget.epochs=0: must be an integer >= 1"),
        ("min_steps", 2.5, "data.budget.min_steps=2.5: must be an integer >= 1"),
        ("patience", 0, r"data.budget.patience=0: must be a number in \(0, 1\]"),
        ("figures", -1, "data.budget.figures=-1: must be an integer >= 1"),
    ],
)
def test_a_bad_budget_names_the_key(key: str, value: object, message: str) -> None:
    budget = {"epochs": 100, "min_steps": 2000, "patience": 0.2, "figures": 10, key: value}
    with pytest.raises(DataError, match=message):
        SeriesDataModule(name="airline", input_length=24, horizon=12, budget=budget)


def test_the_readme_airline_command_trains_past_the_old_60_steps_and_ends_within_its_budget(tmp_path: Path) -> None:
    """The user's command, run as a user runs it: 66 training windows, 2 steps an epoch."""
    result = run_cli("train", *AIRLINE, run_dir=tmp_path)
    assert "training budget (data.budget): trainer.max_epochs=1000" in result.stdout + result.stderr
    run = read_metrics(tmp_path)
    assert run["status"] == "completed"
    assert 60 < run["global_step"] <= 2000  # beyond the old 30 epochs' 60 steps, within min_steps
    events = EventAccumulator(str(tmp_path / "tensorboard"))
    events.Reload()
    steps = [event.step for event in events.Scalars("val/mase")]
    assert len(steps) >= run["global_step"] // 2 - 1 and all(b - a == 2 for a, b in zip(steps, steps[1:]))  # every epoch


def test_figures_come_after_every_nth_epoch_and_the_last_never_more_than_the_budget_allows() -> None:
    figures = FigureLogger(every_n_epochs=100)  # airline's budget: 1,000 epochs, 10 figures
    assert [epoch for epoch in range(1000) if figures.draws_after(epoch, 1000)] == list(range(99, 1000, 100))
    assert [epoch for epoch in range(30) if FigureLogger(5).draws_after(epoch, 30)] == [4, 9, 14, 19, 24, 29]
    assert [epoch for epoch in range(7) if FigureLogger(5).draws_after(epoch, 7)] == [4, 6]  # and the last epoch
