"""Mixed precision is a plain Trainer override: bf16-mixed runs on CPU for every model preset."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from helpers import compose_train
from seqexp.builder import build

PRESETS = ["rnn", "lstm", "gru", "stacked", "bidirectional", "cnn_rnn"]
TINY_SINE = ["data.num_windows.train=128", "data.num_windows.val=64", "data.num_windows.test=64"]


@pytest.mark.parametrize("preset", PRESETS)
def test_bf16_mixed_runs_every_preset_on_cpu(preset: str, tmp_path: Path) -> None:
    cfg = compose_train(f"model={preset}", "trainer.precision=bf16-mixed", "debug=fast_dev_run", *TINY_SINE, f"paths.output_dir={tmp_path}")
    datamodule, task, trainer = build(cfg)  # the parts train() builds, so the head can be watched
    head_dtypes: set[torch.dtype] = set()
    task.head.register_forward_hook(lambda module, inputs, output: head_dtypes.add(output.dtype))
    trainer.fit(task, datamodule=datamodule)
    (metrics,) = trainer.test(task, datamodule=datamodule, verbose=False)

    assert trainer.precision == "bf16-mixed"
    assert head_dtypes == {torch.bfloat16}  # autocast ran the layers in bf16
    assert all(parameter.dtype == torch.float32 for parameter in task.parameters())  # master weights stay fp32
    assert math.isfinite(metrics["test/mse"]) and metrics["test/mse"] < 2.0
