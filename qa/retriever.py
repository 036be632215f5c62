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
from qa.cache import BuildSpec, BuiltIndex, CacheError, default_cache_dir, index_folder, load_index, save_index
from qa.chunking import ChunkingConfig, chunk_corpus
from qa.corpus import BoilerplateRules, load_corpus
from qa.embedding import Embedder, SentenceTransformerEmbedder
from qa.index import FaissStore, choose_index_kind
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
        index_kind: str = "auto",
        index_params: dict[str, Any] | None = None,
        embedder: Embedder | None = None,
        rebuild: bool = False,
    ) -> Retriever:
        """Load the cached index for ``corpus`` or build it (see the README for defaults)."""
        corpus_path = Path(corpus) if corpus is not None else default_corpus()
        chunking = chunking or ChunkingConfig()
        choose_index_kind(index_kind, 0)  # reject a bad kind before any work
        rules = BoilerplateRules.load(corpus_path if corpus_path.is_dir() else corpus_path.parent)
        documents = load_corpus(corpus_path, rules)
        embedder = embedder or SentenceTransformerEmbedder(model)
        spec = BuildSpec(
            documents={d.source: d.content_hash for d in documents},
            model={"name": embedder.name, "fingerprint": embedder.fingerprint},
            chunking=chunking.to_dict(),
            boilerplate=rules.fingerprint(),
            embedding_input=EMBEDDING_INPUT,
            index={"kind": index_kind, **(index_params or {})},
        )
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        folder = index_folder(root, corpus_path)
        built = None if rebuild else _try_load(folder, spec)
        from_cache = built is not None
        if built is None:
            with _build_lock(folder):
                built = None if rebuild else _try_load(folder, spec, quiet=True)
                from_cache = built is not None  # another process may have built it
                if built is None:
                    built = build_index(documents, embedder, chunking, index_kind, index_params)
                    try:
                        save_index(folder, spec, built)
                    except OSError as exc:
                        log.warning("Could not write the index cache to %s (%s); serving from "
                                    "memory. Set QA_CACHE_DIR to a writable folder.", folder, exc)
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
            hits, _ = self._search(question, k)
        except ValueError as exc:
            message = str(exc)
            return Answer(str(question), False, (), message[:1].upper() + message[1:])
        if self.mode == "hybrid" and self._lexical is not None:
            text = answering.prepare_question(question)
            if missing := answering.missing_names(text, self._lexical):
                message = answering.not_mentioned_message(missing, len(self.documents))
                return Answer(question, False, tuple(hits), message)
        if answering.is_answered(hits, _MIN_SCORE[self.mode]):
            return Answer(question, True, tuple(hits), f"Found {len(hits)} passages.")
        titles = sorted({d.title for d in self.documents.values()})
        return Answer(question, False, tuple(hits), answering.not_found_message(question, titles))

    def _search(self, question: str, k: int) -> tuple[list[Hit], QueryTerms]:
        text = answering.prepare_question(question)
        k = _check_k(k)
        if self._lexical is None:
            return [], QueryTerms(())
        terms = self._lexical.analyze(text)
        query = None
        if self.mode != "lexical":
            query = self._embedder.encode_queries([terms.corrected(text)])[0]
        order, scores = self._rank(self._lexical, terms, query)
        hits = [self._hit(int(i), float(scores[i]), text, terms, query) for i in order[:k]]
        return hits, terms

    def _rank(
        self, lexical: LexicalIndex, terms: QueryTerms, query: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Passage ids best first (by ``self.mode``), and the score each passage shows."""
        if query is None:  # "lexical"
            scores = lexical.scores(terms)
            return np.argsort(-scores, kind="stable"), scores
        dense = self._dense_scores(query)
        if self.mode == "dense":
            return np.argsort(-dense, kind="stable"), dense
        bm25 = lexical.scores(terms)
        if self.mode == "rrf":
            by_dense = np.argsort(-dense, kind="stable")[:RRF_DEPTH].tolist()
            by_lexical = np.argsort(-bm25, kind="stable")[:RRF_DEPTH].tolist()
            fused = fusion.reciprocal_rank_fusion([by_dense, by_lexical])
            order = np.array(sorted(fused, key=lambda i: -fused[i]), dtype=np.int64)
            return order, dense  # RRF values mean nothing across questions: show the cosine
        scores = fusion.convex_fusion(dense, bm25)
        return np.argsort(-scores, kind="stable"), scores

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

    def _hit(self, index: int, score: float, question: str, terms: QueryTerms,
             query: np.ndarray | None) -> Hit:
        passage = self.passages[index]
        texts = [passage.text[s.start - passage.start : s.end - passage.start]
                 for s in passage.sentences]
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
        start, end = ((sentence.start - passage.start, sentence.end - passage.start)
                      if sentence else (0, len(passage.text)))
        return Hit(
            text=passage.text, score=min(max(score, 0.0), 1.0), source=passage.source,
            title=passage.title, start=passage.start, end=passage.end,
            answer=passage.text[start:end], answer_start=start, answer_end=end,
            paragraph=passage.paragraph, paragraphs=passage.paragraphs,
        )

    def __repr__(self) -> str:
        return f"Retriever(documents={len(self.documents)}, passages={len(self.passages)})"


def build_index(
    documents: Sequence[Document],
    embedder: Embedder,
    chunking: ChunkingConfig,
    index_kind: str = "auto",
    index_params: dict[str, Any] | None = None,
) -> BuiltIndex:
    """Chunk and embed ``documents`` into a fresh in-memory index."""
    passages = chunk_corpus(documents, chunking)
    log.info("Embedding %d passages from %d documents", len(passages), len(documents))
    vectors = embedder.encode_documents([embedding_input(p) for p in passages],
                                        progress=len(passages) > 1000)
    store = FaissStore(vectors.shape[1], choose_index_kind(index_kind, len(passages)), **(index_params or {}))
    store.add(vectors)
    texts = [passage.text[s.start - passage.start : s.end - passage.start]
             for passage in passages if len(passage.sentences) > 1 for s in passage.sentences]
    counts = [len(p.sentences) if len(p.sentences) > 1 else 0 for p in passages]
    rows = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    sentence_vectors = (embedder.encode_documents(texts, progress=len(texts) > 1000) if texts
                        else np.zeros((0, vectors.shape[1]), dtype=np.float32))
    return BuiltIndex(passages, store, sentence_vectors, rows)


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
