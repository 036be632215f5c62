"""The front door: ``Retriever`` ties the stages together behind the public API.

``Retriever.from_corpus`` reads a corpus folder and loads its cached index or builds
it (``qa.ingest``, then ``qa.index.building``); ``from_texts`` builds one in memory from
texts a program holds, ``from_urls`` from the articles at links; ``combine`` searches
several as one (the bundled corpus and a visitor's own documents) without embedding
anything again. ``search`` ranks passages for a question, read in the context of the
conversation's earlier questions (``qa.answer.search``); ``ask`` also decides whether
any passage answers it, and how surely (``qa.answer.answering``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from qa.answer import answering
from qa.answer.language import not_english, not_english_answer
from qa.answer.overview import is_overview_question, overview_answer
from qa.answer.question import prepare_question
from qa.answer.ranking import Part
from qa.answer.search import Found, Reading, check_mode, read, search_parts
from qa.index.building import (
    EMBEDDING_INPUT,
    ProgressReport,
    build_index,
    load_or_build,
    sync_milvus,
)
from qa.index.cache import BuildSpec, EmbeddingCache, default_cache_dir, index_folder
from qa.index.embedder import Embedder
from qa.index.encoders import make_embedder
from qa.index.stores import BuiltIndex, check_index_request, vector_store_name
from qa.ingest.chunking import ChunkingConfig
from qa.ingest.corpus import BoilerplateRules, CorpusError, documents_from_texts, load_corpus
from qa.limits import DEFAULT_K, check_k
from qa.types import Answer, Document, Hit, Passage

# The article shipped inside the package (a copy of the repository's corpus/), so that
# an installed qa answers in any folder.
BUNDLED_CORPUS = Path(__file__).resolve().parent / "ingest" / "bundled"


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
        documents: Iterable[Document],
        parts: Sequence[Part],
        embedder: Embedder,
        *,
        mode: str = "hybrid",
        from_cache: bool = False,
        cache_folder: Path | None = None,
    ):
        """The one constructor: ``parts`` are built indexes with their BM25 (one for a
        corpus; several for ``combine``), whose passages are of ``documents``, embedded
        by ``embedder``. Use ``from_corpus``, ``from_texts``, ``from_urls`` or
        ``combine`` rather than this."""
        self.documents: dict[str, Document] = {d.source: d for d in documents}
        self.passages: list[Passage] = [p for part in parts for p in part.built.passages]
        self.mode = check_mode(mode)
        self.from_cache = from_cache  # True when the index was loaded, not built
        self.cache_folder = cache_folder
        self._parts = tuple(parts)
        self._embedder = embedder

    @classmethod
    def of_index(
        cls,
        documents: Sequence[Document],
        built: BuiltIndex,
        embedder: Embedder,
        *,
        from_cache: bool = False,
        cache_folder: Path | None = None,
    ) -> Retriever:
        """A retriever over one built index, with its BM25 built here, in memory
        (milliseconds per thousand passages), so the cache on disk stays the dense
        index alone."""
        return cls(
            documents,
            [Part.of(built)],
            embedder,
            from_cache=from_cache,
            cache_folder=cache_folder,
        )

    def with_mode(self, mode: str) -> Retriever:
        """The same retriever ranking by another of ``MODES`` (sharing every index).

        ``qa eval`` uses this to compare the shipped ``"hybrid"`` with its ablations.
        """
        other = copy.copy(self)
        other.mode = check_mode(mode)
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

    @property
    def built(self) -> BuiltIndex:
        """The index of a retriever made of one part (the first part of a combined one)."""
        return self._parts[0].built

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

        The corpus holds ``.txt``, ``.md``, ``.html`` and ``.pdf`` files (``qa.ingest.corpus``).
        ``index_kind`` is ``"auto"`` (exact search up to 50,000 passages, IVF above),
        ``"flat"``, ``"ivf"`` or ``"hnsw"``; default ``QA_INDEX_KIND``, else ``"auto"``.
        ``index_params`` override that kind's defaults (see ``qa.index.stores``). A build
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
            chunking=chunking,
            index_kind=index_kind,
            index_params=index_params,
            rebuild=rebuild,
        )
        return cls.of_index(documents, built, embedder, from_cache=loaded, cache_folder=folder)

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
        corpus file: first line the title, boilerplate lines dropped (``qa.ingest.corpus``);
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
        return cls.of_index(documents, built, embedder)

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
        """A retriever over the articles at ``urls``, fetched now (``qa.ingest.fetching``: each
        page's main text; http and https only, at most 10 MB, no private or local
        address unless ``allow_private`` or ``QA_ALLOW_PRIVATE_URLS=1``). Each hit's
        ``source`` names its page ("news.example.org \u203a harbour-reopens"); a link that
        cannot be read raises ``FetchError`` (a ``DocumentError``) saying why.

        >>> r = Retriever.from_urls(["https://news.example.org/local/harbour-reopens"])
        """
        from qa.ingest.fetching import fetch_document  # httpx is imported only when used

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
        return cls(
            [d for r in retrievers for d in r.documents.values()],
            [part for r in retrievers for part in r._parts],
            first._embedder,
            mode=first.mode,
            from_cache=all(r.from_cache for r in retrievers),
        )

    def search(self, question: str, k: int = DEFAULT_K, history: Sequence[str] = ()) -> list[Hit]:
        """The ``k`` passages that best answer ``question``, best first.

        ``history`` holds the conversation's earlier questions, oldest first: a
        follow-up ("And France?", "How many of them died there?") is read as the
        question it stands for before searching (``qa.answer.conversation``; ``ask``
        says how it was read). A question that stands on its own is searched as typed.

        ``Hit.score`` is in [0, 1] and means the same for every question, so it can be
        compared across questions and thresholded: how it is made is in
        ``qa.answer.fusion`` and ``qa.answer.ranking``, and what its values mean in the
        thresholds of ``qa.answer.answering``. Misspelt words are read as the corpus word
        they resemble ("peacekepers" as "peacekeepers") first. A question about the
        whole article or not in English is searched as typed, like any other:
        ``search`` ranks passages and never refuses; ``ask`` answers those two.
        Raises ``ValueError`` for an empty question or a ``k`` outside 1 to
        ``qa.limits.MAX_K``.
        """
        return self._search([read(question, k, history)])[0].hits

    def ask(self, question: str, k: int = DEFAULT_K, history: Sequence[str] = ()) -> Answer:
        """Search, then decide whether the corpus answers ``question`` at all
        (``answering.decide``): the passages come back either way, so a UI can show the
        closest as not an answer. ``Answer.read_as`` is the question searched.

        Two questions are answered without a search: one about the whole article
        ("What is this article about?", "Summarize") gets its overview (``kind``
        "overview", ``qa.answer.overview``); one not in English says so (``kind``
        "not_english", ``found`` False, ``qa.answer.language``).
        """
        return self.ask_batch([question], [k], [history])[0]

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
        k: int | Sequence[int] = DEFAULT_K,
        histories: Sequence[Sequence[str]] | None = None,
    ) -> list[list[Hit]]:
        """``search`` for many questions at once: one list of hits per question, in order.

        The questions share one forward pass of the model and one call to the vector
        store, so a batch costs far less than its questions one by one; each gets the
        hits ``search`` gives it (scores to float rounding). ``k`` is one for all or
        one per question; ``histories``, if given, one history per question. Raises
        ``ValueError`` if any question is empty or any ``k`` is out of range.

        >>> r.search_batch(["Why is France leaving Mali?", "And the UN?"], 3,
        ...                [[], ["How many French soldiers are in the Sahel?"]])
        """
        ks = _per_question(k, len(questions), "k")
        stories = _per_question(histories, len(questions), "histories")
        readings = [read(q, n, h or ()) for q, n, h in zip(questions, ks, stories, strict=True)]
        return [found.hits for found in self._search(readings)]

    def ask_batch(
        self,
        questions: Sequence[str],
        k: int | Sequence[int] = DEFAULT_K,
        histories: Sequence[Sequence[str]] | None = None,
    ) -> list[Answer]:
        """``ask`` for many questions at once (see ``search_batch``): one ``Answer``
        each, in order; an empty question or a bad ``k`` gets its own "not found"
        answer saying why, as with ``ask``, and the others are answered."""
        ks = _per_question(k, len(questions), "k")
        stories = _per_question(histories, len(questions), "histories")
        answers: list[Answer | None] = [None] * len(questions)
        readings: dict[int, Reading] = {}
        for i, (question, ki, history) in enumerate(zip(questions, ks, stories, strict=True)):
            try:
                if (unsearched := self._unsearched(question, ki)) is not None:
                    answers[i] = unsearched
                    continue
                readings[i] = read(question, ki, history or ())
            except ValueError as exc:
                answers[i] = answering.invalid(question, exc)
        for i, found in zip(readings, self._search(list(readings.values())), strict=True):
            text = found.reading.text
            answers[i] = answering.decide(
                questions[i],
                found.hits,
                text,
                min_score=answering.MIN_SCORES[self.mode],
                missing=self._missing_names(text) if self.mode == "hybrid" else (),
                titles=self.titles,
            )
        return [answer for answer in answers if answer is not None]

    def _search(self, readings: Sequence[Reading]) -> list[Found]:
        return search_parts(self._parts, self._embedder, self.mode, readings)

    def _unsearched(self, question: str, k: object) -> Answer | None:
        """The answer to a question not in English or about the whole article, which
        no search answers; None for any other. Raises ``ValueError`` as ``read``."""
        cleaned = prepare_question(question)
        check_k(k)
        if (language := not_english(cleaned)) is not None:
            return not_english_answer(question, language)
        if is_overview_question(cleaned):
            return replace(self.overview(), question=question, read_as=question)
        return None

    def _missing_names(self, text: str) -> list[str]:
        """The names of ``text`` that no part of the corpus mentions."""
        lexicals = [part.lexical for part in self._parts if part.lexical is not None]
        return answering.missing_in_all(text, lexicals)

    def __repr__(self) -> str:
        return f"Retriever(documents={len(self.documents)}, passages={len(self.passages)})"


def _per_question(value: Any, count: int, name: str) -> list[Any]:
    """One ``k`` or history per question: ``value`` repeated, or the sequence given."""
    if value is None or not isinstance(value, Sequence) or isinstance(value, str):
        return [value] * count
    if len(value) != count:
        raise ValueError(f"{name}: {len(value)} values for {count} questions")
    return list(value)
