"""What the index needs from an embedding model, whichever runs it.

``Embedder`` is the protocol both encoders meet (``torch_encoder``: PyTorch;
``onnx_encoder``: ONNX Runtime); ``qa.index.encoders`` chooses one. ``ModelLock`` is the
one lock around a model: each encoder takes it in every call, because the model's
tokenizer is not thread-safe, so any number of threads (the web app's handlers, its
batcher, the MCP tools) may share one model, one call at a time, and a long document
embedded in slices lets questions in between.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Protocol

import numpy as np


class ModelError(RuntimeError):
    """The embedding model cannot be found, verified or loaded; the message says why."""


class Embedder(Protocol):
    """What the index needs from an embedding model.

    Queries and passages go through separate methods because some models encode
    them differently (prompts); both return float32 rows of unit length.
    """

    @property
    def name(self) -> str: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray: ...


class ModelLock:
    """The lock each encoder holds while its model runs (reentrant: an encoder that
    falls back to another may call it under the lock)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def __enter__(self) -> None:
        self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()
