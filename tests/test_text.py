"""Text pieces, unit by unit: tokenizers, vocabulary, file reading and bad rows, buckets, packing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DistributedSampler

from seqexp.data.core.buckets import BucketBatchSampler
from seqexp.data.core.padded import PaddedSequenceDataset
from seqexp.data.core.table import TableError
from seqexp.data.text import TextDataModule
from seqexp.data.text.sources import TextDataError, read_text_rows
from seqexp.data.text.vocabulary import PAD, UNK, Tokenizer, Vocabulary
from seqexp.models.pooling import POOLINGS
from seqexp.tasks.classification import ClassificationTask

FIXTURE = Path(__file__).parent / "fixtures" / "text" / "reviews.csv"
CSV_KEYS = {"path": str(FIXTURE), "text_column": "review", "label_column": "sentiment"}


def write_csv(path: Path, rows: list[list[str]], header: tuple[str, str] = ("review", "sentiment")) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows([list(header), *rows])
    return path


def fixture_rows() -> list[list[str]]:
    with FIXTURE.open(encoding="utf-8") as handle:
        return list(csv.reader(handle))[1:]


def test_word_and_char_tokenizers() -> None:
    assert Tokenizer("word")("Don't stop, it's GREAT!") == ["don't", "stop", ",", "it's", "great", "!"]
    assert Tokenizer("word", lowercase=False)("Big  Fish") == ["Big", "Fish"]
    assert Tokenizer("char")("Ab  c") == ["a", "b", " ", "c"]
    assert Tokenizer("word")("Don't stop, it's GREAT!", limit=3) == ["don't", "stop", ","] and Tokenizer("char")("Ab  c", 3) == ["a", "b", " "]
    with pytest.raises(ValueError, match="data.tokenizer.level"):
        Tokenizer("bpe")


def test_vocabulary_min_freq_max_size_and_special_tokens() -> None:
    texts = [["a", "b", "a"], ["a", "c", "b"], ["d"]]
    vocabulary = Vocabulary.build(texts, min_freq=2)
    assert vocabulary.tokens == [PAD, UNK, "a", "b"]
    assert vocabulary.encode(["a", "c", "zzz"]) == [2, 1, 1]
    assert Vocabulary.build(texts, max_size=3).tokens == [PAD, UNK, "a"]
    assert Vocabulary.from_state_dict(vocabulary.state_dict()).tokens == vocabulary.tokens
    with pytest.raises(ValueError, match="data.vocab.min_freq"):
        Vocabulary.build(texts, min_freq=0)


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl"])
def test_reads_csv_tsv_and_jsonl_alike(kind: str, tmp_path: Path) -> None:
    rows = fixture_rows()
    path = tmp_path / f"reviews.{kind}"
    if kind == "jsonl":
        path.write_text("".join(json.dumps({"review": text, "sentiment": label}) + "\n" for text, label in rows), encoding="utf-8")
    else:
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle, delimiter="," if kind == "csv" else "\t").writerows([["review", "sentiment"], *rows])
    read = read_text_rows(path, "review", "sentiment")
    assert [(row.text, row.label) for row in read] == [tuple(row) for row in rows]


def test_user_csv_datamodule_maps_labels_and_batches_with_lengths() -> None:
    datamodule = TextDataModule(**CSV_KEYS, batch_size=8, seed=0)
    datamodule.setup("fit")
    spec = datamodule.spec
    assert (spec.input_kind, spec.target_kind, spec.output_size, spec.class_names) == ("tokens", "class", 2, ("neg", "pos"))
    assert spec.padding_index == 0 and spec.input_size == len(datamodule.encoder.vocabulary)
    assert {split: len(examples) for split, examples in datamodule.splits.items()} == {"train": 40, "val": 4, "test": 4}
    batch = next(iter(datamodule.train_dataloader()))
    assert batch["inputs"].dtype == torch.long and batch["inputs"].shape[1] == int(batch["lengths"].max())
    assert batch["lengths"].device.type == "cpu" and batch["targets"].shape == (8,)
    for row, length in zip(batch["inputs"], batch["lengths"]):
        assert (row[:length] != 0).all() and (row[length:] == 0).all()
    # Vocabulary from the training split only: a word only in the test split is <unk>.
    train_words = {token for text, _ in datamodule.splits["train"] for token in datamodule.tokenizer(text)}
    test_only = {token for text, _ in datamodule.splits["test"] for token in datamodule.tokenizer(text)} - train_words
    assert test_only and all(datamodule.encoder.vocabulary.encode([token]) == [1] for token in test_only)


def test_max_length_truncates(tmp_path: Path) -> None:
    datamodule = TextDataModule(**CSV_KEYS, max_length=3)
    datamodule.setup()
    assert int(datamodule._dataset("train").lengths.max()) == 3


@pytest.mark.parametrize(
    ("rows", "problem", "kind"),
    [
        ([["   ", "pos"]], "line 3: empty text", "empty text"),
        ([["fine film", ""]], "line 3: no label in 'sentiment'", "missing label"),
        ([["fine film"]], "line 3: no label in 'sentiment'", "missing label"),  # a short row: on_bad_row decides
        ([["fine film", "meh"]], "line 3: unknown label 'meh'", "unknown label"),
        (
            [["fine", "film", "pos"]],
            r"line 3: 1 field more than the header \(a text holding the delimiter must be in double quotes\)",
            "extra fields",
        ),  # an unquoted comma: 'film' would have been a label of its own
    ],
)
def test_bad_rows_are_errors_naming_file_and_line_or_counted_skips(rows: list[list[str]], problem: str, kind: str, tmp_path: Path) -> None:
    good = fixture_rows()
    path = write_csv(tmp_path / "bad.csv", [good[0], *rows, *good[1:]])
    keys = {**CSV_KEYS, "path": str(path), "labels": ["neg", "pos"]}
    with pytest.raises(TextDataError, match=f"bad.csv, {problem}.*data.on_bad_row=skip"):
        TextDataModule(**keys).prepare()
    skipping = TextDataModule(**keys, on_bad_row="skip")
    skipping.prepare()
    assert dict(skipping.skipped) == {kind: 1}
    assert sum(len(examples) for examples in skipping.splits.values()) == len(good)


def test_a_quote_never_closed_is_an_error_even_when_bad_rows_are_skipped(tmp_path: Path) -> None:
    """Not a bad row to skip: it would eat the good rows after it. A quoted text spanning lines still reads."""
    good = fixture_rows()
    path = write_csv(tmp_path / "bad.csv", good[:2])
    path.write_text(path.read_text() + '"bad, film,neg\nfine movie,pos\n')
    for policy in ("error", "skip"):
        with pytest.raises(TableError, match=r"bad\.csv, line 4: a quote opened here is never closed \(the rest of the file, lines 4-5,"):
            TextDataModule(**{**CSV_KEYS, "path": str(path), "on_bad_row": policy}).prepare()
    spanning = write_csv(tmp_path / "spanning.csv", [*good, ["a long\nreview, on two lines", "pos"]])
    datamodule = TextDataModule(**{**CSV_KEYS, "path": str(spanning), "on_bad_row": "error"})
    datamodule.prepare()
    assert "a long\nreview, on two lines" in [text for split in datamodule.splits.values() for text, _ in split]


def test_missing_column_and_non_utf8_are_clear_errors(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cols.csv", fixture_rows(), header=("body", "sentiment"))
    with pytest.raises(TextDataError, match=r"cols.csv: data.text_column='review' is not a column.*\['body', 'sentiment'\]"):
        TextDataModule(**{**CSV_KEYS, "path": str(path)}).prepare()
    latin = tmp_path / "latin.csv"
    latin.write_bytes("review,sentiment\nfine,pos\ncaf\u00e9 cr\u00e8me,neg\n".encode("latin-1"))
    with pytest.raises(TableError, match=r"latin.csv, line 3: not valid utf-8 \(byte 0xe9\).*data.encoding"):
        read_text_rows(latin, "review", "sentiment")
    assert read_text_rows(latin, "review", "sentiment", encoding="latin-1")[1].text == "caf\u00e9 cr\u00e8me"


def test_a_row_with_bytes_not_valid_utf8_stops_the_run_or_is_skipped_and_counted(tmp_path: Path) -> None:
    """A bad row like the others (README): ``data.on_bad_row=skip`` skips and counts it; the whole file was refused."""
    good = fixture_rows()
    path = write_csv(tmp_path / "latin.csv", good)
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:3], "caf\u00e9 film,pos\n".encode("latin-1"), *lines[3:]]))  # file line 4
    keys = {**CSV_KEYS, "path": str(path)}
    with pytest.raises(TableError, match=r"latin\.csv, line 4: not valid utf-8 \(byte 0xe9\); re-save the file as UTF-8 or set data\.encoding"):
        TextDataModule(**keys).prepare()
    skipping = TextDataModule(**keys, on_bad_row="skip")
    skipping.prepare()
    assert dict(skipping.skipped) == {"not valid utf-8": 1}
    assert sorted(text for examples in skipping.splits.values() for text, _ in examples) == sorted(text for text, _ in good)


def test_bucketed_batches_cover_every_index_once_with_similar_lengths() -> None:
    lengths = torch.randint(1, 100, (1000,), generator=torch.Generator().manual_seed(0))
    sampler = BucketBatchSampler(list(torch.randperm(1000).tolist()), batch_size=32, lengths=lengths, pool_batches=10)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for batch in batches for i in batch) == list(range(1000))
    spread = sum(int(lengths[b].max() - lengths[b].min()) for b in batches) / len(batches)
    assert spread < 20  # pools of 10 batches over 99 lengths: ~10 per batch; a random batch of 32 spans ~90
    sampler.set_epoch(1)
    assert list(sampler) != batches


def test_bucketed_batches_shard_across_ddp_ranks() -> None:
    """Under DDP Lightning rebuilds the sampler around a DistributedSampler: ranks get disjoint shards."""
    dataset = list(range(101))
    lengths = torch.arange(101)
    shards = [list(BucketBatchSampler(DistributedSampler(dataset, num_replicas=2, rank=rank, seed=0), 8, lengths=lengths)) for rank in (0, 1)]
    assert len(shards[0]) == len(shards[1])
    indices = [sorted(i for batch in shard for i in batch) for shard in shards]
    assert set(indices[0]) | set(indices[1]) == set(range(101))
    assert len(indices[0]) + len(indices[1]) == 102  # DistributedSampler pads with one repeat


def make_task(spec: dict, pooling: str | list[str], conv_layers: int = 0, input_kind: str = "tokens") -> ClassificationTask:
    model = {
        "cell": "lstm",
        "hidden_size": 8,
        "num_layers": 2,
        "bidirectional": True,
        "dropout": 0.0,
        "conv": {"layers": conv_layers, "channels": 6, "kernel_size": 3},
    }
    return ClassificationTask(spec, model, {"name": "adam", "lr": 1e-3}, {"name": "none"}, {"dim": 5, "freeze": False, "dropout": 0.5}, pooling=pooling).eval()


@pytest.mark.parametrize("conv_layers", [0, 2])
@pytest.mark.parametrize("pooling", [*POOLINGS, ["attention", "max"], ["last", "mean", "max"]])
def test_padded_batch_gives_each_sequence_its_own_prediction(pooling: str | list[str], conv_layers: int) -> None:
    """Packing and masking: a sequence's logits do not depend on the padding of its batch."""
    torch.manual_seed(0)
    spec = {"input_kind": "tokens", "input_size": 30, "target_kind": "class", "output_size": 3, "padding_index": 0}
    task = make_task(spec, pooling, conv_layers)
    sequences = [torch.randint(1, 30, (length,)) for length in (7, 2, 5, 1)]
    dataset = PaddedSequenceDataset(sequences, torch.zeros(4, dtype=torch.long))
    with torch.no_grad():
        together = task(dataset.__getitems__([0, 1, 2, 3]))
        alone = torch.cat([task({"inputs": s.unsqueeze(0), "lengths": torch.tensor([len(s)])}) for s in sequences])
        unpadded = torch.cat([task({"inputs": s.unsqueeze(0)}) for s in sequences])
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(together, unpadded, atol=1e-5, rtol=1e-5)


def test_feature_inputs_of_varying_length_are_classified() -> None:
    """Real-valued multichannel series (UCR-style), padded per batch, through the same task."""
    torch.manual_seed(0)
    spec = {"input_kind": "features", "input_size": 3, "target_kind": "class", "output_size": 4}
    task = make_task(spec, "last", conv_layers=2)
    sequences = [torch.randn(length, 3) for length in (9, 4, 6)]
    dataset = PaddedSequenceDataset(sequences, torch.tensor([0, 1, 3]))
    with torch.no_grad():
        together = task(dataset.__getitems__([0, 1, 2]))
        alone = torch.cat([task({"inputs": s.unsqueeze(0)}) for s in sequences])
    assert together.shape == (3, 4)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-5)


def test_task_rejects_bad_values_naming_the_key() -> None:
    spec = {"input_kind": "tokens", "input_size": 30, "target_kind": "class", "output_size": 2, "padding_index": 0}
    model = {"cell": "gru", "hidden_size": 4, "num_layers": 1, "bidirectional": False, "dropout": 0.0}
    for kwargs, key in [
        ({"pooling": "sum"}, "task.pooling"),
        ({"pooling": ["max", "max"]}, "task.pooling"),
        ({"pooling": []}, "task.pooling"),
        ({"class_weights": [1.0]}, "task.class_weights"),
        ({"label_smoothing": 1.5}, "task.label_smoothing"),
    ]:
        with pytest.raises(ValueError, match=key.replace(".", r"\.")):
            ClassificationTask(spec, model, {"name": "adam", "lr": 1e-3}, {"name": "none"}, {"dim": 4}, **kwargs)
    with pytest.raises(ValueError, match=r"task\.embedding\.word_dropout=1\.0"):
        ClassificationTask(spec, model, {"name": "adam", "lr": 1e-3}, {"name": "none"}, {"dim": 4, "word_dropout": 1.0})


def test_confusion_matrix_figure_shows_the_epoch_just_evaluated() -> None:
    """FigureLogger runs before the task's epoch-end reset: the figure holds this epoch's counts."""
    torch.manual_seed(0)
    spec = {"input_kind": "tokens", "input_size": 30, "target_kind": "class", "output_size": 2, "padding_index": 0, "class_names": ["neg", "pos"]}
    task = make_task(spec, "mean")
    assert task.figures("test") == {}
    dataset = PaddedSequenceDataset([torch.randint(1, 30, (n,)) for n in (3, 5, 2, 4, 6)], torch.tensor([0, 1, 1, 0, 1]))
    with torch.no_grad():
        task.confusion["test"].update(task(dataset.__getitems__([0, 1, 2, 3, 4])), dataset.targets)
    figure = task.figures("test")["test/confusion_matrix"]
    counts = [int(text.get_text()) for text in figure.axes[0].texts]
    assert len(counts) == 4 and sum(counts) == 5
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == ["neg", "pos"]


def test_concatenated_poolings_feed_a_head_as_wide_as_all_of_them() -> None:
    spec = {"input_kind": "tokens", "input_size": 30, "target_kind": "class", "output_size": 3, "padding_index": 0}
    single, concatenated = make_task(spec, "max"), make_task(spec, ["max", "mean", "attention"])
    assert concatenated.head[-1].in_features == 3 * single.head[-1].in_features
    assert concatenated.attention is not None and single.attention is None


def test_word_dropout_zeros_whole_tokens_in_training_only() -> None:
    torch.manual_seed(0)
    spec = {"input_kind": "tokens", "input_size": 30, "target_kind": "class", "output_size": 2, "padding_index": 0}
    model = {"cell": "gru", "hidden_size": 4, "num_layers": 1, "bidirectional": False, "dropout": 0.0}
    task = ClassificationTask(spec, model, {"name": "adam", "lr": 1e-3}, {"name": "none"}, {"dim": 6, "dropout": 0.0, "word_dropout": 0.5})
    seen: list[torch.Tensor] = []
    task.encoder.register_forward_hook(lambda module, args, output: seen.append(args[0]))
    tokens = torch.randint(1, 30, (8, 20))
    embedded = task.input_layer(tokens).detach()
    task.train()(({"inputs": tokens}))
    task.eval()(({"inputs": tokens}))
    trained, evaluated = seen[0].detach(), seen[1].detach()
    dropped = (trained == 0).all(-1)  # (batch, time): whole token vectors zeroed
    assert 0.3 < dropped.float().mean() < 0.7
    torch.testing.assert_close(trained[~dropped], embedded[~dropped])  # the others pass unchanged
    torch.testing.assert_close(evaluated, embedded)
