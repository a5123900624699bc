"""Hand the memory a finished phase freed back to the operating system.

glibc's malloc keeps what a process frees for reuse, and after large arrays come and go (an evaluation's
per-point series and metrics over millions of points), much of it stays resident, scattered between live
blocks: the next phase's peak then comes on top of the last one's. ``malloc_trim(0)`` returns every free
page. Elsewhere (another C library, another system) this does nothing.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    try:
        return ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None


def release_freed_memory() -> None:
    """Return freed heap memory to the system (glibc), after a phase that allocated O(points) arrays."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
