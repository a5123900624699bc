"""Optimizers and schedulers as ``_target_`` configs (conf/optim, conf/scheduler): their keys are bound to the
class's signature, and Lightning's ``interval`` holds under chunked truncated BPTT as without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import compose_train, run_cli
from seqexp.builder import build

# 512 windows of 8 streams: 64 batches per epoch (as tests/test_tbptt.py).
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


def test_a_key_the_optimizer_does_not_take_is_one_error_line(tmp_path: Path) -> None:
    result = run_cli("train", "+optim.lrr=0.1", run_dir=tmp_path / "run", check=False)
    errors = [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error:")]
    assert result.returncode == 1 and len(errors) == 1
    assert errors[0].startswith("Error: invalid config: optim.lrr: not a key of Adam; the keys are ['lr', 'betas'")


def test_another_torch_optimizer_needs_no_code(tmp_path: Path) -> None:
    cfg = compose_train(
        *SMALL,
        "optim._target_=torch.optim.NAdam",
        "~optim.betas",
        "+optim.momentum_decay=0.005",
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=0",
        "test=false",
        f"paths.output_dir={tmp_path}",
    )
    datamodule, task, trainer = build(cfg)
    trainer.fit(task, datamodule=datamodule)
    optimizer = trainer.optimizers[0]
    assert type(optimizer).__name__ == "NAdam" and optimizer.param_groups[0]["momentum_decay"] == 0.005


def test_chunked_training_steps_step_schedulers_as_lightning_does(tmp_path: Path) -> None:
    """``scheduler.interval=step``: the rate falls every 3 optimizer steps, whether 4 chunks share a Lightning
    step (manual optimization: the task steps the scheduler) or not (Lightning steps it)."""
    learning_rates = {}
    for chunks, batches in ((1, 8), (4, 2)):
        cfg = compose_train(
            *SMALL,
            f"data.chunks_per_batch={chunks}",
            f"trainer.limit_train_batches={batches}",
            "trainer.max_epochs=1",
            "scheduler=step",
            "scheduler.interval=step",
            "scheduler.step_size=3",
            "scheduler.gamma=0.5",
            "trainer.limit_val_batches=0",
            "test=false",
            "callbacks.last_every_n_steps.every_n_train_steps=16",
            f"paths.output_dir={tmp_path / str(chunks)}",
        )
        datamodule, task, trainer = build(cfg)
        trainer.fit(task, datamodule=datamodule)
        learning_rates[chunks] = trainer.optimizers[0].param_groups[0]["lr"]
    assert learning_rates[4] == learning_rates[1] == pytest.approx(0.02 * 0.5**2)  # 8 steps: lowered after steps 3 and 6
