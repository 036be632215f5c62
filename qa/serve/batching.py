"""Serving many callers at once: questions that arrive together share one model call.

A web server answers each request on a thread of its own. ``Batcher`` lets those
threads call ``search`` and ``ask`` as if each were alone, while one worker thread
does every call to the retriever: it takes every question waiting when it is free
(up to ``max_batch``) and answers them with one ``Retriever.search_batch`` or
``ask_batch``, one forward pass of the model and one call to the vector store for all.
Nothing waits on purpose: a lone question is answered at once, and questions queue
only while the model is busy with the ones before, which is exactly when batching
them pays. Each caller gets its own answer (a future per question), never another's.

>>> batcher = Batcher(retriever)
>>> batcher.search("How many troops does the UN have in Mali?", k=3)   # from any thread
>>> batcher.ask("And France?", 3, ["How many troops does the UN have in Mali?"])
>>> batcher.close()

``SessionStore(..., batched=True)`` answers with one for every question that needs the
bundled corpus alone; that is how the app serves many people at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from qa.answer.search import read
from qa.retriever import Retriever
from qa.types import Answer, Document, Hit

log = logging.getLogger(__name__)

# Most questions answered by one call. The forward pass of 64 short questions takes a
# few times as long as one's on 2 cores, so larger batches only add latency.
MAX_BATCH = 64


def model_threads() -> int:
    """Threads for the model in a server: all cores but one, which the web server needs.

    With as many model threads as cores, the model's threads wait for each other
    whenever the server runs: on 2 shared cores a question took 4 times as long with
    2 threads as with 1 (docs/milvus.md, "Served throughput"). Set it before the model
    loads, e.g. ``os.environ.setdefault("OMP_NUM_THREADS", str(model_threads()))``.
    """
    return max(1, (os.cpu_count() or 2) - 1)


@dataclass
class _Request:
    kind: str  # "search" or "ask"
    question: str
    k: int
    history: Sequence[str]
    result: Future[Any] = field(default_factory=Future)


class Batcher:
    """Answers ``search`` and ``ask`` from many threads, in batches, on one worker thread.

    The retriever is only used by that thread, so callers need no lock around it (the
    model's tokenizer is not thread-safe); code that also calls the retriever directly
    shares ``lock`` with the batcher. ``stats`` counts calls and questions.
    """

    def __init__(
        self,
        retriever: Retriever,
        *,
        max_batch: int = MAX_BATCH,
        lock: threading.Lock | threading.RLock | None = None,
    ):
        if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 1:
            raise ValueError(f"max_batch must be a whole number >= 1, got {max_batch!r}")
        self.retriever = retriever
        self.max_batch = max_batch
        self.stats = {"batches": 0, "questions": 0, "largest": 0}
        # Held while answering a batch, for others that use the retriever directly.
        self._lock = lock or threading.Lock()
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="qa-batcher", daemon=True)
        self._worker.start()

    def search(self, question: str, k: int = 3, history: Sequence[str] = ()) -> list[Hit]:
        """``Retriever.search``, answered in a batch; raises its ``ValueError`` (empty
        question, bad ``k``) or ``TypeError`` (bad history) here, in the caller's
        thread, so one bad question never fails the others of its batch."""
        reading = read(question, k, history)
        return list(self._submit("search", question, reading.k, history))

    def ask(self, question: str, k: int = 3, history: Sequence[str] = ()) -> Answer:
        """``Retriever.ask``, answered in a batch (an empty question or a bad ``k``
        gets its own "not found" answer, as with ``ask``)."""
        # A bad history raises TypeError here, as ``ask`` would; an empty question is
        # answered by ``ask_batch`` with the reason.
        with contextlib.suppress(ValueError):
            read(question, k, history)
        result: Answer = self._submit("ask", question, k, history)
        return result

    @property
    def documents(self) -> dict[str, Document]:
        """The retriever's documents (read-only: safe from any thread)."""
        return self.retriever.documents

    def close(self) -> None:
        """Answer what is queued, then stop the worker."""
        if not self._closed:
            self._closed = True
            self._queue.put(None)
            self._worker.join(timeout=60)

    def _submit(self, kind: str, question: str, k: int, history: Sequence[str]) -> Any:
        if self._closed:
            raise RuntimeError("the batcher is closed")
        request = _Request(kind, question, k, list(history))
        self._queue.put(request)
        return request.result.result()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < self.max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._answer(batch)
            if stop:
                return

    def _answer(self, batch: list[_Request]) -> None:
        self.stats["batches"] += 1
        self.stats["questions"] += len(batch)
        self.stats["largest"] = max(self.stats["largest"], len(batch))
        for kind in ("search", "ask"):
            requests = [r for r in batch if r.kind == kind]
            if not requests:
                continue
            questions = [r.question for r in requests]
            ks = [r.k for r in requests]
            histories = [r.history for r in requests]
            try:
                with self._lock:
                    if kind == "search":
                        results: list[Any] = self.retriever.search_batch(questions, ks, histories)
                    else:
                        results = self.retriever.ask_batch(questions, ks, histories)
            except Exception as exc:  # the callers get it; the worker carries on
                log.exception("A batch of %d questions failed", len(requests))
                for request in requests:
                    request.result.set_exception(exc)
                continue
            for request, result in zip(requests, results, strict=True):
                request.result.set_result(result)
