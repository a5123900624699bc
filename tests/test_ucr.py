"""The .ts parser, the UCR DataModule and data=ucr end to end with every model preset."""

from __future__ import annotations

import csv
import logging
import math
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from helpers import compose_train, read_metrics
from seqexp.config import ConfigError
from seqexp.data.ucr import UCRDataModule
from seqexp.data.ucr.ts_format import TsFormatError, read_ts
from seqexp.eval import evaluate
from seqexp.train import train

FIXTURES = Path(__file__).parent / "fixtures" / "ucr"
PRESETS = ["rnn", "lstm", "gru", "stacked", "bidirectional", "cnn_rnn", "lstm_fcn"]
HEADER = "@problemName Bad\n@univariate false\n@dimensions 2\n@classLabel true a b\n@data\n"


def write(tmp_path: Path, text: str, name: str = "bad.ts") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_parser_reads_channels_varying_lengths_and_labels() -> None:
    data = read_ts(FIXTURES / "Toy_TRAIN.ts")
    assert data.problem_name == "Toy" and data.class_labels == ("walk", "run", "rest")
    assert data.lengths == [3, 2, 5, 3, 2, 5, 4, 3, 4] and data.channels == 2
    assert data.labels[:3] == ["walk", "run", "rest"]
    # (time, channels): channel 2 of case 3 counts down while channel 1 counts up.
    torch.testing.assert_close(data.series[2], torch.tensor([[1.0, 5.0], [2.0, 4.0], [3.0, 3.0], [4.0, 2.0], [5.0, 1.0]]))


def test_parser_reads_gzip_and_missing_values(tmp_path: Path) -> None:
    import gzip

    path = tmp_path / "m.ts.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(HEADER + "1,?,3:4,5,NaN:b\n")
    case = read_ts(path).series[0]
    assert case.shape == (3, 2) and case.isnan().tolist() == [[False, False], [True, False], [False, True]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEADER + "1,2:3,4:a\n1,2:3,4,5:b\n", r"line 7: channels differ in length \[2, 3\]"),
        (HEADER + "1,2:3,4:a\n1,2:b\n", "line 7: 1 channels, earlier cases have 2"),
        (HEADER + "1,2:3,x:a\n", "line 6: channel 2 holds 'x', not a number"),
        (HEADER + "1,2:3,4:c\n", r"line 6: label 'c' is not among @classLabel \['a', 'b'\]"),
        (HEADER + "1,2:3,4:\n", "line 6: no label after the last ':'"),
        (HEADER + "1,2:3,4:a\n1,2,3\n", "line 7: no ':<label>' after the values"),
        ("@problemName Bad\n@frequency 3\n@data\n", "line 2: unknown header @frequency"),
        ("@problemName Bad\n@timeStamps true\n@data\n", "line 2: timestamped series"),
        ("@problemName Bad\n1,2,3\n", "line 2: expected a @header line or @data"),
        ("@problemName Bad\n@classLabel true a\n", "no @data line"),
        ("@problemName Bad\n@dimensions 3\n@classLabel true a\n@data\n1:2:a\n", "@dimensions 3 but the cases have 2 channels"),
        ("@equalLength true\n@classLabel true a\n@data\n1,2:a\n1,2,3:a\n", "@equalLength true but case lengths range 2-3"),
    ],
)
def test_parser_errors_name_the_file_and_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(TsFormatError, match=message) as error:
        read_ts(path)
    assert str(error.value).startswith(str(path))


def toy(**settings) -> UCRDataModule:
    datamodule = UCRDataModule(
        train_path=str(FIXTURES / "Toy_TRAIN.ts"), test_path=str(FIXTURES / "Toy_TEST.ts"), val_fraction=0.34, batch_size=4, seed=1, **settings
    )
    datamodule.setup()
    return datamodule


def test_datamodule_pads_varying_lengths_and_declares_classes() -> None:
    datamodule = toy(scaling="none")
    spec = datamodule.spec
    assert (spec.input_size, spec.output_size, spec.target_kind, spec.class_names) == (2, 3, "class", ("walk", "run", "rest"))
    test = datamodule.datasets["test"].tensors
    assert test["inputs"].shape == (3, 4, 2) and test["lengths"].tolist() == [3, 2, 4]
    assert test["targets"].tolist() == [0, 1, 2]
    assert test["inputs"][1, 2:].abs().sum() == 0  # padding after the end of the 2-step case
    batch = next(iter(datamodule.train_dataloader()))
    assert set(batch) == {"inputs", "targets", "lengths"} and batch["lengths"].device.type == "cpu"


def test_validation_is_a_stratified_share_of_the_train_file() -> None:
    datamodule = toy()
    train_targets = datamodule.datasets["train"].tensors["targets"]
    val_targets = datamodule.datasets["val"].tensors["targets"]
    assert sorted(val_targets.tolist()) == [0, 1, 2] and len(train_targets) == 6


def test_scaling_is_fitted_on_training_cases_only(tmp_path: Path) -> None:
    shifted = (FIXTURES / "Toy_TEST.ts").read_text().replace("1.5,2.5,3.5,4.5", "100,200,300,400")
    other = UCRDataModule(train_path=str(FIXTURES / "Toy_TRAIN.ts"), test_path=str(write(tmp_path, shifted, "T.ts")), val_fraction=0.34, seed=1)
    other.setup()
    reference = toy()
    for split in ("train", "val"):
        assert torch.equal(other.datasets[split].tensors["inputs"], reference.datasets[split].tensors["inputs"])
    train_steps = torch.cat(
        [case[:length] for case, length in zip(reference.datasets["train"].tensors["inputs"], reference.datasets["train"].tensors["lengths"])]
    )
    torch.testing.assert_close(train_steps.mean(0), torch.zeros(2), atol=1e-5, rtol=0)


def test_builtin_problems_match_the_archive() -> None:
    vowels = UCRDataModule(name="JapaneseVowels").load()
    assert (len(vowels["train"].series), len(vowels["test"].series), vowels["train"].channels) == (270, 370, 12)
    assert min(vowels["test"].lengths) == 7 and max(vowels["test"].lengths) == 29
    motions = UCRDataModule(name="BasicMotions")
    motions.setup("fit")
    assert (motions.spec.input_size, motions.spec.class_names) == (6, ("Standing", "Running", "Walking", "Badminton"))


def test_bad_settings_name_the_key() -> None:
    with pytest.raises(ValueError, match="data.name='Nope'"):
        UCRDataModule(name="Nope")
    with pytest.raises(ValueError, match="data.train_path and data.test_path"):
        UCRDataModule(train_path="x.ts")
    with pytest.raises(ValueError, match=r"data.val_fraction=1: must be a number in \[0, 1\)"):
        UCRDataModule(val_fraction=1)


def test_experiment_ucr_trains_on_every_case_without_validation_and_tests_the_last_epoch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, recwarn: pytest.WarningsRecorder
) -> None:
    caplog.set_level(logging.INFO, logger="seqexp.data.ucr.datamodule")
    cfg = compose_train(
        "experiment=ucr", "data.name=ItalyPowerDemand", "trainer.max_epochs=2", "model.hidden_size=8", f"paths.output_dir={tmp_path}"
    )  # the preset's data.val_fraction=0
    train(cfg)
    result = read_metrics(tmp_path)
    assert result["status"] == "completed" and 0 <= result["metrics"]["test/acc"] <= 1
    assert not any(name.startswith("val/") for name in result["metrics"])
    assert result["best_model_path"].endswith("epoch_001.ckpt") and result["best_score"] is None  # the last epoch's weights
    assert "data.val_fraction=0: no validation split; the last epoch's weights are tested" in caplog.text
    assert "data: train 67 cases, test 1029 cases" in caplog.text  # every case of ItalyPowerDemand's TRAIN file
    warnings = " ".join(str(warning.message) for warning in recwarn)
    assert "val/loss" not in warnings and "Total length" not in warnings  # no misleading warnings about the monitor
    assert (tmp_path / "predictions" / "test.csv").is_file()


def test_experiment_ucr_with_a_validation_split_tests_the_checkpoint_of_lowest_validation_loss(tmp_path: Path) -> None:
    cfg = compose_train(
        "experiment=ucr",
        "data.name=ItalyPowerDemand",
        "data.val_fraction=0.2",
        "trainer.max_epochs=4",
        "model.hidden_size=8",
        "logger=csv",
        f"paths.output_dir={tmp_path}",
    )
    train(cfg)
    with open(tmp_path / "csv" / "metrics.csv", newline="") as handle:
        val_losses = {int(row["epoch"]): float(row["val/loss"]) for row in csv.DictReader(handle) if row["val/loss"]}
    assert sorted(val_losses) == [0, 1, 2, 3]
    best_epoch = min(val_losses, key=val_losses.get)
    result = read_metrics(tmp_path)
    assert result["best_model_path"].endswith(f"epoch_{best_epoch:03d}.ckpt")
    assert result["best_score"] == pytest.approx(val_losses[best_epoch], rel=1e-5)


def test_a_scheduler_following_validation_without_a_validation_split_is_refused_before_training(tmp_path: Path) -> None:
    cfg = compose_train("experiment=ucr", "data.name=ItalyPowerDemand", "data.val_fraction=0", "scheduler=plateau", f"paths.output_dir={tmp_path}")
    with pytest.raises(
        ConfigError,
        match=r"scheduler=plateau follows scheduler\.monitor=val/loss, but the data has no validation "
        r"split \(data\.val_fraction=0\): set data\.val_fraction > 0, scheduler\.monitor=train/loss",
    ):
        train(cfg)
    assert not list(tmp_path.rglob("*.ckpt"))  # refused before any training


def test_eval_of_a_split_the_run_does_not_have_says_so(tmp_path: Path) -> None:
    run = tmp_path / "run"
    cfg = compose_train(
        "experiment=ucr",
        "data.name=ItalyPowerDemand",
        "data.val_fraction=0",
        "trainer.max_epochs=1",
        "model.hidden_size=8",
        "logger=none",
        f"paths.output_dir={run}",
    )
    train(cfg)
    (run / ".hydra").mkdir()  # where seqexp.eval finds the run's config, as Hydra leaves it
    OmegaConf.save(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]), run / ".hydra" / "config.yaml")
    for split, message in (
        ("val", r"split=val: the run has no validation split \(data\.val_fraction=0\); evaluate split=test"),
        ("valid", r"split='valid': must be one of \('val', 'test'\)"),
    ):
        with initialize_config_module(config_module="seqexp.conf", version_base="1.3"):
            eval_cfg = compose(
                config_name="eval", overrides=[f"ckpt_path={run / 'checkpoints' / 'last.ckpt'}", f"split={split}", f"paths.output_dir={tmp_path / split}"]
            )
        with pytest.raises(ConfigError, match=message):
            evaluate(eval_cfg)


def test_val_fraction_zero_keeps_every_training_case() -> None:
    datamodule = UCRDataModule(name="ItalyPowerDemand", val_fraction=0)
    datamodule.setup()
    assert len(datamodule.datasets["train"]) == 67 and "val" not in datamodule.datasets
    assert datamodule.val_dataloader() == []


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_runs_on_ucr(preset: str, tmp_path: Path) -> None:
    cfg = compose_train("data=ucr", "data.name=JapaneseVowels", f"model={preset}", "debug=fast_dev_run", f"paths.output_dir={tmp_path}")
    train(cfg)
    metrics = read_metrics(tmp_path)["metrics"]
    assert 0 <= metrics["test/acc"] <= 1 and math.isfinite(metrics["train/loss"])


@pytest.mark.slow
def test_short_run_learns_basic_motions(tmp_path: Path) -> None:
    cfg = compose_train("experiment=ucr", "data.name=BasicMotions", "trainer.max_epochs=15", "logger=none", f"paths.output_dir={tmp_path}")
    train(cfg)
    assert read_metrics(tmp_path)["metrics"]["test/acc"] >= 0.6  # 4 balanced classes: chance is 0.25
