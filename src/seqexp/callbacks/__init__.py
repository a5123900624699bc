"""Callbacks that seqexp adds to Lightning's own."""

from seqexp.callbacks.figures import FigureLogger

__all__ = ["FigureLogger"]
