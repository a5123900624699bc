"""Reader for the UCR/UEA archive's ``.ts`` files (sktime/aeon format), plain or gzipped.

A file is ``#`` comment lines, ``@key value`` header lines, then ``@data`` and one case per line:

    @problemName Toy
    @univariate false
    @dimensions 2
    @equalLength false
    @classLabel true walk run
    @data
    0.1,0.2,0.3:1.0,1.1,1.2:walk        <- channel 1 : channel 2 : label
    0.5,0.4:2.0,2.1:run                 <- cases may differ in length

Channels are separated by ``:``, values by ``,``; the class label follows the last ``:``; ``?`` or
``NaN`` is a missing value. Every error names the file and the line, so a broken file is fixed in
an editor. Timestamped series (``@timeStamps true``) are not supported.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from seqexp.data.core.errors import DataError

MISSING_VALUES = frozenset({"?", "nan"})
BOOLEAN_KEYS = ("timestamps", "missing", "univariate", "equallength")
KNOWN_KEYS = (*BOOLEAN_KEYS, "problemname", "dimension", "dimensions", "serieslength", "classlabel", "targetlabel", "data")


class TsFormatError(DataError):
    """A ``.ts`` file breaks the format; the message starts with ``<file>, line <n>:``."""


@dataclass(frozen=True)
class TsDataset:
    """The cases of one ``.ts`` file: ``series[i]`` is ``(time, channels)``, ``labels[i]`` its label."""

    source: str
    problem_name: str | None
    class_labels: tuple[str, ...]  # as declared by @classLabel, in its order (empty if not declared)
    series: list[torch.Tensor]
    labels: list[str]

    @property
    def channels(self) -> int:
        return self.series[0].shape[1]

    @property
    def lengths(self) -> list[int]:
        return [len(case) for case in self.series]


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        for number, line in enumerate(handle, start=1):
            yield number, line.strip()


def _boolean(where: str, key: str, value: str) -> bool:
    if value.lower() not in ("true", "false"):
        raise TsFormatError(f"{where}: @{key} must be true or false, got {value!r}")
    return value.lower() == "true"


def _channel(where: str, index: int, text: str) -> list[float]:
    if not text.strip():
        raise TsFormatError(f"{where}: channel {index + 1} is empty")
    values = []
    for cell in text.split(","):
        cell = cell.strip()
        if cell.lower() in MISSING_VALUES:
            values.append(math.nan)
            continue
        try:
            values.append(float(cell))
        except ValueError:
            raise TsFormatError(f"{where}: channel {index + 1} holds {cell!r}, not a number") from None
    return values


def read_ts(path: str | Path) -> TsDataset:
    """Parse a ``.ts`` (or ``.ts.gz``) file; checks the cases against the header's declarations."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such .ts file")
    header: dict[str, str] = {}
    class_labels: tuple[str, ...] = ()
    has_labels = False
    series: list[torch.Tensor] = []
    labels: list[str] = []
    in_data = False
    for number, line in _lines(path):
        where = f"{path}, line {number}"
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise TsFormatError(f"{where}: expected a @header line or @data before the cases, got {line[:40]!r}")
            key, _, value = line[1:].partition(" ")
            key, value = key.lower(), value.strip()
            if key not in KNOWN_KEYS:
                raise TsFormatError(f"{where}: unknown header @{key}")
            if key in BOOLEAN_KEYS:
                flag = _boolean(where, key, value)
                if key == "timestamps" and flag:
                    raise TsFormatError(f"{where}: timestamped series (@timeStamps true) are not supported")
                header[key] = str(flag).lower()
            elif key == "classlabel":
                flag, *names = value.split()
                has_labels = _boolean(where, key, flag)
                class_labels = tuple(names) if has_labels else ()
                if has_labels and not class_labels:
                    raise TsFormatError(f"{where}: @classLabel true must list the class labels")
            elif key == "targetlabel":
                has_labels = _boolean(where, key, value.split()[0] if value else "")
            elif key == "data":
                in_data = True
            else:
                header["dimensions" if key == "dimension" else key] = value
            continue
        if line.startswith("("):
            raise TsFormatError(f"{where}: timestamped values '(time,value)' are not supported")
        if has_labels and ":" not in line:
            raise TsFormatError(f"{where}: no ':<label>' after the values (the header says @classLabel true)")
        body, label = line.rsplit(":", 1) if has_labels else (line, "")
        if has_labels:
            label = label.strip()
            if not label:
                raise TsFormatError(f"{where}: no label after the last ':'")
            if class_labels and label not in class_labels:
                raise TsFormatError(f"{where}: label {label!r} is not among @classLabel {list(class_labels)}")
        channels = [_channel(where, index, text) for index, text in enumerate(body.split(":"))]
        if len({len(values) for values in channels}) != 1:
            raise TsFormatError(f"{where}: channels differ in length {[len(values) for values in channels]}")
        if series and len(channels) != series[0].shape[1]:
            raise TsFormatError(f"{where}: {len(channels)} channels, earlier cases have {series[0].shape[1]}")
        series.append(torch.tensor(channels, dtype=torch.float32).T.contiguous())  # (time, channels)
        labels.append(label)
    if not in_data:
        raise TsFormatError(f"{path}: no @data line")
    if not series:
        raise TsFormatError(f"{path}: no cases after @data")
    _check_declarations(path, header, series)
    return TsDataset(str(path), header.get("problemname"), class_labels, series, labels)


def _check_declarations(path: Path, header: dict[str, str], series: list[torch.Tensor]) -> None:
    """The header's @dimensions, @univariate, @equalLength and @seriesLength must match the cases."""
    channels = series[0].shape[1]
    if "dimensions" in header and header["dimensions"] != str(channels):
        raise TsFormatError(f"{path}: @dimensions {header['dimensions']} but the cases have {channels} channels")
    if header.get("univariate") == "true" and channels != 1:
        raise TsFormatError(f"{path}: @univariate true but the cases have {channels} channels")
    lengths = {len(case) for case in series}
    if header.get("equallength") == "true" and len(lengths) > 1:
        raise TsFormatError(f"{path}: @equalLength true but case lengths range {min(lengths)}-{max(lengths)}")
    if "serieslength" in header and header.get("equallength") == "true" and lengths != {int(header["serieslength"])}:
        raise TsFormatError(f"{path}: @seriesLength {header['serieslength']} but the cases have length {sorted(lengths)}")
