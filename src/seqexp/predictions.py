"""Prediction files: one row per prediction, in the data's own units and time axis.

``PredictionFileWriter`` is a Lightning ``BasePredictionWriter`` that writes once, when
``trainer.predict`` ends: it hands each batch's ``predict_step`` outputs, as the batch ends, to what the
task collects them with (``task.prediction_outputs()``: every batch's by default, in the data's order and
every rank's under DDP; per-point sums for anomaly scores), so Lightning's predict loop keeps none. Then
it lets the task lay them out as columns (``task.prediction_table``, the rows named by the DataModule's
``prediction_index()``), keeps at most ``max_rows`` rows (the first ones) and writes the file, a
``WRITE_CHUNK`` of rows at a time (the text of the whole file is never held). ``seqexp.predict`` writes where the user says; ``seqexp.train`` writes
``<run>/predictions/test.csv`` after testing.

A task may group columns (a dict of columns: the class probabilities). Formats, by the file's
suffix (others are refused before predicting): ``.parquet`` (needs pyarrow); ``.csv``, one column per member of a group
(``p_<class>``); ``.jsonl``, one object per row, a group as one object (``probabilities``, as
``seqexp.predict`` has always written labelled texts). ``target_columns`` and ``time_columns`` lay out the
columns that several tasks share. Numbers are written as the shortest decimal
that reads back to the same float32/float64 value, so a metric recomputed from the file is the
logged one; a value that is not known (truth past the end of new input, a threshold never chosen)
is an empty cell (Parquet and JSON: null).
"""

from __future__ import annotations

import csv
import json
import logging
import os
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from seqexp.checks import ConfigError
from seqexp.data.core.errors import DataError
from seqexp.data.core.spec import PredictionIndex
from seqexp.lightning_internals import forget_predicted_batch_indices

log = logging.getLogger(__name__)

GROUP_PREFIXES = {"probabilities": "p"}  # flat names of grouped columns: p_<class>
FORMATS = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl"}  # what a prediction file's suffix may be
WRITE_CHUNK = 16_384  # rows turned into text (or JSON objects) at a time
Columns = dict[str, Any]  # name -> one value per row (a 1-D tensor or a list of strings), or a group of such columns


class PredictionOutputs:
    """Collects ``predict_step``'s outputs as ``trainer.predict`` serves the batches (the prediction writer
    adds each batch's, so Lightning keeps none) and hands ``prediction_table`` every batch's, concatenated
    along dim 0 in the data's order: under DDP each rank predicted a share, so the shares are gathered and
    put back in order by their sample indices. A task whose file needs less than every output keeps less
    (``AnomalyTask`` folds its windows into per-point sums as they come)."""

    def __init__(self) -> None:
        self.batches: list[dict[str, torch.Tensor]] = []
        self.indices: list[torch.Tensor] = []  # (batch,) each batch's sample indices, under DDP only

    def add(self, outputs: dict[str, torch.Tensor], indices: Any, trainer: L.Trainer) -> None:
        """One batch's outputs; ``indices`` its samples' positions in the data (Lightning's batch indices)."""
        self.batches.append(outputs)
        if trainer.world_size > 1:
            self.indices.append(torch.as_tensor(indices, dtype=torch.long))

    def result(self, trainer: L.Trainer) -> dict[str, torch.Tensor]:
        """Every batch's outputs in the data's order (every rank calls this: under DDP it gathers)."""
        batches, order = self.batches, None
        if trainer.world_size > 1:
            shares: list[Any] = [None] * trainer.world_size
            torch.distributed.all_gather_object(shares, (self.batches, self.indices))
            batches = [batch for share, _ in shares for batch in share]
            order = torch.argsort(torch.cat([index for _, share in shares for index in share]))
        self.batches, self.indices = [], []
        outputs = {name: torch.cat([batch[name] for batch in batches]) for name in batches[0]}
        return outputs if order is None else {name: value[order] for name, value in outputs.items()}


def target_columns(names: tuple[str, ...], prediction: torch.Tensor, truth: torch.Tensor | None) -> Columns:
    """``<name>_prediction`` with ``<name>_truth`` beside it for each target of ``(rows, targets)``
    tensors (no truth: ``truth=None``); plain ``prediction`` and ``truth`` for one unnamed target."""
    names = names or (("",) if prediction.shape[1] == 1 else tuple(str(k) for k in range(prediction.shape[1])))
    columns: Columns = {}
    for k, name in enumerate(names):
        prefix = f"{name}_" if name else ""
        columns[f"{prefix}prediction"] = prediction[:, k]
        if truth is not None:
            columns[f"{prefix}truth"] = truth[:, k]
    return columns


def time_columns(index: PredictionIndex, positions: torch.Tensor) -> Columns:
    """``step`` of each row in the whole series and, when the data has a time column, its
    ``timestamp`` (empty for steps past the end of the data: forecasts of the future)."""
    columns: Columns = {"step": positions + index.first_step}
    if index.times is not None:
        columns["timestamp"] = [index.times[p] if p < len(index.times) else "" for p in positions.tolist()]
    return columns


def file_format(path: str | Path) -> str:
    """The format a suffix names (``check_output_file`` refuses the others before anything is predicted)."""
    return FORMATS.get(Path(path).suffix.lower(), "csv")


def check_output_file(path: str | Path, key: str) -> None:
    """Fail before predicting when the file cannot be written: Parquet needs pyarrow, a missing folder must
    be one that can be made. Nothing is created here (a run stopped before predicting leaves no empty folder):
    ``write_table`` makes the folder."""
    path = Path(path)
    if file_format(path) == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError(f"{key}={path}: writing Parquet needs pyarrow (the parquet extra: pip install -e '.[parquet]'); or write a .csv file") from None
    if path.is_dir():
        raise ConfigError(f"{key}={path}: is a folder; give a file name (.csv, .parquet or .jsonl)")
    if path.suffix.lower() not in FORMATS:
        raise ConfigError(f"{key}={path}: must end in {', '.join(list(FORMATS)[:-1])} or {list(FORMATS)[-1]} (the suffix picks the format)")
    existing = next(folder for folder in path.absolute().parents if folder.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        reason = "not writable" if existing.is_dir() else "a file, not a folder"
        raise ConfigError(f"{key}={path}: cannot make its folder ({existing} is {reason})")


class PredictionFileWriter(BasePredictionWriter):
    """Writes what ``trainer.predict`` predicted to ``path`` (None: keep the table in ``self.table`` only)."""

    def __init__(self, path: str | Path | None, max_rows: int | None = None, keys: tuple[str, str] = ("output_file", "max_rows")) -> None:
        super().__init__(write_interval="batch")  # each batch's outputs go to the task's collector as it ends
        path_key, rows_key = keys
        if max_rows is not None and (not isinstance(max_rows, int) or isinstance(max_rows, bool) or max_rows < 1):
            raise ConfigError(f"{rows_key}={max_rows!r}: must be null (every row) or an integer >= 1")
        if path is not None:
            check_output_file(path, path_key)
        self.path = None if path is None else Path(path)
        self.max_rows, self.rows_key = max_rows, rows_key
        self.outputs: PredictionOutputs | None = None  # this predict run's, batch by batch
        self.batches = 0
        self.table: Columns | None = None  # the columns written, once predicted

    def on_predict_epoch_start(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        self.outputs, self.batches, self.table = task.prediction_outputs(), 0, None

    def write_on_batch_end(
        self, trainer: L.Trainer, task: L.LightningModule, prediction: Any, batch_indices: Any, batch: Any, batch_idx: int, dataloader_idx: int
    ) -> None:
        self.outputs.add(prediction, batch_indices, trainer)
        self.batches += 1
        forget_predicted_batch_indices(trainer, dataloader_idx, batch_idx)  # Lightning would keep them to the end

    def on_predict_epoch_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        if not self.batches:
            raise DataError("nothing to predict: the data served no batch")
        outputs, self.outputs = self.outputs.result(trainer), None  # every rank: under DDP this gathers or reduces
        if not trainer.is_global_zero:
            return
        datamodule = trainer.datamodule
        index = datamodule.prediction_index() if datamodule is not None else PredictionIndex()  # None: dataloaders given directly
        table = task.prediction_table(outputs, index)
        del outputs
        rows = row_count(table)
        if self.max_rows is not None and rows > self.max_rows:
            log.warning(
                "Predictions: kept the first %d of %d rows (%s=%d); a metric recomputed from the file covers those rows only",
                self.max_rows,
                rows,
                self.rows_key,
                self.max_rows,
            )
            table = first_rows(table, self.max_rows)
        self.table = table
        if self.path is not None:
            write_table(table, self.path)

    def on_predict_end(self, trainer: L.Trainer, task: L.LightningModule) -> None:
        if self.path is not None and self.table is not None:  # after the progress bar has closed its line
            log.info("Wrote %d predictions to %s", row_count(self.table), self.path.resolve())


def flat_columns(table: Columns) -> dict[str, Any]:
    """The table's columns one level deep: a group of columns (a dict) becomes ``<prefix>_<name>`` each,
    the prefix shortened as ``GROUP_PREFIXES`` says (class probabilities: ``p_<class>``)."""
    flat: dict[str, Any] = {}
    for name, column in table.items():
        if isinstance(column, dict):
            flat.update({f"{GROUP_PREFIXES.get(name, name)}_{key}": part for key, part in column.items()})
        else:
            flat[name] = column
    return flat


def row_count(table: Columns) -> int:
    return len(next(iter(flat_columns(table).values()))) if table else 0


def first_rows(table: Columns, count: int) -> Columns:
    return row_slice(table, 0, count)


def row_slice(table: Columns, start: int, stop: int) -> Columns:
    """Rows ``start`` to ``stop - 1`` of every column (views of tensors, not copies)."""
    return {name: row_slice(column, start, stop) if isinstance(column, dict) else column[start:stop] for name, column in table.items()}


def _array(column: Any) -> np.ndarray:
    if isinstance(column, torch.Tensor):
        return column.numpy()
    return np.asarray(column, dtype=object if not isinstance(column, np.ndarray) else None)


def _cells(column: np.ndarray) -> list[str]:
    """CSV cells: numbers as their shortest exact decimal, '' for nan (not known)."""
    if column.dtype.kind == "f":
        cells = column.astype(str)
        cells[np.isnan(column)] = ""
        return cells.tolist()
    if column.dtype.kind == "b":
        return column.astype(np.int64).astype(str).tolist()
    return [str(value) for value in column.tolist()]


def _json_values(column: Any) -> list[Any]:
    """One JSON value per row; a group of columns gives one object per row."""
    if isinstance(column, dict):
        parts = {key: _json_values(part) for key, part in column.items()}
        return [dict(zip(parts, values)) for values in zip(*parts.values())]
    array = _array(column)
    if array.dtype.kind == "f":
        return [None if cell == "" else float(cell) for cell in _cells(array)]  # the CSV's shortest decimals
    return array.tolist()


def records(table: Columns) -> list[dict[str, Any]]:
    """The rows as JSON objects (a group of columns, such as the class probabilities, as one object)."""
    columns = {name: _json_values(column) for name, column in table.items()}
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def write_table(table: Columns, path: str | Path) -> None:
    """CSV, Parquet or JSON lines by the suffix of ``path`` (see the module docstring); text is made
    ``WRITE_CHUNK`` rows at a time."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = file_format(path)
    rows = row_count(table)
    if kind == "jsonl":
        with path.open("w", encoding="utf-8") as handle:
            for start in range(0, rows, WRITE_CHUNK):
                handle.write("".join(json.dumps(row, allow_nan=False) + "\n" for row in records(row_slice(table, start, start + WRITE_CHUNK))))
        return
    arrays = {name: _array(column) for name, column in flat_columns(table).items()}
    if kind == "parquet":
        import pyarrow
        import pyarrow.parquet

        pyarrow.parquet.write_table(
            pyarrow.table({name: pyarrow.array(array.tolist() if array.dtype == object else array, from_pandas=True) for name, array in arrays.items()}), path
        )
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")  # csv's default ends lines with \r\n
        writer.writerow(arrays)
        for start in range(0, rows, WRITE_CHUNK):
            writer.writerows(zip(*(_cells(array[start : start + WRITE_CHUNK]) for array in arrays.values())))
