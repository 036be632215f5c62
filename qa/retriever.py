"""Stage 5: the retriever, which ties the stages together behind the public API.

``Retriever.from_corpus`` reads the corpus, loads the cached index when it was built
from exactly these files, model and settings, and otherwise builds and caches it.
``search`` ranks passages for a question; ``ask`` also decides if any answers it.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from qa import answering, fusion
from qa.cache import (
    BuildSpec,
    BuiltIndex,
    CacheError,
    EmbeddingCache,
    default_cache_dir,
    embeddings_folder,
    index_folder,
    load_index,
    remove_stale_temp_files,
    save_index,
)
from qa.chunking import ChunkingConfig, chunk_document
from qa.corpus import BoilerplateRules, load_corpus
from qa.embedding import Embedder
from qa.encoders import make_embedder
from qa.index import FaissStore, VectorStore, check_index_request, choose_index
from qa.lexical import LexicalIndex, QueryTerms
from qa.types import Answer, Document, Hit, Passage

log = logging.getLogger(__name__)

# How a passage is presented to the embedding model; recorded in the manifest, so bump
# it on any change. Measured on tests/questions.jsonl, the bare passage ranks best on a
# one-article corpus: prefixing the title or heading pulls every passage towards the
# headline and costs hit@1 (0.83 -> 0.50 on an early 12-question probe).
EMBEDDING_INPUT = "text/1"
MAX_K = 100
# How passages are ranked. "hybrid" is the shipped default: dense and lexical scores
# fused (qa.fusion), misspellings corrected, names checked before answering. The
# others are the ablations ``qa eval`` compares it with: "dense" (embeddings only, the
# earlier cosine threshold), "lexical" (BM25 only), "rrf" (textbook reciprocal-rank
# fusion of the same two rankings, with the dense threshold).
MODES = ("hybrid", "dense", "lexical", "rrf")
_MIN_SCORE = {
    "hybrid": answering.MIN_ANSWER_SCORE,
    "dense": answering.MIN_DENSE_SCORE,
    "lexical": answering.MIN_LEXICAL_SCORE,
    "rrf": answering.MIN_DENSE_SCORE,
}
# Passages scored exactly by the dense store per question; the rest share a bound.
DENSE_DEPTH = 1_000
# How deep each ranking goes into reciprocal-rank fusion.
RRF_DEPTH = 100
# Documents are embedded in groups of about this many texts, and each group's vectors
# are stored as soon as it is done: an interrupted build loses at most one group.
EMBED_GROUP_TEXTS = 4096
# A build that embeds more texts than this shows a progress bar (on stderr).
PROGRESS_MIN_TEXTS = 1000
# Adding more vectors than this to the store shows a progress bar too.
ADD_PROGRESS_MIN = 100_000


def embedding_input(passage: Passage) -> str:
    """The text embedded for a passage (see ``EMBEDDING_INPUT``)."""
    return passage.text


def default_corpus() -> Path:
    """``QA_CORPUS``, else ``./corpus``."""
    return Path(os.environ.get("QA_CORPUS") or "corpus")


class Retriever:
    """Finds the passages of a corpus that answer a question.

    >>> r = Retriever.from_corpus("corpus")
    >>> hit = r.search("How many French soldiers are in the Sahel?", k=3)[0]
    >>> hit.answer
    'There are a total of 25,000 foreign troops currently deployed in the Sahel region, ...'
    """

    def __init__(
        self,
        documents: Sequence[Document],
        built: BuiltIndex,
        embedder: Embedder,
        *,
        from_cache: bool = False,
        cache_folder: Path | None = None,
        mode: str = "hybrid",
    ):
        self.documents: dict[str, Document] = {d.source: d for d in documents}
        self.passages: list[Passage] = built.passages
        self.from_cache = from_cache  # True when the index was loaded, not built
        self.cache_folder = cache_folder
        self.mode = _check_mode(mode)
        self._built = built
        self._embedder = embedder
        # BM25 over the passages: built here, in memory, once (milliseconds per
        # thousand passages), so the cache on disk stays the dense index alone.
        self._lexical = LexicalIndex([p.text for p in self.passages]) if self.passages else None

    def with_mode(self, mode: str) -> Retriever:
        """The same retriever ranking by another of ``MODES`` (sharing every index).

        ``qa eval`` uses this to compare the shipped ``"hybrid"`` with its ablations.
        """
        other = copy.copy(self)
        other.mode = _check_mode(mode)
        return other

    @property
    def model_name(self) -> str:
        return self._embedder.name

    @classmethod
    def from_corpus(
        cls,
        corpus: str | Path | None = None,
        *,
        model: str | None = None,
        cache_dir: str | Path | None = None,
        chunking: ChunkingConfig | None = None,
        index_kind: str | None = None,
        index_params: dict[str, Any] | None = None,
        embedder: Embedder | None = None,
        encoder: str | None = None,
        rebuild: bool = False,
    ) -> Retriever:
        """Load the cached index for ``corpus`` or build it (see the README for defaults).

        ``index_kind`` is ``"auto"`` (exact search up to 50,000 passages, IVF above),
        ``"flat"``, ``"ivf"`` or ``"hnsw"``; default ``QA_INDEX_KIND``, else ``"auto"``.
        ``index_params`` override that kind's defaults (see ``qa.index``). A build
        reuses the vectors of every document it embedded before; ``rebuild=True``
        embeds everything again. ``encoder`` runs the model with ``"torch"`` (default,
        or ``QA_ENCODER``) or ``"onnx"`` (same vectors, faster; ``pip install
        "qa[onnx]"``).
        """
        corpus_path = Path(corpus) if corpus is not None else default_corpus()
        chunking = chunking or ChunkingConfig()
        index_kind = index_kind or os.environ.get("QA_INDEX_KIND") or "auto"
        check_index_request(index_kind, index_params)  # reject bad settings before any work
        rules = BoilerplateRules.load(corpus_path if corpus_path.is_dir() else corpus_path.parent)
        documents = load_corpus(corpus_path, rules)
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        embedder = embedder or make_embedder(model, encoder, root)
        spec = BuildSpec(
            documents={d.source: d.content_hash for d in documents},
            model={"name": embedder.name, "fingerprint": embedder.fingerprint},
            chunking=chunking.to_dict(),
            boilerplate=rules.fingerprint(),
            embedding_input=EMBEDDING_INPUT,
            index={"kind": index_kind, **(index_params or {})},
        )
        folder = index_folder(root, corpus_path)
        built = None if rebuild else _try_load(folder, spec)
        from_cache = built is not None
        if built is None:
            with _build_lock(folder):
                built = None if rebuild else _try_load(folder, spec, quiet=True)
                from_cache = built is not None  # another process may have built it
                if built is None:
                    with contextlib.suppress(OSError):
                        remove_stale_temp_files(folder)
                    vectors = EmbeddingCache(embeddings_folder(folder), reuse=not rebuild)
                    built = build_index(
                        documents,
                        embedder,
                        chunking,
                        index_kind,
                        index_params,
                        vector_cache=vectors,
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
        return cls(documents, built, embedder, from_cache=from_cache, cache_folder=folder)

    def search(self, question: str, k: int = 3) -> list[Hit]:
        """The ``k`` passages that best answer ``question``, best first.

        ``Hit.score`` is in [0, 1] and means the same for every question, so it can be
        compared across questions and thresholded: 0.8 x the cosine similarity of
        question and passage embeddings + 0.2 x the share of the question's words the
        passage holds (BM25, weighted by rarity; see ``qa.fusion`` and ``qa.lexical``).
        About 0.55 and above is a strong match, below 0.11 not an answer (thresholds:
        ``qa.answering``). Misspelt words are read as the corpus word they resemble
        ("peacekepers" as "peacekeepers") before either score is computed.
        Raises ``ValueError`` for an empty question or a ``k`` below 1.
        """
        return self._search(question, k)[0]

    def ask(self, question: str, k: int = 3) -> Answer:
        """Search, then decide whether the corpus answers ``question`` at all.

        Two signals say no: the question names something the corpus never mentions
        (a name, acronym or number: "The article does not mention Britain or
        Estonia."), or even the best passage scores too low. The passages are returned
        either way, so a UI can show the closest ones as not an answer.
        """
        try:
            hits, text = self._search(question, k)
        except ValueError as exc:
            message = str(exc)
            return Answer(str(question), False, (), message[:1].upper() + message[1:])
        if (
            self.mode == "hybrid"
            and self._lexical is not None
            and (missing := answering.missing_names(text, self._lexical))
        ):
            message = answering.not_mentioned_message(missing, len(self.documents))
            return Answer(question, False, tuple(hits), message)
        if answering.is_answered(hits, _MIN_SCORE[self.mode]):
            return Answer(question, True, tuple(hits), f"Found {len(hits)} passages.")
        titles = sorted({d.title for d in self.documents.values()})
        return Answer(question, False, tuple(hits), answering.not_found_message(question, titles))

    def _search(self, question: str, k: int) -> tuple[list[Hit], str]:
        """The hits, and the question as cleaned for reading (``prepare_question``)."""
        text = answering.prepare_question(question)
        k = _check_k(k)
        if self._lexical is None:
            return [], text
        terms = self._lexical.analyze(text)
        query = None
        if self.mode != "lexical":
            query = self._embedder.encode_queries([terms.corrected(text)])[0]
        order, scores = self._rank(self._lexical, terms, query, k)
        hits = [self._hit(int(i), float(scores[i]), text, terms, query) for i in order[:k]]
        return hits, text

    def _rank(
        self, lexical: LexicalIndex, terms: QueryTerms, query: np.ndarray | None, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best passage ids, best first (by ``self.mode``), and the score
        each passage shows."""
        if query is None:  # "lexical"
            scores = lexical.scores(terms)
            return top_k(scores, k), scores
        dense = self._dense_scores(query)
        if self.mode == "dense":
            return top_k(dense, k), dense
        bm25 = lexical.scores(terms)
        if self.mode == "rrf":
            by_dense = np.argsort(-dense, kind="stable")[:RRF_DEPTH].tolist()
            by_lexical = np.argsort(-bm25, kind="stable")[:RRF_DEPTH].tolist()
            fused = fusion.reciprocal_rank_fusion([by_dense, by_lexical])
            order = np.array(sorted(fused, key=lambda i: -fused[i]), dtype=np.int64)
            return order, dense  # RRF values mean nothing across questions: show the cosine
        scores = fusion.convex_fusion(dense, bm25)
        return top_k(scores, k), scores

    def _dense_scores(self, query: np.ndarray) -> np.ndarray:
        """Cosine similarity of ``query`` to every passage, clipped to [0, 1].

        Exact for the first ``DENSE_DEPTH`` passages the store returns; the rest get
        the lowest score among those (an upper bound for them), which only matters
        for corpora of more than ``DENSE_DEPTH`` passages.
        """
        n = len(self.passages)
        depth = min(n, DENSE_DEPTH)
        scores, ids = self._built.store.search(query[None, :], depth)
        found = ids[0] >= 0
        out = np.full(n, float(scores[0][found].min()) if found.any() else 0.0, dtype=np.float32)
        out[ids[0][found]] = scores[0][found]
        return np.clip(out, 0.0, 1.0)

    def _hit(
        self, index: int, score: float, question: str, terms: QueryTerms, query: np.ndarray | None
    ) -> Hit:
        passage = self.passages[index]
        texts = [
            passage.text[s.start - passage.start : s.end - passage.start] for s in passage.sentences
        ]
        rows = self._built.sentence_rows
        dense = None
        if query is not None and rows[index + 1] > rows[index]:
            dense = self._built.sentence_vectors[rows[index] : rows[index + 1]] @ query
        elif query is not None:
            dense = np.zeros(len(texts))  # one sentence: nothing to choose between
        lexical = None
        if self.mode != "dense" and self._lexical is not None:
            lexical = [self._lexical.coverage(terms, t) for t in texts]
        choice = answering.choose_sentence(question, texts, dense, lexical) if texts else 0
        sentence = passage.sentences[choice] if passage.sentences else None
        start, end = (
            (sentence.start - passage.start, sentence.end - passage.start)
            if sentence
            else (0, len(passage.text))
        )
        return Hit(
            text=passage.text,
            score=min(max(score, 0.0), 1.0),
            source=passage.source,
            title=passage.title,
            start=passage.start,
            end=passage.end,
            answer=passage.text[start:end],
            answer_start=start,
            answer_end=end,
            paragraph=passage.paragraph,
            paragraphs=passage.paragraphs,
        )

    def __repr__(self) -> str:
        return f"Retriever(documents={len(self.documents)}, passages={len(self.passages)})"


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """The ids of the ``k`` highest scores, best first, ties in id order: the head of
    ``np.argsort(-scores, kind="stable")`` without sorting all of a large corpus
    (a full sort of 100,000 scores costs milliseconds on every question)."""
    n = len(scores)
    if k >= n:
        return np.argsort(-scores, kind="stable")
    kth = np.partition(scores, n - k)[n - k]  # the k-th highest score
    above = np.flatnonzero(scores > kth)
    ties = np.flatnonzero(scores == kth)[: k - len(above)]
    ids = np.concatenate([above, ties])
    return ids[np.argsort(-scores[ids], kind="stable")]


def build_index(
    documents: Sequence[Document],
    embedder: Embedder,
    chunking: ChunkingConfig,
    index_kind: str = "auto",
    index_params: dict[str, Any] | None = None,
    *,
    vector_cache: EmbeddingCache | None = None,
    progress: bool | None = None,
) -> BuiltIndex:
    """Chunk and embed ``documents`` into a fresh in-memory index.

    Each document's vectors come from ``vector_cache`` when it holds them (same
    content, model, settings); the other documents are embedded in groups, each
    group stored as soon as it is done, so an interrupted build keeps its work and the
    next one resumes. ``progress`` shows a bar on stderr (default: for large builds).
    """
    vector_cache = vector_cache or EmbeddingCache(None)
    plans = [_DocumentPlan.of(d, chunking, embedder.fingerprint, vector_cache) for d in documents]
    todo = [p for p in plans if p.vectors is None and p.texts]
    total = sum(len(p.texts) for p in todo)
    log.info(
        "Embedding %d texts (passages and their sentences) from %d of %d documents; "
        "reusing the vectors of the other %d.",
        total,
        len(todo),
        len(plans),
        len(plans) - len(todo),
    )
    _embed(todo, embedder, vector_cache, total, progress)
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


def _embed(
    plans: list[_DocumentPlan],
    embedder: Embedder,
    cache: EmbeddingCache,
    total: int,
    progress: bool | None,
) -> None:
    """Embed the texts of ``plans`` in groups of whole documents, storing each group."""
    from tqdm import tqdm

    show = total > PROGRESS_MIN_TEXTS if progress is None else progress
    done = 0
    with tqdm(total=total, desc="Embedding", unit="text", disable=not show, leave=False) as bar:
        try:
            for group in _groups(plans, EMBED_GROUP_TEXTS):
                texts = [t for plan in group for t in plan.texts]
                vectors = embedder.encode_documents(texts)
                at = 0
                for plan in group:
                    plan.vectors = vectors[at : at + len(plan.texts)]
                    at += len(plan.texts)
                    cache.put(plan.key, plan.vectors)
                done += len(group)
                bar.update(len(texts))
        except KeyboardInterrupt:
            log.warning(
                "Build interrupted: the vectors of %d of %d documents to embed are "
                "stored; run again to resume from there.",
                done,
                len(plans),
            )
            raise


def _add_vectors(store: VectorStore, vectors: np.ndarray, progress: bool | None) -> None:
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


def _check_mode(mode: object) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    return str(mode)


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return int(min(k, MAX_K))
