"""End-to-end: the real conf/ through compose (fast) and through the CLI (as users run it)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from helpers import compose_train, read_metrics, run_cli
from seqexp.config import ConfigError, validate_config
from seqexp.train import train

PRESETS = ["rnn", "lstm", "gru", "stacked", "bidirectional", "cnn_rnn", "lstm_fcn"]
TINY_SINE = ["data.num_windows.train=256", "data.num_windows.val=64", "data.num_windows.test=64"]


@pytest.mark.parametrize("stateful", [False, True])
@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_runs_on_sine(preset: str, stateful: bool, tmp_path: Path) -> None:
    mode = ["data.stateful=true", "data.shuffle=false"] if stateful else []
    cfg = compose_train(f"model={preset}", "debug=fast_dev_run", f"paths.output_dir={tmp_path}", *TINY_SINE, *mode)
    train(cfg)
    metrics = read_metrics(tmp_path)["metrics"]
    assert math.isfinite(metrics["test/mse"]) and math.isfinite(metrics["train/loss"])


def test_cnn_rnn_takes_cell_and_direction_overrides() -> None:
    cfg = compose_train("model=cnn_rnn", "model.cell=gru", "model.bidirectional=true")
    assert (cfg.model.cell, cfg.model.bidirectional, cfg.model.conv.layers) == ("gru", True, 2)


@pytest.mark.parametrize(
    ("override", "key"),
    [
        ("model.hidden_size=0", "model.hidden_size"),
        ("model.dropout=1.5", "model.dropout"),
        ("model.num_layers=0", "model.num_layers"),
        ("model.cell=transformer", "model.cell"),
        ("optim.lr=-1", "optim.lr"),
        ("model.hidden_size=abc", "model.hidden_size"),
    ],
)
def test_invalid_values_are_rejected_naming_the_key(override: str, key: str) -> None:
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        validate_config(compose_train(override))


def test_bad_config_fails_before_training_from_the_cli(tmp_path: Path) -> None:
    result = run_cli("train", "model.dropout=1.5", run_dir=tmp_path / "run", check=False)
    assert result.returncode != 0
    assert "model.dropout=1.5: must be a number in [0, 1)" in result.stderr
    assert not (tmp_path / "run" / "checkpoints").exists()

    unknown = run_cli("train", "model=foo", run_dir=tmp_path / "other", check=False)
    assert unknown.returncode != 0
    assert "Could not find 'model/foo'" in unknown.stderr and "lstm" in unknown.stderr


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m seqexp.train model=lstm data=sine` with its defaults, as the README runs it."""
    run_dir = tmp_path_factory.mktemp("default") / "run"
    run_cli("train", "model=lstm", "data=sine", run_dir=run_dir)
    return run_dir


@pytest.mark.slow
def test_default_run_learns_sin_to_cos(default_run: Path) -> None:
    summary = read_metrics(default_run)
    assert summary["status"] == "completed"
    assert summary["metrics"]["test/mse"] <= 1e-3
    assert (default_run / ".hydra" / "config.yaml").is_file()
    assert (default_run / "checkpoints" / "last.ckpt").is_file()
    assert Path(summary["best_model_path"]).is_file()


@pytest.mark.slow
def test_tensorboard_holds_scalars_hparams_and_figures(default_run: Path) -> None:
    events = EventAccumulator(str(default_run / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/loss", "val/loss", "val/mse", "val/mae", "test/mse", "test/mae"} <= set(tags["scalars"])
    val_mse = [event.value for event in events.Scalars("val/mse")]
    assert val_mse[-1] < val_mse[0] / 10  # the loss curve shows learning
    assert {"val/prediction_vs_target", "test/prediction_vs_target"} <= set(tags["images"])
    hparams = events.PluginTagToContent("hparams")
    assert "_hparams_/session_start_info" in hparams  # the run's hparams ...
    assert "_hparams_/experiment" not in hparams  # ... and no layout of its own: TensorBoard builds the table from all runs
    assert not [tag for tag in tags["scalars"] if tag.startswith("hp")]  # no hp/* copies, no hp_metric
    assert "epoch" not in tags["scalars"]  # the SCALARS page opens on the learning curves
    started = HParamsPluginData.FromString(hparams["_hparams_/session_start_info"]).session_start_info.hparams
    assert (started["choice/model"].string_value, started["model/hidden_size"].number_value) == ("lstm", 64)
    assert events.Scalars("test/mse")[-1].value == pytest.approx(read_metrics(default_run)["metrics"]["test/mse"], rel=1e-5)


@pytest.mark.slow
def test_eval_reproduces_the_test_metric(default_run: Path, tmp_path: Path) -> None:
    trained = read_metrics(default_run)
    run_cli("eval", f"ckpt_path={trained['best_model_path']}", run_dir=tmp_path / "eval")
    evaluated = read_metrics(tmp_path / "eval")["metrics"]
    assert evaluated["test/mse"] == pytest.approx(trained["metrics"]["test/mse"], rel=1e-6)


def test_user_config_dir_adds_its_own_presets(tmp_path: Path) -> None:
    (tmp_path / "myconf" / "model").mkdir(parents=True)
    (tmp_path / "myconf" / "model" / "tiny_gru.yaml").write_text("defaults:\n  - gru\n  - _self_\n\nhidden_size: 3\n")
    run_cli("train", f"--config-dir={tmp_path / 'myconf'}", "model=tiny_gru", "debug=fast_dev_run", *TINY_SINE, run_dir=tmp_path / "run")
    assert "hidden_size: 3" in (tmp_path / "run" / ".hydra" / "config.yaml").read_text()


@pytest.mark.parametrize(
    "knobs",
    [
        ["trainer.max_steps=3"],  # ends before the first validation
        ["trainer.val_check_interval=0.5", "trainer.max_epochs=1"],
        ["trainer.check_val_every_n_epoch=2", "trainer.max_epochs=1"],  # no validation at all
        ["trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1", "trainer.max_epochs=2"],
    ],
    ids=["max_steps", "val_check_interval", "check_val_every_n_epoch", "limit_batches"],
)
def test_common_trainer_knobs_work_with_the_default_callbacks(knobs: list[str], tmp_path: Path) -> None:
    train(compose_train(*TINY_SINE, "model.hidden_size=8", *knobs, f"paths.output_dir={tmp_path}"))
    record = read_metrics(tmp_path)
    assert record["status"] == "completed" and math.isfinite(record["metrics"]["test/mse"])
    if knobs == ["trainer.max_steps=3"]:
        assert record["global_step"] == 3 and record["best_model_path"] is None  # nothing validated: last weights tested


def test_a_bad_data_file_is_one_line_and_full_error_shows_the_trace(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("value\n1.0\nabc\n2.0\n")
    result = run_cli("train", "data=series", f"data.path={bad}", run_dir=tmp_path / "run", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == f"Error: {bad}, line 3, column 'value': 'abc' is not a number"
    assert f"{bad}, line 3" in (tmp_path / "run" / "train.log").read_text()  # the log keeps it too
    traced = run_cli("train", "data=series", f"data.path={bad}", run_dir=tmp_path / "again", check=False, env={"HYDRA_FULL_ERROR": "1"})
    assert traced.returncode == 1 and "Traceback" in traced.stderr and f"{bad}, line 3" in traced.stderr
