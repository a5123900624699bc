"""seqexp.allocator: freed heap memory goes back to the system between phases (glibc keeps it otherwise)."""

from __future__ import annotations

import subprocess
import sys

import pytest

FRAGMENTED_HEAP = """
import ctypes
from seqexp.allocator import release_freed_memory

def resident():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS"))

libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype, libc.free.argtypes = ctypes.c_void_p, [ctypes.c_void_p]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
size = 64 * 1024  # below malloc's mmap threshold: on the heap
blocks = [libc.malloc(size) for _ in range(512)]  # 32 MB
for block in blocks:
    libc.memset(block, 1, size)  # resident
for block in blocks[:-1]:
    libc.free(block)  # the last block stays: the freed ones lie below it, where free() never shrinks the heap
freed_by_free = resident()
release_freed_memory()
print((freed_by_free - resident()) / 2**20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_heap_memory_freed_below_a_live_block_is_returned() -> None:
    result = subprocess.run([sys.executable, "-c", FRAGMENTED_HEAP], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout) > 24, f"{float(result.stdout):.1f} MB returned of the 32 MB freed"
