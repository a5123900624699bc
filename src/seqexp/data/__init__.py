"""The data layer. ``core/`` holds the primitives every family shares (the contract and spec a DataModule
declares, table reading, splits, scaling, windows, loaders); each other package is one data family (``sine``,
``series``, ``text``, ``anomaly``, ``ucr``) and exports its DataModules, which ``conf/data/*.yaml`` name as
``_target_``. ``assets/`` holds the built-in data files. Primitives never import a family, and no family
imports another (the import contracts in pyproject.toml)."""

from seqexp.data.core.spec import DataSpec

__all__ = ["DataSpec"]
