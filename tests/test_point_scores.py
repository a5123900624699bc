"""Per-point anomaly scores from overlapping windows, accumulated batch by batch: the values worked out
by hand, the same whichever batches or ranks the windows come in, and what a default anomaly run holds
while it evaluates and predicts: memory that follows the points, not points x window (issue 23)."""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any

import lightning as L
import torch

from helpers import compose_train, read_metrics
from seqexp.metrics.point_scores import PointScores
from seqexp.tasks.anomaly import AnomalyTask
from seqexp.train import train

# Two windows of 3 steps, starting at -1 (one context step before the split) and at 1.
STARTS = torch.tensor([-1, 1])
SCORES = torch.tensor([[9.0, 1.0, 2.0], [4.0, 6.0, 8.0]])
LABELS = torch.tensor([[1, 0, 1], [1, 0, 0]])
INPUTS = (STARTS.view(-1, 1) + torch.arange(3)).float().view(2, 3, 1)  # a point's input: its position


def test_overlapping_windows_average_into_one_score_per_point() -> None:
    points = PointScores()
    for window in range(2):  # one window a batch
        points.add(STARTS[window : window + 1], SCORES[window : window + 1], LABELS[window : window + 1], INPUTS[window : window + 1])
    series = points.series()
    # point 0: 1; point 1: mean(2, 4) = 3; points 2, 3: 6, 8. The context step (score 9) is dropped.
    torch.testing.assert_close(series["scores"], torch.tensor([1.0, 3.0, 6.0, 8.0]))
    assert series["labels"].tolist() == [0, 1, 0, 0] and series["points"].tolist() == [0, 1, 2, 3]
    assert series["series"].flatten().tolist() == [0.0, 1.0, 2.0, 3.0]


def test_unscored_steps_and_smoothing() -> None:
    points = PointScores(keep_values=False)
    # Forecast mode: only the last step of each window is scored; windows start at -2, -1, 0, 1, 2.
    scores = torch.full((5, 3), math.nan)
    scores[:, -1] = torch.tensor([0.0, 0.0, 3.0, 0.0, 0.0])
    points.add(torch.arange(-2, 3), scores, torch.zeros(5, 3, dtype=torch.long))
    series = points.series(smoothing=3)
    assert series["points"].tolist() == [0, 1, 2, 3, 4] and "series" not in series
    torch.testing.assert_close(series["scores"], torch.tensor([0.0, 1.0, 1.0, 1.0, 0.0]))


def simulated_ranks(shares: list[PointScores]) -> None:
    """Run ``reduce`` on every share at once, as DDP ranks do, over an all-reduce made of a barrier."""
    barrier, slots, errors = threading.Barrier(len(shares), timeout=30), [None] * len(shares), []

    def rank(index: int) -> None:
        def reduce(tensor: torch.Tensor, op: str) -> torch.Tensor:
            slots[index] = tensor.clone()
            barrier.wait()
            stacked = torch.stack(slots)  # type: ignore[arg-type]  # fails unless every rank holds the same shape
            result = stacked.sum(0) if op == "sum" else stacked.max(0).values
            barrier.wait()
            return result.to(tensor.dtype)

        try:
            shares[index].reduce(reduce)
        except Exception as error:  # noqa: BLE001 - reported below, from the test's thread
            errors.append(error)
            barrier.abort()

    threads = [threading.Thread(target=rank, args=(index,)) for index in range(len(shares))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_ranks_that_split_the_windows_reduce_to_the_whole_series() -> None:
    generator = torch.Generator().manual_seed(0)
    starts = torch.arange(-7, 93, 1)  # 100 windows of 8 steps over 100 points
    scores = torch.rand(100, 8, generator=generator)
    positions = starts.view(-1, 1) + torch.arange(8)
    labels = (positions % 17 == 0).long()  # a point's label is the same in every window that holds it
    inputs = positions.unsqueeze(-1).float()
    whole = PointScores()
    whole.add(starts, scores, labels, inputs)
    shares = [PointScores(), PointScores()]
    shares[0].add(starts[0::2], scores[0::2], labels[0::2], inputs[0::2])  # a distributed sampler's interleaving
    shares[1].add(starts[1::2][:20], scores[1::2][:20], labels[1::2][:20], inputs[1::2][:20])
    shares[1].add(starts[1::2][20:], scores[1::2][20:], labels[1::2][20:], inputs[1::2][20:])
    simulated_ranks(shares)
    expected = whole.series(smoothing=5)
    for share in shares:
        series = share.series(smoothing=5)
        assert series.keys() == expected.keys()
        for name in expected:
            torch.testing.assert_close(series[name], expected[name])
    assert expected["series"].flatten().tolist() == [float(point) for point in range(100)]
    assert expected["labels"].tolist() == [int(point % 17 == 0) for point in range(100)]


def tensor_bytes(value: Any, seen: set[int], depth: int = 0) -> int:
    """Bytes of every tensor reachable from ``value`` through containers and plain objects' attributes."""
    if isinstance(value, torch.Tensor):
        key = value.untyped_storage().data_ptr()
        if key in seen:
            return 0
        seen.add(key)
        return value.untyped_storage().nbytes()
    if depth > 4:
        return 0
    if isinstance(value, dict):
        return sum(tensor_bytes(item, seen, depth + 1) for item in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(item, seen, depth + 1) for item in value)
    if hasattr(value, "__dict__") and not isinstance(value, (torch.nn.Module, type)):
        return sum(tensor_bytes(item, seen, depth + 1) for item in vars(value).values())
    return 0


HELD: dict[str, float] = {}  # what the last HeldMemory measured


class HeldMemory(L.Callback):
    """The largest number of tensor bytes the task holds (outside its weights) after a val or test batch,
    and that one prediction batch returns, per window of the batch; added to a run as
    ``+callbacks.held_memory._target_=test_point_scores.HeldMemory``, results in ``HELD``."""

    def __init__(self) -> None:
        HELD.clear()
        self.held = HELD
        self.held.update(val=0, test=0, predicted_per_window=0.0)

    def _measure(self, stage: str, task: AnomalyTask) -> None:
        state = {name: value for name, value in vars(task).items() if not name.startswith("_modules") and name not in ("_parameters", "_buffers", "_trainer")}
        self.held[stage] = max(self.held[stage], tensor_bytes(state, set()))

    def on_validation_batch_end(self, trainer: L.Trainer, task: AnomalyTask, *args: Any) -> None:
        if not trainer.sanity_checking:
            self._measure("val", task)

    def on_test_batch_end(self, trainer: L.Trainer, task: AnomalyTask, *args: Any) -> None:
        self._measure("test", task)

    def on_predict_batch_end(self, trainer: L.Trainer, task: AnomalyTask, outputs: Any, batch: Any, *args: Any) -> None:
        self.held["predicted_per_window"] = max(self.held["predicted_per_window"], tensor_bytes(outputs, set()) / len(batch["starts"]))


def test_a_default_anomaly_run_holds_memory_that_follows_the_points(tmp_path: Path) -> None:
    csv_file = tmp_path / "plant.csv"
    csv_file.write_text("value,label\n" + "".join(f"{math.sin(i / 5):.4f},{int(i % 500 >= 495)}\n" for i in range(4000)))  # val 800, test 1,200 points
    cfg = compose_train(
        "data=anomaly_csv",
        f"data.path={csv_file}",
        "data.label_column=label",
        "data.window_length=64",
        "trainer.max_epochs=1",
        "model.hidden_size=8",
        f"paths.output_dir={tmp_path}",
        "+callbacks.held_memory._target_=test_point_scores.HeldMemory",
    )
    train(cfg)
    assert (tmp_path / "predictions" / "test.csv").exists() and read_metrics(tmp_path)["metrics"]["test/auroc"] is not None
    # Held per point of the split: a sum, a count, a label and the input (about 21 bytes, and room to grow),
    # not 64 scores, labels and inputs for each of its windows (64 x 16 bytes).
    assert 0 < HELD["val"] < 100 * 800, HELD
    assert 0 < HELD["test"] < 100 * 1200, HELD
    # A prediction returns the window's scored steps (the horizon, 4), not its 64 steps.
    assert 0 < HELD["predicted_per_window"] < 64, HELD
