"""A stop asked by the person (Ctrl-C, ``kill``), remembered beyond the exception.

The command line turns SIGINT and SIGTERM into ``KeyboardInterrupt``, which unwinds a
build to a clean state. But a library can swallow that exception: ONNX Runtime's
import catches one raised inside it and reports ``ImportError("import numpy
failed")``, which reads as "not installed" and would let the build go on with PyTorch.
So the request is kept here as well, and checked again where a build moves on.
"""

from __future__ import annotations

import threading

_requested = threading.Event()


def request() -> None:
    """Remember that the person asked to stop (called from the signal handler)."""
    _requested.set()


def clear() -> None:
    """Forget an earlier request: a new command starts."""
    _requested.clear()


def requested() -> bool:
    """Whether a stop was asked (the app is shutting down, or the person pressed Ctrl-C)."""
    return _requested.is_set()


def raise_if_requested() -> None:
    """Raise ``KeyboardInterrupt`` if a stop was asked, even one a library swallowed."""
    if _requested.is_set():
        raise KeyboardInterrupt
