"""Export and serve: ``seqexp.export`` writes a run's model as an ONNX file (or TorchScript) with what is needed
to use it in its metadata; ``seqexp.predict ckpt_path=model.onnx`` runs it through onnxruntime and writes the
prediction file the checkpoint gives, within 1e-4, on the test split and on new input, for every data option.
One short run per data option, exported once (module-scoped)."""

from __future__ import annotations

import csv
import gzip
import math
from pathlib import Path
from typing import Callable

import pytest
import torch
from omegaconf import OmegaConf

from helpers import compose_train, read_metrics
from seqexp.config import ConfigError
from seqexp.export import export
from seqexp.exported import ExportedModel
from seqexp.predict import predict
from seqexp.predictions import records
from seqexp.train import train

ASSETS = Path(__file__).parents[1] / "src" / "seqexp" / "data" / "assets"
REVIEWS = Path(__file__).parent / "fixtures" / "text" / "reviews.csv"
Exported = Callable[[str], tuple[Path, Path]]  # data option -> (run folder, ONNX file)
TINY = ["trainer.max_epochs=1", "model.hidden_size=8"]
SPLITS = ["data.split_fractions.train=0.96", "data.split_fractions.val=0.02", "data.split_fractions.test=0.02"]


def anomaly_file(path: Path, start: int = 0, points: int = 400) -> Path:
    """Two sines with a labelled bump: the columns data=anomaly_csv reads."""
    path.write_text(
        "time,a,b,label\n"
        + "".join(
            f"{i},{math.sin(i / 5) + (2.0 if 300 <= i < 310 else 0.0):.4f},{math.cos(i / 7):.4f},{int(300 <= i < 310)}\n" for i in range(start, start + points)
        )
    )
    return path


def overrides(option: str, folder: Path) -> list[str]:
    """A short run of ``data=<option>`` (texts: packed bidirectional LSTMs, of two layers on the user's CSV)."""
    return {
        "sine": ["data=sine", "data.num_windows.train=64", "data.num_windows.val=16", "data.num_windows.test=16"],
        "sine_stateful": [
            "data=sine",
            "data.stateful=true",
            "data.shuffle=false",
            "data.batch_size=8",
            "data.num_windows.train=64",
            "data.num_windows.val=16",
            "data.num_windows.test=16",
        ],  # the hidden state carried from batch to batch
        "series": ["data=series", "data.name=airline", "data.input_length=24", "data.horizon=12"],
        "text": ["data=text", "model=bidirectional", "trainer.limit_train_batches=2", *SPLITS],
        "text_csv": [
            "data=text_csv",
            f"data.path={REVIEWS}",
            "data.text_column=review",
            "data.label_column=sentiment",
            "data.batch_size=8",
            "model=bidirectional",
            "model.num_layers=2",
        ],
        "anomaly": ["data=anomaly", "data.lengths.train=300", "data.lengths.val=300", "data.lengths.test=300"],
        "anomaly_csv": ["data=anomaly_csv", f"data.path={anomaly_file(folder / 'plant.csv')}", "data.timestamp_column=time", "data.label_column=label"],
        "ucr": ["data=ucr", "data.name=BasicMotions"],
    }[option] + TINY


def new_input(option: str, folder: Path) -> dict:
    """Input the run never saw, as ``seqexp.predict`` takes it."""
    if option.startswith("sine"):
        return {"data": {"frequency_range": [1.5, 2.5]}}  # other data for the same model: +data.<key>=...
    if option == "series":
        lines = (ASSETS / "series" / "Airline.csv").read_text().splitlines()
        (folder / "recent.csv").write_text("\n".join([lines[0], *lines[-40:]]) + "\n")
        return {"data": {"path": str(folder / "recent.csv")}}
    if option == "text":
        return {"text": ["a gripping , funny film", "dull"]}
    if option == "text_csv":
        (folder / "reviews.txt").write_text("what a lovely surprise\nboring and far too long\n")
        return {"file": str(folder / "reviews.txt")}
    if option == "anomaly":
        values = [(math.sin(i / 9), math.cos(i / 4) + (3.0 if 50 <= i < 55 else 0.0)) for i in range(120)]
        (folder / "new.csv").write_text("x,y\n" + "".join(f"{a:.5f},{b:.5f}\n" for a, b in values))
        return {"data": {"path": str(folder / "new.csv")}}
    if option == "anomaly_csv":
        return {"data": {"path": str(anomaly_file(folder / "later.csv", start=1000, points=150))}}
    with gzip.open(ASSETS / "ucr" / "BasicMotions" / "BasicMotions_TEST.ts.gz", "rt") as handle:
        lines = handle.read().splitlines()
    header = [line for line in lines if line[:1] in ("#", "@")]
    cases = [line for line in lines if line[:1] not in ("#", "@", "")]
    (folder / "new.ts").write_text("\n".join([*header, *cases[::7]]) + "\n")
    return {"data": {"test_path": str(folder / "new.ts")}}


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def assert_same_file(got: Path, expected: Path) -> None:
    """The same rows, columns and text cells; numbers within 1e-4 (relative to the value, when above 1)."""
    got_rows, expected_rows = read_rows(got), read_rows(expected)
    assert len(got_rows) == len(expected_rows) > 0 and list(got_rows[0]) == list(expected_rows[0])
    for got_row, expected_row in zip(got_rows, expected_rows):
        for name, cell in expected_row.items():
            try:
                value, wanted = float(got_row[name]), float(cell)
            except ValueError:
                assert got_row[name] == cell, name
                continue
            assert (math.isnan(value) and math.isnan(wanted)) or abs(value - wanted) <= 1e-4 * max(1.0, abs(wanted)), (name, value, wanted)


def predicted(ckpt: Path, output_file: Path, **settings: object) -> list[dict]:
    return records(predict(OmegaConf.create({"ckpt_path": str(ckpt), "output_file": str(output_file), **settings})))


OPTIONS = ["sine", "sine_stateful", "series", "text", "text_csv", "anomaly", "anomaly_csv", "ucr"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    """Per data option, made once per module: (run folder, the ONNX file of the checkpoint the run tested)."""
    made: dict[str, tuple[Path, Path]] = {}

    def run_of(option: str) -> tuple[Path, Path]:
        if option not in made:
            folder = tmp_path_factory.mktemp(option)
            cfg = compose_train(*overrides(option, folder), f"paths.output_dir={folder / 'run'}")
            train(cfg)
            (folder / "run" / ".hydra").mkdir()  # where a run launched from the command line keeps its config
            OmegaConf.save(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]), folder / "run" / ".hydra" / "config.yaml")
            model = export(OmegaConf.create({"ckpt_path": str(checkpoint_tested(folder / "run")), "output_file": str(folder / "model.onnx")}))
            made[option] = folder / "run", model
        return made[option]

    return run_of


def checkpoint_tested(run: Path) -> Path:
    """The checkpoint the run tested (and wrote predictions/test.csv with)."""
    return Path(read_metrics(run)["best_model_path"])


@pytest.mark.parametrize("option", OPTIONS)
def test_the_onnx_file_writes_the_checkpoints_prediction_file(exported: Exported, option: str, tmp_path: Path) -> None:
    run, model = exported(option)
    predicted(model, tmp_path / "test.csv")
    assert_same_file(tmp_path / "test.csv", run / "predictions" / "test.csv")

    metadata = ExportedModel.read(model).metadata  # what a user of the file needs, without seqexp
    assert {"inputs", "outputs", "window_length", "hyper_parameters", "run"} <= set(metadata)
    assert metadata["inputs"][0]["name"] == "inputs" and metadata["outputs"][0]["shape"][0] == "batch"
    if option in ("text", "text_csv"):
        assert metadata["data.encoder"]["vocabulary"]["tokens"][:2] == ["<pad>", "<unk>"]
        assert metadata["labels"] == metadata["data.class_names"] and [spec["name"] for spec in metadata["inputs"]] == ["inputs", "lengths"]
    if option == "series":
        assert metadata["window_length"] == 24 and metadata["outputs"][0]["shape"] == ["batch", 12, 1]
        assert metadata["data.mase_scale"].dtype == torch.float64 and set(metadata["data.scaler"]) >= {"offset", "scale"}
    if option.startswith("anomaly"):
        assert float(metadata["task.threshold"]) == pytest.approx(float(read_rows(run / "predictions" / "test.csv")[0]["threshold"]))
        assert metadata["window_length"] == 32 and "offset" in metadata["data.scaler"]
    if option == "ucr":
        assert metadata["labels"] == ["Standing", "Running", "Walking", "Badminton"] and "scale" in metadata["data.scaler"]


@pytest.mark.parametrize("option", OPTIONS)
def test_the_onnx_file_predicts_new_input_as_the_checkpoint(exported: Exported, option: str, tmp_path: Path) -> None:
    run, model = exported(option)
    settings = new_input(option, tmp_path)
    rows = predicted(checkpoint_tested(run), tmp_path / "checkpoint.csv", **settings)
    served = predicted(model, tmp_path / "onnx.csv", **settings)
    assert_same_file(tmp_path / "onnx.csv", tmp_path / "checkpoint.csv")
    assert len(served) == len(rows) > 0
    if option == "text":  # packed bidirectional layers: a text's padding next to a longer one changes nothing
        alone = predicted(model, tmp_path / "alone.csv", text=settings["text"][1:], batch_size=1)
        assert served[1]["probabilities"] == pytest.approx(alone[0]["probabilities"], abs=1e-6)


@pytest.mark.parametrize("option", ["text_csv", "series"])  # a packed bidirectional classifier, a forecaster
def test_a_torchscript_file_serves_the_same(exported: Exported, option: str, tmp_path: Path) -> None:
    run, _ = exported(option)
    model = export(OmegaConf.create({"ckpt_path": str(checkpoint_tested(run)), "output_file": str(tmp_path / "model.pt")}))
    predicted(model, tmp_path / "test.csv")
    assert_same_file(tmp_path / "test.csv", run / "predictions" / "test.csv")


def test_what_cannot_be_exported_is_refused_naming_the_key(exported: Exported, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"output_file=model\.bin: must end in \.onnx \(ONNX\) or \.pt \(TorchScript\)"):
        export(OmegaConf.create({"ckpt_path": str(tmp_path / "last.ckpt"), "output_file": "model.bin"}))
    run, _ = exported("sine_stateful")
    with pytest.raises(ConfigError, match=r"data\.stateful=true: a TorchScript file .* does not take the hidden state .*; export to \.onnx"):
        export(OmegaConf.create({"ckpt_path": str(checkpoint_tested(run)), "output_file": str(tmp_path / "model.pt")}))
    (tmp_path / "other.onnx").write_bytes(b"not a model")
    with pytest.raises(ConfigError, match=r"ckpt_path=.*other\.onnx: not a readable ONNX model"):
        predicted(tmp_path / "other.onnx", tmp_path / "x.csv")
