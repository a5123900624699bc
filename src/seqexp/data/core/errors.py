"""The error a data module raises for a user's bad input (file, column, key): shown without a traceback."""

from __future__ import annotations


class DataError(ValueError):
    """Bad data or a bad data setting; the message names the file and line, or the ``data.*`` key."""
