"""metrics.json reports the validation figures of the checkpoint that was tested, and says which."""

from __future__ import annotations

from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from helpers import read_metrics, run_cli


def test_val_metrics_are_the_tested_checkpoints_not_the_last_epochs(tmp_path: Path) -> None:
    # monitor.mode=max: val/mse falls as the model learns, so the "best" (tested) checkpoint is the first epoch's
    run_dir = tmp_path / "run"
    result = run_cli(
        "train",
        "data.num_windows.train=256",
        "data.num_windows.val=64",
        "data.num_windows.test=64",
        "model.hidden_size=8",
        "trainer.max_epochs=3",
        "monitor.mode=max",
        run_dir=run_dir,
        cwd=tmp_path,
    )
    record = read_metrics(run_dir)
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    logged = {point.step: point.value for point in events.Scalars("val/mse")}  # each validation, by global step
    assert record["best_step"] == 4 and record["best_epoch"] == 0
    assert record["metrics"]["val/mse"] == logged[3] and logged[3] != logged[11]  # epoch 0's, not the last epoch's
    assert record["val_metrics_from"] == "validation at global step 4, of the best checkpoint"
    assert "val/* above: the validation at global step 4, of the best checkpoint" in result.stdout + result.stderr
