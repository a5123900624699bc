"""Labelled series from files: the user's CSV (``data=anomaly_csv``) and real series kept in the
package (``data=anomaly_real``).

File layout (CSV, TSV or JSONL, optionally .gz/.bz2; read by ``seqexp.data.core.table``): a header row,
then one row per time point in time order.
    timestamp_column  optional; names the points (used to match a windows file) and must increase from row to
                      row (``seqexp.data.core.time_axis.check_time_order``). Unset, with neither
                      value columns nor a windows file named, a column that plainly is a time axis
                      (dates, evenly spaced integers: ``seqexp.data.core.time_axis``) is taken as it, with
                      a warning; with a windows file it is not guessed (its ``start,end`` would change
                      meaning) and a date column is refused naming ``data.timestamp_column``
    value_columns     the features; null = every column but the timestamp and label columns
    label_column      optional 0/1 per point (1 = anomalous)
    windows_path      optional, instead of a label column: a CSV with columns ``start,end``, one
                      anomaly window per row, both ends inclusive; row indices (0 = first data
                      row) when there is no timestamp column, else timestamps (compared as numbers
                      when both parse as numbers, else as strings: ISO 8601 sorts correctly)
    missing           missing value cells (``seqexp.data.core.table.MISSING_CELLS``: empty, NA, N/A, NaN,
                      ?, ...): ``interpolate`` (linear between the nearest present values;
                      leading/trailing gaps take the nearest value), ``drop`` (the rows, with their
                      labels) or ``error``. Missing labels and infinite values are always an error.
Every error names the file, the line (1 = header) and the column.

Splits are contiguous: the first ``train_length`` points train (or ``split_fractions.train`` of
them), then val, then test in the ratio of their fractions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from seqexp.data.anomaly.windows import SPLITS, AnomalyWindowsDataModule
from seqexp.data.core.contract import BatchSize, Workers
from seqexp.data.core.errors import DataError
from seqexp.data.core.splits import check_backtest, check_split_files, held_out_share, rolling_origin_split, split_paths, time_split
from seqexp.data.core.table import Columns, TableError, apply_missing, check_missing_policy, is_array_file, location, read_columns, read_header, read_table
from seqexp.data.core.time_axis import check_time_order, time_axis_candidates, time_axis_reason

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RealSource:
    file: str  # under seqexp/data/assets/anomaly/
    value_column: str
    label_column: str
    timestamp_column: str | None = None
    train_file: str | None = None  # the archive's normal training prefix; its length sets the train split
    train_length: int | None = None  # else this many leading points train


SOURCES = {
    "ucr_internal_bleeding16": RealSource(
        file="135_UCR_Anomaly_InternalBleeding16_TEST.csv",
        train_file="135_UCR_Anomaly_InternalBleeding16_TRAIN.csv",
        timestamp_column="timestamp",
        value_column="value",
        label_column="is_anomaly",
    ),
    "mitbih": RealSource(file="mitdb.csv", value_column="data", label_column="label", train_length=3000),
}


def _check_column(source: str | Path, header: tuple[str, ...], name: str, key: str) -> None:
    if name not in header:
        raise TableError(f"{source}: column {name!r} ({key}) is not in the header {list(header)}")


def read_labelled_csv(
    path: str | Path,
    timestamp_column: str | None = None,
    value_columns: list[str] | None = None,
    label_column: str | None = None,
    windows_path: str | Path | None = None,
    missing: str = "interpolate",
    key: str = "data.path",
) -> tuple[np.ndarray | torch.Tensor, torch.Tensor, list[str] | None]:
    """``values`` (time, feature) (float64, or a ``.npy`` file's memory map in its own dtype), ``labels`` (time,)
    uint8 and the timestamps (or None); ``key`` is the setting that names the file, for the messages."""
    check_missing_policy(missing)
    if label_column and windows_path:
        raise DataError("data.label_column and data.windows_path: set one of them, not both")
    header = read_header(path, key=key)
    reserved = {name for name in (timestamp_column, label_column) if name}
    for name, key in ((timestamp_column, "data.timestamp_column"), (label_column, "data.label_column")):
        if name:
            _check_column(path, header, name, key)
    names = list(value_columns) if value_columns else [name for name in header if name not in reserved]
    if not names:
        raise TableError(f"{path}: no value columns (header {list(header)}, timestamp/label columns {sorted(reserved)})")
    for name in names:
        _check_column(path, header, name, "data.value_columns")
    _refuse_dates(path, names)
    columns = read_columns(path, names + ([label_column] if label_column else []), [timestamp_column] if timestamp_column else [], key=key)
    if timestamp_column:
        check_time_order(columns.source, timestamp_column, columns.text[timestamp_column], columns.lines)
    values, kept = apply_missing(columns.matrix(names), missing, columns.source, columns.lines, names)

    # Labels and timestamps of every row (a windows file counts rows before any is dropped), then of the kept rows.
    timestamps = columns.text[timestamp_column] if timestamp_column else None
    if label_column:
        labels = _labels(columns, label_column)
    elif windows_path:
        labels = _windows_to_labels(Path(windows_path), len(columns.lines), timestamps)
    else:
        labels = torch.zeros(len(columns.lines), dtype=torch.uint8)
    if len(kept) == len(columns.lines):  # nothing dropped: no copies (a memory-mapped .npy stays on disk)
        return values if isinstance(values, np.memmap) else torch.from_numpy(values), labels, timestamps
    kept_timestamps = [timestamps[row] for row in kept.tolist()] if timestamps is not None else None
    return torch.from_numpy(np.asarray(values)), labels[torch.from_numpy(kept)], kept_timestamps


def _refuse_dates(path: str | Path, names: list[str]) -> None:
    """Refuse value columns of dates before reading them: a time stamp column that was not named (or could
    not be guessed) would otherwise fail on its first cell as "not a number", without a hint."""
    if is_array_file(path):
        return
    dated = time_axis_candidates(Path(path), names, dates_only=True)
    if dated:
        raise TableError(
            f"{path}: column {dated[0]!r} holds dates, not values: name it with data.timestamp_column={dated[0]} (or list the values in data.value_columns)"
        )


def find_time_axes(path: str | Path, names: list[str]) -> dict[str, str]:
    """The columns among ``names`` that plainly are a time axis (``time_axis_reason``), with the reason, in
    file order; only columns whose first cells are dates or integers are read (as text) to judge."""
    if is_array_file(path):
        return {}
    candidates = time_axis_candidates(Path(path), names)
    if not candidates:
        return {}
    cells = read_columns(path, [], candidates).text
    reasons = {name: time_axis_reason(cells[name]) for name in candidates}
    return {name: reason for name, reason in reasons.items() if reason is not None}


def _labels(columns: Columns, name: str) -> torch.Tensor:
    """A 0/1 label column as ``(rows,)`` uint8 (a byte a point: long recordings stay small)."""
    labels = columns.numbers[name]
    bad = np.flatnonzero((labels != 0) & (labels != 1))  # NaN (missing) is neither
    if len(bad):
        row = bad[0]
        cell = "" if np.isnan(labels[row]) else f"{labels[row]:g}"
        raise TableError(f"{location(columns.source, int(columns.lines[row]), name)}: label must be 0 or 1, got {cell!r}")
    return torch.from_numpy(labels.astype(np.uint8))


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _windows_to_labels(path: Path, length: int, timestamps: list[str] | None) -> torch.Tensor:
    """Point labels from a ``start,end`` windows file (inclusive ends)."""
    table = read_table(path, default_format="csv", key="data.windows_path")
    for name in ("start", "end"):
        _check_column(path, table.header, name, "windows file")
    numeric_times = [_as_number(stamp) for stamp in timestamps] if timestamps is not None else None
    labels = torch.zeros(length, dtype=torch.long)
    for line, start, end in zip(table.lines, table.column("start"), table.column("end")):
        start, end = start or "", end or ""
        if timestamps is None:
            if not (start.isdigit() and end.isdigit()):
                raise TableError(
                    f"{location(path, line)}: start {start!r} and end {end!r} must be row indices (integers >= 0) when there is no timestamp column"
                )
            first, last = int(start), int(end)
            if last >= length:
                raise TableError(
                    f"{location(path, line, 'end')}: row index {last} is past the series' last row index {length - 1} (indices count data rows from 0)"
                )
        else:
            first, last = _timestamp_span(path, line, start, end, timestamps, numeric_times)
        if first > last:
            raise TableError(f"{location(path, line)}: start {start!r} comes after end {end!r}")
        labels[first : last + 1] = 1
    return labels


def _timestamp_span(path: Path, line: int, start: str, end: str, timestamps: list[str], numeric_times: list[float | None]) -> tuple[int, int]:
    """First and last row whose timestamp lies in [start, end]."""
    bounds = (_as_number(start), _as_number(end))
    numeric = None not in bounds and None not in numeric_times
    keys = numeric_times if numeric else timestamps
    low, high = bounds if numeric else (start, end)
    inside = [row for row, key in enumerate(keys) if low <= key <= high]  # type: ignore[operator]
    if not inside:
        raise TableError(f"{location(path, line)}: no timestamp of the series lies in [{start}, {end}]")
    return inside[0], inside[-1]


class CSVAnomalyDataModule(AnomalyWindowsDataModule):
    """The user's own labelled series from a CSV file (see the module docstring for the layout)."""

    split_keys = (
        "data.split_fractions",
        "data.train_length",
        "data.backtest.fold",
        "data.label_column",
        "data.windows_path",
        "data.train_path",
        "data.val_path",
        "data.test_path",
    )

    @classmethod
    def check_config(cls, cfg: Mapping[str, Any]) -> None:
        """``data.backtest`` (``seqexp.data.core.splits.check_backtest``); a fold's train range is checked once the file is read."""
        check_backtest(cfg["data"])

    def __init__(
        self,
        path: str | None = None,
        timestamp_column: str | None = None,
        value_columns: list[str] | None = None,
        label_column: str | None = None,
        windows_path: str | None = None,
        missing: str = "interpolate",
        split_fractions: dict[str, float] | None = None,
        train_length: int | None = None,
        window_length: int = 32,
        train_stride: int = 1,
        eval_stride: int = 1,
        batch_size: BatchSize = 64,
        num_workers: Workers = 0,
        seed: int = 0,
        train_path: str | None = None,
        val_path: str | None = None,
        test_path: str | None = None,
        backtest: dict[str, int] | None = None,
    ) -> None:
        super().__init__(window_length, train_stride, eval_stride, batch_size, num_workers, seed)
        self.check_config({"data": {"backtest": backtest, "train_path": train_path, "val_path": val_path, "test_path": test_path}})
        self.folds, self.fold = (backtest or {}).get("folds", 1), (backtest or {}).get("fold", 0)
        self.split_paths = split_paths(train_path, val_path, test_path)
        check_split_files(path, self.split_paths)
        if not path and not self.split_paths:
            raise DataError("data.path: set it to your CSV file (data.path=/path/to/series.csv), or set data.train_path and data.test_path")
        if self.split_paths and windows_path:
            raise DataError(
                "data.windows_path and data.train_path: a windows file labels one series (data.path); give each split file a data.label_column instead"
            )
        if "val" in self.split_paths and train_length is not None:
            raise DataError("data.train_length and data.val_path: train_length cuts val out of the train file; with a val file, set data.train_length=null")
        check_missing_policy(missing)
        path = path or self.split_paths["train"]  # columns and timestamps: the train file's
        self.path, self.windows_path = Path(path), windows_path
        self.timestamp_column, self.value_columns, self.label_column = timestamp_column, value_columns, label_column
        self.missing = missing
        self.split_fractions = dict(split_fractions or {"train": 0.5, "val": 0.2, "test": 0.3})
        self.train_length = train_length

    def load_series(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, tuple[int, int]]]:
        self._find_time_column()
        if self.split_paths:
            return self._load_split_files()
        values, labels, _ = read_labelled_csv(self.path, self.timestamp_column, self.value_columns, self.label_column, self.windows_path, self.missing)
        bounds = time_split(len(values), self.split_fractions, self.train_length)
        if self.folds == 1:
            return values, labels, bounds
        bounds = rolling_origin_split(bounds, self.folds, self.fold)
        start, end = bounds["train"]
        if end - start < self.window_length:
            raise DataError(
                f"data.backtest.fold={self.fold} of data.backtest.folds={self.folds}: its train range, rows "
                f"{start}-{end - 1} of {self.path}, has {end - start} points, fewer than one window "
                f"(data.window_length={self.window_length}); use fewer folds or shorter windows"
            )
        log.info(
            "data: backtest fold %d of %d (data.backtest.fold, data.backtest.folds): %s",
            self.fold,
            self.folds,
            ", ".join(f"{split} rows {first}-{last - 1}" for split, (first, last) in bounds.items()),
        )
        return values, labels, bounds

    def data_ranges(self) -> dict[str, Any]:
        """Each split's first and last row (inclusive) and the backtest fold: ``metrics.json``'s ``data_ranges``."""
        self.prepare_series()
        return {"folds": self.folds, "fold": self.fold, **{split: [start, end - 1] for split, (start, end) in self.bounds.items()}}

    def _find_time_column(self) -> None:
        """With no timestamp column, value columns or windows file named: take a column that plainly is a
        time axis as the timestamp column (the first one; any other is left out of the values), with a
        warning that names the key. A windows file's ``start,end`` are row indices without a timestamp
        column and timestamps with one, so with a windows file nothing is guessed."""
        if self.timestamp_column or self.value_columns or self.windows_path:
            return
        names = [name for name in read_header(self.path) if name != self.label_column]
        axes = find_time_axes(self.path, names)
        if not axes:
            return
        self.timestamp_column, *others = axes
        log.warning(
            "%s: column %r looks like a time axis (%s): it names the points and is not a value. "
            "Set data.timestamp_column=%s to say so, or data.value_columns=[...] to choose the values.",
            self.path,
            self.timestamp_column,
            axes[self.timestamp_column],
            self.timestamp_column,
        )
        if others:
            log.warning(
                "%s: columns %s also look like a time axis; they are left out of the values (data.value_columns=[...] chooses the values).", self.path, others
            )
            self.value_columns = [name for name in names if name not in axes]

    def _load_split_files(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, tuple[int, int]]]:
        """The split files one after the other (val and test read with the train file's value columns); each
        split's windows start inside its own file (``context_starts``). Without a val file, val is the end of
        the train file: all but its first ``train_length`` points, or its last ``held_out_share``."""
        parts, bounds, start = [], {}, 0
        value_columns = self.value_columns
        for split, path in self.split_paths.items():
            part = read_labelled_csv(path, self.timestamp_column, value_columns, self.label_column, None, self.missing, key=f"data.{split}_path")
            value_columns = value_columns or list(self.value_names())
            bounds[split], self.context_starts[split] = (start, start + len(part[0])), start
            parts.append(part)
            start += len(part[0])
        if "val" not in bounds:
            first, end = bounds["train"]
            cut = first + self.train_length if self.train_length is not None else end - int((end - first) * held_out_share(self.split_fractions))
            if not first < cut < end:
                raise DataError(f"data.train_length={self.train_length}: must be between 1 and the train file's length {end - first}")
            bounds["train"], bounds["val"] = (first, cut), (cut, end)
            self.context_starts["val"] = first
        self.times = [time for part in parts for time in part[2]] if self.timestamp_column else None
        log.info("data: split files %s", ", ".join(f"{split} {path}" for split, path in self.split_paths.items()))
        return (
            torch.cat([torch.as_tensor(np.asarray(part[0], dtype=np.float64)) for part in parts]),
            torch.cat([part[1] for part in parts]),
            {split: bounds[split] for split in SPLITS},
        )

    # --- prediction: the file's own names for points and features (see AnomalyWindowsDataModule) --
    def value_names(self) -> tuple[str, ...]:
        reserved = {self.timestamp_column, self.label_column}
        return tuple(self.value_columns or [name for name in read_header(self.path) if name not in reserved])

    def point_times(self) -> list[str] | None:
        if not self.timestamp_column:
            return None
        if self.split_paths:  # every split file's, in order
            self.prepare_series()
            return self.times
        return read_labelled_csv(self.path, self.timestamp_column, self.value_columns, self.label_column, self.windows_path, self.missing)[2]

    def has_labels(self) -> bool:
        return bool(self.label_column or self.windows_path)

    def read_new_series(self, path: str | Path) -> tuple[torch.Tensor, torch.Tensor | None, list[str] | None]:
        """New input with the training's value and timestamp columns; its labels are read when it has the label column."""
        label_column = self.label_column if self.label_column in read_header(path) else None
        values, labels, times = read_labelled_csv(path, self.timestamp_column, list(self.value_names()), label_column, None, self.missing)
        return values, labels if label_column else None, times


class RealAnomalyDataModule(CSVAnomalyDataModule):
    """A real labelled series kept in the package (see data/assets/anomaly/NOTICE for provenance).

    ``ucr_internal_bleeding16``: UCR Anomaly Archive series 135, a patient's heart rate; the
    archive's normal prefix (1,200 points) is the train split.
    ``mitbih``: an MIT-BIH ECG excerpt (TSB-UAD, via sktime); the first 3,000 points train.
    The rest is split into val and test by ``split_fractions``; val comes first and holds no
    anomaly in either series, so its normal scores set the threshold.
    """

    split_keys = ("data.split_fractions.val", "data.split_fractions.test")

    def __init__(
        self,
        source: str = "ucr_internal_bleeding16",
        missing: str = "interpolate",
        split_fractions: dict[str, float] | None = None,
        window_length: int = 32,
        train_stride: int = 1,
        eval_stride: int = 1,
        batch_size: BatchSize = 64,
        num_workers: Workers = 0,
        seed: int = 0,
    ) -> None:
        if source not in SOURCES:
            raise DataError(f"data.source={source!r}: must be one of {sorted(SOURCES)}")
        self.source = SOURCES[source]
        self.folder = Path(str(files("seqexp.data") / "assets" / "anomaly"))
        super().__init__(
            path=str(self.folder / self.source.file),
            timestamp_column=self.source.timestamp_column,
            value_columns=[self.source.value_column],
            label_column=self.source.label_column,
            missing=missing,
            split_fractions=split_fractions,
            train_length=self.source.train_length,  # with a train_file: set by load_series, which reads it
            window_length=window_length,
            train_stride=train_stride,
            eval_stride=eval_stride,
            batch_size=batch_size,
            num_workers=num_workers,
            seed=seed,
        )

    def load_series(self) -> tuple[torch.Tensor, torch.Tensor, dict[str, tuple[int, int]]]:
        """As a CSV file's; the train split is as long as the archive's train file, when the source has one
        (read here, with the series, not when the DataModule is made)."""
        if self.source.train_file is not None:
            self.train_length = len(read_table(self.folder / self.source.train_file).rows)
        return super().load_series()
