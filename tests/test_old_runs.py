"""Runs trained by older code still evaluate, predict and resume.

``tests/fixtures/old_runs`` holds two tiny runs as older code left them (``.hydra/``, ``checkpoints/last.ckpt``,
``metrics.json``, ``predictions/test.csv``): ``sine_7e8c8d0`` (trained at commit 7e8c8d0: ``optim=sgd
scheduler=plateau``) and ``anomaly_3063847`` (at 3063847, the main before optimizers and schedulers became
``_target_`` configs: ``task.mode=reconstruction model=gru optim=adamw scheduler=cosine``). Their checkpoints and
configs name the optimizer and scheduler the old way (``name: sgd``, ``name: cosine`` with ``t_max``).
``anomaly_csv_7e8c8d0`` (at 7e8c8d0, from ``tests/fixtures/anomaly/series_with_gaps.csv`` and ``windows.csv``,
named relative to the folder it ran in) names its DataModule by its path before the data layer was regrouped,
``seqexp.data.anomaly_real.CSVAnomalyDataModule``.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from helpers import compose_train, read_metrics, run_cli
from seqexp.config import validate_config
from seqexp.data.anomaly import CSVAnomalyDataModule, RealAnomalyDataModule
from seqexp.tasks.optim import build_scheduler, current_form

FIXTURES = Path(__file__).parent / "fixtures"
OLD_RUNS = FIXTURES / "old_runs"
# `_target_`s that runs saved before the data layer was regrouped name, at the path they had then
MOVED_TARGETS = {
    "anomaly_csv": ("seqexp.data.anomaly_real.CSVAnomalyDataModule", CSVAnomalyDataModule),
    "anomaly_real": ("seqexp.data.anomaly_real.RealAnomalyDataModule", RealAnomalyDataModule),
}
# Metrics whose definition changed since the run was trained (CHANGELOG): false alarms count flagged normal points
# per 1,000 normal points since issue 23 (7e8c8d0 counted runs of flags per 1,000 points).
REDEFINED = {"test/false_alarms_per_1k"}
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
    tested = {name: value for name, value in json.loads((old_run / "metrics.json").read_text())["metrics"].items() if name.startswith("test/")}
    assert tested and read_metrics(tmp_path / "eval")["metrics"] == tested
    run_cli("predict", f"ckpt_path={checkpoint}", f"output_file={tmp_path / 'predictions.csv'}", cwd=tmp_path)
    # the same rows and numbers as the old code wrote after its test (7e8c8d0 ended lines with \r\n)
    assert_same_table(tmp_path / "predictions.csv", old_run / "predictions" / "test.csv")


def assert_same_table(written: Path, expected: Path) -> None:
    """The same header, rows and fields; the model's numbers equal to float32's last digits. Another CPU's kernels (here,
    AVX-512 against the machine that wrote the fixtures) round an LSTM's outputs differently in the last bit: 0.27366316
    for 0.2736632."""
    rows, expected_rows = ([line.split(",") for line in path.read_text().splitlines()] for path in (written, expected))
    assert rows[0] == expected_rows[0] and len(rows) == len(expected_rows)
    for row, expected_row in zip(rows[1:], expected_rows[1:]):
        assert len(row) == len(expected_row)
        for field, expected_field in zip(row, expected_row):
            if field != expected_field:
                assert float(field) == pytest.approx(float(expected_field), rel=1e-6, abs=1e-7), (row, expected_row)


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


@pytest.mark.parametrize("option", sorted(MOVED_TARGETS))
def test_a_moved_datamodule_path_builds_the_new_class_and_warns_naming_its_path(option: str) -> None:
    old_target, new_class = MOVED_TARGETS[option]
    user_file = [f"data.path={FIXTURES / 'anomaly' / 'plain.csv'}", "data.label_column=label"] if option == "anomaly_csv" else []
    cfg = compose_train(f"data={option}", *user_file)
    cfg.data._target_ = old_target
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        validate_config(cfg)  # the config pass binds the old path to the class's signature
        datamodule = instantiate(cfg.data)
    assert type(datamodule) is new_class
    moved = [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)]
    assert any(f"seqexp.data.anomaly.{new_class.__name__}" in message for message in moved), moved


@pytest.mark.slow
@pytest.mark.parametrize("old_run", ["anomaly_csv_7e8c8d0"], indirect=True)
def test_an_old_run_naming_a_moved_datamodule_evaluates_and_predicts_as_it_did(old_run: Path, tmp_path: Path) -> None:
    assert "_target_: seqexp.data.anomaly_real.CSVAnomalyDataModule" in (old_run / ".hydra" / "config.yaml").read_text()
    user_folder = tmp_path / "user"  # where the run's relative data.path and data.windows_path point
    user_folder.mkdir()
    for name in ("series_with_gaps.csv", "windows.csv"):
        shutil.copy(FIXTURES / "anomaly" / name, user_folder)
    checkpoint = old_run / "checkpoints" / "last.ckpt"  # also the best: the last of two epochs
    run_cli("eval", f"ckpt_path={checkpoint}", run_dir=tmp_path / "eval", cwd=user_folder)
    tested = {
        name: value
        for name, value in json.loads((old_run / "metrics.json").read_text())["metrics"].items()
        if name.startswith("test/") and name not in REDEFINED
    }
    evaluated = read_metrics(tmp_path / "eval")["metrics"]
    assert len(tested) == 12 and {name: evaluated[name] for name in tested} == tested
    run_cli("predict", f"ckpt_path={checkpoint}", f"output_file={tmp_path / 'predictions.csv'}", cwd=user_folder)
    assert_same_table(tmp_path / "predictions.csv", old_run / "predictions" / "test.csv")
