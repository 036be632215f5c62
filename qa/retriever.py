"""Stage 5: the retriever, which ties the stages together behind the public API.

``Retriever.from_corpus`` reads a corpus folder and loads its cached index or builds
it (``qa.building``); ``Retriever.from_texts`` builds one in memory from texts a
program already holds; ``Retriever.combine`` searches several as one (the bundled
corpus and a person's own documents) without embedding anything again. ``search``
ranks passages for a question, read in the context of the conversation's earlier
questions (``qa.conversation``); ``ask`` also decides if any passage answers it.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa import answering, conversation
from qa.building import (
    EMBEDDING_INPUT,
    ProgressReport,
    build_index,
    load_or_build,
    sync_milvus,
)
from qa.cache import BuildSpec, BuiltIndex, EmbeddingCache, default_cache_dir, index_folder
from qa.chunking import ChunkingConfig
from qa.corpus import BoilerplateRules, CorpusError, documents_from_texts, load_corpus
from qa.embedding import Embedder
from qa.encoders import make_embedder
from qa.index import check_index_request
from qa.language import not_english, not_english_answer
from qa.lexical import LexicalIndex, QueryTerms
from qa.milvus_store import vector_store_name
from qa.overview import is_overview_question, overview_answer
from qa.ranking import Part, dense_scores_batch, make_hit, rank, sentence_vectors
from qa.types import Answer, Document, Hit, Passage

MAX_K = 100
# A batch of questions is embedded in groups of about this many characters (the
# longest question of a group times its size): padding to one long question is paid
# by its group only. 32 questions of 60 characters fit in one.
QUERY_BATCH_CHARS = 2_000
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


# The article shipped inside the package (a copy of the repository's corpus/), so that
# an installed qa answers in any folder.
BUNDLED_CORPUS = Path(__file__).resolve().parent / "data" / "corpus"


def default_corpus() -> Path:
    """``QA_CORPUS``, else ``./corpus`` when there is one, else the bundled article
    (``BUNDLED_CORPUS``)."""
    named = os.environ.get("QA_CORPUS")
    if named:
        return Path(named)
    here = Path("corpus")
    return here if here.is_dir() else BUNDLED_CORPUS


class Retriever:
    """Finds the passages of a corpus that answer a question.

    >>> r = Retriever.from_corpus("corpus")
    >>> hit = r.search("How many French soldiers are in the Sahel?", k=3)[0]
    >>> hit.answer
    'There are a total of 25,000 foreign troops currently deployed in the Sahel region, ...'
    >>> r.ask("And the UN?", history=["How many French soldiers are in the Sahel?"]).read_as
    'How many UN soldiers are in the Sahel?'
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
        # BM25 over the passages: built here, in memory, once (milliseconds per
        # thousand passages), so the cache on disk stays the dense index alone.
        lexical = LexicalIndex([p.text for p in built.passages]) if built.passages else None
        self._setup(documents, (Part(built, lexical),), embedder, mode)
        self.from_cache = from_cache  # True when the index was loaded, not built
        self.cache_folder = cache_folder

    def _setup(
        self,
        documents: Iterable[Document],
        parts: tuple[Part, ...],
        embedder: Embedder,
        mode: str,
    ) -> None:
        self.documents: dict[str, Document] = {d.source: d for d in documents}
        self.passages: list[Passage] = [p for part in parts for p in part.built.passages]
        self.mode = _check_mode(mode)
        self._parts = parts
        self._built = parts[0].built  # the index of a retriever made of one part
        self._embedder = embedder

    def with_mode(self, mode: str) -> Retriever:
        """The same retriever ranking by another of ``MODES`` (sharing every index).

        ``qa eval`` uses this to compare the shipped ``"hybrid"`` with its ablations.
        """
        other = copy.copy(self)
        other.mode = _check_mode(mode)
        return other

    def with_embedder(self, embedder: Embedder) -> Retriever:
        """The same retriever (sharing every index) encoding questions with
        ``embedder``, which must be the same model: e.g. one that holds a lock."""
        if embedder.fingerprint != self._embedder.fingerprint:
            raise ValueError(
                f"with_embedder needs the same model ({self.model_name}), got {embedder.name}"
            )
        other = copy.copy(self)
        other._embedder = embedder
        return other

    @property
    def model_name(self) -> str:
        return self._embedder.name

    @property
    def titles(self) -> list[str]:
        """The documents' titles, sorted: what the corpus is, in words."""
        return sorted({d.title for d in self.documents.values()})

    @property
    def embedder(self) -> Embedder:
        """The model that embeds questions and passages (shared, loaded once)."""
        return self._embedder

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
        vector_store: str | None = None,
    ) -> Retriever:
        """Load the cached index for ``corpus`` or build it (see the README for defaults).

        The corpus holds ``.txt``, ``.md``, ``.html`` and ``.pdf`` files (``qa.corpus``).
        ``index_kind`` is ``"auto"`` (exact search up to 50,000 passages, IVF above),
        ``"flat"``, ``"ivf"`` or ``"hnsw"``; default ``QA_INDEX_KIND``, else ``"auto"``.
        ``index_params`` override that kind's defaults (see ``qa.index``). A build
        reuses the vectors of every document it embedded before; ``rebuild=True``
        embeds everything again. ``encoder`` runs the model with ``"torch"`` (default,
        or ``QA_ENCODER``) or ``"onnx"`` (same vectors, faster; ``pip install
        "qa[onnx]"``). ``vector_store`` is ``"faiss"`` (default, or ``QA_VECTOR_STORE``)
        or ``"milvus"``: a Milvus collection holds the index (``QA_MILVUS_URI``,
        ``QA_MILVUS_TOKEN``; ``pip install "qa[milvus]"``; see docs/milvus.md).
        """
        corpus_path = Path(corpus) if corpus is not None else default_corpus()
        chunking = chunking or ChunkingConfig()
        index_kind = index_kind or os.environ.get("QA_INDEX_KIND") or "auto"
        check_index_request(index_kind, index_params)  # reject bad settings before any work
        engine = vector_store_name(vector_store)
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
        built, loaded = (sync_milvus if engine == "milvus" else load_or_build)(
            folder,
            spec,
            documents,
            embedder,
            chunking,
            index_kind,
            index_params,
            rebuild=rebuild,
        )
        return cls(documents, built, embedder, from_cache=loaded, cache_folder=folder)

    @classmethod
    def from_texts(
        cls,
        texts: Mapping[str, str] | Iterable[Document],
        *,
        model: str | None = None,
        embedder: Embedder | None = None,
        encoder: str | None = None,
        chunking: ChunkingConfig | None = None,
        index_kind: str | None = None,
        index_params: dict[str, Any] | None = None,
        report: ProgressReport | None = None,
    ) -> Retriever:
        """A retriever over texts held in memory: no folder, and nothing written to disk.

        ``texts`` maps each document's name (its ``source``) to its text, read like a
        corpus file: first line the title, boilerplate lines dropped (``qa.corpus``);
        or give ``Document`` records. ``report`` is called with (texts embedded, texts
        to embed) while it embeds, for a progress bar. Raises ``CorpusError`` for an
        empty text or one with nothing but a title, headings and boilerplate.

        >>> r = Retriever.from_texts({"notes.txt": "Bakery news\\nThe bakery sells bread."})
        """
        documents = documents_from_texts(texts) if isinstance(texts, Mapping) else list(texts)
        if not documents:
            raise CorpusError("No texts given: pass at least one {name: text}.")
        index_kind = index_kind or "auto"
        check_index_request(index_kind, index_params)
        embedder = embedder or make_embedder(model, encoder, default_cache_dir())
        built = build_index(
            documents,
            embedder,
            chunking or ChunkingConfig(),
            index_kind,
            index_params,
            vector_cache=EmbeddingCache(None),  # keeps nothing: no write anywhere
            report=report,
        )
        return cls(documents, built, embedder)

    @classmethod
    def from_urls(
        cls,
        urls: Iterable[str],
        *,
        allow_private: bool | None = None,
        model: str | None = None,
        embedder: Embedder | None = None,
        encoder: str | None = None,
    ) -> Retriever:
        """A retriever over the articles at ``urls``, fetched now (``qa.fetching``: each
        page's main text; http and https only, at most 10 MB, no private or local
        address unless ``allow_private`` or ``QA_ALLOW_PRIVATE_URLS=1``). Each hit's
        ``source`` names its page ("news.example.org \u203a harbour-reopens"); a link that
        cannot be read raises ``FetchError`` (a ``DocumentError``) saying why.

        >>> r = Retriever.from_urls(["https://news.example.org/local/harbour-reopens"])
        """
        from qa.fetching import fetch_document  # httpx is imported only when used

        pages = [fetch_document(url, allow_private=allow_private) for url in urls]
        if not pages:
            raise CorpusError("No links given: pass at least one URL.")
        texts: dict[str, str] = {}
        for page in pages:
            name, number = page.name, 2
            while name in texts:  # two pages with one name: "name (2)"
                name, number = f"{page.name} ({number})", number + 1
            texts[name] = page.text
        return cls.from_texts(texts, model=model, embedder=embedder, encoder=encoder)

    @classmethod
    def combine(cls, retrievers: Sequence[Retriever]) -> Retriever:
        """One retriever over the documents of all of ``retrievers``, sharing their
        indexes: nothing is embedded or copied again, so combining is instant.

        All must use the same model, and no two may hold a document of the same name
        (``ValueError`` otherwise). The result ranks like the first (its mode).

        >>> mine = Retriever.from_texts({"notes.txt": text}, embedder=bundled.embedder)
        >>> both = Retriever.combine([bundled, mine])
        """
        if not retrievers:
            raise ValueError("combine needs at least one retriever, got none")
        first = retrievers[0]
        for other in retrievers[1:]:
            if other._embedder.fingerprint != first._embedder.fingerprint:
                raise ValueError(
                    f"cannot combine retrievers of different models ({first.model_name} and "
                    f"{other.model_name}): build both with the same embedder"
                )
        seen: set[str] = set()
        for r in retrievers:
            if clash := seen & set(r.documents):
                raise ValueError(
                    f"two documents are named {sorted(clash)[0]!r}: rename one before combining"
                )
            seen |= set(r.documents)
        combined = cls.__new__(cls)
        combined._setup(
            [d for r in retrievers for d in r.documents.values()],
            tuple(part for r in retrievers for part in r._parts),
            first._embedder,
            first.mode,
        )
        combined.from_cache = all(r.from_cache for r in retrievers)
        combined.cache_folder = None
        return combined

    def search(self, question: str, k: int = 3, history: Sequence[str] = ()) -> list[Hit]:
        """The ``k`` passages that best answer ``question``, best first.

        ``history`` holds the conversation's earlier questions, oldest first: a
        follow-up ("And France?", "How many of them died there?") is read as the
        question it stands for before searching (``qa.conversation``; ``ask`` says how
        it was read). A question that stands on its own is searched as typed.

        ``Hit.score`` is in [0, 1] and means the same for every question, so it can be
        compared across questions and thresholded: 0.8 x the cosine similarity of
        question and passage embeddings + 0.2 x the share of the question's words the
        passage holds (BM25, weighted by rarity; see ``qa.fusion`` and ``qa.lexical``),
        and for a question that asks why, 0.08 more for a passage that gives a reason
        (``answering.REASON_BONUS``); for one that asks another kind of thing (how
        many, when, who ...), ``answering.KIND_BONUS`` more for a passage among the
        first few that holds a phrase of that kind. About 0.55 and above is
        a strong match, below 0.11 not an answer (thresholds: ``qa.answering``).
        Misspelt words are read as the corpus word they resemble ("peacekepers" as
        "peacekeepers") before either score is computed.
        A question about the whole article ("What is this article about?") or in a
        language other than English is searched as typed, like any other: ``search``
        ranks passages and never refuses; ``ask`` is what answers those two otherwise.
        Raises ``ValueError`` for an empty question or a ``k`` below 1.
        """
        return self._search(question, k, history)[0]

    def ask(self, question: str, k: int = 3, history: Sequence[str] = ()) -> Answer:
        """Search, then decide whether the corpus answers ``question`` at all.

        Two signals say no: the question names something the corpus never mentions
        (a name, acronym or number: "The article does not mention Britain or
        Estonia."), or even the best passage scores too low. The passages are returned
        either way, so a UI can show the closest ones as not an answer.
        ``Answer.read_as`` is the question searched: ``question`` completed from
        ``history`` when it is a follow-up, else ``question`` itself.

        Two questions are answered without a search (``_unsearched``): one about the
        whole article ("What is this article about?", "Summarize") gets its overview
        (``kind`` "overview", ``qa.overview``), one not in English says so (``kind``
        "not_english", ``found`` False, ``qa.language``).
        """
        try:
            if (unsearched := self._unsearched(question, k)) is not None:
                return unsearched
            hits, text, completed = self._search(question, k, history)
        except ValueError as exc:
            return _invalid(question, exc)
        return self._decide(question, hits, text, completed)

    def overview(self, sources: Sequence[str] | None = None) -> Answer:
        """What the documents are about, in their own words: the answer to "What is
        this article about?" for the documents named ``sources`` (all by default),
        e.g. to show a document just added."""
        return overview_answer(
            "What is this article about?",
            self.documents.values(),
            [part.built for part in self._parts],
            self._embedder,
            sources,
        )

    def search_batch(
        self,
        questions: Sequence[str],
        k: int | Sequence[int] = 3,
        histories: Sequence[Sequence[str]] | None = None,
    ) -> list[list[Hit]]:
        """``search`` for many questions at once: one list of hits per question, in order.

        The questions share one forward pass of the model and one call to the vector
        store, so a batch costs far less than its questions one by one; each gets the
        hits ``search`` gives it (scores to float rounding). ``k`` is one for all or
        one per question; ``histories``, if given, one history per question. Raises
        ``ValueError`` if any question is empty or any ``k`` below 1.

        >>> r.search_batch(["Why is France leaving Mali?", "And the UN?"], 3,
        ...                [[], ["How many French soldiers are in the Sahel?"]])
        """
        ks = _per_question(k, len(questions), "k")
        stories = _per_question(histories, len(questions), "histories")
        readings = [
            self._read(q, ki, h or ()) for q, ki, h in zip(questions, ks, stories, strict=True)
        ]
        return [hits for hits, _, _ in self._search_read(readings)]

    def ask_batch(
        self,
        questions: Sequence[str],
        k: int | Sequence[int] = 3,
        histories: Sequence[Sequence[str]] | None = None,
    ) -> list[Answer]:
        """``ask`` for many questions at once (see ``search_batch``): one ``Answer``
        each, in order; an empty question or a bad ``k`` gets its own "not found"
        answer saying why, as with ``ask``, and the others are answered."""
        ks = _per_question(k, len(questions), "k")
        stories = _per_question(histories, len(questions), "histories")
        answers: list[Answer | None] = [None] * len(questions)
        readings: dict[int, _Reading] = {}
        for i, (question, ki, history) in enumerate(zip(questions, ks, stories, strict=True)):
            try:
                if (unsearched := self._unsearched(question, ki)) is not None:
                    answers[i] = unsearched
                    continue
                readings[i] = self._read(question, ki, history or ())
            except ValueError as exc:
                answers[i] = _invalid(question, exc)
        found = self._search_read(list(readings.values()))
        for i, (hits, text, completed) in zip(readings, found, strict=True):
            answers[i] = self._decide(questions[i], hits, text, completed)
        return [answer for answer in answers if answer is not None]

    def _decide(self, question: str, hits: list[Hit], text: str, completed: bool) -> Answer:
        """Whether ``hits`` answer ``question`` (searched as ``text``), and the words.
        The answer echoes the question as typed only up to the part that was read, and
        ``read_as`` is what was searched: cleaned of markup, cut, maybe completed."""
        read_as, question = text, _echo(question)
        if self.mode == "hybrid" and (missing := self._missing_names(text)):
            message = answering.not_mentioned_message(missing, len(self.documents))
            return Answer(question, False, tuple(hits), message, read_as=read_as)
        if answering.is_answered(hits, _MIN_SCORE[self.mode]):
            answer = answering.quote(text, hits[0])
            confident = answering.is_confident(hits, answer, text)
            message = answering.found_message(answer, confident)
            count = answering.answering_count(hits)
            return Answer(question, True, tuple(hits), message, answer, confident, count, read_as)
        titles = self.titles
        message = answering.not_found_message(read_as, titles)
        return Answer(question, False, tuple(hits), message, read_as=read_as)

    def _unsearched(self, question: str, k: object) -> Answer | None:
        """The answer to a question not in English or about the whole article, which
        no search answers; None for any other. Raises ``ValueError`` as ``_read``."""
        cleaned = answering.prepare_question(question)
        check_k(k)
        if (language := not_english(cleaned)) is not None:
            return not_english_answer(question, language)
        if is_overview_question(cleaned):
            return replace(self.overview(), question=question, read_as=question)
        return None

    def _missing_names(self, text: str) -> list[str]:
        """The names of ``text`` that no part of the corpus mentions."""
        lexicals = [part.lexical for part in self._parts if part.lexical is not None]
        if not lexicals:
            return []
        missing = answering.missing_names(text, lexicals[0])
        for lexical in lexicals[1:]:
            elsewhere = set(answering.missing_names(text, lexical))
            missing = [name for name in missing if name in elsewhere]
        return missing

    def _read(self, question: str, k: object, history: Sequence[str]) -> _Reading:
        """``question`` cleaned and read in context, with its ``k`` checked: raises
        ``ValueError`` (empty question, bad ``k``) or ``TypeError`` (bad history)."""
        cleaned = answering.prepare_question(question)
        text = conversation.read_in_context(cleaned, history)
        return _Reading(cleaned, text, check_k(k))

    def _search(self, question: str, k: int, history: Sequence[str]) -> tuple[list[Hit], str, bool]:
        """The hits, the question searched (cleaned by ``prepare_question`` and, for a
        follow-up, completed from ``history``), and whether it was completed."""
        return self._search_read([self._read(question, k, history)])[0]

    def _search_read(self, readings: Sequence[_Reading]) -> list[tuple[list[Hit], str, bool]]:
        """``_search`` for each of ``readings``: one forward pass of the model for all
        their vectors, one store call per part for their dense scores and one for the
        sentence vectors of all their hits."""
        parts = [(part, part.lexical) for part in self._parts if part.lexical is not None]
        if not parts or not readings:
            return [([], r.text, r.completed) for r in readings]
        lexicals = [lexical for _, lexical in parts]
        analyses = [[lexical.analyze(r.text) for lexical in lexicals] for r in readings]
        queries: list[np.ndarray | None] = [None] * len(readings)
        streams: list[Iterator[np.ndarray | None]] = [itertools.repeat(None)] * len(parts)
        if self.mode != "lexical":
            vectors = self._query_vectors(readings, analyses, lexicals)
            queries = list(vectors)
            # Per part, one store call; each question's row is made when it is ranked.
            streams = [dense_scores_batch(part.built, vectors) for part, _ in parts]
        chosen = []  # per question: (score, part number, passage id), best first
        for reading, terms, query in zip(readings, analyses, queries, strict=True):
            rows = [next(stream) for stream in streams]
            ranked = []
            kind = answering.expected_answer(reading.text) if self.mode == "hybrid" else None
            for number, (part, lexical) in enumerate(parts):
                order, scores = rank(
                    self.mode,
                    part,
                    lexical,
                    terms[number],
                    query,
                    reading.k,
                    question=reading.text,
                    kind=kind,
                    dense=rows[number],
                )
                ranked.append([(float(scores[i]), number, int(i)) for i in order[: reading.k]])
            best = ranked[0] if len(ranked) == 1 else heapq.merge(*ranked, key=lambda c: -c[0])
            chosen.append(list(itertools.islice(best, reading.k)))
        flat = [c for found in chosen for c in found]
        hit_vectors: list[np.ndarray | None] = [None] * len(flat)
        if self.mode != "lexical":  # the answer sentence is chosen by them too
            hit_vectors = [*_sentence_vectors([parts[n][0] for _, n, _ in flat], flat)]
        vectors_of = iter(hit_vectors)
        out = []
        for reading, terms, query, found in zip(readings, analyses, queries, chosen, strict=True):
            hits = []
            for score, number, index in found:
                part, lexical = parts[number]
                hits.append(
                    make_hit(
                        self.mode,
                        part,
                        lexical,
                        index,
                        score,
                        reading.text,
                        terms[number],
                        query,
                        next(vectors_of),
                    )
                )
            out.append((hits, reading.text, reading.completed))
        return out

    def _query_vectors(
        self,
        readings: Sequence[_Reading],
        analyses: Sequence[Sequence[QueryTerms]],
        lexicals: Sequence[LexicalIndex],
    ) -> np.ndarray:
        """Each question's unit vector, from one batch through the model; for a
        completed follow-up, blended with the vector of the question as typed
        (``conversation.OWN_WORDS_WEIGHT``)."""
        texts = [
            self._corrected(r.text, terms) for r, terms in zip(readings, analyses, strict=True)
        ]
        typed = {
            i: self._corrected(r.cleaned, [lexical.analyze(r.cleaned) for lexical in lexicals])
            for i, r in enumerate(readings)
            if r.completed
        }
        vectors = _encode_by_length(self._embedder, [*texts, *typed.values()])
        out = vectors[: len(texts)].copy()
        for row, i in enumerate(typed, start=len(texts)):
            blended = out[i] + conversation.OWN_WORDS_WEIGHT * vectors[row]
            out[i] = blended / max(float(np.linalg.norm(blended)), 1e-12)
        return out

    @staticmethod
    def _corrected(text: str, analyses: Sequence[QueryTerms]) -> str:
        """``text`` with its misspellings corrected, for the model. In a combined
        corpus a word is corrected only if no part knows it as it is written."""
        if len(analyses) == 1:
            return analyses[0].corrected(text)
        corrections: dict[str, str] = {}
        for terms in analyses:
            for wrong, right in terms.corrections.items():
                if all(wrong in t.corrections or wrong in t.unknown for t in analyses):
                    corrections.setdefault(wrong, right)
        return QueryTerms((), corrections).corrected(text)

    def __repr__(self) -> str:
        return f"Retriever(documents={len(self.documents)}, passages={len(self.passages)})"


@dataclass(frozen=True)
class _Reading:
    """A question as searched: ``cleaned`` (``prepare_question``), ``text`` (read in
    context: the follow-up completed), and its checked ``k``."""

    cleaned: str
    text: str
    k: int

    @property
    def completed(self) -> bool:
        return self.text != self.cleaned


def _sentence_vectors(
    parts: Sequence[Part], chosen: Sequence[tuple[float, int, int]]
) -> list[np.ndarray]:
    """The sentence vectors of each chosen passage (score, part number, passage id) of
    ``parts[i]``: one read per part (one round trip to a server engine for all)."""
    out: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(chosen)
    for part in {id(p): p for p in parts}.values():
        at = [i for i, p in enumerate(parts) if p is part]
        ids = [chosen[i][2] for i in at]
        for i, vectors in zip(at, sentence_vectors(part.built, ids), strict=True):
            out[i] = vectors
    return out


def _encode_by_length(embedder: Embedder, texts: Sequence[str]) -> np.ndarray:
    """``embedder.encode_queries(texts)``, in groups of similar length.

    A batch is padded to its longest text, so one 1,000-character question among
    thirty short ones would make the model read thirty long ones. Texts are sorted by
    length and cut into groups of at most ``QUERY_BATCH_CHARS`` characters, counted as
    the group's longest times its size."""
    if len(texts) <= 1:
        return embedder.encode_queries(texts)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    groups: list[list[int]] = [[]]
    for i in order:
        if groups[-1] and len(texts[i]) * (len(groups[-1]) + 1) > QUERY_BATCH_CHARS:
            groups.append([])
        groups[-1].append(i)
    out: np.ndarray | None = None
    for group in groups:
        vectors = embedder.encode_queries([texts[i] for i in group])
        if out is None:
            out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
        out[group] = vectors
    assert out is not None
    return out


def _per_question(value: Any, count: int, name: str) -> list[Any]:
    """One ``k`` or history per question: ``value`` repeated, or the sequence given."""
    if value is None or not isinstance(value, Sequence) or isinstance(value, str):
        return [value] * count
    if len(value) != count:
        raise ValueError(f"{name}: {len(value)} values for {count} questions")
    return list(value)


def _invalid(question: object, error: ValueError) -> Answer:
    """The answer to a question that cannot be searched: the reason, in words."""
    message = str(error)
    shown = _echo(str(question))
    return Answer(shown, False, (), message[:1].upper() + message[1:], read_as=shown)


def _echo(question: str) -> str:
    """``question`` as an answer repeats it: no longer than the part that is read, and
    text any JSON encoder takes (a lone surrogate becomes "?")."""
    limit = answering.MAX_QUESTION_CHARS
    shown = question if len(question) <= limit else question[:limit] + " …"
    return shown.encode("utf-8", "replace").decode("utf-8")


def _check_mode(mode: object) -> str:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
    return str(mode)


def check_k(k: object) -> int:
    """``k`` as an int, capped at ``MAX_K``; ``ValueError`` unless a whole number >= 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return int(min(k, MAX_K))
