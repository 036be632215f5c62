"""A visitor's document in the web app: its record, the limits it must fit, its name as
shown, and what it holds in memory.

The limits and their reasons are in docs/documents.md; ``qa.serve.sessions`` checks them
before any work on a document starts.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

from qa import stopping
from qa.index.embedder import Embedder
from qa.ingest.corpus import BoilerplateRules, CorpusError, documents_from_texts
from qa.ingest.extraction import DocumentError
from qa.limits import Progress
from qa.retriever import Retriever
from qa.types import Document

log = logging.getLogger(__name__)

# Memory of one passage besides its vectors and text (see memory_estimate).
PASSAGE_OVERHEAD_BYTES = 4_500
# What a document of N characters adds to the process once embedded (about 6 MB for
# 150,000 characters), and what embedding it takes for a moment on top (30-42 MB for any
# size: batches are bounded by tokens), both measured by bench/session_memory.py and
# bench/add_document.py. The budget makes room for both, so the peak stays under it.
EXPECTED_BYTES_PER_CHAR = 40
EMBEDDING_PEAK_BYTES = 48_000_000


def expected_bytes(chars: int) -> int:
    """The memory a document of ``chars`` characters needs while it is added."""
    return EMBEDDING_PEAK_BYTES + chars * EXPECTED_BYTES_PER_CHAR


# Control characters, folder separators and the bidirectional controls that make a name
# read otherwise than it is ("report\u202etxt.exe" shows as "reportexe.txt").
_NAME_UNSAFE = re.compile(r"[\x00-\x1f\x7f/\\\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]+")


@dataclass(frozen=True)
class Limits:
    """What one session and all sessions together may hold (the reasons are in
    docs/documents.md). Sizes are checked before any work on a document starts."""

    max_file_mb: float = 10.0  # one uploaded file
    max_document_chars: int = 200_000  # the text of one document: ~33,000 words
    max_documents: int = 20  # documents per session
    max_session_chars: int = 500_000  # text of all of a session's documents
    max_session_passages: int = 2_500  # passages of all of a session's documents
    max_rss_mb: float = 1536.0  # the process's resident memory a new document must fit in
    idle_minutes: float = 60.0  # a session unused this long is dropped
    evict_after_idle_seconds: float = 120.0  # only sessions idle this long make room
    max_sessions: int = 10_000  # open sessions (an empty one costs about a kilobyte)

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not value > 0:
                raise ValueError(f"Limits.{name} must be > 0, got {value!r}")

    @classmethod
    def from_environment(cls) -> Limits:
        """The defaults, with ``QA_MAX_RSS_MB`` (the memory bound of a server) if set."""
        text = os.environ.get("QA_MAX_RSS_MB", "").strip()
        if not text:
            return cls()
        try:
            return cls(max_rss_mb=float(text))
        except ValueError:
            raise ValueError(
                f"QA_MAX_RSS_MB must be a number of megabytes > 0, got {text!r}"
            ) from None


@dataclass(frozen=True)
class DocumentInfo:
    """One document of a session, as the app lists it."""

    name: str  # its source: what every hit from it says
    title: str
    kind: str  # "text", "markdown", "html", "pdf" or "pasted"
    words: int
    passages: int
    memory_bytes: int  # an estimate of what it holds in memory (the budget counts RSS)
    seconds: float  # time to read, cut and embed it (and fetch it, for a link)
    note: str = ""  # e.g. "notes.txt holds a PDF, not plain text: read as pdf."
    url: str = ""  # for a document added by its link: the page read, after redirects


def check_file_size(limits: Limits, name: str, size: int) -> None:
    """``DocumentError`` when a file of ``size`` bytes is over ``limits.max_file_mb``."""
    limit = limits.max_file_mb
    if size > limit * 1_000_000:
        raise DocumentError(
            f"{name} is {size / 1_000_000:.1f} MB; qa takes files of up to {limit:g} MB. "
            "Split it, or paste the part you want to ask about."
        )


def memory_estimate(retriever: Retriever, text: str) -> int:
    """Bytes a document holds: its vectors (each passage, and each sentence of a
    passage of several), its text (in the document, the passages and BM25's tokens:
    about three copies) and the objects of each passage (its record, spans, BM25
    postings). Calibrated with tracemalloc by bench/add_document.py: 2.5 MB for a
    10,000-word article, which this puts at 2.5 MB."""
    passages = retriever.passages
    rows = len(passages) + sum(len(p.sentences) for p in passages if len(p.sentences) > 1)
    vectors = rows * retriever.embedder.dimension * 4
    return vectors + 3 * len(text.encode()) + PASSAGE_OVERHEAD_BYTES * len(passages)


def shown_name(name: str) -> str:
    """A file name as shown: no folders, no control characters, at most 120 characters."""
    base = _NAME_UNSAFE.sub(" ", str(name).replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return (base or "document")[:120]


def free_name(taken: set[str], name: str) -> str:
    """``name``, or "name (2)" ... when a document of the session or the bundled corpus
    (``taken``) has it."""
    if name not in taken:
        return name
    stem, dot, suffix = name.rpartition(".")
    stem, suffix = (stem, f".{suffix}") if dot and stem else (name, "")
    number = 2
    while f"{stem} ({number}){suffix}" in taken:
        number += 1
    return f"{stem} ({number}){suffix}"


def check_room(limits: Limits, held: list[int], name: str, chars: int) -> None:
    """``DocumentError`` when a session holding documents of ``held`` characters has no
    room for one more of ``chars``."""
    if len(held) >= limits.max_documents:
        raise DocumentError(
            f"This session already holds {len(held)} documents, the most it can. Remove "
            f"one (under Your own articles) before adding {name}."
        )
    if sum(held) + chars > limits.max_session_chars:
        raise DocumentError(
            f"{name} would bring this session's text to {sum(held) + chars:,} characters; a "
            f"session holds up to {limits.max_session_chars:,}. Remove a document first "
            "(under Your own articles)."
        )


def check_passages(limits: Limits, held: list[int], name: str, passages: int) -> None:
    """``DocumentError`` when a session whose documents have ``held`` passages has no
    room for ``passages`` more."""
    if sum(held) + passages > limits.max_session_passages:
        raise DocumentError(
            f"{name} has {passages:,} passages and this session already "
            f"{sum(held):,}; a session holds up to {limits.max_session_passages:,}. "
            "Remove a document first (under Your own articles)."
        )


def embed_document(
    text: str,
    name: str,
    rules: BoilerplateRules,
    embedder: Embedder,
    progress: Progress | None = None,
) -> tuple[Retriever, Document]:
    """A visitor's document as its own small index: its text cut into passages and
    embedded, ``progress`` told as it goes. A server stopping meanwhile makes it a
    ``DocumentError`` that says so (the embedding stops at its next slice)."""
    tell(progress, 0.05, f"Cutting {name} into passages")
    log.info("Adding a session document: %d characters.", len(text))
    try:
        [document] = documents_from_texts({name: text}, rules)
    except CorpusError as exc:
        raise DocumentError(str(exc)) from None

    def embedded(done: int, total: int) -> None:
        tell(progress, 0.1 + 0.85 * done / max(total, 1), f"Embedding {name}")

    try:
        retriever = Retriever.from_texts([document], embedder=embedder, report=embedded)
    except KeyboardInterrupt:
        if not stopping.requested():
            raise
        raise DocumentError(
            f"The server is restarting, so {name} was not added. Add it again in a minute."
        ) from None
    return retriever, document


def tell(progress: Progress | None, fraction: float, message: str) -> None:
    """Report ``fraction`` done and what is happening, if anyone listens."""
    if progress is not None:
        progress(fraction, message)
