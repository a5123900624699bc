"""Deprecated: the old home of ``data=anomaly_csv`` and ``data=anomaly_real``. Runs saved before the data layer was
regrouped into family packages (issue 24 item 3) name ``seqexp.data.anomaly_real.CSVAnomalyDataModule`` or
``...RealAnomalyDataModule`` as their ``_target_``; this module keeps them loading, with a DeprecationWarning
naming the new path.

Shipped in 0.1.0 only: remove it in 0.2.0 (saved runs then need their ``_target_`` edited to
``seqexp.data.anomaly.CSVAnomalyDataModule`` or ``seqexp.data.anomaly.RealAnomalyDataModule``).
"""

from __future__ import annotations

import warnings
from typing import Any

import seqexp.data.anomaly

MOVED = ("CSVAnomalyDataModule", "RealAnomalyDataModule")


def __getattr__(name: str) -> Any:
    """Each use of an old name warns (not only the first import), then answers with the class at its new path."""
    if name not in MOVED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"seqexp.data.anomaly_real.{name} moved to seqexp.data.anomaly.{name}; the old path goes in 0.2.0", DeprecationWarning, stacklevel=2)
    return getattr(seqexp.data.anomaly, name)
