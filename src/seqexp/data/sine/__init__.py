"""Sine/cos series generated in memory (``data=sine``)."""

from seqexp.data.sine.datamodule import SineDataModule

__all__ = ["SineDataModule"]
