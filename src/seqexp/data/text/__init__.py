"""Labelled texts classified from padded token ids (``data=text``, ``data=text_csv``)."""

from seqexp.data.text.datamodule import TextDataModule

__all__ = ["TextDataModule"]
