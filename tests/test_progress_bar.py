"""The default progress bar draws by the clock: at most every callbacks.progress_bar.min_interval_s seconds, whatever
asks for a redraw; its count is exact after each loop's last batch."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lightning as L
import pytest

from helpers import compose_train
from seqexp.builder import build
from seqexp.callbacks import ProgressBar
from seqexp.config import ConfigError


class BarPositions(L.Callback):
    """The train bar's count after each batch, as the user's terminal last showed it."""

    def __init__(self, bar: ProgressBar) -> None:
        self.bar = bar
        self.shown: list[int] = []

    def on_train_batch_end(self, trainer: L.Trainer, task: L.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.shown.append(self.bar.train_progress_bar.n)


def shown_positions(tmp_path: Path, min_interval_s: float) -> list[int]:
    cfg = compose_train(
        "data.num_windows.train=1280",  # 20 batches of 64
        "trainer.max_epochs=1",
        "model.hidden_size=8",
        f"callbacks.progress_bar.min_interval_s={min_interval_s}",
        f"paths.output_dir={tmp_path}",
    )
    datamodule, task, trainer = build(cfg)
    bar = trainer.progress_bar_callback
    assert isinstance(bar, ProgressBar)
    positions = BarPositions(bar)
    trainer.callbacks.append(positions)  # after the bar: sees what it drew for the batch
    trainer.fit(task, datamodule=datamodule)
    return positions.shown


def test_a_long_interval_draws_only_the_last_batch(tmp_path: Path) -> None:
    # the sanity check's validation bar drew last just before training started: one clock for all bars
    assert shown_positions(tmp_path, 3600) == [0] * 19 + [20]


def test_no_interval_draws_every_batch(tmp_path: Path) -> None:
    assert shown_positions(tmp_path, 0) == list(range(1, 21))


def test_a_negative_interval_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match="callbacks.progress_bar.min_interval_s"):
        ProgressBar(min_interval_s=-1)


def terminal_output(tmp_path: Path, capsys: pytest.CaptureFixture, min_interval_s: float, *overrides: str) -> str:
    """What the bars wrote over a fit of 10 epochs of 2 batches, each validated."""
    cfg = compose_train(
        "data.num_windows.train=128",
        *overrides,
        "trainer.max_epochs=10",
        "callbacks.early_stopping=null",
        "model.hidden_size=8",
        f"callbacks.progress_bar.min_interval_s={min_interval_s}",
        f"paths.output_dir={tmp_path / str(min_interval_s)}",
    )
    datamodule, task, trainer = build(cfg)
    capsys.readouterr()
    trainer.fit(task, datamodule=datamodule)
    return capsys.readouterr().out


def terminal_draws(tmp_path: Path, capsys: pytest.CaptureFixture, min_interval_s: float) -> int:
    return terminal_output(tmp_path, capsys, min_interval_s).count("\r")  # one per draw


def test_epoch_and_validation_hooks_do_not_redraw_within_the_interval(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # Lightning redraws about ten times an epoch here (descriptions, postfix metrics, resets, bars of each
    # validation); within the interval, about a bar's first draw and its close (the default 0.2 s: 119 draws before, 27 now).
    every_request = terminal_draws(tmp_path, capsys, 0)
    by_the_clock = terminal_draws(tmp_path, capsys, 3600)
    bars = 1 + 1 + 10  # sanity check, training, one per validation
    assert every_request >= 8 * 10
    assert by_the_clock <= 3 * bars


def test_validations_shorter_than_the_interval_leave_no_bar_in_the_output(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    output = terminal_output(tmp_path, capsys, 0.2)  # the default interval; each validation here takes milliseconds
    assert "Epoch 9: 100%" in output
    assert "Validation" not in output and "Sanity Checking" not in output  # not even a `0/?` line, drawn then cleared


def test_a_validation_longer_than_the_interval_shows_its_bar_then_clears_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    output = terminal_output(tmp_path, capsys, 0.01, "data.num_windows.val=16384")  # 256 val batches an epoch
    drawn = output.rfind("Validation DataLoader 0: ")
    assert drawn >= 0, output[-2000:]
    assert re.search(r"\n\r {20,}\x1b\[A", output[drawn:])  # tqdm's clear: blanks the line below the train bar, back up
