"""Other trackers beside TensorBoard: MLflow's real store read back with MLflow's own client."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from helpers import read_metrics, run_cli

SHORT = ["model.hidden_size=8", "trainer.max_epochs=2", "trainer.limit_train_batches=2", "trainer.limit_val_batches=2",
         "trainer.limit_test_batches=2"]


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
    assert run.data.params["choice/model"] == "gru" and run.data.params["model/hidden_size"] == "8"
    for name in ("test/mse", "val/mse"):
        assert math.isclose(run.data.metrics[name], logged[name], rel_tol=1e-6)
    val_curve = client.get_metric_history(run.info.run_id, "val/mse")
    assert len(val_curve) == 2  # one point per validation epoch, not only the last


@pytest.mark.slow
def test_wandb_runs_offline_into_the_run_folder(tmp_path: Path) -> None:
    pytest.importorskip("wandb", reason="needs the wandb extra: pip install -e '.[wandb]'")
    run_dir = tmp_path / "run"
    run_cli("train", "logger=[tensorboard,wandb]", *SHORT, run_dir=run_dir, cwd=tmp_path, env={"WANDB_SILENT": "true"})
    (offline_run,) = (run_dir / "wandb").glob("offline-run-*")  # nothing was sent anywhere
    (records,) = offline_run.glob("run-*.wandb")
    assert records.stat().st_size > 0 and read_metrics(run_dir)["status"] == "completed"
