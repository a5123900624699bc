"""Real time series forecast window by window (``data=series``): built-in series or the user's file."""

from seqexp.data.series.datamodule import SeriesDataModule

__all__ = ["SeriesDataModule"]
