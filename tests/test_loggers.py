"""seqexp's TensorBoard writes read back with TensorBoard's reader; other trackers beside TensorBoard: MLflow's real
store read back with MLflow's own client."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto.event_pb2 import Event

from helpers import read_metrics, run_cli
from seqexp.loggers import TensorBoardLogger, run_name_of

SHORT = ["model.hidden_size=8", "trainer.max_epochs=2", "trainer.limit_train_batches=2", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2"]


def test_one_write_of_scalars_is_one_event_that_tensorboard_reads_value_by_value(tmp_path: Path) -> None:
    logger = TensorBoardLogger(save_dir=str(tmp_path), name="tb", version=0)
    logger.log_metrics({"val/mse": torch.tensor(0.25), "val/mae": 0.5, "epoch": 3, "lr": {"group0": 0.1, "group1": 0.2}}, step=7)
    logger.log_metrics({"train/loss": 1.5}, step=8)
    logger.log_metrics({"baseline/drift/test/mase": 2.5, "baseline/drift/val/mase": 3.5, "baseline/rolling_zscore/window": 25.0}, step=8)
    with pytest.raises(ValueError, match="you tried to log abc"):  # Lightning's own message for a value it cannot write
        logger.log_metrics({"val/name": "abc"}, step=9)
    logger.finalize("success")

    (events_file,) = (tmp_path / "tb" / "version_0").glob("events.out.tfevents.*")
    events_written = [Event.FromString(record) for record in RawEventFileLoader(str(events_file)).Load()]
    written = [[(value.tag, value.simple_value) for value in event.summary.value] for event in events_written]
    assert [("val/mse", 0.25), ("val/mae", 0.5)] in written and [("train/loss", 1.5)] in written  # one event per write
    events = EventAccumulator(str(events_file.parent)).Reload()
    assert sorted(events.Tags()["scalars"]) == ["train/loss", "val/mae", "val/mse"]  # no `epoch` chart, no baseline
    drift = EventAccumulator(str(tmp_path / "tb" / "version_0_baselines" / "drift")).Reload()  # a baseline's run, the model's tags
    assert {tag: [(event.step, event.value) for event in drift.Scalars(tag)] for tag in drift.Tags()["scalars"]} == {
        "test/mase": [(8, 2.5)],
        "val/mase": [(8, 3.5)],
    }
    zscore = EventAccumulator(str(tmp_path / "tb" / "version_0_baselines" / "rolling_zscore")).Reload()
    assert [(event.step, event.value) for event in zscore.Scalars("setting/window")] == [(8, 25.0)]  # what it chose on val
    assert [(event.step, event.value) for event in events.Scalars("val/mse")] == [(7, 0.25)]
    assert [(event.step, event.value) for event in events.Scalars("train/loss")] == [(8, 1.5)]
    for group, rate in (("group0", 0.1), ("group1", 0.2)):  # a dict is add_scalars' chart: one run folder per key
        (folder,) = (tmp_path / "tb" / "version_0").glob(f"lr_{group}")
        chart = EventAccumulator(str(folder))
        chart.Reload()
        assert [(event.step, event.value) for event in chart.Scalars("lr")] == [(7, pytest.approx(rate))]


@pytest.mark.slow
def test_tensorboard_and_mlflow_together_each_hold_the_run(tmp_path: Path) -> None:
    pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install -e '.[mlflow]'")
    from mlflow.tracking import MlflowClient

    run_dir = tmp_path / "run"
    run_cli("train", "logger=[tensorboard,mlflow]", "model=gru", *SHORT, run_dir=run_dir, cwd=tmp_path)
    logged = read_metrics(run_dir)["metrics"]
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))

    client = MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'outputs' / 'mlflow.db'}")
    (run,) = client.search_runs([client.get_experiment_by_name("seqexp").experiment_id])
    assert run.info.status == "FINISHED"
    assert run.data.tags["run_folder"] == str(run_dir)
    assert run.info.run_name == str(run_dir)  # named after its folder, which lies outside outputs/: its whole path
    assert not list(run_dir.rglob("mlflow.db")) and not (run_dir / "mlruns").exists()  # the store stayed in outputs/
    assert run.data.params["choice/model"] == "gru" and run.data.params["model/hidden_size"] == "8"
    for name in ("test/mse", "val/mse"):
        assert math.isclose(run.data.metrics[name], logged[name], rel_tol=1e-6)
    val_curve = client.get_metric_history(run.info.run_id, "val/mse")
    assert len(val_curve) == 2  # one point per validation epoch, not only the last


def test_mlflow_runs_are_named_after_their_folder_under_outputs(tmp_path: Path) -> None:
    store = tmp_path / "outputs" / "mlflow.db"
    assert run_name_of(tmp_path / "outputs" / "2024-01-31" / "12-00-00-123456", store) == "2024-01-31/12-00-00-123456"
    assert run_name_of(tmp_path / "outputs" / "multirun" / "2024-01-31" / "12-00-00" / "3", store) == "multirun/2024-01-31/12-00-00/3"
    assert run_name_of(tmp_path / "elsewhere" / "run", store) == str(tmp_path / "elsewhere" / "run")
    assert run_name_of(tmp_path / "outputs" / "x", None) == str(tmp_path / "outputs" / "x")  # a tracking server


def test_mlflow_store_in_an_unwritable_folder_is_one_error_line_before_training(tmp_path: Path) -> None:
    """`logger=mlflow` run from a folder where outputs/ cannot be made (read-only; here a file blocks it, which
    fails for root too), the run folder itself elsewhere: one `Error:` line naming the key, before any training."""
    pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install -e '.[mlflow]'")
    (tmp_path / "outputs").write_text("not a folder")
    run_dir = tmp_path / "run"
    result = run_cli("train", "logger=mlflow", run_dir=run_dir, cwd=tmp_path, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if "Error" in line]
    assert error.startswith("Error: logger.mlflow.tracking_uri: the MLflow store's folder") and str(tmp_path / "outputs") in error
    assert not list(run_dir.glob("checkpoints/*.ckpt")) and not (run_dir / "metrics.json").exists()


@pytest.mark.slow
def test_wandb_runs_offline_into_the_run_folder(tmp_path: Path) -> None:
    pytest.importorskip("wandb", reason="needs the wandb extra: pip install -e '.[wandb]'")
    run_dir = tmp_path / "run"
    run_cli("train", "logger=[tensorboard,wandb]", *SHORT, run_dir=run_dir, cwd=tmp_path, env={"WANDB_SILENT": "true"})
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")  # nothing was sent anywhere
    (records,) = offline_run.glob("run-*.wandb")
    assert records.stat().st_size > 0 and read_metrics(run_dir)["status"] == "completed"
