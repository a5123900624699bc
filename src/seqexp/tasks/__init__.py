"""One LightningModule per task, over the shared :class:`SequenceTask` base."""

from seqexp.tasks.base import SequenceTask
from seqexp.tasks.regression import RegressionTask

__all__ = ["RegressionTask", "SequenceTask"]
