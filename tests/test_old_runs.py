"""Runs trained by older code still evaluate, predict and resume.

``tests/fixtures/old_runs`` holds two tiny runs as older code left them (``.hydra/``, ``checkpoints/last.ckpt``,
``metrics.json``, ``predictions/test.csv``): ``sine_7e8c8d0`` (trained at commit 7e8c8d0: ``optim=sgd
scheduler=plateau``) and ``anomaly_3063847`` (at 3063847, the main before optimizers and schedulers became
``_target_`` configs: ``task.mode=reconstruction model=gru optim=adamw scheduler=cosine``). Their checkpoints and
configs name the optimizer and scheduler the old way (``name: sgd``, ``name: cosine`` with ``t_max``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from helpers import compose_train, read_metrics, run_cli
from seqexp.tasks.optim import build_scheduler, current_form

OLD_RUNS = Path(__file__).parent / "fixtures" / "old_runs"
RUNS = ("sine_7e8c8d0", "anomaly_3063847")


def saved_overrides(run: str) -> list[str]:
    return list(OmegaConf.load(OLD_RUNS / run / ".hydra" / "overrides.yaml"))


@pytest.fixture
def old_run(tmp_path: Path, request: pytest.FixtureRequest) -> Path:
    """A copy of the run (nothing writes into the fixtures)."""
    copy = tmp_path / request.param
    shutil.copytree(OLD_RUNS / request.param, copy)
    return copy


@pytest.mark.parametrize("run", RUNS)
def test_saved_optimizer_and_scheduler_read_as_the_conf_options_they_named(run: str) -> None:
    saved = torch.load(OLD_RUNS / run / "checkpoints" / "last.ckpt", weights_only=True)["hyper_parameters"]
    assert "name" in saved["optim"] and "name" in saved["scheduler"]  # the old form
    now = compose_train(*[item for item in saved_overrides(run) if item.split("=")[0] in ("data", "task.mode", "optim", "scheduler")])
    assert current_form(saved["optim"]) == OmegaConf.to_container(now.optim, resolve=True)
    assert current_form(saved["scheduler"]) == OmegaConf.to_container(now.scheduler, resolve=True)


def test_a_saved_constant_rate_is_no_scheduler_and_a_saved_cosine_spans_the_epochs() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    assert build_scheduler(optimizer, {"name": "none"}, max_epochs=5) is None
    schedule = build_scheduler(optimizer, {"name": "cosine", "t_max": None, "eta_min": 0.0}, max_epochs=7)
    assert isinstance(schedule["scheduler"], torch.optim.lr_scheduler.CosineAnnealingLR) and schedule["scheduler"].T_max == 7
    assert (schedule["interval"], schedule["frequency"]) == ("epoch", 1)


@pytest.mark.slow
@pytest.mark.parametrize("old_run", RUNS, indirect=True)
def test_an_old_run_evaluates_and_predicts_as_it_did(old_run: Path, tmp_path: Path) -> None:
    checkpoint = old_run / "checkpoints" / "last.ckpt"  # also the best: the last of two epochs
    run_cli("eval", f"ckpt_path={checkpoint}", run_dir=tmp_path / "eval")
    tested = {name: value for name, value in json.loads((old_run / "metrics.json").read_text())["metrics"].items()
              if name.startswith("test/")}
    assert tested and read_metrics(tmp_path / "eval")["metrics"] == tested
    run_cli("predict", f"ckpt_path={checkpoint}", f"output_file={tmp_path / 'predictions.csv'}", cwd=tmp_path)
    # the same rows and numbers as the old code wrote after its test (7e8c8d0 ended lines with \r\n)
    assert (tmp_path / "predictions.csv").read_text().splitlines() == (old_run / "predictions" / "test.csv").read_text().splitlines()


@pytest.mark.slow
@pytest.mark.parametrize("old_run", ["sine_7e8c8d0"], indirect=True)
def test_an_old_run_resumes_as_if_never_stopped(old_run: Path, tmp_path: Path) -> None:
    """SGD's momentum and the plateau schedule come back from the old checkpoint: a third epoch resumed from it
    ends where a three-epoch run of the new code does."""
    overrides = [item for item in saved_overrides(old_run.name) if not item.startswith("trainer.max_epochs")]
    run_cli("train", *overrides, "trainer.max_epochs=3", f"ckpt_path={old_run / 'checkpoints' / 'last.ckpt'}", run_dir=tmp_path / "resumed")
    run_cli("train", *overrides, "trainer.max_epochs=3", run_dir=tmp_path / "whole")
    resumed, whole = read_metrics(tmp_path / "resumed"), read_metrics(tmp_path / "whole")
    assert resumed["global_step"] == whole["global_step"] == 6
    assert resumed["metrics"] == pytest.approx(whole["metrics"], rel=1e-6)  # val/mae: 0.63118696 and 0.63118702 (summation order)
