"""The one scaler: fitted statistics, transform and its inverse, constant features, state round trip."""

from __future__ import annotations

import pytest
import torch

from seqexp.data.core.errors import DataError
from seqexp.data.core.scaling import Scaler

TRAIN = torch.tensor([[1.0, 10.0, 5.0], [3.0, 30.0, 5.0], [5.0, 20.0, 5.0]])  # (time, features); the last is constant


@pytest.mark.parametrize(
    ("method", "correction", "offset", "scale"),
    [
        ("standard", 1, [3.0, 20.0, 5.0], [2.0, 10.0, 1.0]),
        ("standard", 0, [3.0, 20.0, 5.0], [(8 / 3) ** 0.5, (200 / 3) ** 0.5, 1.0]),
        ("minmax", 1, [1.0, 10.0, 5.0], [4.0, 20.0, 1.0]),
        ("none", 1, [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]),
    ],
)
def test_fit_statistics_with_constant_features_at_scale_one(method: str, correction: int, offset: list, scale: list) -> None:
    scaler = Scaler(method, correction).fit(TRAIN)
    assert scaler.offset.dtype == torch.float64
    torch.testing.assert_close(scaler.offset, torch.tensor(offset, dtype=torch.float64))
    torch.testing.assert_close(scaler.scale, torch.tensor(scale, dtype=torch.float64))


def test_transform_and_inverse_keep_dtype_and_round_trip() -> None:
    scaler = Scaler().fit(TRAIN)
    later = torch.tensor([[7.0, 0.0, 6.0]])  # the constant feature changed after training: no blow-up
    scaled = scaler.transform(later)
    assert scaled.dtype == torch.float32 and scaled.tolist() == [[2.0, -2.0, 1.0]]
    torch.testing.assert_close(scaler.inverse_transform(scaled), later)
    batch = TRAIN.view(1, 3, 3).expand(2, 3, 3)  # (batch, time, features): statistics over all but the last dim
    assert Scaler().fit(batch).offset.tolist() == [3.0, 20.0, 5.0]


def test_state_round_trip_and_errors() -> None:
    scaler = Scaler("minmax").fit(TRAIN)
    restored = Scaler.from_state_dict(scaler.state_dict())
    assert restored.method == "minmax" and torch.equal(restored.transform(TRAIN), scaler.transform(TRAIN))
    with pytest.raises(RuntimeError, match="call fit"):
        Scaler().transform(TRAIN)
    with pytest.raises(DataError, match=r"scaling 'robust': must be one of \('standard', 'minmax', 'none'\)"):
        Scaler("robust")
