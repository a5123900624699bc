"""``last.ckpt`` holds the newest weights at epoch ends (at most every ``min_interval_s``), every N steps and at the end
of fit, with the default callbacks."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from helpers import compose_train, read_metrics, run_cli
from seqexp.builder import build

# 4 training batches an epoch; the default callbacks (last.ckpt every 100 steps), logger and figures.
SMALL = ["data.num_windows.train=256", "data.num_windows.val=64", "data.num_windows.test=64", "model.hidden_size=8"]


def saved_step(path: Path) -> int:
    return torch.load(path, map_location="cpu", weights_only=True)["global_step"]


def test_last_ckpt_holds_the_final_step_when_fit_stops_mid_epoch(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_cli("train", *SMALL, "trainer.max_steps=10", run_dir=run_dir, cwd=tmp_path)  # stops in epoch 2, after batch 2
    metrics = read_metrics(run_dir)
    assert metrics["global_step"] == 10
    assert saved_step(run_dir / "checkpoints" / "last.ckpt") == 10


class RecordLastCheckpoint(L.Callback):
    """At each epoch's start: the global step that last.ckpt holds, beside the trainer's."""

    def __init__(self, path: Path) -> None:
        self.path, self.seen = path, []

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch > 0:
            self.seen.append((saved_step(self.path), trainer.global_step))


def test_last_ckpt_is_refreshed_after_every_epoch_even_without_a_new_best(tmp_path: Path) -> None:
    # monitor.mode=max: val/mse falls as the model learns, so epochs after the first rarely make a new "best"
    cfg = compose_train(*SMALL, "trainer.max_epochs=4", "monitor.mode=max", "callbacks.last_every_n_steps.min_interval_s=0", f"paths.output_dir={tmp_path}")
    datamodule, task, trainer = build(cfg)
    recorder = RecordLastCheckpoint(tmp_path / "checkpoints" / "last.ckpt")
    trainer.callbacks.append(recorder)
    trainer.fit(task, datamodule=datamodule)
    assert recorder.seen == [(4, 4), (8, 8), (12, 12)]
    assert saved_step(recorder.path) == trainer.global_step == 16


def test_epoch_ends_within_the_interval_skip_the_save_but_steps_and_the_end_of_fit_do_not(tmp_path: Path) -> None:
    # an interval no fit reaches: only the step trigger (every 6 steps) and the end of fit write last.ckpt
    cfg = compose_train(
        *SMALL,
        "trainer.max_epochs=4",
        "callbacks.last_every_n_steps.min_interval_s=1e9",
        "callbacks.last_every_n_steps.every_n_train_steps=6",
        f"paths.output_dir={tmp_path}",
    )
    datamodule, task, trainer = build(cfg)
    path = tmp_path / "checkpoints" / "last.ckpt"
    seen = []

    class Record(L.Callback):
        def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
            if trainer.current_epoch > 0:
                seen.append((saved_step(path) if path.exists() else None, trainer.global_step))

    trainer.callbacks.append(Record())
    trainer.fit(task, datamodule=datamodule)
    assert seen == [(None, 4), (6, 8), (12, 12)]  # never more than 6 steps behind once the first 6 are done
    assert saved_step(path) == trainer.global_step == 16  # the end of fit is always saved


def test_an_epoch_that_saved_a_new_best_copies_it_as_last_ckpt_instead_of_saving_again(tmp_path: Path) -> None:
    cfg = compose_train(*SMALL, "trainer.max_epochs=3", "callbacks.last_every_n_steps.min_interval_s=0", f"paths.output_dir={tmp_path}")
    datamodule, task, trainer = build(cfg)
    serialized: list[tuple[str, int]] = []  # every checkpoint written by Lightning's save: file name, global step
    save = trainer.save_checkpoint
    trainer.save_checkpoint = lambda path, *args, **kwargs: (serialized.append((Path(path).name, trainer.global_step)), save(path, *args, **kwargs))[1]
    recorder = RecordLastCheckpoint(tmp_path / "checkpoints" / "last.ckpt")
    trainer.callbacks.append(recorder)
    trainer.fit(task, datamodule=datamodule)
    best_steps = {step for name, step in serialized if name.startswith("epoch_")}
    last_steps = {step for name, step in serialized if name == "last.ckpt"}
    assert 4 in best_steps and not best_steps & last_steps  # the first epoch is always a best: its last.ckpt is a copy
    assert best_steps | last_steps == {4, 8, 12}  # yet every epoch's end left last.ckpt at its step
    assert recorder.seen == [(4, 4), (8, 8)] and saved_step(recorder.path) == 12
    best = Path(trainer.checkpoint_callback.best_model_path)
    if saved_step(best) == 12:  # the last epoch made the best: the same bytes
        assert recorder.path.read_bytes() == best.read_bytes()
    assert not list((tmp_path / "checkpoints").glob("*.tmp"))


def checkpoint_state(path: Path, name: str) -> dict:
    """The state a callback whose key starts with ``name`` saved in the checkpoint at ``path``."""
    callbacks = torch.load(path, map_location="cpu", weights_only=True)["callbacks"]
    return next(state for key, state in callbacks.items() if key.startswith(name))


def test_a_step_save_before_its_validation_is_saved_again_after_it_and_resumes(tmp_path: Path) -> None:
    # every 4 steps = every epoch's last step: the step trigger saves before the validation that ends the epoch
    run_dir = tmp_path / "run"
    command = [*SMALL, "trainer.max_epochs=2", "monitor.mode=min", "callbacks.last_every_n_steps.every_n_train_steps=4"]
    run_cli("train", *command, run_dir=run_dir, cwd=tmp_path)
    last = run_dir / "checkpoints" / "last.ckpt"
    best = checkpoint_state(last, "ModelCheckpoint")
    assert Path(best["best_model_path"]).is_file()  # not a best file the second validation replaced
    assert best["best_model_path"] == read_metrics(run_dir)["best_model_path"]
    assert checkpoint_state(last, "EarlyStopping")["best_score"] == pytest.approx(best["best_model_score"])  # both after the last validation
    resumed = run_cli("train", *command, "ckpt_path=last", run_dir=run_dir, cwd=tmp_path)  # the README's resume, on a finished run
    output = resumed.stdout + resumed.stderr
    assert "Traceback" not in output and f"Restored all states from the checkpoint at {last}" in output
    assert "exists and is not empty" not in output  # Lightning's warning: the run's own folder holds its checkpoints
    assert read_metrics(run_dir)["status"] == "completed"


def test_ckpt_path_last_without_a_last_ckpt_starts_fresh_and_says_so(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    output = "".join(run_cli("train", *SMALL, "trainer.max_epochs=1", "ckpt_path=last", run_dir=run_dir, cwd=tmp_path).stdout)
    output += (run_dir / "train.log").read_text()
    assert f"ckpt_path=last: no {run_dir / 'checkpoints' / 'last.ckpt'} yet, so training starts fresh" in output
    assert "HINT" not in output and "no last checkpoint available" not in output  # Lightning's hint names a setting seqexp does not use
    assert saved_step(run_dir / "checkpoints" / "last.ckpt") == 4
