"""The shared split functions: consecutive time ranges, and a stratified draw of labelled cases."""

from __future__ import annotations

from collections import Counter

import pytest

from seqexp.data.core.errors import DataError
from seqexp.data.core.splits import stratified_split, time_split


def test_time_split_covers_every_point_once_in_order() -> None:
    assert time_split(1000, {"train": 0.7, "val": 0.15, "test": 0.15}) == {"train": (0, 700), "val": (700, 850), "test": (850, 1000)}
    assert time_split(101, {"train": 2, "val": 1, "test": 1}) == {"train": (0, 50), "val": (50, 76), "test": (76, 101)}
    fixed = time_split(100, {"train": 0.5, "val": 0.2, "test": 0.3}, train_length=30)
    assert fixed == {"train": (0, 30), "val": (30, 58), "test": (58, 100)}  # val:test = 2:3 of the remaining 70


@pytest.mark.parametrize(
    ("fractions", "train_length", "message"),
    [
        ({"train": 0.5, "val": 0, "test": 0.5}, None, r"train, val, test must each be > 0"),
        ({"train": 0.5, "val": 0.2, "test": 0.3}, 100, r"data\.train_length=100: must be between 1 and the series length 100"),
    ],
)
def test_time_split_refuses_empty_ranges(fractions: dict, train_length: int | None, message: str) -> None:
    with pytest.raises(DataError, match=message):
        time_split(100, fractions, train_length)


def test_stratified_split_is_seeded_keeps_class_balance_and_uses_every_case_once() -> None:
    labels = ["a" if i % 4 else "b" for i in range(400)]  # 75% a
    fractions = {"train": 0.8, "val": 0.1, "test": 0.1}
    splits = stratified_split(labels, fractions, seed=3)
    assert splits == stratified_split(labels, fractions, seed=3) and splits != stratified_split(labels, fractions, seed=4)
    assert [len(splits[s]) for s in ("train", "val", "test")] == [320, 40, 40]
    for indices in splits.values():
        assert Counter(labels[i] for i in indices)["a"] / len(indices) == 0.75
        assert indices == sorted(indices)
    assert sorted(i for indices in splits.values() for i in indices) == list(range(400))


def test_stratified_split_holds_out_at_least_one_of_each_class_but_keeps_one_to_train() -> None:
    labels = [0] * 10 + [1] * 5 + [2] * 2 + [3]
    splits = stratified_split(labels, {"val": 0.2}, seed=0)
    held = Counter(labels[i] for i in splits["val"])
    assert held == {0: 2, 1: 1, 2: 1}  # round(0.2 * 5) = 1; a class of two gives one; a single case stays in train
    assert Counter(labels[i] for i in splits["train"]) == {0: 8, 1: 4, 2: 1, 3: 1} and splits["test"] == []
