"""UCR/UEA time series classification from the archive's ``.ts`` files (``data=ucr``)."""

from seqexp.data.ucr.datamodule import UCRDataModule

__all__ = ["UCRDataModule"]
