"""What every DataModule offers the rest of seqexp, written down once.

The builder, ``seqexp.eval``, ``seqexp.predict``, the prediction-file writer, the figures callback and the
anomaly task talk to a DataModule only through :class:`SeqDataModule`; none of them asks whether a module
happens to have an attribute. A data family subclasses it, implements :attr:`SeqDataModule.spec` and the
Lightning hooks it needs (``setup``, ``*_dataloader``, ``state_dict``), and overrides a default below only
where its data differs. Defaults are the neutral value where one exists (no budget of its own, rows named
0, 1, 2, ...), and otherwise refuse clearly, naming the class and what it lacks.

Reading data: constructors only store and check settings. Files are read (or series generated) by ``setup``, once:
Lightning calls it again for each stage (fit, test, predict), and a later call keeps what the first one read. Every
DDP rank needs the data, so it is read in ``setup``, not in ``prepare_data`` (which Lightning runs on one rank; seqexp's
files are local, so no family downloads anything there). ``spec`` only reports what ``setup`` read; asked for
before, it raises :class:`NotSetUpError`. The task's sizes (features, vocabulary, classes) come from the data, so
``seqexp.builder.build`` calls ``prepare_data()`` and ``setup()`` before it reads ``spec`` to build the task, as
Lightning's DataModule docs do (``dm.prepare_data(); dm.setup("fit"); model = Model(num_classes=dm.num_classes)``).
"""

from __future__ import annotations

import abc
from pathlib import Path
from typing import Annotated, Any, ClassVar

import lightning as L

from seqexp.baselines.inputs import BaselineInputs
from seqexp.checks import Range
from seqexp.data.core.spec import DataSpec, PredictionIndex

# Constructor arguments every DataModule takes, declared once: the config pass reads them off the signatures.
BatchSize = Annotated[int, Range(ge=1)]
Workers = Annotated[int, Range(ge=0)]  # DataLoader worker processes


class NotSetUpError(RuntimeError):
    """``spec`` was asked for before ``setup`` read the data: a mistake of the calling code, not of the user's data."""

    def __init__(self, datamodule: object) -> None:
        super().__init__(f"{type(datamodule).__name__}.spec is known once the data is read: call prepare_data() and setup() first (seqexp.builder.build does)")


class SeqDataModule(L.LightningDataModule, abc.ABC):
    """The abstract DataModule of seqexp (subclass it; see the module docstring)."""

    has_validation: bool = True
    """Whether the data has a validation split. False (``data.val_fraction=0`` of UCR): the builder drops the
    callbacks that monitor ``val/*`` and sets ``limit_val_batches=0``; ``seqexp.eval split=val`` refuses."""

    split_keys: ClassVar[tuple[str, ...]] = ()
    """The config keys that decide which split holds what (anomaly data: which split has anomalies). The anomaly
    task names them when a split lacks anomalies or normal points; empty: it says "the data keys that set the
    splits"."""

    predicts_new_input: ClassVar[bool] = False
    """Whether :meth:`set_predict_input` takes a file of new input (``seqexp.predict data.path=...`` or
    ``data.test_path=...``). False: ``seqexp.predict`` refuses such a key before reading anything."""

    @property
    @abc.abstractmethod
    def spec(self) -> DataSpec:
        """What the task is built from: input kind and size, target kind, classes, padding index (``DataSpec``).
        Called by ``seqexp.builder.build`` after ``setup``; reads nothing itself. A family whose spec needs its data
        raises :class:`NotSetUpError` when asked before ``setup``."""

    def set_predict_input(self, source: str | Path | list[str]) -> None:
        """Serve ``source`` (a file of new input; for text data, the texts) from ``predict_dataloader`` instead of
        the test split. Called by ``seqexp.predict`` when the user gives new input (only where
        :attr:`predicts_new_input` is true, or for texts). Default: refuses."""
        raise NotImplementedError(
            f"{type(self).__name__} takes no new input to predict: it does not implement "
            "set_predict_input (and predicts_new_input is False); predict its test split"
        )

    def prediction_index(self) -> PredictionIndex:
        """What names the rows of what ``predict_dataloader`` serves: steps, time stamps, column names, values in the
        data's units, texts (``PredictionIndex``). Called by ``seqexp.predictions.PredictionFileWriter`` when
        ``trainer.predict`` ends. Default: rows numbered from 0, truth known, no names."""
        return PredictionIndex()

    def split_index(self, split: str) -> PredictionIndex | None:
        """How figures of ``split`` ("val" or "test") name its steps, as a prediction file of it would. Called by
        ``seqexp.callbacks.FigureLogger``. Default: ``None`` (the task's figures number the steps from 0)."""
        return None

    def data_ranges(self) -> dict[str, Any] | None:
        """Which rows of the data each split holds (e.g. ``{"folds": 4, "fold": 0, "train": [0, 572], ...}``, first and
        last row), written to ``metrics.json`` as ``data_ranges`` by ``seqexp.train``. Default: ``None`` (not a
        single series cut into ranges)."""
        return None

    def training_budget(self, accumulate_grad_batches: int = 1) -> tuple[dict[str, Any], dict[str, int]] | None:
        """Trainer keyword arguments and callback settings sized to the data (``seqexp.data.core.budget.StepBudget``),
        or ``None``. Called by ``seqexp.builder.data_budget``. Default: ``None`` (the trainer config's own length)."""
        return None

    def baseline_inputs(self) -> BaselineInputs:
        """The splits as the task's classical baselines need them (``seqexp.baselines.inputs``): the rows, scaling and
        units the model is scored on. Called by ``seqexp.callbacks.Baselines`` when test starts. Default: refuses (the run
        then records why it has no baselines)."""
        raise NotImplementedError(f"{type(self).__name__} offers its splits to no baseline: it does not implement baseline_inputs")
