"""Predictions out of every task: the file a train run writes after test (``predictions/test.csv``) and
``python -m seqexp.predict`` on a checkpoint's test split or on new input. What a user checks: a metric
recomputed from the file is the logged one, new input gets its own rows, mistakes name the key."""

from __future__ import annotations

import csv
import gzip
import json
import logging
import math
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

import seqexp.predictions
from helpers import compose_train, read_metrics, run_cli, whole
from seqexp.config import ConfigError
from seqexp.data.anomaly import CSVAnomalyDataModule
from seqexp.data.series import SeriesDataModule
from seqexp.data.ucr import UCRDataModule
from seqexp.metrics.anomaly import auroc, average_precision
from seqexp.predict import predict
from seqexp.predictions import records, row_count, write_table
from seqexp.train import train

ASSETS = Path(__file__).parents[1] / "src" / "seqexp" / "data" / "assets"
REVIEWS = Path(__file__).parent / "fixtures" / "text" / "reviews.csv"
SHORT = ["logger=none", "callbacks.figures=null", "trainer.enable_progress_bar=false"]


def trained(folder: Path, *overrides: str) -> Path:
    """A short in-process run in ``folder``, with its config saved where seqexp.predict looks for it."""
    cfg = compose_train(*overrides, *SHORT, f"paths.output_dir={folder}")
    train(cfg)
    (folder / ".hydra").mkdir()
    OmegaConf.save(OmegaConf.masked_copy(cfg, [key for key in cfg if key != "hydra"]), folder / ".hydra" / "config.yaml")
    return folder


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def predicted(ckpt: Path, **settings: object) -> list[dict]:
    """``seqexp.predict`` in-process: the rows it returns."""
    return records(predict(OmegaConf.create({"ckpt_path": str(ckpt), **settings})))


def final_metrics(run: Path) -> dict[str, float]:
    """The run's final metrics, as metrics.json holds them."""
    return read_metrics(run)["metrics"]


def best(run: Path) -> Path:
    """The checkpoint the run tested, and predicted its test split with."""
    return Path(read_metrics(run)["best_model_path"])


# --- forecasting: MASE ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def series_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained(tmp_path_factory.mktemp("series"), "data=series", "data.name=airline", "data.input_length=24", "data.horizon=12", "trainer.max_epochs=2")


def test_forecast_file_gives_the_logged_mase(series_run: Path) -> None:
    """MASE by hand: mean |prediction - truth| over the file's rows, over the seasonal-naive MAE of the train range."""
    rows = read_rows(series_run / "predictions" / "test.csv")
    assert list(rows[0]) == ["step", "timestamp", "horizon", "Passengers_prediction", "Passengers_truth"]
    with (ASSETS / "series" / "Airline.csv").open() as handle:
        series = list(csv.DictReader(handle))
    train_range = [float(row["Passengers"]) for row in series[: round(len(series) * 0.7)]]
    naive_mae = sum(abs(a - b) for a, b in zip(train_range[12:], train_range[:-12])) / (len(train_range) - 12)
    errors = [abs(float(row["Passengers_prediction"]) - float(row["Passengers_truth"])) for row in rows]
    assert sum(errors) / len(errors) / naive_mae == pytest.approx(final_metrics(series_run)["test/mase"], rel=1e-6)
    # Rows sit on the series' own time axis, in its units: the truth of a step is the series at that step.
    for row in rows[:30]:
        assert row["timestamp"] == series[int(row["step"])]["Date"]
        assert float(row["Passengers_truth"]) == pytest.approx(float(series[int(row["step"])]["Passengers"]), abs=1e-3)
    assert {row["horizon"] for row in rows} == {str(h) for h in range(1, 13)} and len(rows) == 10 * 12


@pytest.mark.slow
def test_predict_cli_on_the_test_split_and_on_new_input(series_run: Path, tmp_path: Path) -> None:
    ckpt = best(series_run)
    run_cli("predict", f"ckpt_path={ckpt}", f"output_file={tmp_path / 'test.csv'}", cwd=tmp_path)
    again, logged = read_rows(tmp_path / "test.csv"), read_rows(series_run / "predictions" / "test.csv")
    assert [(r["step"], r["horizon"], r["Passengers_truth"]) for r in again] == [(r["step"], r["horizon"], r["Passengers_truth"]) for r in logged]
    assert [float(r["Passengers_prediction"]) for r in again] == pytest.approx([float(r["Passengers_prediction"]) for r in logged], rel=1e-5)

    # New input: the last 40 months; forecasts run on past the file's end, where truth and timestamp are unknown.
    lines = (ASSETS / "series" / "Airline.csv").read_text().splitlines()
    recent = tmp_path / "recent.csv"
    recent.write_text("\n".join([lines[0], *lines[-40:]]) + "\n")
    result = run_cli("predict", f"ckpt_path={ckpt}", f"data.path={recent}", "output_file=forecast.csv", cwd=tmp_path)
    assert f"Wrote {(40 - 24 + 1) * 12} predictions to {tmp_path / 'forecast.csv'}" in result.stderr and not result.stdout
    rows = read_rows(tmp_path / "forecast.csv")
    assert rows[0]["timestamp"] == lines[-40 + 24].split(",")[0] and rows[0]["Passengers_truth"] == lines[-40 + 24].split(",")[1] + ".0"
    future = [row for row in rows if int(row["step"]) >= 40]
    assert len(future) == sum(range(1, 13)) and all(row["timestamp"] == row["Passengers_truth"] == "" for row in future)
    assert all(math.isfinite(float(row["Passengers_prediction"])) for row in rows)


def test_predict_into_a_file_builds_no_row_objects(series_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """predict() built every row as a Python dict for a return value the command drops: on a 3.4-million-row file
    that was 1.7 GB at peak and 18.6 s against 0.7 GB and 13.5 s. Rows are built only for texts it prints."""

    def refuse(table: object) -> None:
        raise AssertionError("predict built row objects")

    monkeypatch.setattr(seqexp.predictions, "records", refuse)
    table = predict(OmegaConf.create({"ckpt_path": str(best(series_run)), "output_file": str(tmp_path / "test.csv")}))
    assert row_count(table) == len(read_rows(tmp_path / "test.csv")) == len(read_rows(series_run / "predictions" / "test.csv"))


# --- classification: accuracy --------------------------------------------------------------------


@pytest.fixture(scope="module")
def ucr_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained(tmp_path_factory.mktemp("ucr"), "data=ucr", "data.name=BasicMotions", "trainer.max_epochs=3")


def test_classification_file_gives_the_logged_accuracy(ucr_run: Path) -> None:
    rows = read_rows(ucr_run / "predictions" / "test.csv")
    assert list(rows[0]) == ["id", "label", "p_Standing", "p_Running", "p_Walking", "p_Badminton", "truth"]
    accuracy = sum(row["label"] == row["truth"] for row in rows) / len(rows)
    assert accuracy == pytest.approx(final_metrics(ucr_run)["test/acc"], abs=1e-6) and len(rows) == 40
    with gzip.open(ASSETS / "ucr" / "BasicMotions" / "BasicMotions_TEST.ts.gz", "rt") as handle:
        truths = [line.rsplit(":", 1)[1].strip() for line in handle if line[:1] not in ("#", "@", "")]
    assert [row["truth"] for row in rows] == truths  # id = the case's place in the TEST file
    for row in rows:
        shares = {name[2:]: float(value) for name, value in row.items() if name.startswith("p_")}
        assert sum(shares.values()) == pytest.approx(1, abs=1e-5) and max(shares, key=shares.get) == row["label"]


def test_predict_classifies_the_test_split_and_a_new_unlabelled_file(ucr_run: Path, tmp_path: Path) -> None:
    ckpt = best(ucr_run)
    logged = read_rows(ucr_run / "predictions" / "test.csv")
    assert [row["label"] for row in predicted(ckpt, output_file=str(tmp_path / "test.jsonl"))] == [row["label"] for row in logged]
    assert json.loads((tmp_path / "test.jsonl").read_text().splitlines()[0])["truth"] == logged[0]["truth"]

    with gzip.open(ASSETS / "ucr" / "BasicMotions" / "BasicMotions_TEST.ts.gz", "rt") as handle:
        lines = handle.read().splitlines()
    unlabelled = tmp_path / "new.ts"
    unlabelled.write_text(
        "\n".join(
            "@classLabel false" if line.startswith("@classLabel") else line.rsplit(":", 1)[0] if line[:1] not in ("#", "@", "") else line for line in lines
        )
        + "\n"
    )
    rows = predicted(ckpt, **{"data": {"test_path": str(unlabelled)}, "output_file": str(tmp_path / "new.csv")})
    assert "truth" not in rows[0] and list(read_rows(tmp_path / "new.csv")[0]) == ["id", "label", "p_Standing", "p_Running", "p_Walking", "p_Badminton"]
    assert [row["label"] for row in rows] == [row["label"] for row in logged]
    assert [row["probabilities"]["Running"] for row in rows] == pytest.approx([float(row["p_Running"]) for row in logged], abs=1e-6)


@pytest.mark.slow
def test_text_file_names_the_texts_and_gives_the_logged_accuracy(tmp_path: Path) -> None:
    run = trained(
        tmp_path / "run",
        "data=text_csv",
        f"data.path={REVIEWS}",
        "data.text_column=review",
        "data.label_column=sentiment",
        "data.batch_size=8",
        "data.split_fractions.test=0.3",
        "data.split_fractions.train=0.6",
        "trainer.max_epochs=2",
    )
    rows = read_rows(run / "predictions" / "test.csv")
    assert list(rows[0]) == ["id", "text", "label", "p_neg", "p_pos", "truth"]
    reviews = {row["review"]: row["sentiment"] for row in read_rows(REVIEWS)}
    assert all(reviews[row["text"]] == row["truth"] for row in rows)
    accuracy = sum(row["label"] == row["truth"] for row in rows) / len(rows)
    assert accuracy == pytest.approx(final_metrics(run)["test/acc"], abs=1e-6)
    again = predicted(best(run), output_file=str(tmp_path / "again.csv"))
    assert [(row["text"], row["truth"]) for row in again] == [(row["text"], row["truth"]) for row in rows]


# --- anomaly detection: AUPRC --------------------------------------------------------------------


@pytest.fixture(scope="module")
def anomaly_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained(
        tmp_path_factory.mktemp("anomaly"),
        "data=anomaly",
        "data.lengths.train=800",
        "data.lengths.val=500",
        "data.lengths.test=500",
        "data.anomaly_rate=0.1",
        "trainer.max_epochs=2",
    )


def test_anomaly_file_gives_the_logged_auprc(anomaly_run: Path) -> None:
    rows = read_rows(anomaly_run / "predictions" / "test.csv")
    assert list(rows[0]) == ["step", "value_0", "value_1", "score", "threshold", "flag", "truth"]
    assert [int(row["step"]) for row in rows] == list(range(1300, 1800))  # every test point, numbered in the whole series
    scores = torch.tensor([float(row["score"]) for row in rows], dtype=torch.float64)
    labels = torch.tensor([int(row["truth"]) for row in rows])
    metrics = final_metrics(anomaly_run)
    assert 0 < labels.sum() < len(labels)
    assert average_precision(scores, labels) == pytest.approx(metrics["test/auprc"], rel=1e-6)
    assert auroc(scores, labels) == pytest.approx(metrics["test/auroc"], rel=1e-6)
    flags = torch.tensor([int(row["flag"]) for row in rows])
    assert torch.equal(flags, (scores >= float(rows[0]["threshold"])).long())
    hits = int((flags * labels).sum())
    assert 2 * hits / (int(flags.sum()) + int(labels.sum())) == pytest.approx(metrics["test/f1"], abs=1e-6)


def test_anomaly_predict_scores_new_input_in_its_own_units(anomaly_run: Path, tmp_path: Path) -> None:
    """The test split's values, given as a new file: the same scores wherever a window needs no earlier context."""
    logged = read_rows(anomaly_run / "predictions" / "test.csv")
    new = tmp_path / "new.csv"
    new.write_text("a,b\n" + "".join(f"{row['value_0']},{row['value_1']}\n" for row in logged))
    rows = predicted(best(anomaly_run), output_file=str(tmp_path / "scores.csv"), data={"path": str(new)})
    assert list(rows[0]) == ["step", "value_0", "value_1", "score", "threshold", "flag"]  # no labels in the file: no truth
    window, horizon = 32, 4  # data.window_length, task.horizon: the first points are context only
    assert [row["step"] for row in rows] == list(range(window - horizon, len(logged)))
    assert [row["value_0"] for row in rows] == [float(row["value_0"]) for row in logged[window - horizon :]]
    later = [row["score"] for row in rows if row["step"] >= window - 1]
    assert later == pytest.approx([float(row["score"]) for row in logged[window - 1 :]], rel=1e-4, abs=1e-6)


# --- per-step regression (sine) and the train-run settings ---------------------------------------


def test_sine_file_gives_the_logged_mse_over_the_scored_steps(tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(
        compose_train(
            "data=sine",
            "data.num_windows.train=128",
            "data.num_windows.val=32",
            "data.num_windows.test=32",
            "trainer.max_epochs=1",
            *SHORT,
            f"paths.output_dir={run}",
        )
    )
    rows = read_rows(run / "predictions" / "test.csv")
    assert list(rows[0]) == ["window", "step", "prediction", "truth"] and len(rows) == 32 * (20 - 3)
    assert {int(row["step"]) for row in rows} == set(range(3, 20))  # data.burn_in_steps=3 are not scored
    mse = sum((float(row["prediction"]) - float(row["truth"])) ** 2 for row in rows) / len(rows)
    assert mse == pytest.approx(final_metrics(run)["test/mse"], rel=1e-5)


def test_train_caps_or_skips_the_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        train(compose_train("data=sine", "debug=fast_dev_run", "predictions.max_rows=5", *SHORT, f"paths.output_dir={tmp_path / 'a'}"))
    assert len(read_rows(tmp_path / "a" / "predictions" / "test.csv")) == 5
    assert "kept the first 5 of 1088 rows (predictions.max_rows=5)" in caplog.text
    assert f"Wrote 5 predictions to {tmp_path / 'a' / 'predictions' / 'test.csv'}" in caplog.text
    train(compose_train("data=sine", "debug=fast_dev_run", "predictions.write_test=false", *SHORT, f"paths.output_dir={tmp_path / 'b'}"))
    assert not (tmp_path / "b" / "predictions").exists()
    with pytest.raises(ConfigError, match=r"predictions\.max_rows=0: must be null \(every row\) or an integer >= 1"):
        train(compose_train("data=sine", "debug=fast_dev_run", "predictions.max_rows=0", *SHORT, f"paths.output_dir={tmp_path / 'c'}"))


# --- mistakes and file formats -------------------------------------------------------------------


def test_predict_mistakes_name_the_key(series_run: Path, ucr_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ckpt = best(series_run)
    with pytest.raises(ConfigError, match="nothing to predict: give output_file=<file>"):
        predicted(ckpt)
    with pytest.raises(ConfigError, match="file=a.csv and data.path=b.csv: give one input file"):
        predicted(ckpt, file="a.csv", data={"path": "b.csv"}, output_file=str(tmp_path / "x.csv"))
    with pytest.raises(ConfigError, match="text=: .* is not a text model"):
        predicted(ckpt, text="a film")
    with pytest.raises(ConfigError, match=r"output_file=.*\.parquet: writing Parquet needs pyarrow"):
        monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if it were not installed
        predicted(ckpt, output_file=str(tmp_path / "x.parquet"))
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("Date,Cars\n" + "".join(f"2000-{month:02d},{month}\n" for month in range(1, 13)) * 3)
    with pytest.raises(Exception, match=r"Passengers"):
        predicted(ckpt, data={"path": str(wrong)}, output_file=str(tmp_path / "x.csv"))
    with pytest.raises(Exception, match="channels"):
        predicted(
            ucr_run / "checkpoints" / "last.ckpt",
            data={"test_path": str(Path(__file__).parent / "fixtures" / "ucr" / "Toy_TEST.ts")},
            output_file=str(tmp_path / "y.csv"),
        )


def test_file_formats_keep_exact_numbers_and_mark_unknown_values(tmp_path: Path) -> None:
    table = {
        "id": torch.arange(2),
        "text": ["a, b", "c"],
        "label": ["pos", "neg"],
        "probabilities": {"pos": torch.tensor([0.1, 0.7], dtype=torch.float32), "neg": torch.tensor([0.9, 0.3])},
        "truth": torch.tensor([1 / 3, float("nan")], dtype=torch.float64),
    }
    write_table(table, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines() == ["id,text,label,p_pos,p_neg,truth", '0,"a, b",pos,0.1,0.9,0.3333333333333333', "1,c,neg,0.7,0.3,"]
    write_table(table, tmp_path / "t.jsonl")
    first, second = (json.loads(line) for line in (tmp_path / "t.jsonl").read_text().splitlines())
    assert first == {"id": 0, "text": "a, b", "label": "pos", "probabilities": {"pos": 0.1, "neg": 0.9}, "truth": 1 / 3}
    assert second["truth"] is None and records(table)[1]["probabilities"] == {"pos": 0.7, "neg": 0.3}
    pyarrow = pytest.importorskip("pyarrow.parquet")
    write_table(table, tmp_path / "t.parquet")
    read = pyarrow.read_table(tmp_path / "t.parquet").to_pydict()
    assert read["text"] == ["a, b", "c"] and read["truth"] == [1 / 3, None] and read["p_pos"] == pytest.approx([0.1, 0.7])


# --- the train split's scaling travels in the checkpoint ----------------------------------------


def test_the_checkpoint_holds_the_train_scaling(series_run: Path) -> None:
    saved = torch.load(best(series_run), weights_only=True)["SeriesDataModule"]
    datamodule = SeriesDataModule(name="airline", input_length=24, horizon=12)
    scaler = datamodule.train_scaler()
    assert torch.equal(saved["scaler"]["offset"], scaler.offset) and torch.equal(saved["scaler"]["scale"], scaler.scale)
    assert torch.equal(saved["mase_scale"], datamodule.mase_scale())


def changed_copy(path: Path, folder: Path, column: int) -> Path:
    """The CSV at ``path`` with column ``column`` tripled: training data that changed after a run."""
    lines = path.read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]
    copy = folder / f"changed_{path.name}"
    copy.write_text("\n".join([lines[0], *(",".join(row[:column] + [str(3 * float(row[column]))] + row[column + 1 :]) for row in rows)]) + "\n")
    return copy


def test_new_input_is_scaled_as_the_checkpoint_was_trained_even_if_the_data_changed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    airline = ASSETS / "series" / "Airline.csv"
    new_input = tmp_path / "recent.csv"
    new_input.write_text("\n".join(airline.read_text().splitlines()[:1] + airline.read_text().splitlines()[-40:]) + "\n")
    settings = {"input_length": 24, "horizon": 12, "time_column": "Date", "columns": ["Passengers"]}
    original = SeriesDataModule(path=str(airline), **settings)
    rebuilt = SeriesDataModule(path=str(changed_copy(airline, tmp_path, 1)), **settings)
    for datamodule in (original, rebuilt):
        datamodule.set_predict_input(new_input)
    assert not torch.equal(whole(rebuilt.datasets["predict"])["inputs"], whole(original.datasets["predict"])["inputs"])
    with caplog.at_level(logging.WARNING, logger="seqexp.data.core.scaling"):
        rebuilt.load_state_dict(original.state_dict())  # what Lightning does with the checkpoint, after setup
    assert "Using the checkpoint's scaling" in caplog.text
    for key, expected in whole(original.datasets["predict"]).items():  # nan: truth past the new input's end
        torch.testing.assert_close(whole(rebuilt.datasets["predict"])[key], expected, rtol=0, atol=0, equal_nan=True, msg=key)

    values = "a,b,label\n" + "".join(f"{math.sin(i / 5):.4f},{math.cos(i / 9):.4f},{int(i % 97 == 0)}\n" for i in range(400))
    (tmp_path / "series.csv").write_text(values)
    trained_on, changed = (
        CSVAnomalyDataModule(path=str(path), label_column="label", window_length=16)
        for path in (tmp_path / "series.csv", changed_copy(tmp_path / "series.csv", tmp_path, 0))
    )
    for datamodule in (trained_on, changed):
        datamodule.set_predict_input(tmp_path / "series.csv")
    changed.load_state_dict(trained_on.state_dict())
    torch.testing.assert_close(whole(changed.datasets["predict"])["inputs"], whole(trained_on.datasets["predict"])["inputs"])


def test_ucr_cases_are_scaled_anew_with_the_checkpoints_scaler(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    fixtures = Path(__file__).parent / "fixtures" / "ucr"
    changed = tmp_path / "Toy_TRAIN.ts"
    lines = (fixtures / "Toy_TRAIN.ts").read_text().splitlines()
    changed.write_text(
        "\n".join(
            line
            if line.startswith(("@", "#")) or not line.strip()
            else ":".join(",".join(str(10 * float(value)) for value in part.split(",")) for part in line.split(":")[:-1]) + ":" + line.split(":")[-1]
            for line in lines
        )
        + "\n"
    )
    settings = {"test_path": str(fixtures / "Toy_TEST.ts"), "val_fraction": 0.34, "seed": 1}
    original, rebuilt = (UCRDataModule(train_path=str(path), **settings) for path in (fixtures / "Toy_TRAIN.ts", changed))
    for datamodule in (original, rebuilt):
        datamodule.set_predict_input(fixtures / "Toy_TEST.ts")
    assert not torch.equal(whole(rebuilt.datasets["test"])["inputs"], whole(original.datasets["test"])["inputs"])
    with caplog.at_level(logging.WARNING, logger="seqexp.data.core.scaling"):
        rebuilt.load_state_dict(original.state_dict())
    assert "Using the checkpoint's scaling" in caplog.text
    for split in ("test", "predict"):
        torch.testing.assert_close(whole(rebuilt.datasets[split])["inputs"], whole(original.datasets[split])["inputs"])
