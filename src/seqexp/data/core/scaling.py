"""One scaler for every data family: per feature, ``scaled = (value - offset) / scale``, fitted on the
training split only (as darts' ``Scaler`` wraps scikit-learn's), its state plain tensors for a checkpoint.

    standard  offset = mean, scale = standard deviation (``correction`` as in ``torch.std``:
              1 divides by n - 1, 0 by n, the z-normalisation of the UCR archive and of scikit-learn)
    minmax    offset = minimum, scale = maximum - minimum
    none      offset = 0, scale = 1

Statistics are computed in float64. A feature that does not vary (scale below ``TINY_SCALE``, ten
float64 epsilons, as scikit-learn does) gets scale 1: it scales to 0 (plus any later change) instead
of to inf or amplified rounding noise.
"""

from __future__ import annotations

import logging
from typing import Any

import torch

from seqexp.data.core.errors import DataError

log = logging.getLogger(__name__)
METHODS = ("standard", "minmax", "none")
TINY_SCALE = 10 * torch.finfo(torch.float64).eps


class Scaler:
    def __init__(self, method: str = "standard", correction: int = 1) -> None:
        if method not in METHODS:
            raise DataError(f"scaling {method!r}: must be one of {METHODS}")
        self.method = method
        self.correction = correction
        self.offset: torch.Tensor | None = None  # (features,) float64
        self.scale: torch.Tensor | None = None  # (features,) float64

    def fit(self, values: torch.Tensor) -> "Scaler":
        """Fit on ``values`` ``(..., features)``: statistics over every dimension but the last."""
        flat = values.reshape(-1, values.shape[-1]).double()
        if self.method == "none":
            offset, scale = torch.zeros(flat.shape[1], dtype=torch.float64), torch.ones(flat.shape[1], dtype=torch.float64)
        elif self.method == "minmax":
            offset = flat.min(dim=0).values
            scale = flat.max(dim=0).values - offset
        else:
            offset, scale = flat.mean(dim=0), flat.std(dim=0, correction=self.correction)
        self.offset, self.scale = offset, torch.where(scale < TINY_SCALE, torch.ones_like(scale), scale)
        return self

    def transform(self, values: torch.Tensor) -> torch.Tensor:
        """Scaled ``values`` ``(..., features)``, in their own dtype."""
        return ((values.double() - self._fitted("offset")) / self._fitted("scale")).to(values.dtype)

    def inverse_transform(self, values: torch.Tensor) -> torch.Tensor:
        """Scaled ``values`` back in original units, in their own dtype."""
        return (values.double() * self._fitted("scale") + self._fitted("offset")).to(values.dtype)

    def _fitted(self, name: str) -> torch.Tensor:
        value = getattr(self, name)
        if value is None:
            raise RuntimeError("Scaler: call fit (or load_state_dict) before transforming")
        return value

    def state_dict(self) -> dict[str, Any]:
        return {"method": self.method, "correction": self.correction, "offset": self.offset, "scale": self.scale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.method, self.correction = state["method"], state["correction"]
        self.offset, self.scale = state["offset"], state["scale"]

    @classmethod
    def from_state_dict(cls, state: dict[str, Any]) -> "Scaler":
        scaler = cls(state["method"], state["correction"])
        scaler.load_state_dict(state)
        return scaler


def restore_scaling(scaler: Scaler, saved: dict[str, Any], source: str) -> bool:
    """Load a checkpoint's scaler state into ``scaler`` in place (datasets that hold it scale with it from
    now on); True when it changed ``scaler``. A model expects the scaling it was trained with: when the data,
    refitted, disagrees (its files changed since training), the saved state wins and a warning says so
    instead of scaling silently anew."""
    changed = scaler.offset is not None and not (torch.allclose(scaler.offset, saved["offset"]) and torch.allclose(scaler.scale, saved["scale"]))
    if changed:
        log.warning(
            "data: %s, refitted, scales differently from the checkpoint's train split (offset %s, scale %s; "
            "saved %s, %s): the files changed since training? Using the checkpoint's scaling.",
            source,
            scaler.offset.tolist(),
            scaler.scale.tolist(),
            saved["offset"].tolist(),
            saved["scale"].tolist(),
        )
    scaler.load_state_dict(saved)
    return changed
