"""A run's saved config, as ``seqexp.eval`` and ``seqexp.predict`` read it back from another folder:
data paths typed relative to where training started still point at the data, ``data.*`` overrides
evaluate other data, and keys that cannot apply (model, task, an unknown output suffix) are refused
with one ``Error:`` line naming the key."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from helpers import compose_train, read_metrics, run_cli
from seqexp.config import ConfigError
from seqexp.run_config import data_overrides, keep_data_paths_absolute, run_config

UCR = Path(__file__).parent / "fixtures" / "ucr"


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's project folder: data/ beside outputs/, trained from inside it with relative data paths."""
    folder = tmp_path_factory.mktemp("project")
    (folder / "data").mkdir()
    for split in ("TRAIN", "TEST"):
        shutil.copy(UCR / f"Toy_{split}.ts", folder / "data" / f"Toy_{split}.ts")
    run_cli(
        "train",
        "data=ucr",
        "data.train_path=data/Toy_TRAIN.ts",
        "data.test_path=data/Toy_TEST.ts",
        "trainer.max_epochs=1",
        "model.hidden_size=8",
        cwd=folder,
        run_dir=folder / "outputs" / "run",
    )
    return folder


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """Another working folder, as a user who evaluates from their home folder."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    return folder


def best_checkpoint(project: Path) -> Path:
    return Path(read_metrics(project / "outputs" / "run")["best_model_path"])


def test_a_run_with_relative_data_paths_predicts_from_another_folder(project: Path, elsewhere: Path) -> None:
    """The run's saved config holds its data paths made absolute; its test split predicts as in training.
    (Evaluating from another folder: the next test.)"""
    run = project / "outputs" / "run"
    saved = OmegaConf.load(run / ".hydra" / "config.yaml").data
    assert (saved.train_path, saved.test_path) == (str(project / "data" / "Toy_TRAIN.ts"), str(project / "data" / "Toy_TEST.ts"))
    run_cli("predict", f"ckpt_path={best_checkpoint(project)}", "output_file=cases.csv", cwd=elsewhere)
    assert read_rows(elsewhere / "cases.csv") == read_rows(run / "predictions" / "test.csv")


def test_eval_from_another_folder_applies_data_overrides_and_refuses_model_keys(project: Path, elsewhere: Path) -> None:
    """From another folder, ``+data.test_path=`` evaluates that file (typed relative to this folder; the run's
    train_path, typed relative to the project, is still found): labelled with the run's own predictions, every
    case is right. ``+model.*`` is refused: the weights fix the model."""
    run = project / "outputs" / "run"
    predicted = [row["label"] for row in read_rows(run / "predictions" / "test.csv")]
    assert read_metrics(run)["metrics"]["test/acc"] < 1  # so a 1.0 below comes from the new file only
    lines = (UCR / "Toy_TEST.ts").read_text().splitlines()
    cases = [line for line in lines if line and not line.startswith(("@", "#"))]
    header = lines[: lines.index("@data") + 1]
    relabelled = [case.rsplit(":", 1)[0] + ":" + label for case, label in zip(cases, predicted, strict=True)]
    (elsewhere / "mine.ts").write_text("\n".join(header + relabelled) + "\n")

    result = run_cli("eval", f"ckpt_path={best_checkpoint(project)}", "+data.test_path=mine.ts", cwd=elsewhere, run_dir=elsewhere / "eval")
    assert read_metrics(elsewhere / "eval")["metrics"]["test/acc"] == 1.0
    assert f"Data: data.test_path=mine.ts (the run had {project / 'data' / 'Toy_TEST.ts'})" in result.stderr + result.stdout

    refused = run_cli("eval", f"ckpt_path={best_checkpoint(project)}", "+model.hidden_size=4", cwd=elsewhere, run_dir=elsewhere / "refused", check=False)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "Error: model.hidden_size=4: the checkpoint's weights fix the model and task" in refused.stderr
    assert not (elsewhere / "refused" / "metrics.json").exists()


def test_predict_refuses_an_unknown_suffix_before_predicting(project: Path, elsewhere: Path) -> None:
    result = run_cli("predict", f"ckpt_path={best_checkpoint(project)}", "output_file=cases.xlsx", cwd=elsewhere, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "Error: output_file=cases.xlsx: must end in .csv, .parquet or .jsonl" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_runs_saved_with_relative_paths_are_found_where_they_were_launched(project: Path, elsewhere: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Older versions saved data paths as typed: they are relative to the run's launch folder (hydra.yaml's
    runtime.cwd); found there from any folder, or refused naming the key and the path as typed."""
    old = elsewhere / "old_run"
    shutil.copytree(project / "outputs" / "run", old)
    saved = OmegaConf.load(old / ".hydra" / "config.yaml")
    saved.data.train_path, saved.data.test_path = "data/Toy_TRAIN.ts", "data/Toy_TEST.ts"
    OmegaConf.save(saved, old / ".hydra" / "config.yaml")
    monkeypatch.chdir(elsewhere)
    ckpt = old / "checkpoints" / "last.ckpt"
    assert run_config(ckpt).data.train_path == str(project / "data" / "Toy_TRAIN.ts")

    hydra_file = old / ".hydra" / "hydra.yaml"
    hydra_file.write_text(hydra_file.read_text().replace(f"cwd: {project}\n", f"cwd: {elsewhere / 'moved'}\n"))
    with pytest.raises(
        ConfigError,
        match=r"^data\.train_path=data/Toy_TRAIN\.ts: no such file, relative to .*moved \(where the run "
        r"was launched\) or this folder; .* give its place with \+data\.train_path=<path>$",
    ):
        run_config(ckpt)
    with pytest.raises(ConfigError, match=r"^data\.colour=red: not a key of the run's data \(seqexp\.data\.ucr\.UCRDataModule\)"):
        run_config(ckpt, {"data.colour": "red"})


def test_every_data_path_key_becomes_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """path, train_path, test_path, windows_path, ...: each relative one that exists; a missing one is left as
    typed, for the data module to name."""
    (tmp_path / "plant.csv").write_text("value\n1\n")
    (tmp_path / "windows.csv").write_text("start,end\n")
    monkeypatch.chdir(tmp_path)
    cfg = compose_train("data=anomaly_csv", "data.path=plant.csv", "data.windows_path=./windows.csv", "data.test_path=missing.csv")
    keep_data_paths_absolute(cfg)
    assert (cfg.data.path, cfg.data.windows_path, cfg.data.test_path) == (str(tmp_path / "plant.csv"), str(tmp_path / "windows.csv"), "missing.csv")


def test_keys_typed_for_the_run_other_than_data_are_refused_by_name() -> None:
    """What the user typed decides (the entry's own groups add keys of their own, e.g. callbacks.lr_monitor)."""
    with initialize_config_module(config_module="seqexp.conf", version_base="1.3"):
        cfg = compose(config_name="eval", overrides=["ckpt_path=x.ckpt", "+seed=3", "+data.batch_size=8"], return_hydra_config=True)
        with pytest.raises(ConfigError, match=r"^seed=3: seqexp\.eval applies only data\.\* keys to the run's config$"):
            data_overrides(cfg, "eval")
        cfg = compose(config_name="eval", overrides=["ckpt_path=x.ckpt", "+data.batch_size=8"], return_hydra_config=True)
        assert data_overrides(cfg, "eval") == {"data.batch_size": 8}
