"""Truncated BPTT in chunks (``data.chunks_per_batch``): K consecutive stateful batches per Lightning
step, one optimizer step per chunk. Same math as K separate batches; refusals name the keys."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from helpers import Interrupted, compose_train, read_metrics, run_cli
from seqexp.builder import build
from seqexp.config import ConfigError
from seqexp.data.core.errors import DataError
from seqexp.data.sine import SineDataModule
from seqexp.sweep import SIGTERM_EXIT_STATUS
from seqexp.train import train

# 512 windows of 8 streams: 64 batches per epoch.
SMALL = [
    "experiment=seed_lstm_sin2cos",
    "data.num_windows.train=512",
    "data.num_windows.val=64",
    "data.num_windows.test=64",
    "trainer.deterministic=true",
    "trainer.accelerator=cpu",
    "logger=none",
    "callbacks.figures=null",
]


def fitted_weights(tmp_path: Path, chunks: int, batches: int, *overrides: str) -> tuple[dict[str, torch.Tensor], int]:
    cfg = compose_train(
        *SMALL,
        f"data.chunks_per_batch={chunks}",
        f"trainer.limit_train_batches={batches}",
        "trainer.max_epochs=1",
        "trainer.limit_val_batches=0",
        "test=false",
        "callbacks.last_every_n_steps.every_n_train_steps=16",
        f"paths.output_dir={tmp_path}",
        *overrides,
    )
    datamodule, task, trainer = build(cfg)
    trainer.fit(task, datamodule=datamodule)
    return {name: value.detach().clone() for name, value in task.state_dict().items()}, trainer.global_step


def test_chunked_batch_serves_consecutive_batches() -> None:
    plain = SineDataModule(stateful=True, shuffle=False, batch_size=8, num_windows={"train": 512, "val": 64, "test": 64})
    chunked = SineDataModule(stateful=True, shuffle=False, batch_size=8, chunks_per_batch=4, num_windows={"train": 512, "val": 64, "test": 64})
    for datamodule in (plain, chunked):
        datamodule.setup("fit")
    batches = list(plain.train_dataloader())
    items = list(chunked.train_dataloader())
    assert len(items) == len(batches) // 4 and items[0]["inputs"].shape == (4, 8, 20, 1)  # (chunk, batch, time, feature)
    for index, batch in enumerate(batches):
        assert torch.equal(items[index // 4]["inputs"][index % 4], batch["inputs"])
        assert torch.equal(items[index // 4]["targets"][index % 4], batch["targets"])
    assert chunked.spec.chunks_per_batch == 4 and len(list(chunked.val_dataloader())) == len(list(plain.val_dataloader()))


def test_chunks_take_the_same_steps_as_separate_batches_with_clipping(tmp_path: Path) -> None:
    clip = ["trainer.gradient_clip_val=0.05"]  # small enough to clip most steps
    chunked, chunked_steps = fitted_weights(tmp_path / "chunked", 4, 6, *clip)
    separate, separate_steps = fitted_weights(tmp_path / "separate", 1, 24, *clip)
    assert chunked_steps == separate_steps == 24  # global_step counts optimizer steps
    unclipped, _ = fitted_weights(tmp_path / "unclipped", 4, 6)
    for name in separate:
        torch.testing.assert_close(chunked[name], separate[name], rtol=1e-6, atol=1e-7, msg=name)
    assert any(not torch.allclose(unclipped[name], separate[name]) for name in separate)  # the clipping did act


def test_chunks_need_stateful_data() -> None:
    with pytest.raises(DataError, match=r"data.chunks_per_batch=4.*data.stateful=true"):
        SineDataModule(chunks_per_batch=4)


def test_chunks_must_divide_the_batches_per_epoch() -> None:
    with pytest.raises(DataError, match=r"data.chunks_per_batch=3 must divide.*data.num_windows.train // data.batch_size"):
        SineDataModule(stateful=True, shuffle=False, batch_size=8, chunks_per_batch=3, num_windows={"train": 512, "val": 64, "test": 64})


def test_chunks_refuse_gradient_accumulation(tmp_path: Path) -> None:
    cfg = compose_train(*SMALL, "data.chunks_per_batch=4", "trainer.accumulate_grad_batches=2", f"paths.output_dir={tmp_path}")
    with pytest.raises(ConfigError, match=r"data.chunks_per_batch=4.*trainer.accumulate_grad_batches=2"):
        build(cfg)


def test_chunks_must_divide_the_checkpoint_interval(tmp_path: Path) -> None:
    cfg = compose_train(*SMALL, "data.chunks_per_batch=8", "callbacks.last_every_n_steps.every_n_train_steps=100", f"paths.output_dir={tmp_path}")
    with pytest.raises(ConfigError, match=r"data.chunks_per_batch=8 must divide callbacks.last_every_n_steps.every_n_train_steps=100"):
        build(cfg)


def test_chunked_clipping_moves_from_the_trainer_to_the_task(tmp_path: Path) -> None:
    cfg = compose_train(
        *SMALL, "data.chunks_per_batch=4", "trainer.gradient_clip_val=0.5", "trainer.gradient_clip_algorithm=value", f"paths.output_dir={tmp_path}"
    )
    _, task, trainer = build(cfg)
    assert trainer.gradient_clip_val is None and task.gradient_clipping == (0.5, "value")
    assert not task.automatic_optimization


def test_chunked_run_resumed_mid_epoch_gives_identical_metrics(tmp_path: Path) -> None:
    run = [
        *SMALL,
        "data.chunks_per_batch=4",
        "trainer.max_epochs=2",
        "scheduler=plateau",
        "callbacks.last_every_n_steps.every_n_train_steps=16",
        "trainer.gradient_clip_val=1.0",
    ]
    train(compose_train(*run, f"paths.output_dir={tmp_path / 'uninterrupted'}"))
    uninterrupted = read_metrics(tmp_path / "uninterrupted")
    assert uninterrupted["global_step"] == 128  # 2 epochs of 64 batches, 16 items of 4 chunks each
    with pytest.raises(Interrupted):  # mid-epoch 2
        train(compose_train(*run, f"paths.output_dir={tmp_path / 'run'}", "+callbacks.interrupt._target_=helpers.InterruptAt", "+callbacks.interrupt.step=80"))
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    checkpoint = torch.load(last, map_location="cpu", weights_only=True)
    assert checkpoint["global_step"] == 80 and checkpoint["carried_train_state"] is not None
    train(compose_train(*run, f"paths.output_dir={tmp_path / 'run'}", f"ckpt_path={last}"))
    resumed = read_metrics(tmp_path / "run")
    assert resumed["global_step"] == 128
    assert resumed["metrics"]["test/mse"] == uninterrupted["metrics"]["test/mse"]


def test_cli_run_in_chunks_completes(tmp_path: Path) -> None:
    run_cli(
        "train",
        "experiment=seed_lstm_sin2cos",
        "data.chunks_per_batch=4",
        "trainer.max_epochs=2",
        "data.num_windows.train=512",
        "data.num_windows.val=64",
        "data.num_windows.test=64",
        "logger=tensorboard",
        run_dir=tmp_path,
    )
    metrics = read_metrics(tmp_path)
    assert metrics["status"] == "completed" and metrics["global_step"] == 128
    assert metrics["metrics"]["train/loss"] > 0 and metrics["metrics"]["test/mse"] < 1.0
    assert (tmp_path / "checkpoints" / "last.ckpt").is_file()


def test_chunked_training_steps_epoch_schedulers_as_lightning_does(tmp_path: Path) -> None:
    learning_rates = {}
    for chunks, batches in ((1, 8), (4, 2)):
        cfg = compose_train(
            *SMALL,
            f"data.chunks_per_batch={chunks}",
            f"trainer.limit_train_batches={batches}",
            "trainer.max_epochs=3",
            "scheduler=step",
            "scheduler.step_size=1",
            "scheduler.gamma=0.5",
            "test=false",
            "callbacks.last_every_n_steps.every_n_train_steps=16",
            f"paths.output_dir={tmp_path / str(chunks)}",
        )
        datamodule, task, trainer = build(cfg)
        trainer.fit(task, datamodule=datamodule)
        learning_rates[chunks] = trainer.optimizers[0].param_groups[0]["lr"]
    assert learning_rates[4] == learning_rates[1] == pytest.approx(0.02 * 0.5**3)


def test_chunks_must_divide_max_steps(tmp_path: Path) -> None:
    cfg = compose_train(*SMALL, "data.chunks_per_batch=4", "trainer.max_steps=10", f"paths.output_dir={tmp_path}")
    with pytest.raises(ConfigError, match=r"data.chunks_per_batch=4 must divide trainer.max_steps=10"):
        build(cfg)


def test_nan_guard_stops_a_chunked_run(tmp_path: Path) -> None:
    from seqexp.callbacks.nan_guard import NonFiniteLossError

    cfg = compose_train(
        *SMALL,
        "data.chunks_per_batch=4",
        "trainer.max_epochs=1",
        "callbacks.guards.check_every_n_steps=2",
        "callbacks.last_every_n_steps.every_n_train_steps=8",
        f"paths.output_dir={tmp_path}",
    )
    datamodule, task, trainer = build(cfg)
    loss_of = task.compute_loss
    task.compute_loss = lambda batch, outputs: loss_of(batch, outputs) * (float("nan") if task.global_step >= 9 else 1.0)
    with pytest.raises(NonFiniteLossError, match="training loss became nan"):
        trainer.fit(task, datamodule=datamodule)
    saved = torch.load(tmp_path / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert saved["global_step"] == 8  # the last save before the bad step, with finite weights
    assert all(torch.isfinite(value).all() for value in saved["state_dict"].values() if torch.is_floating_point(value))


@pytest.mark.slow
def test_sigterm_saves_a_chunked_run_at_a_batch_end(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "seqexp.train",
        *SMALL,
        "data.chunks_per_batch=4",
        "trainer.max_epochs=50",
        "callbacks.last_every_n_steps.every_n_train_steps=16",
        f"hydra.run.dir={run_dir}",
    ]
    with open(tmp_path / "console.txt", "w") as console:
        process = subprocess.Popen(command, stdout=console, stderr=subprocess.STDOUT)
    last, deadline = run_dir / "checkpoints" / "last.ckpt", time.monotonic() + 300
    while not last.exists():
        assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "console.txt").read_text()[-4000:]
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == SIGTERM_EXIT_STATUS, (tmp_path / "console.txt").read_text()[-4000:]
    output = (tmp_path / "console.txt").read_text()
    assert "SIGTERM at global step" in output and "Traceback" not in output
    stopped_at = int(output.split("SIGTERM at global step ")[1].split(":")[0])
    saved = torch.load(last, map_location="cpu", weights_only=True)
    assert saved["global_step"] == stopped_at and stopped_at % 4 == 0  # after a whole batch of chunks
