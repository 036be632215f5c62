"""Building an index: chunk and embed documents, fill the vector store, and
keep the result in the cache (``qa.index.cache``) so the next start loads it.

``load_or_build`` is what ``Retriever.from_corpus`` calls: it loads the cached index
when it was built from exactly these documents, model and settings, and otherwise
builds it under a lock file and saves it. ``build_index`` builds in memory only, which
is all ``Retriever.from_texts`` and the per-session documents need. ``sync_milvus`` is
the same for an index held in a Milvus collection (``QA_VECTOR_STORE=milvus``): it
writes only the documents the collection lacks or holds in another version.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from qa import stopping
from qa.index.cache import (
    MANIFEST,
    BuildSpec,
    CacheError,
    EmbeddingCache,
    embeddings_folder,
    load_index,
    remove_stale_temp_files,
    save_engine_manifest,
    save_index,
)
from qa.index.embedder import Embedder
from qa.index.faiss_store import FaissStore
from qa.index.stores import BuiltIndex, choose_index
from qa.ingest.chunking import ChunkingConfig, chunk_document
from qa.types import Document, Passage

log = logging.getLogger(__name__)

# How a passage is presented to the embedding model; recorded in the manifest, so bump
# it on any change. Measured on qa/evaluation/sets/questions.jsonl, the bare passage ranks best on a
# one-article corpus: prefixing the title or heading pulls every passage towards the
# headline and costs hit@1 (0.83 -> 0.50 on an early 12-question probe).
EMBEDDING_INPUT = "text/1"
# Documents are embedded in groups of about this many texts, and each group's vectors
# are stored as soon as it is done: an interrupted build loses at most one group. A text
# that occurs more than once in a group (a sentence two passages share, a line many
# documents repeat) is embedded once.
EMBED_GROUP_TEXTS = 4096
# The model is given at most this many texts per call, so one long document is
# embedded in bounded slices too (the ONNX encoder returns a call's memory after it).
ENCODE_SLICE_TEXTS = 1024
# With a ``report`` callback, slices are this small so progress moves every second or so.
REPORT_GROUP_TEXTS = 128
# A build that embeds more texts than this shows a progress bar (on stderr).
PROGRESS_MIN_TEXTS = 1000
# Adding more vectors than this to the store shows a progress bar too.
ADD_PROGRESS_MIN = 100_000

# Called with (texts embedded so far, texts to embed) while a build embeds.
ProgressReport = Callable[[int, int], None]


def embedding_input(passage: Passage) -> str:
    """The text embedded for a passage (see ``EMBEDDING_INPUT``)."""
    return passage.text


def load_or_build(
    folder: Path,
    spec: BuildSpec,
    documents: Sequence[Document],
    embedder: Embedder,
    *,
    chunking: ChunkingConfig,
    index_kind: str,
    index_params: dict[str, Any] | None,
    rebuild: bool = False,
) -> tuple[BuiltIndex, bool]:
    """The index cached in ``folder`` if it was built from ``spec``, else a new build
    (saved there when the folder is writable). Returns it and whether it was loaded."""
    built = None if rebuild else _try_load(folder, spec)
    if built is not None:
        return built, True
    with _build_lock(folder):
        built = None if rebuild else _try_load(folder, spec, quiet=True)
        if built is not None:  # another process built it while we waited
            return built, True
        with contextlib.suppress(OSError):
            remove_stale_temp_files(folder)
        vectors = EmbeddingCache(embeddings_folder(folder), reuse=not rebuild)
        built = build_index(
            documents, embedder, chunking, index_kind, index_params, vector_cache=vectors
        )
        try:
            save_index(folder, spec, built)
        except OSError as exc:
            log.warning(
                "Could not write the index cache to %s (%s); serving from "
                "memory. Set QA_CACHE_DIR to a writable folder.",
                folder,
                exc,
            )
        else:
            with contextlib.suppress(OSError):
                vectors.prune()  # documents gone from the corpus
    return built, False


def build_index(
    documents: Sequence[Document],
    embedder: Embedder,
    chunking: ChunkingConfig,
    index_kind: str = "auto",
    index_params: dict[str, Any] | None = None,
    *,
    vector_cache: EmbeddingCache | None = None,
    progress: bool | None = None,
    report: ProgressReport | None = None,
) -> BuiltIndex:
    """Chunk and embed ``documents`` into a fresh in-memory index.

    Each document's vectors come from ``vector_cache`` when it holds them (same
    content, model, settings); the other documents are embedded in groups, each
    group stored as soon as it is done, so an interrupted build keeps its work and the
    next one resumes. ``progress`` shows a bar on stderr (default: for large builds);
    ``report`` is called with (texts embedded, texts to embed) after each small group.
    """
    vector_cache = vector_cache or EmbeddingCache(None)
    plans = [_DocumentPlan.of(d, chunking, embedder.fingerprint, vector_cache) for d in documents]
    todo = [p for p in plans if p.vectors is None and p.texts]
    groups = _embedding_groups(todo)
    distinct = sum(len(g.texts) for g in groups)
    log.info(
        "Embedding %d texts (passages and their sentences; %d repeats embedded once) from "
        "%d of %d documents; reusing the vectors of the other %d.",
        distinct,
        sum(len(p.texts) for p in todo) - distinct,
        len(todo),
        len(plans),
        len(plans) - len(todo),
    )
    _embed(groups, embedder, vector_cache, progress, report)
    known = [p.vectors for p in plans if p.vectors is not None]
    dimension = known[0].shape[1] if known else embedder.dimension
    passages = [p for plan in plans for p in plan.passages]
    empty = np.zeros((0, dimension), dtype=np.float32)
    vectors = np.concatenate(
        [empty] + [p.vectors[: len(p.passages)] for p in plans if p.vectors is not None]
    )
    sentence_vectors = np.concatenate(
        [empty] + [p.vectors[len(p.passages) :] for p in plans if p.vectors is not None]
    )
    counts = [len(p.sentences) if len(p.sentences) > 1 else 0 for p in passages]
    rows = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    choice = choose_index(len(passages), index_kind, index_params)
    log.info("Indexing %d passages: %s index (%s)", len(passages), choice.kind, choice.reason)
    store = FaissStore(dimension, choice.kind, **choice.params)
    _add_vectors(store, vectors, progress)
    return BuiltIndex(passages, store, sentence_vectors, rows, choice.reason)


def embed_documents(
    documents: Sequence[Document],
    embedder: Embedder,
    chunking: ChunkingConfig,
    vector_cache: EmbeddingCache,
    progress: bool | None = None,
) -> list[tuple[Document, list[Passage], np.ndarray]]:
    """Each document's passages and vectors (its passages', then the sentences' of its
    multi-sentence passages), embedding only what ``vector_cache`` lacks."""
    plans = [_DocumentPlan.of(d, chunking, embedder.fingerprint, vector_cache) for d in documents]
    todo = [p for p in plans if p.vectors is None and p.texts]
    _embed(_embedding_groups(todo), embedder, vector_cache, progress)
    empty = np.zeros((0, embedder.dimension), dtype=np.float32)
    return [
        (d, p.passages, p.vectors if p.vectors is not None else empty)
        for d, p in zip(documents, plans, strict=True)
    ]


def sync_milvus(
    folder: Path,
    spec: BuildSpec,
    documents: Sequence[Document],
    embedder: Embedder,
    *,
    chunking: ChunkingConfig,
    index_kind: str,
    index_params: dict[str, Any] | None,
    rebuild: bool = False,
) -> tuple[BuiltIndex, bool]:
    """The index in a Milvus collection: documents missing, changed or half-written
    there are embedded (or read from the vector cache) and upserted, documents gone
    from the corpus deleted; then the passages are read back. Also whether nothing
    needed writing (the counterpart of ``load_or_build``'s "loaded")."""
    from qa.index.milvus_connection import DocumentRows, MilvusSettings, StoreError, collection_name
    from qa.index.milvus_store import MilvusStore

    home = folder.with_name(folder.name + ".milvus")  # the manifest, and Milvus Lite's file
    settings = MilvusSettings.from_env(default_uri=home / "milvus.db")
    name = settings.collection or collection_name(folder)
    identity = {k: v for k, v in spec.to_dict().items() if k not in ("documents", "index")}
    with _build_lock(folder):
        store = MilvusStore.open(
            settings,
            name,
            identity,
            dimension=lambda: embedder.dimension,  # loads the model: only for a new collection
            max_sentences=chunking.max_sentences,
            replace=rebuild,
        )
        held = store.documents()
        stale = [
            d
            for d in documents
            if rebuild
            or (s := held.get(d.source)) is None
            or not s.complete
            or s.doc_hash != d.content_hash
        ]
        gone = sorted(set(held) - {d.source for d in documents})
        fresh = {d.source for d in stale}
        count = sum(held[d.source].count for d in documents if d.source not in fresh)
        if stale or gone:
            log.info(
                "Updating the Milvus collection %r: %d documents to write, %d to delete.",
                name,
                len(stale),
                len(gone),
            )
            vectors = EmbeddingCache(embeddings_folder(folder), reuse=not rebuild)
            rows = [
                DocumentRows(d.source, d.content_hash, passages, v)
                for d, passages, v in embed_documents(stale, embedder, chunking, vectors)
            ]
            count += sum(len(r.passages) for r in rows)
            store.write(rows, delete=gone, previous=held)
        choice = choose_index(max(count, 0), index_kind, index_params)
        store.use_index(choice)
        passages = store.load({d.source: i for i, d in enumerate(documents)})
        if len(passages) != count:
            raise StoreError(
                f"The Milvus collection {name!r} holds {len(passages)} passages of this "
                f"corpus, {count} expected: another process is writing to it. Build from "
                "one place."
            )
        empty = np.zeros((0, store.dimension), dtype=np.float32)
        rows_none = np.zeros(len(passages) + 1, np.int64)  # sentence vectors live in Milvus
        built = BuiltIndex(passages, store, empty, rows_none, choice.reason)
        if stale or gone or not (home / MANIFEST).is_file():
            try:
                save_engine_manifest(home, spec, built, store.engine())
            except OSError as exc:
                log.warning("Could not write the manifest in %s (%s).", home, exc)
    return built, not (stale or gone)


class _DocumentPlan:
    """One document's passages, the texts embedded for it (its passages, then the
    sentences of its multi-sentence passages), and their vectors once known."""

    def __init__(self, passages: list[Passage], texts: list[str], key: str):
        self.passages = passages
        self.texts = texts
        self.key = key
        self.vectors: np.ndarray | None = None

    @classmethod
    def of(
        cls, document: Document, chunking: ChunkingConfig, fingerprint: str, cache: EmbeddingCache
    ) -> _DocumentPlan:
        passages = chunk_document(document, chunking)
        texts = [embedding_input(p) for p in passages] + [
            p.text[s.start - p.start : s.end - p.start]
            for p in passages
            if len(p.sentences) > 1
            for s in p.sentences
        ]
        # The passage count is part of the key: it says where passages end and sentences begin.
        key = cache.key(
            document.content_hash, [str(len(passages)), *texts], fingerprint, EMBEDDING_INPUT
        )
        plan = cls(passages, texts, key)
        if texts:
            plan.vectors = cache.get(key, len(texts))
        return plan


class _Group:
    """Whole documents embedded together: their distinct texts, and for each text of
    each plan in turn, its row among them."""

    def __init__(self, plans: list[_DocumentPlan]):
        rows: dict[str, int] = {}
        self.plans = plans
        self.inverse = np.fromiter(
            (rows.setdefault(t, len(rows)) for plan in plans for t in plan.texts),
            dtype=np.int64,
            count=sum(len(plan.texts) for plan in plans),
        )
        self.texts = list(rows)


def _embedding_groups(plans: list[_DocumentPlan]) -> list[_Group]:
    return [_Group(group) for group in _groups(plans, EMBED_GROUP_TEXTS)]


def _embed(
    groups: list[_Group],
    embedder: Embedder,
    cache: EmbeddingCache,
    progress: bool | None,
    report: ProgressReport | None = None,
) -> None:
    """Embed the distinct texts of each group of documents, storing each document's
    vectors as soon as its group is done.

    Texts go to the model in slices of ``ENCODE_SLICE_TEXTS`` (``REPORT_GROUP_TEXTS``
    with ``report``, so that the caller can show progress within one long document)."""
    from tqdm import tqdm

    total = sum(len(g.texts) for g in groups)
    show = total > PROGRESS_MIN_TEXTS if progress is None else progress
    done = 0
    embedded = 0
    with tqdm(total=total, desc="Embedding", unit="text", disable=not show, leave=False) as bar:
        try:
            for group in groups:
                stopping.raise_if_requested()
                vectors = _encode(embedder, group.texts, report, embedded, total)[group.inverse]
                at = 0
                for plan in group.plans:
                    plan.vectors = vectors[at : at + len(plan.texts)]
                    at += len(plan.texts)
                    cache.put(plan.key, plan.vectors)
                done += len(group.plans)
                embedded += len(group.texts)
                bar.update(len(group.texts))
            stopping.raise_if_requested()  # not on to indexing after a swallowed stop
        except KeyboardInterrupt:
            log.warning(
                "Build interrupted: the vectors of %d of %d documents to embed are "
                "stored; run again to resume from there.",
                done,
                sum(len(g.plans) for g in groups),
            )
            raise


def _encode(
    embedder: Embedder, texts: list[str], report: ProgressReport | None, done: int, total: int
) -> np.ndarray:
    """``embedder.encode_documents(texts)`` in bounded slices, each reported to
    ``report`` if given."""
    size = ENCODE_SLICE_TEXTS if report is None else REPORT_GROUP_TEXTS
    parts = []
    for start in range(0, len(texts), size):
        stopping.raise_if_requested()  # a long document stops between slices too
        parts.append(embedder.encode_documents(texts[start : start + size]))
        if report is not None:
            report(done + start + len(parts[-1]), total)
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts) if parts else embedder.encode_documents(texts)


def _add_vectors(store: FaissStore, vectors: np.ndarray, progress: bool | None) -> None:
    """Add to the store, with a bar when that takes long (training and assigning an
    IVF index of a million passages takes a minute or more)."""
    from tqdm import tqdm

    show = len(vectors) > ADD_PROGRESS_MIN if progress is None else progress
    with tqdm(
        total=len(vectors), desc="Indexing", unit="passage", disable=not show, leave=False
    ) as bar:
        store.add(vectors, progress=bar.update)


def _groups(plans: list[_DocumentPlan], size: int) -> Iterator[list[_DocumentPlan]]:
    """Consecutive runs of whole documents holding at least ``size`` texts (the last less)."""
    group: list[_DocumentPlan] = []
    count = 0
    for plan in plans:
        group.append(plan)
        count += len(plan.texts)
        if count >= size:
            yield group
            group, count = [], 0
    if group:
        yield group


def _try_load(folder: Path, spec: BuildSpec, quiet: bool = False) -> BuiltIndex | None:
    try:
        return load_index(folder, spec)
    except CacheError as exc:
        if not quiet:
            log.info("Building the index: %s.", exc)
        return None


@contextlib.contextmanager
def _build_lock(folder: Path) -> Iterator[None]:
    """Hold a lock file beside the index so two processes never build it at once.

    Without a writable cache folder there is nothing to protect: build in memory.
    """
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(folder.parent / f"{folder.name}.lock"))
        lock.acquire(timeout=600)
    except OSError:
        yield
        return
    try:
        yield
    finally:
        lock.release()
