"""Hand the memory that large arrays held back to the operating system when they are freed.

glibc's malloc keeps what a process frees for reuse. Blocks of ``M_MMAP_THRESHOLD`` bytes and more get pages of
their own, returned at once when freed; but glibc raises that threshold to the size of the largest such block
freed so far (up to 32 MiB), so after the first few per-point arrays of a long series (an evaluation's sums,
scores and sorts over millions of points) the next ones come from the heap, and what they free stays resident
between live blocks: a phase's peak then comes on top of what earlier phases left there, and depends on how
they left it. ``map_large_allocations`` fixes the threshold; ``malloc_trim(0)`` returns every free page of the
heap. Elsewhere (another C library, another system) both do nothing.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
LARGE_ALLOCATION = 4 << 20  # bytes: a default model's per-batch buffers stay below (an LSTM's are under 2 MiB)


@functools.cache
def _libc(name: str) -> Callable[..., int] | None:
    try:
        return getattr(ctypes.CDLL("libc.so.6"), name)
    except (OSError, AttributeError):  # not glibc
        return None


def release_freed_memory() -> None:
    """Return freed heap memory to the system (glibc), after a phase that allocated O(points) arrays."""
    trim = _libc("malloc_trim")
    if trim is not None:
        trim(0)


def map_large_allocations(threshold: int = LARGE_ALLOCATION) -> None:
    """Give every allocation of ``threshold`` bytes or more pages of its own from now on, handed back to the system
    when it is freed, whatever was freed before (glibc stops raising the threshold once it is set). Smaller ones,
    such as a batch's tensors, come from the heap and are reused as before."""
    mallopt = _libc("mallopt")
    if mallopt is not None:
        mallopt(M_MMAP_THRESHOLD, threshold)
