"""Module-level shortcuts over the default corpus, for scripts and notebooks."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from qa.retriever import Retriever, default_corpus
from qa.types import Answer, Hit

_default: Retriever | None = None
_lock = threading.Lock()


def default_retriever() -> Retriever:
    """The retriever over ``default_corpus()`` (``QA_CORPUS``, ``./corpus``, else the
    bundled article), built once per process."""
    global _default
    with _lock:
        if _default is None:
            _default = Retriever.from_corpus(default_corpus())
        return _default


def search(question: str, k: int = 3, history: Sequence[str] = ()) -> list[Hit]:
    """``Retriever.search`` over the default corpus (``history``: earlier questions)."""
    return default_retriever().search(question, k, history)


def ask(question: str, k: int = 3, history: Sequence[str] = ()) -> Answer:
    """``Retriever.ask`` over the default corpus (``history``: earlier questions)."""
    return default_retriever().ask(question, k, history)
