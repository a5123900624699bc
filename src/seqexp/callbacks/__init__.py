"""Callbacks that seqexp adds to Lightning's own."""

from seqexp.callbacks.figures import FigureLogger
from seqexp.callbacks.nan_guard import NanGuard, NonFiniteLossError
from seqexp.callbacks.preemption import SaveOnSigterm

__all__ = ["FigureLogger", "NanGuard", "NonFiniteLossError", "SaveOnSigterm"]
