"""Figure titles name the epoch the weights are from: a tested checkpoint's own epoch (issue 15), not the
epoch the trainer reached, and the current epoch again once a fit moves the weights on. Anomaly and forecast
figures read as the prediction file does: the data's column names and units, its steps and time stamps."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import lightning as L
import matplotlib.pyplot as plt
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from helpers import compose_train
from seqexp import plotting
from seqexp.tasks.regression import RegressionTask
from seqexp.train import train

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
    trainer = L.Trainer(max_epochs=3, accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[every_epoch])
    trainer.fit(task, train_dataloaders=windows(), val_dataloaders=windows())
    assert trainer.current_epoch == 3

    trainer.test(task, dataloaders=windows(), ckpt_path=str(tmp_path / "epoch=0.ckpt"), verbose=False)
    assert title(task.figures("test")) == "test: first window, epoch 0"
    trainer.test(task, dataloaders=windows(), ckpt_path=str(tmp_path / "epoch=2.ckpt"), verbose=False)
    assert title(task.figures("test")) == "test: first window, epoch 2"

    # Fitting on from a checkpoint: the weights are the fit's own again, titled with the trainer's epoch.
    resumed = L.Trainer(max_epochs=4, accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False, enable_checkpointing=False)
    resumed.fit(task, train_dataloaders=windows(), val_dataloaders=windows(), ckpt_path=str(tmp_path / "epoch=0.ckpt"))
    resumed.test(task, dataloaders=windows(), verbose=False)
    assert title(task.figures("test")) == f"test: first window, epoch {resumed.current_epoch}"


def drawn(monkeypatch: pytest.MonkeyPatch, name: str) -> list:
    """The figures ``seqexp.plotting.<name>`` draws from here on (FigureLogger closes them once logged)."""
    figures: list = []
    draw = getattr(plotting, name)
    monkeypatch.setattr(plotting, name, lambda *args, **kwargs: figures.append(draw(*args, **kwargs)) or figures[-1])
    return figures


def x_range_and_ticks(axis) -> tuple[tuple[float, float], list[str]]:
    """The x axis' view limits and the labels of the ticks inside them."""
    axis.figure.canvas.draw()
    low, high = axis.get_xlim()
    labels = zip(axis.get_xticks(), axis.get_xticklabels())
    return (low, high), [label.get_text() for tick, label in labels if low <= tick <= high and label.get_text()]


def test_anomaly_figure_reads_as_the_prediction_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `data=anomaly_csv data.path=plant.csv data.label_column=is_anomaly` on a file with time stamps
    and two named columns of other units: the test figure shows the columns by name, in their units, on the
    prediction file's steps and time stamps (test points 280-399 of the file, not 0-119 of the split)."""
    plant = tmp_path / "plant.csv"
    plant.write_text(
        "time,temperature,pressure,is_anomaly\n"
        + "".join(
            f"2023-01-01T{i // 60:02d}:{i % 60:02d}:00,{20 + 5 * math.sin(i / 5):.2f},{1000 + 30 * math.cos(i / 7):.2f},{int(300 <= i < 310)}\n"
            for i in range(400)
        )
    )
    figures = drawn(monkeypatch, "anomaly_figure")
    run_dir = tmp_path / "run"
    train(compose_train("data=anomaly_csv", f"data.path={plant}", "data.label_column=is_anomaly", "trainer.max_epochs=1", f"paths.output_dir={run_dir}"))
    with open(run_dir / "predictions" / "test.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    figure = figures[-1]  # after test
    temperature, pressure, score = figure.axes
    assert [temperature.get_ylabel(), pressure.get_ylabel(), score.get_ylabel()] == ["temperature", "pressure", "score"]
    assert [t.get_text() for t in temperature.get_legend().get_texts()][0] == "temperature"
    steps, values = temperature.get_lines()[0].get_data()
    assert steps.tolist() == [int(row["step"]) for row in rows]  # the file's steps, 280 on
    assert values.tolist() == [float(row["temperature"]) for row in rows]  # as read, not scaled
    (low, high), ticks = x_range_and_ticks(score)
    assert low <= 280 and high >= 399 and low > 270
    assert ticks and set(ticks) <= {row["timestamp"] for row in rows} and score.get_xlabel() == "timestamp"
    plt.close("all")


def test_forecast_figure_names_the_target_and_reads_time_stamps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's `data=series data.name=airline data.input_length=24 data.horizon=12`: the figure's y axis names
    the column (Passengers), its x axis reads the prediction file's time stamps over its steps."""
    figures = drawn(monkeypatch, "forecast_figure")
    run_dir = tmp_path / "run"
    train(compose_train("data=series", "data.name=airline", "data.input_length=24", "data.horizon=12", "trainer.max_epochs=1", f"paths.output_dir={run_dir}"))
    with open(run_dir / "predictions" / "test.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    (axis,) = figures[-1].axes
    assert axis.get_ylabel() == "Passengers" and "Passengers_truth" in rows[0]
    (low, high), ticks = x_range_and_ticks(axis)
    steps = [int(row["step"]) for row in rows]
    assert low <= min(steps) and high >= max(steps) and low > min(steps) - 12
    assert ticks and set(ticks) <= {row["timestamp"] for row in rows} and axis.get_xlabel() == "timestamp"
    plt.close("all")
