"""Memory on the default path of `data=anomaly_csv` (issue 23 item 8), at a small scale: what the figure draws,
what the predict loop keeps per window and what writing the prediction file holds do not grow with the series.

A 2M-point run with the default keys (figures, full test, `predictions/test.csv`) peaked 1.3 GB over a
10k-point one: the figure drew every point, Lightning's predict loop kept every batch's outputs and sample
indices until predict ended, and the file's text was built whole. `scripts/memory_scaling.py` measures it.
"""

from __future__ import annotations

import gc
import json
import math
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from helpers import compose_train
from seqexp import plotting
from seqexp.baselines import AnomalyInputs, AnomalyScoring
from seqexp.baselines import anomaly as anomaly_baselines_module
from seqexp.callbacks import baselines as baselines_callback
from seqexp.data.anomaly.real import CSVAnomalyDataModule, read_labelled_csv
from seqexp.plotting import PLOT_COLUMNS, anomaly_figure
from seqexp.predictions import write_table
from seqexp.tasks.anomaly import AnomalyTask
from seqexp.train import train


def labelled_csv(path: Path, points: int) -> Path:
    """A noisy sine, 5-point anomalies (+3) every 500 points: `value` and `label` columns."""
    rng = np.random.default_rng(0)
    steps = np.arange(points)
    labels = (steps % 500 >= 495).astype(int)
    values = np.sin(steps * 2 * np.pi / 50) + 0.1 * rng.standard_normal(points) + 3.0 * labels
    path.write_text("value,label\n" + "".join(f"{value:.5f},{label}\n" for value, label in zip(values.tolist(), labels.tolist())))
    return path


def covered(steps: np.ndarray, spans: list[tuple[float, float]]) -> np.ndarray:
    """Which ``steps`` lie inside one of the x ``spans``."""
    inside = np.zeros(len(steps), dtype=bool)
    for left, right in spans:
        inside |= (steps >= left) & (steps <= right)
    return inside


def shaded(axis) -> list[tuple[float, float]]:
    """The x extents of the axis' shaded spans: axvspan draws a Rectangle from matplotlib 3.9, a Polygon before."""
    spans = []
    for patch in axis.patches:
        x = patch.get_patch_transform().transform(patch.get_path().vertices)[:, 0]
        spans.append((float(x.min()), float(x.max())))
    return spans


def train_one_batch(data: Path, run_dir: Path) -> None:
    """A ``data=anomaly_csv`` run of ``data`` with the default keys but one training batch, into ``run_dir``."""
    train(
        compose_train(
            "data=anomaly_csv",
            f"data.path={data}",
            "data.label_column=label",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=1",
            f"paths.output_dir={run_dir}",
        )
    )


def test_a_long_series_is_drawn_with_a_bounded_number_of_points_and_every_anomaly_stays_visible() -> None:
    points = 300_000
    steps = np.arange(points) + 1_000_000  # the prediction file's steps
    rng = np.random.default_rng(1)
    series = np.stack([np.sin(steps / 40), 100 + rng.standard_normal(points)], axis=1)
    scores = rng.random(points)
    labels = np.zeros(points, dtype=int)
    for start in range(1_000, points, 7_919):  # 3-point runs: far narrower than a pixel column
        labels[start : start + 3] = 1
    labels[50_000:50_040:4] = 1  # 10 runs a few steps apart: one shaded span at this scale
    spikes = [17, 123_457, 299_990]  # single points: a flagged spike must stay on the line and be marked
    scores[spikes] = 50.0
    figure = anomaly_figure(steps, series, ("value", "load"), scores, labels, 10.0, "test")
    value, load, score = figure.axes
    for axis in figure.axes:
        for line in axis.get_lines():
            assert len(line.get_xdata()) <= 2 * PLOT_COLUMNS + 2, (axis.get_ylabel(), line.get_label())
    score_line = next(line for line in score.get_lines() if line.get_label() == "score")
    _, drawn_scores = score_line.get_data()
    assert drawn_scores.max() == scores.max() and drawn_scores.min() == scores.min()  # spikes and troughs stay
    marked = next(line for line in score.get_lines() if line.get_label() == "detected")
    assert sorted(marked.get_xdata().tolist()) == steps[spikes].tolist()
    labelled = steps[labels == 1]
    for axis in (value, load, score):  # every labelled point shaded, at least a pixel column wide
        spans = shaded(axis)
        assert covered(labelled, spans).all()
        assert min(right - left for left, right in spans) >= (steps[-1] - steps[0]) / PLOT_COLUMNS - 1e-6
        assert len(spans) <= PLOT_COLUMNS
    plt.close(figure)


def test_a_short_series_is_drawn_point_for_point() -> None:
    steps = np.arange(500)
    scores = np.linspace(0, 1, 500)
    labels = (steps % 100 == 7).astype(int)
    figure = anomaly_figure(steps, scores[:, None], ("value",), scores, labels, 0.9, "val")
    value, score = figure.axes
    assert value.get_lines()[0].get_xdata().tolist() == steps.tolist()
    assert shaded(score) == [(step - 0.5, step + 0.5) for step in steps[labels == 1].tolist()]
    plt.close(figure)


def test_drawing_a_long_series_holds_a_few_bytes_per_point() -> None:
    """The test figure of a 5M-point file draws 1.5M points: choosing each column's lowest and highest point
    sorted every point by column and value (int64 and float64 copies, about 40 bytes a point at once) and the
    labelled runs were found in int64; now the columns are found a chunk at a time and the runs in one byte a point."""
    points = 1_000_000
    steps = np.arange(points) + 3_500_000
    rng = np.random.default_rng(2)
    labels = (steps % 10_000 >= 9_990).astype(np.uint8)
    series = (np.sin(steps / 8.0) + 3.0 * labels)[:, None]  # (points, 1) float64, as read
    scores = (rng.random(points) + 5.0 * labels).astype(np.float32)
    plt.close(anomaly_figure(steps[:5_000], series[:5_000], ("value",), scores[:5_000], labels[:5_000], 3.0, "warm-up"))
    tracemalloc.start()
    try:
        figure = anomaly_figure(steps, series, ("value",), scores, labels, 3.0, "test")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    plt.close(figure)
    assert peak < 8 * points, f"{peak / points:.1f} bytes a point"


def test_writing_a_prediction_file_holds_a_bounded_share_of_its_text(tmp_path: Path) -> None:
    rows = 50_000
    table = {
        "step": torch.arange(rows),
        "value": torch.rand(rows, dtype=torch.float64),
        "score": torch.rand(rows),
        "threshold": torch.tensor(0.5).expand(rows),
        "flag": torch.zeros(rows, dtype=torch.long),
    }
    path = tmp_path / "test.csv"
    tracemalloc.start()
    try:
        write_table(table, path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 12 * 2**20  # the whole file's cells at once held about 20 MB here
    lines = path.read_text().splitlines()
    assert len(lines) == rows + 1 and lines[0] == "step,value,score,threshold,flag" and lines[-1].startswith(f"{rows - 1},")
    assert np.float32(lines[12_345 + 1].split(",")[2]) == table["score"][12_345].item()


def test_the_default_run_keeps_nothing_per_window_while_predicting_and_draws_a_bounded_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`python -m seqexp.train data=anomaly_csv data.path=<file> data.label_column=label` with every default but
    the training length, on 40k points: the prediction table holds flag and truth in a byte a row, and when
    `trainer.predict` starts no per-point array of the val or test split
    is alive (the task held both splits' scores, labels, positions and inputs to the end of the run, and a drawn
    figure's frames held the split's values until a full garbage collection); between the start of predicting
    and the prediction table, Python holds at most a few bytes per predicted window (the predict loop kept each
    batch's outputs and each window's sample index, about 50 bytes a window), and the test figure's lines have
    at most a few thousand points."""
    data = labelled_csv(tmp_path / "series.csv", 40_000)
    held: dict[str, int] = {}
    split_lengths = {8_000, 12_000}  # val and test points (the default 0.5 / 0.2 / 0.3 split)
    alive: list[tuple[int, ...]] = []
    own_predict_start = AnomalyTask.on_predict_start

    def on_predict_start(task: AnomalyTask) -> None:
        own_predict_start(task)
        alive.extend(
            tuple(tensor.shape)
            for tensor in gc.get_objects()  # reachable, or in cycles not yet collected
            if isinstance(tensor, torch.Tensor) and tensor.dim() and tensor.shape[0] in split_lengths
        )
        tracemalloc.start()
        held["start"] = tracemalloc.get_traced_memory()[0]

    prediction_table = AnomalyTask.prediction_table

    def measured_prediction_table(task: AnomalyTask, outputs, index):
        held["end"] = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        table = prediction_table(task, outputs, index)
        held["table bytes a row"] = sum(column.element_size() for column in table.values() if column.stride(0))  # threshold: one value
        return table

    monkeypatch.setattr(AnomalyTask, "on_predict_start", on_predict_start)
    monkeypatch.setattr(AnomalyTask, "prediction_table", measured_prediction_table)
    figures: list = []
    draw = plotting.anomaly_figure
    monkeypatch.setattr(plotting, "anomaly_figure", lambda *args, **kwargs: figures.append(draw(*args, **kwargs)) or figures[-1])
    run_dir = tmp_path / "run"
    try:
        train_one_batch(data, run_dir)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
    assert alive == []
    assert held["table bytes a row"] == 8 + 8 + 4 + 1 + 1  # step, value (as read), score, flag and truth (int64 before)
    windows = 12_000  # the test split's points, one scored window each
    assert held["end"] - held["start"] < 10 * windows, f"{(held['end'] - held['start']) / windows:.1f} bytes a window"
    with open(run_dir / "predictions" / "test.csv", newline="") as handle:
        assert sum(1 for _ in handle) == windows + 1
    test_figure = figures[-1]
    assert all(len(line.get_xdata()) <= 2 * PLOT_COLUMNS + 2 for axis in test_figure.axes for line in axis.get_lines())
    assert len(shaded(test_figure.axes[0])) == math.ceil(windows / 500)  # every labelled run of the test split
    plt.close("all")


def peak_bytes_per_point(script: str, points: int) -> float:
    """What ``script`` prints (its resident peak over ``points``), run in a fresh process whose allocator hands
    freed memory back at once, so that the resident peak follows what is held."""
    environment = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script, str(points)], env=environment, capture_output=True, text=True)
    if result.returncode and "clear_refs" in result.stderr:
        pytest.skip("this kernel does not let a process reset its peak resident memory")
    assert result.returncode == 0, result.stderr[-2000:]
    print(f"{float(result.stdout):.1f} bytes a point")
    return float(result.stdout)


SPLIT_METRICS = """
import sys, torch
from seqexp.metrics.anomaly import anomaly_metrics, choose_threshold

def resident(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field))

points = int(sys.argv[1])
generator = torch.Generator().manual_seed(0)
labels = (torch.arange(points) % 10_000 >= 9_990).to(torch.uint8)  # (points,) as the task gives them
scores = torch.rand(points, generator=generator) + 0.5 * labels  # (points,) float32
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")  # reset the peak resident memory (VmHWM) to what is resident now
before = resident("VmRSS")
threshold, _ = choose_threshold("best_f1", scores, labels)
anomaly_metrics(scores, labels, threshold)
print((resident("VmHWM") - before) / points)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak resident memory from /proc")
def test_a_splits_metrics_take_a_few_bytes_per_point() -> None:
    """What the task computes at the end of each val/test epoch (threshold, AUROC, AUPRC, VUS, the flags'
    scores) over 1M points, in a fresh process whose allocator hands freed memory back at once (so the
    resident peak follows what is held). Each metric sorting the split's scores into float64 copies, one
    after another, peaked about 80 bytes a point; one sort shared by the curves, the scores' own float32
    and chunked float64 steps, about 30."""
    assert peak_bytes_per_point(SPLIT_METRICS, 1_000_000) < 45


BASELINES = """
import sys, torch
from seqexp.baselines.anomaly import AnomalyScoring, anomaly_baselines
from seqexp.baselines.inputs import AnomalyInputs

def resident(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field))

points = int(sys.argv[1])
steps = torch.arange(points)
labels = (steps % 10_000 >= 9_990).to(torch.uint8)  # (points,) as the DataModule reads them
values = (torch.sin(steps * 0.1256) + 3.0 * labels).float().unsqueeze(1)  # (points, 1) scaled, float32
bounds = {"train": (0, points // 2), "val": (points // 2, points * 7 // 10), "test": (points * 7 // 10, points)}
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")
before = resident("VmRSS")
anomaly_baselines(AnomalyInputs(values, labels, bounds), AnomalyScoring(), [10, 25, 50, 100, 200])
print((resident("VmHWM") - before) / points)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak resident memory from /proc")
def test_the_rolling_zscore_baseline_takes_a_few_bytes_per_point() -> None:
    """The baseline every anomaly run scores at the end of test (``callbacks.baselines``), over 1M points: the
    rolling z-score's running sums were concatenated copies and every point's mean, variance and z-score were
    float64 arrays of the whole split at once, and the labels int64: about 55 bytes a point of the series at the
    peak; the sums made in place and the scores a chunk at a time, about 22 (the metrics' sort of float64 scores)."""
    assert peak_bytes_per_point(BASELINES, 1_000_000) < 32


ROLLING_ZSCORE = """
import sys, torch
from seqexp.baselines.anomaly import rolling_zscore

def resident(field):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith(field))

points = int(sys.argv[1])
values = torch.sin(torch.arange(points) * 0.1256).float().unsqueeze(1)  # (points, 1) scaled, float32
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")
before = resident("VmRSS")
rolling_zscore(values, 200, points, 200)
print((resident("VmHWM") - before) / points)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the peak resident memory from /proc")
def test_the_rolling_zscore_holds_its_scores_and_one_chunk() -> None:
    """Scoring 1M points: the float64 rows, their running sums and sums of squares over the whole split (and a
    product of the rows) were held at once, about 40 bytes a point; made a chunk at a time, the float64 scores
    (8 bytes a point) and one chunk's buffers."""
    assert peak_bytes_per_point(ROLLING_ZSCORE, 1_000_000) < 24


def test_the_baselines_are_scored_before_the_test_epoch_gathers_its_sums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The baselines need nothing of the model's test run: scored when test starts, they do not sit beside the
    per-point sums of the whole test split, which the task gathers over the epoch (at the epoch's end Lightning
    runs the callbacks' hooks before the task's, so the sums were all held while a long series was scored)."""
    data = labelled_csv(tmp_path / "series.csv", 6_000)
    tasks: list[AnomalyTask] = []
    held: list[int] = []  # positions of the test split whose sums the task held when the baselines were scored
    own_setup = AnomalyTask.setup

    def setup(task: AnomalyTask, stage: str) -> None:
        tasks.append(task)
        own_setup(task, stage)

    score = baselines_callback.compute_baselines

    def compute_baselines(inputs, options):
        held.append(sum(len(points.total) for stage, points in tasks[-1]._points.items() if stage == "test"))
        return score(inputs, options)

    monkeypatch.setattr(AnomalyTask, "setup", setup)
    monkeypatch.setattr(baselines_callback, "compute_baselines", compute_baselines)
    run_dir = tmp_path / "run"
    train_one_batch(data, run_dir)
    assert held == [0]
    assert json.loads((run_dir / "metrics.json").read_text())["metrics"]["baseline/rolling_zscore/window"] in (10.0, 25.0, 50.0, 100.0, 200.0)


def test_the_baselines_read_the_rows_they_score_a_chunk_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The DataModule hands the baselines its series as rows scaled when read, not a scaled copy of the whole series
    (20 MB at 5M points, held while the baseline's scores were sorted): the rolling z-score reads val and test and
    the ``window`` rows before each, a chunk at a time, and scores as it did on the whole scaled series."""
    data = CSVAnomalyDataModule(path=str(labelled_csv(tmp_path / "series.csv", 20_000)), label_column="label")
    data.prepare_data()
    data.setup()
    reads: list[tuple[int, int]] = []
    scaled_values = data.scaled_values

    def recorded(start: int = 0, end: int | None = None) -> torch.Tensor:
        rows = scaled_values(start, end)
        reads.append((start, start + len(rows)))
        return rows

    monkeypatch.setattr(data, "scaled_values", recorded)
    monkeypatch.setattr(anomaly_baselines_module, "CHUNK", 1_000)
    windows = [10, 25, 50, 100, 200]
    figures = anomaly_baselines_module.anomaly_baselines(data.baseline_inputs(), AnomalyScoring(), windows)["rolling_zscore"]
    (val_start, _), (_, test_end) = data.bounds["val"], data.bounds["test"]
    assert reads and min(start for start, _ in reads) == val_start - max(windows) and max(end for _, end in reads) == test_end
    assert max(end - start for start, end in reads) <= 1_000 + max(windows)
    whole = AnomalyInputs(scaled_values(), data.labels, dict(data.bounds))
    expected = anomaly_baselines_module.anomaly_baselines(whole, AnomalyScoring(), windows)["rolling_zscore"]
    assert figures.keys() == expected.keys()
    assert all(figures[name] == expected[name] or (math.isnan(figures[name]) and math.isnan(expected[name])) for name in figures)


FREED_AFTER_A_LARGER_ONE = """
import sys, torch
from seqexp.allocator import map_large_allocations

def resident():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS"))

if sys.argv[1] == "mapped":
    map_large_allocations()
larger = torch.ones(4 << 20)  # 16 MB, freed: glibc raises its own threshold to its size
del larger
before = resident()
scores = torch.ones(2 << 20)  # 8 MB, as a split's per-point arrays are
del scores
print((resident() - before) / 2**20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator, resident memory from /proc")
def test_a_large_array_goes_back_to_the_system_when_freed_whatever_was_freed_before() -> None:
    """``seqexp.allocator.map_large_allocations`` (the anomaly task's ``setup``): after a larger block was freed,
    glibc served an 8 MB array from its heap and kept its pages resident once freed; with the threshold fixed
    the array has pages of its own, handed back when it is freed."""

    def kept_mb(mode: str) -> float:
        environment = {**os.environ, "OMP_NUM_THREADS": "1"}
        result = subprocess.run([sys.executable, "-c", FREED_AFTER_A_LARGER_ONE, mode], env=environment, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr[-2000:]
        return float(result.stdout)

    assert kept_mb("glibc") > 6  # without: the freed array stays resident
    assert kept_mb("mapped") < 1


def test_reading_a_labelled_csv_holds_its_numbers_and_little_else(tmp_path: Path) -> None:
    """`data=anomaly_csv` reading `value,label` rows, under the default `data.missing=interpolate`: the peak that
    Python's allocator sees is the two columns as float64 (16 bytes a row) plus growth slack. The file line of
    every row (4 bytes a row, when each row follows on the next line) and an index of the rows kept when
    nothing is missing (8 bytes a row) took it to about 33 bytes a row."""
    rows = 100_000
    data = labelled_csv(tmp_path / "series.csv", rows)
    tracemalloc.start()
    try:
        values, labels, _ = read_labelled_csv(data, label_column="label")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert values.shape == (rows, 1) and int(labels.sum()) == rows // 100
    assert peak < 25 * rows, f"{peak / rows:.1f} bytes a row"
