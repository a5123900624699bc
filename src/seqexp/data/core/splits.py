"""The two ways seqexp splits data: consecutive time ranges for one series (series, anomaly files), and a
stratified draw for labelled cases (text, UCR). Every data module that cuts its own splits calls these.

Or the user brings the splits as files (``data.train_path``, ``data.val_path``, ``data.test_path``) instead of
one ``data.path`` cut by fractions: ``split_paths``, ``check_split_files`` and ``held_out_share`` are the rules
every file-based family (text, series, anomaly) shares.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch

from seqexp.checks import ConfigError
from seqexp.data.core.errors import DataError
from seqexp.data.core.spec import SPLITS


def time_split(length: int, fractions: dict[str, float], train_length: int | None = None) -> dict[str, tuple[int, int]]:
    """Train, val, test as consecutive ``[start, end)`` ranges of ``length`` points, in the ratio of ``fractions``
    (normalised by their sum); a given ``train_length`` fixes the train range and the fractions then share
    the rest between val and test. No point is in two ranges, and none is left out."""
    needed = SPLITS if train_length is None else ("val", "test")
    if any(fractions.get(split, 0) <= 0 for split in needed):
        raise DataError(f"data.split_fractions={fractions}: {', '.join(needed)} must each be > 0")
    if train_length is None:
        train_length = round(length * fractions["train"] / sum(fractions[split] for split in SPLITS))
    if not 0 < train_length < length:
        raise DataError(f"data.train_length={train_length}: must be between 1 and the series length {length}")
    val_length = round((length - train_length) * fractions["val"] / (fractions["val"] + fractions["test"]))
    return {"train": (0, train_length), "val": (train_length, train_length + val_length), "test": (train_length + val_length, length)}


def check_backtest(data: Mapping[str, Any]) -> None:
    """The ``data`` config's ``backtest`` (null, or ``folds`` an integer >= 1 and ``fold`` one of 0 .. folds - 1); a
    backtest cuts one series, not split files. For the ``check_config`` of the data families that take it."""
    backtest = data.get("backtest")
    if backtest is None:
        return
    if not isinstance(backtest, Mapping) or set(backtest) - {"folds", "fold"}:
        raise ConfigError(f"data.backtest={backtest!r}: must hold only folds and fold (or be null)")
    folds, fold = backtest.get("folds", 1), backtest.get("fold", 0)
    if not isinstance(folds, int) or isinstance(folds, bool) or folds < 1:
        raise ConfigError(f"data.backtest.folds={folds!r}: must be an integer >= 1")
    if not isinstance(fold, int) or isinstance(fold, bool) or not 0 <= fold < folds:
        raise ConfigError(f"data.backtest.fold={fold!r}: must be an integer in [0, {folds - 1}] (data.backtest.folds={folds})")
    if folds > 1 and any(data.get(f"{split}_path") for split in SPLITS):
        raise ConfigError(
            f"data.backtest.folds={folds}: a backtest cuts one series (data.name or data.path), "
            "not split files (data.train_path, data.val_path, data.test_path)"
        )


def rolling_origin_split(bounds: dict[str, tuple[int, int]], folds: int, fold: int) -> dict[str, tuple[int, int]]:
    """Fold ``fold`` (0 .. ``folds`` - 1) of a rolling-origin backtest over ``bounds`` (``time_split``'s ranges):
    val and test keep their lengths and move back ``folds - 1 - fold`` blocks of the test range's length, so
    the folds' test ranges are consecutive blocks that end at the series' end; train is every row before val
    (an expanding window). The last fold is ``bounds`` itself. Refuses a fold left with no train rows."""
    test_start, test_end = bounds["test"]
    shift = (folds - 1 - fold) * (test_end - test_start)
    moved = {split: (start - shift, end - shift) for split, (start, end) in bounds.items()}
    moved["train"] = (bounds["train"][0], moved["val"][0])
    if moved["train"][1] <= moved["train"][0]:
        raise DataError(
            f"data.backtest.fold={fold} of data.backtest.folds={folds}: its val and test ranges start at row "
            f"{moved['val'][0]}, which leaves no train range; use fewer folds"
        )
    return moved


def stratified_split(labels: Sequence[Hashable], fractions: dict[str, float], seed: int) -> dict[str, list[int]]:
    """Indices of ``labels`` per split, drawn per label with ``seed`` so that every split keeps the class
    balance: of each label's members (in a seeded random order), val takes the first ``fractions["val"]``
    share, test the next ``fractions["test"]``, train the rest. A split with a share > 0 gets at least one
    member of every label that has two or more, and train always keeps one. Indices come back sorted."""
    generator = torch.Generator().manual_seed(seed)
    members: dict[Hashable, list[int]] = {}
    for index, label in enumerate(labels):
        members.setdefault(label, []).append(index)
    splits: dict[str, list[int]] = {split: [] for split in SPLITS}
    for label in sorted(members):
        group = members[label]
        order = [group[i] for i in torch.randperm(len(group), generator=generator).tolist()]
        taken = 0
        for split in ("val", "test"):
            share = fractions.get(split, 0.0)
            count = min(max(1, round(share * len(group))), len(group) - 1 - taken) if share > 0 and len(group) > 1 else 0
            splits[split] += order[taken : taken + count]
            taken += count
        splits["train"] += order[taken:]
    return {split: sorted(indices) for split, indices in splits.items()}


def split_paths(train_path: str | None, val_path: str | None, test_path: str | None) -> dict[str, str]:
    """``{split: path}`` of the split files that are set, in the order train, val, test."""
    return {split: str(path) for split, path in zip(SPLITS, (train_path, val_path, test_path)) if path}


def check_split_files(path: str | None, paths: dict[str, str]) -> None:
    """Refuse ``data.path`` together with split files, and split files without both train and test."""
    given = ", ".join(f"data.{split}_path" for split in paths)
    if path is not None and paths:
        raise DataError(f"data.path and {given}: set data.path (one file, split by fractions) or the split files, not both")
    if paths and not {"train", "test"} <= set(paths):
        raise DataError(f"{given}: split files need both data.train_path and data.test_path (data.val_path is optional)")


def held_out_share(fractions: dict[str, float]) -> float:
    """Without ``val_path``: the share of the train file held out for validation, the val:train ratio of
    ``split_fractions`` (``val / (train + val)``)."""
    return fractions["val"] / (fractions["train"] + fractions["val"])
