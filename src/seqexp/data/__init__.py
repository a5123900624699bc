"""DataModules, one module per data family. Each declares a :class:`DataSpec` for the task."""

from seqexp.data.spec import DataSpec

__all__ = ["DataSpec"]
