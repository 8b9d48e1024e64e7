"""The process's memory allocator: keep freed memory for the next minibatch instead of handing it
back to the kernel and faulting it in again.

PyTorch's CPU tensors come from glibc's ``malloc``. A block above glibc's mmap threshold (at most
32 MiB) is a fresh ``mmap`` on every allocation and is unmapped when freed, so each training step
of C1 at B = 256 (activations of 64 MiB per layer) faults in its pages again: about 120,000 page
faults a step, each a zeroed 4 KiB page from the kernel (``benchmarks/bench_c1.py`` measures it).
:func:`keep_freed_memory` sets glibc's ``M_MMAP_MAX`` to 0 (every block from the heap) and
``M_TRIM_THRESHOLD`` to "never", so the heap keeps its peak and every later step reuses its pages,
as jemalloc or tcmalloc (which PyTorch's CPU tuning guide recommends) would.

A pure performance setting: where an allocation lives changes no arithmetic (tests/test_memory.py
trains F1 and C1 both ways and compares the weights bit for bit), so it is in no run's key. The
price is that the process keeps its peak memory until :func:`release`. It is set once, at the entry
points that compute (the command line, Dask workers); on a C library other than glibc it does
nothing. The same as the environment variable
``GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=<huge>`` set before start-up.
"""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import functools
import platform
import threading

# mallopt(3) parameters (malloc.h) and glibc's defaults for them
M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
DEFAULT_TRIM_THRESHOLD, DEFAULT_MMAP_MAX = 128 * 1024, 65536
NEVER = -1  # M_TRIM_THRESHOLD takes a size_t: -1 converts to SIZE_MAX, a top chunk never that large

_lock = threading.Lock()
_state = {"kept": False}


@functools.lru_cache(maxsize=1)
def _libc():
    """glibc's handle, or None (musl, macOS, Windows: nothing to set)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt.argtypes, libc.mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        return libc
    except (OSError, AttributeError):
        return None


def keep_freed_memory() -> bool:
    """Every block from the heap and the heap never trimmed (process-wide, idempotent); returns
    whether it is in effect (False where the C library is not glibc)."""
    libc = _libc()
    if libc is None:
        return False
    with _lock:
        if not _state["kept"]:
            ok = libc.mallopt(M_MMAP_MAX, 0) == 1 and libc.mallopt(M_TRIM_THRESHOLD, NEVER) == 1
            _state["kept"] = ok
        return _state["kept"]


def release() -> None:
    """glibc's default limits again, and the free memory handed back to the kernel. (glibc's
    dynamic mmap threshold stays where it had grown to, as after any ``mallopt`` call.)"""
    libc = _libc()
    if libc is None:
        return
    with _lock:
        libc.mallopt(M_MMAP_MAX, DEFAULT_MMAP_MAX)
        libc.mallopt(M_TRIM_THRESHOLD, DEFAULT_TRIM_THRESHOLD)
        libc.malloc_trim(0)
        _state["kept"] = False


def is_kept() -> bool:
    return _state["kept"]


@contextlib.contextmanager
def kept(enabled: bool = True):
    """Freed memory kept (``enabled``) or glibc's defaults inside the block, the previous setting
    restored after it: for benchmarks and tests that compare both."""
    before = is_kept()
    if enabled:
        keep_freed_memory()
    else:
        release()
    try:
        yield is_kept()
    finally:
        if before:
            keep_freed_memory()
        else:
            release()
