"""Documents a person adds in the web app, kept per session, in memory only.

Each browser session gets an id (``SessionStore.create``); its documents live in this
process's memory under that id, are searched only for that id, and are never written
anywhere: not to the shared index cache, not to disk. A session is dropped when the
app says it ended (``close``), after ``Limits.idle_minutes`` without use, or, when the
process's resident memory (measured, ``qa.memory``) would pass ``Limits.max_rss_mb``
with a new document, oldest idle first to make room. Documents are added one at a
time across all sessions, so the memory one takes while it is embedded is counted once.

The bundled corpus is never embedded again: a person's document is its own small
index, and a question searches the bundled index, theirs, or both
(``Retriever.combine``), with every hit naming its document in ``Hit.source``.

    >>> store = SessionStore(qa.Retriever.from_corpus("corpus"))
    >>> sid = store.create()
    >>> store.add_text(sid, "Bakery news\\nThe bakery sells forty kinds of bread.")
    >>> store.ask(sid, "How many kinds of bread?", scope="mine").passages[0].source
    'Pasted text 1'

Every refusal is a ``DocumentError`` whose message a person can act on. The store is
thread-safe; the model serialises its own calls (``qa.index.embedder.ModelLock``), and a
document is embedded one slice at a time, so a long upload does not hold up everyone
else's questions. With ``batched=True`` the questions that need the bundled
corpus alone (scope "bundled", or a session with no document of its own) are answered
together, one model call for all those waiting (``qa.serve.batching``): what a server with
many visitors wants.
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from qa import memory
from qa.ingest.corpus import BoilerplateRules
from qa.ingest.extraction import DocumentError, extract
from qa.ingest.fetching import fetch_document
from qa.limits import Progress, check_scope
from qa.retriever import Retriever
from qa.serve.batching import Batcher
from qa.serve.documents import (
    DocumentInfo,
    Limits,
    check_file_size,
    check_passages,
    check_room,
    embed_document,
    expected_bytes,
    free_name,
    memory_estimate,
    shown_name,
    tell,
)
from qa.types import Answer, Hit

log = logging.getLogger(__name__)

# Sessions whose end is remembered, to tell a person why their documents are gone.
_REMEMBERED = 10_000


@dataclass
class _Session:
    documents: dict[str, tuple[DocumentInfo, Retriever]] = field(default_factory=dict)
    last_used: float = 0.0
    pasted: int = 0  # how many texts were pasted, to name the next one
    lock: threading.Lock = field(default_factory=threading.Lock)  # one add at a time
    combined: dict[str, Retriever] = field(default_factory=dict)  # by scope, until a change

    def memory(self) -> int:
        return sum(info.memory_bytes for info, _ in self.documents.values())


class SessionStore:
    """Every session's own documents, and questions asked over them.

    ``base`` is the bundled corpus's retriever, loaded once and shared. Use one
    store per process (``ask(..., scope="bundled")`` serves the bundled corpus alone).
    ``limits`` default to ``Limits.from_environment()`` (``QA_MAX_RSS_MB``).
    ``batched``: questions over the bundled corpus alone are
    answered in batches by one worker thread (``batcher``), each caller its own
    answer, the same answer it gets unbatched. ``resident`` reads the process's
    resident memory in bytes, which the budget counts (tests pass their own).
    """

    def __init__(
        self,
        base: Retriever,
        limits: Limits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        batched: bool = False,
        resident: Callable[[], int | None] = memory.resident_bytes,
    ):
        self.limits = limits or Limits.from_environment()
        self._resident = resident
        self._baseline = resident() or 0  # for the estimate where RSS cannot be read
        self._adding = threading.Lock()  # one document embedded at a time, all sessions
        self._embedder = base.embedder  # it serialises its own calls (ModelLock)
        self._base = base
        self.batcher = Batcher(self._base) if batched else None
        self._rules = BoilerplateRules.load()
        self._clock = clock
        self._lock = threading.RLock()  # guards the fields below
        self._sessions: OrderedDict[str, _Session] = OrderedDict()  # least recently used first
        self._ended: OrderedDict[str, str] = OrderedDict()  # id -> why its documents went

    # ---- Sessions ---------------------------------------------------------------

    def create(self, session_id: str | None = None) -> str:
        """A new, empty session; its id (random unless given, e.g. Gradio's session hash)."""
        session_id = session_id or secrets.token_urlsafe(16)
        with self._lock:
            self._sweep()
            self._session(session_id)
        return session_id

    def close(self, session_id: str) -> None:
        """Drop a session and its documents (the browser tab was closed, or lost its
        connection: a phone may do that to a tab in the background, so the next
        question from it is told why its documents are gone)."""
        with self._lock:
            session = self._sessions.pop(session_id, None)
            if session is not None and session.documents:
                self._remember(session_id, "the page was closed or lost its connection")

    def sweep(self) -> int:
        """Drop sessions idle longer than ``Limits.idle_minutes``; how many went."""
        with self._lock:
            return self._sweep()

    def documents(self, session_id: str) -> list[DocumentInfo]:
        """The session's documents, in the order they were added."""
        with self._lock:
            session = self._existing(session_id)
            return [] if session is None else [info for info, _ in session.documents.values()]

    def memory_bytes(self) -> int:
        """What all sessions' documents hold, by ``DocumentInfo.memory_bytes``."""
        with self._lock:
            return sum(s.memory() for s in self._sessions.values())

    def resident_bytes(self) -> int:
        """The process's resident memory, which the budget counts; where it cannot be
        read, the memory at start plus every document's estimate."""
        measured = self._resident()
        return measured if measured is not None else self._baseline + self.memory_bytes()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    # ---- Adding and removing documents ------------------------------------------

    def add_file(
        self,
        session_id: str,
        path: str | os.PathLike[str],
        name: str | None = None,
        progress: Progress | None = None,
    ) -> DocumentInfo:
        """Read, cut and embed the file at ``path`` into the session (``name`` is what
        the person called it: Gradio passes a temporary path)."""
        path = Path(path)
        shown = shown_name(name or path.name)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise DocumentError(f"{shown} could not be read ({exc.strerror}).") from None
        check_file_size(self.limits, shown, size)
        with path.open("rb") as handle:
            data = handle.read(int(self.limits.max_file_mb * 1_000_000) + 1)
        return self.add_bytes(session_id, data, shown, progress)

    def add_bytes(
        self, session_id: str, data: bytes, name: str, progress: Progress | None = None
    ) -> DocumentInfo:
        """The same as ``add_file`` for a file's content already in memory."""
        name = shown_name(name)
        check_file_size(self.limits, name, len(data))
        tell(progress, 0.0, f"Reading {name}")
        began = time.perf_counter()
        extracted = extract(data, name)
        return self._add(
            session_id, extracted.text, name, extracted.kind, began, progress, note=extracted.note
        )

    def add_url(self, session_id: str, url: str, progress: Progress | None = None) -> DocumentInfo:
        """Fetch the article at ``url`` and add it (``qa.ingest.fetching``: http and https only,
        at most ``Limits.max_file_mb``, no private or local address unless
        ``QA_ALLOW_PRIVATE_URLS=1``); a ``FetchError``, a ``DocumentError``, says why not."""
        began = time.perf_counter()
        tell(progress, 0.0, f"Fetching {url[:200]}")
        fetched = fetch_document(url, max_bytes=int(self.limits.max_file_mb * 1_000_000))
        name = shown_name(fetched.name)
        return self._add(
            session_id, fetched.text, name, fetched.kind, began, progress, url=fetched.final_url
        )

    def add_text(
        self,
        session_id: str,
        text: str,
        name: str | None = None,
        progress: Progress | None = None,
    ) -> DocumentInfo:
        """Add pasted text (its first line is its title); named "Pasted text N"
        unless ``name`` is given."""
        if not isinstance(text, str) or not text.strip():
            raise DocumentError("The pasted text is empty: paste the article's text first.")
        began = time.perf_counter()
        named = None if name is None else shown_name(name)
        return self._add(session_id, text, named, "pasted", began, progress)

    def remove(self, session_id: str, name: str) -> None:
        """Remove one document from the session; ``KeyError`` if it has none of that name."""
        with self._lock:
            session = self._session(session_id)
            if name not in session.documents:
                raise KeyError(f"no document named {name!r} in this session")
            del session.documents[name]
            session.combined.clear()

    def _add(
        self,
        session_id: str,
        text: str,
        name: str | None,
        kind: str,
        began: float,
        progress: Progress | None,
        *,
        note: str = "",
        url: str = "",
    ) -> DocumentInfo:
        """Add ``text`` as a document of ``kind`` named ``name`` (or "Pasted text N")
        to the session, within the limits; ``began`` is when reading it started."""
        limits = self.limits
        if len(text) > limits.max_document_chars:
            raise DocumentError(
                f"{name or 'The pasted text'} holds {len(text):,} characters of text; a "
                "document may hold up to "
                f"{limits.max_document_chars:,} (about {limits.max_document_chars // 6:,} "
                "words). Add the part you want to ask about."
            )
        with self._lock:
            session = self._session(session_id)
        with session.lock:  # one document at a time per session: limits stay exact
            with self._lock:
                pasted = name is None
                taken = set(session.documents) | set(self._base.documents)
                name = free_name(taken, name or f"Pasted text {session.pasted + 1}")
                held = [len(r.documents[n].text) for n, (_, r) in session.documents.items()]
                check_room(self.limits, held, name, len(text))
            if not self._adding.acquire(blocking=False):
                tell(progress, 0.02, f"Waiting for another visitor's document before {name}")
                self._adding.acquire()
            try:
                with self._lock:
                    self._make_room(session_id, expected_bytes(len(text)), name)
                retriever, document = embed_document(
                    text, name, self._rules, self._embedder, progress
                )
                passages = len(retriever.passages)
                info = DocumentInfo(
                    name=name,
                    title=document.title,
                    kind=kind,
                    words=len(text.split()),
                    passages=passages,
                    memory_bytes=memory_estimate(retriever, text),
                    seconds=round(time.perf_counter() - began, 3),
                    note=note,
                    url=url,
                )
                with self._lock:
                    held_passages = [i.passages for i, _ in session.documents.values()]
                    check_passages(self.limits, held_passages, name, passages)
                    session = self._session(session_id)  # it may have been swept meanwhile
                    session.documents[name] = (info, retriever)
                    session.pasted += pasted
                    session.combined.clear()
            finally:
                memory.release()  # what embedding took and freed goes back to the system
                self._adding.release()
        tell(progress, 1.0, f"{name} is ready: {passages} passages")
        log.info("Session document added: %d passages in %.2f s", passages, info.seconds)
        return info

    # ---- Questions ----------------------------------------------------------------

    def retriever(self, session_id: str, scope: str = "both") -> Retriever:
        """The retriever a question of this session uses for ``scope``:
        "bundled" (the bundled corpus), "mine" (the session's documents) or "both"."""
        scope = check_scope(scope)
        if scope == "bundled":
            return self._base
        with self._lock:
            # A question only reads: it never makes a session (anonymous API calls would
            # otherwise fill the store and push out sessions that hold documents).
            session = self._existing(session_id)
            if session is None or not session.documents:
                if scope == "mine":
                    raise DocumentError(
                        "You have not added a document yet: paste a text or upload a file, "
                        "or ask the bundled article."
                    )
                return self._base
            if scope not in session.combined:
                mine = [r for _, r in session.documents.values()]
                parts = mine if scope == "mine" else [self._base, *mine]
                session.combined[scope] = Retriever.combine(parts)
            return session.combined[scope]

    def ask(
        self,
        session_id: str,
        question: str,
        k: int = 3,
        history: Sequence[str] = (),
        scope: str = "both",
    ) -> Answer:
        """``Retriever.ask`` over the session's ``scope``. A session whose documents
        are gone (idle too long) gets an answer that says so."""
        notice = self._notice(session_id) if scope != "bundled" else None
        if notice is not None:
            return Answer(question, False, (), notice, read_as=question)
        if self.batcher is not None and self._bundled_only(session_id, scope):
            return self.batcher.ask(question, k, history)
        try:
            retriever = self.retriever(session_id, scope)
        except DocumentError as exc:
            return Answer(question, False, (), str(exc), read_as=question)
        return retriever.ask(question, k, history)

    def search(
        self,
        session_id: str,
        question: str,
        k: int = 3,
        history: Sequence[str] = (),
        scope: str = "both",
    ) -> list[Hit]:
        """``Retriever.search`` over the session's ``scope``."""
        if self.batcher is not None and self._bundled_only(session_id, scope):
            return self.batcher.search(question, k, history)
        return self.retriever(session_id, scope).search(question, k, history)

    def _bundled_only(self, session_id: str, scope: str) -> bool:
        """Whether a question of this session and ``scope`` searches the bundled corpus
        alone: the same answer as over "both" when the session has no document."""
        if check_scope(scope) == "bundled":
            return True
        with self._lock:  # a question only reads: it never makes a session
            session = self._existing(session_id)
            return scope == "both" and (session is None or not session.documents)

    # ---- Inside ---------------------------------------------------------------------

    def _existing(self, session_id: str) -> _Session | None:
        """The session if it exists, marked as used now; None else. Call with ``_lock``."""
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(f"session id must be a non-empty string, got {session_id!r}")
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions.move_to_end(session_id)
            session.last_used = self._clock()
        return session

    def _session(self, session_id: str) -> _Session:
        """The session (made if new), marked as used now. Call with ``_lock`` held."""
        if not isinstance(session_id, str) or not session_id:
            raise ValueError(f"session id must be a non-empty string, got {session_id!r}")
        session = self._sessions.get(session_id)
        if session is None:
            while len(self._sessions) >= self.limits.max_sessions:
                # Empty sessions go first, oldest first; then the oldest of all.
                empty = next((k for k, v in self._sessions.items() if not v.documents), None)
                old = empty if empty is not None else next(iter(self._sessions))
                if self._sessions.pop(old).documents:
                    self._remember(old, "the server had too many open sessions")
            session = self._sessions[session_id] = _Session()
        self._sessions.move_to_end(session_id)
        session.last_used = self._clock()
        return session

    def _sweep(self) -> int:
        cutoff = self._clock() - 60 * self.limits.idle_minutes
        idle = [sid for sid, s in self._sessions.items() if s.last_used < cutoff]
        for sid in idle:
            if self._sessions.pop(sid).documents:
                self._remember(sid, f"no question for {self.limits.idle_minutes:g} minutes")
        return len(idle)

    def _remember(self, session_id: str, why: str) -> None:
        self._ended[session_id] = why
        while len(self._ended) > _REMEMBERED:
            self._ended.popitem(last=False)

    def _notice(self, session_id: str) -> str | None:
        with self._lock:
            self._sweep()
            why = self._ended.pop(session_id, None)
        if why is None:
            return None
        return (
            f"Your documents were removed from the server ({why}). "
            "Add them again to ask about them."
        )

    def _make_room(self, session_id: str, needed: int, name: str) -> None:
        """Before a document is added: drop the sessions idle longest until the process's
        resident memory plus ``needed`` fits ``Limits.max_rss_mb``; refuse when only
        active sessions are left. Call with ``_lock`` held."""
        budget = int(self.limits.max_rss_mb * 1_000_000)
        if self.resident_bytes() + needed <= budget:
            return
        cutoff = self._clock() - self.limits.evict_after_idle_seconds
        for sid in [sid for sid, s in self._sessions.items() if sid != session_id]:
            session = self._sessions[sid]
            if session.last_used > cutoff or not session.documents:
                continue
            del self._sessions[sid]
            del session
            self._remember(sid, "the server needed the memory for other visitors")
            memory.release(collect=True)
            log.info("Evicted an idle session to make room for a new document.")
            if self.resident_bytes() + needed <= budget:
                return
        log.info(
            "Refused a document: %d MB resident, %d MB budget.",
            self.resident_bytes() // 1_000_000,
            budget // 1_000_000,
        )
        raise DocumentError(
            f"The server is holding as many documents as it can right now, so {name} was "
            "not added. Try again in a few minutes, or ask the bundled article."
        )
