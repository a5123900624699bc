"""Callbacks that seqexp adds to Lightning's own."""

from seqexp.callbacks.baselines import Baselines
from seqexp.callbacks.figures import FigureLogger
from seqexp.callbacks.guards import RunGuards
from seqexp.callbacks.interrupt import ResumeHint
from seqexp.callbacks.last_checkpoint import LastCheckpoint
from seqexp.callbacks.monitor_check import MonitoredMetricCheck
from seqexp.callbacks.nan_guard import NanGuard, NonFiniteLossError
from seqexp.callbacks.preemption import SaveOnSigterm, StopOnSigterm
from seqexp.callbacks.progress_bar import ProgressBar
from seqexp.callbacks.pruning import OptunaPruning
from seqexp.callbacks.rng_state import RngState
from seqexp.callbacks.validation_history import ValidationHistory

__all__ = [
    "Baselines",
    "FigureLogger",
    "LastCheckpoint",
    "MonitoredMetricCheck",
    "NanGuard",
    "NonFiniteLossError",
    "OptunaPruning",
    "ProgressBar",
    "ResumeHint",
    "RngState",
    "RunGuards",
    "SaveOnSigterm",
    "StopOnSigterm",
    "ValidationHistory",
]
