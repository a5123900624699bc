"""The user's own split files (``data.train_path``, ``data.val_path``, ``data.test_path``) instead of one
``data.path`` cut by fractions: the rules every file-based DataModule (text, series, anomaly) shares."""

from __future__ import annotations

from seqexp.data.errors import DataError
from seqexp.data.spec import SPLITS


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
