"""UCR/UEA time series classification: one label per recording of one or more sensor channels.

Built-in problems are read from ``data/assets/ucr/<Name>/<Name>_{TRAIN,TEST}.ts.gz`` (see its
NOTICE); your own problem from ``train_path``/``test_path`` in the same ``.ts`` format. The archive's
TEST file is the test split, untouched; validation is a stratified, seeded share of its TRAIN file.
Scaling is fitted on the training cases only.

Batches: ``inputs`` ``(batch, time, channels)`` float, ``targets`` ``(batch,)`` class ids in the
order of the TRAIN file's ``@classLabel``, and, when recordings differ in length, ``lengths``
``(batch,)`` with inputs zero-padded after each recording's end (the encoder packs them).
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader

from seqexp.baselines.inputs import CaseClassificationInputs
from seqexp.data.core.batching import BatchedTensorDataset, TensorSplitLoaders
from seqexp.data.core.contract import BatchSize, NotSetUpError, SeqDataModule, Workers
from seqexp.data.core.errors import DataError
from seqexp.data.core.scaling import Scaler, restore_scaling
from seqexp.data.core.spec import DataSpec, PredictionIndex
from seqexp.data.core.splits import stratified_split
from seqexp.data.ucr.ts_format import TsDataset, read_ts

log = logging.getLogger(__name__)

BUILTIN_PROBLEMS = ("BasicMotions", "GunPoint", "JapaneseVowels", "ItalyPowerDemand")
SCALINGS = ("standard", "per_series", "none")


def pad_cases(series: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(cases, max_time, channels)`` zero-padded after each end, and ``(cases,)`` lengths."""
    return pad_sequence(series, batch_first=True), torch.tensor([len(case) for case in series])


def _asset(name: str, split: str) -> Path:
    return Path(str(resources.files("seqexp.data").joinpath("assets", "ucr", name, f"{name}_{split}.ts.gz")))


class UCRDataModule(TensorSplitLoaders, SeqDataModule):
    predicts_new_input = True  # set_predict_input: new cases in a .ts file (seqexp.predict data.test_path=...)

    def __init__(
        self,
        name: str = "BasicMotions",
        train_path: str | None = None,
        test_path: str | None = None,
        val_fraction: float = 0.2,
        scaling: str = "standard",
        batch_size: BatchSize = 16,
        num_workers: Workers = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if (train_path is None) != (test_path is None):
            raise DataError("data.train_path and data.test_path: set both (your own problem) or neither (a built-in one)")
        if train_path is None and name not in BUILTIN_PROBLEMS:
            raise DataError(f"data.name={name!r}: must be one of {list(BUILTIN_PROBLEMS)} (or set data.train_path and data.test_path)")
        if not isinstance(val_fraction, (int, float)) or isinstance(val_fraction, bool) or not 0 <= val_fraction < 1:
            raise DataError(f"data.val_fraction={val_fraction!r}: must be a number in [0, 1) (0: no validation split)")
        if scaling not in SCALINGS:
            raise DataError(f"data.scaling={scaling!r}: must be one of {SCALINGS}")
        self.paths = {
            "train": Path(train_path) if train_path else _asset(name, "TRAIN"),
            "test": Path(test_path) if test_path else _asset(name, "TEST"),
        }
        self.val_fraction = val_fraction
        self.has_validation = val_fraction > 0  # SeqDataModule.has_validation: no val split, nothing for callbacks to monitor
        self.scaling = scaling
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.files: dict[str, TsDataset] = {}
        self.datasets: dict[str, BatchedTensorDataset] = {}
        self.scaler: Scaler | None = None  # scaling=standard: fitted on the training cases (or restored from a checkpoint)
        self.predict_path: Path | None = None  # new input set by set_predict_input

    def load(self) -> dict[str, TsDataset]:
        """Parse both files once; they must agree on channels and classes."""
        if not self.files:
            for split in ("train", "test"):  # the user's own files: a missing one names its key, not a traceback
                if not Path(self.paths[split]).is_file():
                    raise DataError(f"data.{split}_path={self.paths[split]}: no such .ts file")
            train, test = read_ts(self.paths["train"]), read_ts(self.paths["test"])
            if train.channels != test.channels:
                raise DataError(f"{test.source}: {test.channels} channels, but {train.source} has {train.channels}")
            classes = self._classes(train)
            unknown = sorted(set(test.labels) - set(classes))
            if unknown:
                raise DataError(f"{test.source}: labels {unknown} never occur in {train.source} (classes {list(classes)})")
            for data in (train, test):
                if any(case.isnan().any() for case in data.series):
                    raise DataError(f"{data.source}: missing values ('?'/NaN) are not supported; fill them in the file")
            self.files = {"train": train, "test": test}
        return self.files

    @staticmethod
    def _classes(train: TsDataset) -> tuple[str, ...]:
        if not any(train.labels):
            raise DataError(f"{train.source}: the cases carry no class labels (@classLabel true ... is needed)")
        return train.class_labels or tuple(sorted(set(train.labels)))

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._classes(self.load()["train"])

    @property
    def spec(self) -> DataSpec:
        if not self.files:  # channels and classes are known once setup has read the files
            raise NotSetUpError(self)
        return DataSpec(
            input_kind="features",
            input_size=self.files["train"].channels,
            target_kind="class",
            output_size=len(self.class_names),
            class_names=self.class_names,
        )

    def _scaled(self, series: list[torch.Tensor], train_series: list[torch.Tensor]) -> list[torch.Tensor]:
        if self.scaling == "none":
            return series
        if self.scaling == "per_series":  # the archive's convention: each recording and channel to mean 0, std 1
            return [Scaler("standard", correction=0).fit(case).transform(case) for case in series]
        if self.scaler is None:
            self.scaler = Scaler("standard").fit(torch.cat(train_series))  # every time step of every training case: (steps, channels)
        return [self.scaler.transform(case) for case in series]

    def state_dict(self) -> dict[str, Any]:
        """The training cases' scaler, saved in every checkpoint (see ``seqexp.data.core.scaling.restore_scaling``)."""
        return {"scaler": self.scaler.state_dict()} if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Scale as the checkpoint's model was trained (Lightning restores this after ``setup``); the cases,
        scaled once when built, are scaled anew if the restored scaler differs."""
        if "scaler" not in state:
            return
        self.setup()
        if restore_scaling(self.scaler, state["scaler"], str(self.paths["train"])):
            self.datasets = {}
            self.setup()
            if self.predict_path is not None:
                self.set_predict_input(self.predict_path)

    def _dataset(self, series: list[torch.Tensor], labels: list[str]) -> BatchedTensorDataset:
        index = {label: position for position, label in enumerate(self.class_names)}
        targets = torch.tensor([index[label] for label in labels], dtype=torch.long)
        inputs, lengths = pad_cases(series)
        if bool((lengths == lengths[0]).all()):
            return BatchedTensorDataset(inputs=inputs, targets=targets)
        return BatchedTensorDataset(inputs=inputs, targets=targets, lengths=lengths)

    def _train_val_cases(self, labels: list[str]) -> tuple[list[int], list[int]]:
        """The TRAIN file's cases kept for training and held out for validation (``val_fraction`` of each class)."""
        index = {label: position for position, label in enumerate(self.class_names)}
        split = stratified_split([index[label] for label in labels], {"val": self.val_fraction}, self.seed)
        return split["train"], split["val"]

    def setup(self, stage: str | None = None) -> None:
        if self.datasets:
            return
        files = self.load()
        kept, held_out = self._train_val_cases(files["train"].labels)
        train_series = [files["train"].series[i] for i in kept]
        parts = {
            "train": (train_series, [files["train"].labels[i] for i in kept]),
            "val": ([files["train"].series[i] for i in held_out], [files["train"].labels[i] for i in held_out]),
            "test": (files["test"].series, files["test"].labels),
        }
        if not self.has_validation:
            del parts["val"]
            log.info("data.val_fraction=0: no validation split; the last epoch's weights are tested")
        for split, (series, labels) in parts.items():
            self.datasets[split] = self._dataset(self._scaled(series, train_series), labels)
        log.info("data: %s", ", ".join(f"{split} {len(dataset)} cases" for split, dataset in self.datasets.items()))

    def baseline_inputs(self) -> CaseClassificationInputs:
        """Each split's cases (unpadded, scaled as the model sees them) and class ids; no val without a validation split."""
        self.setup()
        cases, labels = {}, {}
        for split in [split for split in ("train", "val", "test") if split in self.datasets]:
            tensors = self.datasets[split].tensors
            lengths = tensors.get("lengths", torch.full((len(tensors["inputs"]),), tensors["inputs"].shape[1]))
            cases[split] = [case[:length] for case, length in zip(tensors["inputs"], lengths.tolist())]
            labels[split] = tensors["targets"]
        return CaseClassificationInputs(cases, labels, len(self.class_names))

    def val_dataloader(self) -> DataLoader | list:
        """No loader without a validation split (``val_fraction=0``): Lightning then skips validation."""
        return self._loader("val", False) if self.has_validation else []

    # --- prediction (seqexp.predict, predictions/test.csv) ---------------------------------------
    predict_labelled: bool = True  # whether the cases served for prediction carry labels

    def set_predict_input(self, path: str | Path) -> None:
        """Classify the cases of another ``.ts`` file (``seqexp.predict data.test_path=...``) with the training's
        channels, scaled as the training cases; its labels, if it has any, must be classes of the training."""
        if not Path(path).is_file():
            raise DataError(f"data.test_path={path}: no such .ts file")
        self.setup()
        files, new = self.load(), read_ts(path)
        if new.channels != files["train"].channels:
            raise DataError(f"{new.source}: {new.channels} channels, the model was trained on {files['train'].channels}")
        unknown = sorted(set(new.labels) - set(self.class_names) - {""})
        if unknown:
            raise DataError(f"{new.source}: labels {unknown} are not classes of the model {list(self.class_names)}")
        self.predict_labelled, self.predict_path = all(new.labels), Path(path)
        kept, _ = self._train_val_cases(files["train"].labels)
        scaled = self._scaled(new.series, [files["train"].series[i] for i in kept])
        placeholders = [self.class_names[0]] * len(scaled)  # unlabelled cases: targets that no prediction file shows
        self.datasets["predict"] = self._dataset(scaled, new.labels if self.predict_labelled else placeholders)

    def prediction_index(self) -> PredictionIndex:
        """Cases in file order (the TEST file's, or the new input's); labels may be unknown in new input."""
        return PredictionIndex(truth=self.predict_labelled)
