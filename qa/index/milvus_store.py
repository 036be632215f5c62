"""The vector store on a server: the passages and their vectors in a Milvus collection.

``MilvusStore`` is the ``VectorStore`` for an index that outgrows one process: the
passages (text, offsets, sentences), their vectors and the vectors of their sentences
are rows of one Milvus collection, and only what a question needs comes back (the
nearest passages' ids and scores; the sentence vectors of the hits). The same calls
drive Milvus Lite (a local ``.db`` file; the real Milvus query engine started as a
subprocess, used by the tests), a Milvus cluster (``http://host:19530``) and Zilliz
Cloud (``https://...``; ``QA_MILVUS_TOKEN``).

The collection is the one copy of the index. One row per passage, keyed by its
document and its number in it, so re-indexing a changed document is an upsert of its
rows and a delete of those past its new end; a deleted document is a delete by
``source``. Every row carries its document's content hash and passage count, so
reading the collection tells which documents are whole and current: a build that was
killed half way leaves documents that read as stale, and the next build rewrites them.
The collection's description records what its vectors were made with (model,
chunking, boilerplate rules); a collection made otherwise is refused, never mixed.

The lexical half (BM25, ``qa.index.lexical``) is built in the serving process from the
passage texts read here at start-up, exactly as for FAISS, so the hybrid score and
``qa eval`` are the same on both engines (see docs/milvus.md for why not in Milvus).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.index.milvus_connection import (
    COLLECTION_NAME,
    DocumentRows,
    DocumentState,
    MilvusSettings,
    StoreError,
    connect,
    filter_literal,
    without_secret,
)
from qa.index.milvus_schema import (
    MAX_ARRAY,
    PASSAGE_FIELDS,
    SCHEMA_VERSION,
    collection_schema,
    identity_difference,
    rows_of,
)
from qa.index.stores import IndexChoice, check_index_request
from qa.types import Passage, Span

log = logging.getLogger(__name__)

MAX_TOPK = 16_384  # Milvus's limit on one search
WRITE_BATCH_ROWS = 512  # rows per upsert: a few MB per call with the sentence vectors
SCAN_BATCH_ROWS = 4_096  # rows per read when loading the passages
DELETE_BATCH_SOURCES = 256  # sources per delete-by-filter


class MilvusStore:
    """A Milvus collection of passages, searched by inner product on unit vectors (cosine).

    >>> store = MilvusStore.open(MilvusSettings("/tmp/qa/milvus.db"), "qa_corpus", identity,
    ...                          dimension=384, max_sentences=3)
    >>> states = store.documents()                       # what is there, per source
    >>> store.write([rows], delete=["gone.txt"], previous=states)
    >>> store.use_index(choose_index(n))
    >>> passages = store.load(order)                     # rows, in the corpus's order
    >>> scores, ids = store.search(query_vectors, k=10)  # ids index ``passages``
    """

    def __init__(
        self, client: Any, settings: MilvusSettings, name: str, dimension: int, max_sentences: int
    ):
        self._client = client
        self.settings = settings
        self.name = name
        self.dimension = dimension
        self._sentence_capacity = max_sentences * dimension
        self.kind = "flat"
        self._index_params: dict[str, Any] = {}  # what the engine built: nlist, m
        self._search: dict[str, int] = {}  # nprobe / ef_search, chosen per process
        self._keys: list[str] = []  # row -> primary key, in the order of ``load``
        self._rows: dict[str, int] = {}

    @classmethod
    def open(
        cls,
        settings: MilvusSettings,
        name: str,
        identity: dict[str, Any],
        *,
        dimension: int | Callable[[], int],
        max_sentences: int,
        replace: bool = False,
    ) -> MilvusStore:
        """Connect and open collection ``name``, creating it when missing.

        ``identity`` says what the vectors are made with. A collection of qa's made
        with another identity is refused, or dropped and made anew with ``replace``;
        a collection that qa did not make is refused either way. ``dimension`` (or a
        function giving it, called only to create the collection, so opening one
        does not load the model) is the vectors' length.
        """
        if not COLLECTION_NAME.match(name):
            raise StoreError(
                f"QA_MILVUS_COLLECTION={name!r} is not a Milvus collection name: letters, "
                "digits and '_', starting with a letter or '_', at most 255."
            )
        client = connect(settings)
        store = cls(client, settings, name, 0, max_sentences)
        description = json.dumps({"qa": SCHEMA_VERSION, **identity}, sort_keys=True)
        if store._call("has_collection", name):
            stored = store._call("describe_collection", name).get("description", "")
            why = None if stored == description else identity_difference(stored, identity)
            where = f"collection {name!r} at {settings.shown_uri()}"
            if why == "":
                raise StoreError(
                    f"The {where} was not made by qa; qa never writes into it. Choose "
                    "another name with QA_MILVUS_COLLECTION."
                )
            if why and not replace:
                raise StoreError(
                    f"The {where} was built with another {why}; qa does not mix them. "
                    "Rebuild it (qa build --rebuild, or rebuild=True) or choose another "
                    "collection with QA_MILVUS_COLLECTION."
                )
            if replace:
                log.info(
                    "Replacing the %s%s.",
                    where,
                    f": it was built with another {why}" if why else "",
                )
                store._call("drop_collection", name)
        if store._call("has_collection", name):
            fields = store._call("describe_collection", name).get("fields", [])
            vector: dict[str, Any] = next((f for f in fields if f.get("name") == "vector"), {})
            store.dimension = int(vector.get("params", {}).get("dim", 0))
        else:
            store.dimension = dimension if isinstance(dimension, int) else dimension()
            if max_sentences * store.dimension > MAX_ARRAY:
                raise StoreError(
                    f"Passages of up to {max_sentences} sentences of {store.dimension} numbers "
                    f"each exceed Milvus's array limit of {MAX_ARRAY}: lower "
                    f"ChunkingConfig.max_sentences to {MAX_ARRAY // store.dimension} or fewer."
                )
            store._create(description)
        store._sentence_capacity = max_sentences * store.dimension
        store._read_index()
        store._call("load_collection", name)
        return store

    # ---- the VectorStore protocol -----------------------------------------------------------

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and row ids, each of shape (n_queries, k), best first; id -1 pads."""
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a whole number >= 1, got {k!r}")
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise ValueError(f"queries must have shape (n, {self.dimension}), got {queries.shape}")
        scores = np.full((len(queries), int(k)), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), int(k)), -1, dtype=np.int64)
        if not self._keys or not len(queries):
            return scores, ids
        results = self._call(
            "search",
            self.name,
            data=list(queries),
            anns_field="vector",
            limit=min(int(k), MAX_TOPK, len(self._keys)),
            search_params={"metric_type": "IP", "params": self._search_params()},
            output_fields=[],
        )
        for q, hits in enumerate(results):
            at = 0
            for hit in hits:
                row = self._rows.get(hit["id"])
                if row is None:  # written after this process loaded: not in its view
                    continue
                scores[q, at], ids[q, at] = hit["distance"], row
                at += 1
        return scores, ids

    def __len__(self) -> int:
        return len(self._keys)

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, **self._index_params, **self._search}

    def save(self, path: Path) -> None:
        """Nothing to do: the engine keeps what ``write`` sent it."""

    # ---- what the retriever reads besides -------------------------------------------------

    def sentence_vectors(self, ids: Sequence[int]) -> list[np.ndarray]:
        """The vectors of the sentences of passages ``ids`` (rows), one array each;
        empty for a one-sentence passage. One round trip for all of them."""
        keys = [self._keys[int(i)] for i in ids]
        found = self._call(
            "query",
            self.name,
            ids=sorted(set(keys)),
            output_fields=["pk", "sentence_vectors"],
        )
        by_key = {
            row["pk"]: np.asarray(row["sentence_vectors"], dtype=np.float32).reshape(
                -1, self.dimension
            )
            for row in found
        }
        missing = [k for k in keys if k not in by_key]
        if missing:
            raise StoreError(
                f"Passages were deleted from the collection {self.name!r} while this process "
                "served it; restart to load the current index."
            )
        return [by_key[k] for k in keys]

    # ---- reading and writing documents ----------------------------------------------------

    def documents(self) -> dict[str, DocumentState]:
        """Each source in the collection: its hash, passage count, and whether whole."""
        seen: dict[str, tuple[set[str], set[int], int]] = {}
        for row in self._scan(["pk", "source", "doc_hash", "ordinal", "count"]):
            hashes, ordinals, count = seen.setdefault(row["source"], (set(), set(), row["count"]))
            hashes.add(row["doc_hash"])
            ordinals.add(row["ordinal"])
            seen[row["source"]] = (hashes, ordinals, max(count, row["count"]))
        return {
            source: DocumentState(
                next(iter(hashes)) if len(hashes) == 1 else "",
                count,
                len(hashes) == 1 and ordinals == set(range(count)),
            )
            for source, (hashes, ordinals, count) in seen.items()
        }

    def write(
        self,
        documents: Sequence[DocumentRows],
        *,
        delete: Sequence[str] = (),
        previous: dict[str, DocumentState] | None = None,
    ) -> None:
        """Upsert the rows of ``documents``, drop their rows past their new end, and
        delete every row of the ``delete`` sources.

        ``previous`` (from ``documents()``) says which documents may have rows past
        their new end; without it, every document is checked.
        """
        batch: list[dict[str, Any]] = []
        for document in documents:
            batch.extend(rows_of(document, self._sentence_capacity, self.dimension))
            if len(batch) >= WRITE_BATCH_ROWS:
                self._call("upsert", self.name, batch)
                batch = []
        if batch:
            self._call("upsert", self.name, batch)
        for document in documents:
            # Rows past the new end: only where an earlier version had more passages
            # (a half-written one included: its count is the version's).
            old = None if previous is None else previous.get(document.source)
            if previous is None or (old is not None and old.count > len(document.passages)):
                self._call(
                    "delete",
                    self.name,
                    filter=f"source == {filter_literal(document.source)} "
                    f"and ordinal >= {len(document.passages)}",
                )
        gone = list(delete)
        for start in range(0, len(gone), DELETE_BATCH_SOURCES):
            names = ", ".join(filter_literal(s) for s in gone[start : start + DELETE_BATCH_SOURCES])
            self._call("delete", self.name, filter=f"source in [{names}]")

    def load(self, order: dict[str, int]) -> list[Passage]:
        """Every passage of the sources in ``order``, sorted by ``order[source]`` then
        position: the rows ``search`` and ``sentence_vectors`` refer to from now on."""
        rows = [r for r in self._scan(PASSAGE_FIELDS) if r["source"] in order]
        rows.sort(key=lambda r: (order[r["source"]], r["ordinal"]))
        self._keys = [r["pk"] for r in rows]
        self._rows = {key: i for i, key in enumerate(self._keys)}
        return [
            Passage(
                text=r["text"],
                source=r["source"],
                title=r["title"],
                start=int(r["start"]),
                end=int(r["end"]),
                paragraph=int(r["paragraph"]),
                paragraphs=int(r["paragraphs"]),
                context=r["context"],
                sentences=tuple(Span(int(s), int(e)) for s, e in r["sentences"]),
            )
            for r in rows
        ]

    # ---- internals -------------------------------------------------------------------------

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """One client call, bounded by the timeout (pymilvus retries until then), with an
        error that names the engine and the collection."""
        from pymilvus.exceptions import MilvusException

        try:
            return getattr(self._client, method)(*args, timeout=self.settings.timeout, **kwargs)
        except MilvusException as exc:
            message = without_secret(str(exc.message), os.environ.get("QA_MILVUS_TOKEN", ""))
            raise StoreError(
                f"Milvus at {self.settings.shown_uri()} failed to {method.replace('_', ' ')} "
                f"(collection {self.name!r}): {message}"
            ) from None

    def _create(self, description: str) -> None:
        schema = collection_schema(
            self._client, description, self.dimension, self._sentence_capacity
        )
        index = self._client.prepare_index_params()
        index.add_index("vector", index_type="FLAT", metric_type="IP")
        # Bounded staleness serves searches without waiting for the newest writes; a
        # build reads with "Strong" (see ``_scan``).
        self._call(
            "create_collection",
            self.name,
            schema=schema,
            index_params=index,
            consistency_level="Bounded",
        )
        log.info("Created the collection %r at %s", self.name, self.settings.shown_uri())

    def _scan(self, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every row, in primary-key order, a page at a time (``query_iterator`` stalls on
        Milvus Lite 2.5, so pages follow the last key seen)."""
        last = ""
        while True:
            page = self._call(
                "query",
                self.name,
                filter=f"pk > {filter_literal(last)}",
                limit=SCAN_BATCH_ROWS,
                output_fields=fields,
                consistency_level="Strong",
            )
            if not page:
                return
            yield from page
            last = max(row["pk"] for row in page)

    def _read_index(self) -> None:
        """The kind and parameters of the collection's vector index, as qa names them."""
        described = self._call("describe_index", self.name, "vector") or {}
        kinds = {"FLAT": "flat", "IVF_FLAT": "ivf", "HNSW": "hnsw"}
        self.kind = kinds.get(str(described.get("index_type", "FLAT")), "flat")
        params = described.get("params") or {}
        if isinstance(params, str):
            params = json.loads(params)
        self._index_params = {}
        if "nlist" in params or "nlist" in described:
            self._index_params["nlist"] = int(params.get("nlist", described.get("nlist", 0)))
        if "M" in params or "M" in described:
            self._index_params["m"] = int(params.get("M", described.get("M", 0)))

    def _search_params(self) -> dict[str, int]:
        if self.kind == "ivf":
            return {"nprobe": int(self._search.get("nprobe", 32))}
        if self.kind == "hnsw":
            return {"ef": int(self._search.get("ef_search", 64))}
        return {}

    def engine(self) -> dict[str, Any]:
        """Where the index lives, for the manifest: never a token."""
        return {"name": "milvus", "uri": self.settings.shown_uri(), "collection": self.name}

    def use_index(self, choice: IndexChoice) -> None:
        """Search with the vector index ``choice``, (re)making it if the collection has
        another (kind, or nlist / m); search-time parameters are this process's."""
        check_index_request(choice.kind, choice.params)
        build = {k: v for k, v in choice.params.items() if k in ("nlist", "m", "ef_construction")}
        search = {k: v for k, v in choice.params.items() if k in ("nprobe", "ef_search")}
        self._search = search
        self._read_index()
        have = {k: v for k, v in self._index_params.items() if k in build}
        if self.kind == choice.kind and have == build:
            return
        from pymilvus import MilvusClient

        index_type = {"flat": "FLAT", "ivf": "IVF_FLAT", "hnsw": "HNSW"}[choice.kind]
        milvus_params = {
            "nlist": build.get("nlist"),
            "M": build.get("m"),
            "efConstruction": build.get("ef_construction"),
        }
        index = MilvusClient.prepare_index_params()
        index.add_index(
            "vector",
            index_type=index_type,
            metric_type="IP",
            params={k: v for k, v in milvus_params.items() if v is not None},
        )
        log.info("Indexing the collection %r: %s %s", self.name, index_type, build)
        self._call("release_collection", self.name)
        self._call("drop_index", self.name, "vector")
        try:
            self._call("create_index", self.name, index)
        except StoreError as exc:
            if choice.kind == "hnsw" and self.settings.is_lite:
                raise StoreError(
                    "Milvus Lite has no HNSW index: use index kind flat or ivf here, and hnsw "
                    f"on a Milvus server ({exc})"
                ) from None
            raise
        self._call("load_collection", self.name)
        self._read_index()
