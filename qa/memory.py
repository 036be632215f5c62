"""The process's real memory: what the web app's budget for visitors' documents counts,
and freed memory given back (after the encoders embed a document, and after a session
is dropped).

An estimate of what a document holds (its vectors, text and records) missed what
really grew: ONNX Runtime's memory arena kept the largest batch's buffers, and the C
allocator kept freed memory, so one large document took the app from 962 to 1,882 MB
while the estimate said 6 MB. ``resident_bytes`` reads what the operating system
counts (Linux's /proc; elsewhere None, and the caller falls back to its estimates),
and ``release`` hands freed memory back to it, so a budget on the first sees the
second work.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import gc
import os
from collections.abc import Callable
from functools import cache

_STATM = "/proc/self/statm"


def resident_bytes() -> int | None:
    """This process's resident memory (RSS) in bytes, or None where it cannot be read."""
    try:
        with open(_STATM, encoding="ascii") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def release(collect: bool = False) -> None:
    """Give freed memory back to the operating system: glibc keeps what Python and the
    libraries free for later use, and RSS never falls otherwise. ``collect`` runs the
    garbage collector first (after dropping objects that may form cycles)."""
    if collect:
        gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None on other C libraries (macOS, Windows, musl)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    with contextlib.suppress(OSError, AttributeError):
        function = ctypes.CDLL(name).malloc_trim
        function.argtypes = [ctypes.c_size_t]
        function.restype = ctypes.c_int
        return function  # type: ignore[no-any-return]
    return None
