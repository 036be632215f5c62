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

import hashlib
import json
import logging
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.index.stores import IndexChoice, check_index_request
from qa.types import Passage, Span

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1  # bump on any change to the fields below
DEFAULT_TIMEOUT = 10.0  # seconds for connecting and for each call
MAX_TOPK = 16_384  # Milvus's limit on one search
WRITE_BATCH_ROWS = 512  # rows per upsert: a few MB per call with the sentence vectors
SCAN_BATCH_ROWS = 4_096  # rows per read when loading the passages
DELETE_BATCH_SOURCES = 256  # sources per delete-by-filter
MAX_VARCHAR_BYTES = 65_535  # Milvus's longest VARCHAR
MAX_ARRAY = 4_096  # Milvus's longest ARRAY field
# Milvus Lite names its socket and lock after the file: letters, digits, ".-_", < 37.
_LITE_NAME = re.compile(r"^[A-Za-z0-9.\-_]{1,36}$")
_COLLECTION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_PASSAGE_FIELDS = [
    "pk",
    "source",
    "doc_hash",
    "ordinal",
    "count",
    "text",
    "title",
    "context",
    "start",
    "end",
    "paragraph",
    "paragraphs",
    "sentences",
]


class StoreError(RuntimeError):
    """The vector store cannot be used as configured; the message says what to do."""


@dataclass(frozen=True)
class MilvusSettings:
    """Where the index lives: ``uri`` (a ``.db`` path for Milvus Lite, or a server's
    ``http(s)://host:port``) and the collection's name (None: one per corpus).

    The token is not a setting: it is read from ``QA_MILVUS_TOKEN`` when connecting,
    so it is never in a manifest, a log line or a repr.

    >>> MilvusSettings.from_env(default_uri="/tmp/qa/milvus.db")
    MilvusSettings(uri='/tmp/qa/milvus.db', collection=None, timeout=10.0)
    """

    uri: str
    collection: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def from_env(cls, default_uri: str | Path) -> MilvusSettings:
        """``QA_MILVUS_URI`` (else ``default_uri``), ``QA_MILVUS_COLLECTION``,
        ``QA_MILVUS_TIMEOUT``."""
        timeout = os.environ.get("QA_MILVUS_TIMEOUT") or str(DEFAULT_TIMEOUT)
        try:
            seconds = float(timeout)
        except ValueError:
            seconds = -1.0
        if not seconds > 0:
            raise StoreError(f"QA_MILVUS_TIMEOUT must be a number of seconds > 0, got {timeout!r}")
        return cls(
            uri=os.environ.get("QA_MILVUS_URI") or str(default_uri),
            collection=os.environ.get("QA_MILVUS_COLLECTION") or None,
            timeout=seconds,
        )

    @property
    def is_lite(self) -> bool:
        """A local file served by Milvus Lite rather than a server."""
        return not self.uri.startswith(("http://", "https://", "tcp://", "unix:"))

    def shown_uri(self) -> str:
        """The URI without any user:password part: safe for logs and the manifest."""
        return re.sub(r"//[^/@]*@", "//", self.uri)


def collection_name(folder: Path) -> str:
    """A collection name for the index in ``folder`` (one per corpus location)."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", folder.name)
    return f"qa_{name}"[:255]


@dataclass(frozen=True)
class DocumentState:
    """What the collection holds of one document: its hash, and whether all of its
    ``count`` passages are there with that hash (a killed write leaves it partial)."""

    doc_hash: str
    count: int
    complete: bool


@dataclass(frozen=True)
class DocumentRows:
    """One document to write: its passages and their vectors (the passages' first,
    then the sentences of its multi-sentence passages, as qa embeds them)."""

    source: str
    doc_hash: str
    passages: Sequence[Passage]
    vectors: np.ndarray


def connect(settings: MilvusSettings) -> Any:
    """A ``pymilvus.MilvusClient`` for ``settings``, or ``StoreError`` saying what to check.

    Gives up after ``settings.timeout`` seconds: an unreachable server is an error, not
    a hang.
    """
    try:
        from pymilvus import MilvusClient
        from pymilvus.exceptions import MilvusException
    except ImportError:
        raise StoreError(
            'QA_VECTOR_STORE=milvus needs pymilvus and milvus-lite: pip install "qa[milvus]"'
        ) from None
    uri = settings.uri
    if settings.is_lite:
        with warnings.catch_warnings():  # milvus-lite 2.5 imports the old pkg_resources
            warnings.simplefilter("ignore", UserWarning)
            try:
                import milvus_lite  # noqa: F401
            except ImportError:
                raise StoreError(
                    f"QA_MILVUS_URI={uri!r} is a Milvus Lite file, which needs milvus-lite: "
                    'pip install "qa[milvus]" (or use a Milvus server: http://host:19530)'
                ) from None
        path = Path(uri).expanduser().resolve()
        if path.suffix != ".db" or not _LITE_NAME.match(path.name):
            raise StoreError(
                f"QA_MILVUS_URI={uri!r} is neither a server address (http://host:19530) nor "
                "a Milvus Lite file: a path whose file name ends in .db, at most 36 letters, "
                "digits, '.', '-' or '_' (e.g. ~/.cache/qa/milvus.db)."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"Cannot create the folder of the Milvus Lite file {path}: {exc}"
            ) from None
        uri = str(path)
    token = os.environ.get("QA_MILVUS_TOKEN", "")
    shown = settings.shown_uri()
    try:
        return MilvusClient(uri=uri, token=token, timeout=settings.timeout)
    except MilvusException as exc:
        message = _without(str(getattr(exc, "message", exc)), token)
        if settings.is_lite:
            raise StoreError(
                f"Could not open the Milvus Lite file {uri} ({message}). Milvus Lite serves "
                "one process at a time: is another qa (an app, a build) using it? Stop it, "
                "or point QA_MILVUS_URI at a Milvus server to share one index."
            ) from None
        hint = "QA_MILVUS_TOKEN" if "auth" in message.lower() or "token" in message.lower() else ""
        raise StoreError(
            f"Could not reach Milvus at {shown} within {settings.timeout:g} s ({message}). "
            "Check that the server is running and reachable from this machine, the address "
            f"in QA_MILVUS_URI{', and ' + hint if hint else ''}; QA_MILVUS_TIMEOUT sets the wait."
        ) from None
    except Exception as exc:  # pymilvus raises several types for a URI it cannot use
        raise StoreError(
            f"QA_MILVUS_URI={shown!r} cannot be used: {_without(str(exc), token)}. Use a local "
            "file path ending in .db (Milvus Lite) or http://host:19530 (a Milvus server)."
        ) from None


def _without(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _literal(value: str) -> str:
    """A string literal for a Milvus filter expression (quotes and backslashes escaped)."""
    return json.dumps(value, ensure_ascii=False)


def passage_key(source: str, ordinal: int) -> str:
    """The primary key of a document's ``ordinal``-th passage: stable across versions of
    the document (so a rewrite is an upsert), and plain hex whatever the file name."""
    return (
        f"{hashlib.sha256(source.encode('utf-8', 'surrogatepass')).hexdigest()[:32]}:{ordinal:06d}"
    )


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
        if not _COLLECTION_NAME.match(name):
            raise StoreError(
                f"QA_MILVUS_COLLECTION={name!r} is not a Milvus collection name: letters, "
                "digits and '_', starting with a letter or '_', at most 255."
            )
        client = connect(settings)
        store = cls(client, settings, name, 0, max_sentences)
        description = json.dumps({"qa": SCHEMA_VERSION, **identity}, sort_keys=True)
        if store._call("has_collection", name):
            stored = store._call("describe_collection", name).get("description", "")
            why = None if stored == description else _identity_difference(stored, identity)
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
            batch.extend(self._rows_of(document))
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
                    filter=f"source == {_literal(document.source)} "
                    f"and ordinal >= {len(document.passages)}",
                )
        gone = list(delete)
        for start in range(0, len(gone), DELETE_BATCH_SOURCES):
            names = ", ".join(_literal(s) for s in gone[start : start + DELETE_BATCH_SOURCES])
            self._call("delete", self.name, filter=f"source in [{names}]")

    def load(self, order: dict[str, int]) -> list[Passage]:
        """Every passage of the sources in ``order``, sorted by ``order[source]`` then
        position: the rows ``search`` and ``sentence_vectors`` refer to from now on."""
        rows = [r for r in self._scan(_PASSAGE_FIELDS) if r["source"] in order]
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
            message = _without(str(exc.message), os.environ.get("QA_MILVUS_TOKEN", ""))
            raise StoreError(
                f"Milvus at {self.settings.shown_uri()} failed to {method.replace('_', ' ')} "
                f"(collection {self.name!r}): {message}"
            ) from None

    def _create(self, description: str) -> None:
        from pymilvus import DataType

        schema = self._client.create_schema(auto_id=False, description=description)
        text = {"datatype": DataType.VARCHAR, "max_length": MAX_VARCHAR_BYTES}
        schema.add_field("pk", DataType.VARCHAR, max_length=64, is_primary=True)
        schema.add_field("source", DataType.VARCHAR, max_length=4096)
        schema.add_field("doc_hash", DataType.VARCHAR, max_length=128)
        schema.add_field("ordinal", DataType.INT32)
        schema.add_field("count", DataType.INT32)
        for name in ("text", "title", "context"):
            schema.add_field(name, **text)
        for name in ("start", "end"):
            schema.add_field(name, DataType.INT64)
        for name in ("paragraph", "paragraphs"):
            schema.add_field(name, DataType.INT32)
        schema.add_field("sentences", DataType.JSON)
        schema.add_field(
            "sentence_vectors",
            DataType.ARRAY,
            element_type=DataType.FLOAT,
            max_capacity=self._sentence_capacity,
        )
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self.dimension)
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

    def _rows_of(self, document: DocumentRows) -> Iterator[dict[str, Any]]:
        passages = document.passages
        vectors = np.asarray(document.vectors, dtype=np.float32)
        at = len(passages)  # sentence vectors follow the passage vectors
        for ordinal, p in enumerate(passages):
            sentences = len(p.sentences) if len(p.sentences) > 1 else 0
            own = vectors[at : at + sentences]
            at += sentences
            for name in ("text", "title", "context"):
                if len(getattr(p, name).encode("utf-8", "surrogatepass")) > MAX_VARCHAR_BYTES:
                    raise StoreError(
                        f"{document.source}: a passage's {name} is longer than Milvus's "
                        f"{MAX_VARCHAR_BYTES:,} bytes; split the document or use FAISS."
                    )
            if own.size > self._sentence_capacity:
                raise StoreError(
                    f"{document.source}: a passage of {sentences} sentences exceeds the "
                    f"collection's {self._sentence_capacity // self.dimension}."
                )
            yield {
                "pk": passage_key(document.source, ordinal),
                "source": document.source,
                "doc_hash": document.doc_hash,
                "ordinal": ordinal,
                "count": len(passages),
                "text": p.text,
                "title": p.title,
                "context": p.context,
                "start": p.start,
                "end": p.end,
                "paragraph": p.paragraph,
                "paragraphs": p.paragraphs,
                "sentences": [[s.start, s.end] for s in p.sentences],
                "sentence_vectors": own.ravel().tolist(),
                "vector": vectors[ordinal],
            }

    def _scan(self, fields: list[str]) -> Iterator[dict[str, Any]]:
        """Every row, in primary-key order, a page at a time (``query_iterator`` stalls on
        Milvus Lite 2.5, so pages follow the last key seen)."""
        last = ""
        while True:
            page = self._call(
                "query",
                self.name,
                filter=f"pk > {_literal(last)}",
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


def _identity_difference(stored: str, identity: dict[str, Any]) -> str:
    """Which part of ``identity`` a qa collection description differs in; "" when the
    description is not qa's."""
    try:
        data = json.loads(stored)
    except ValueError:
        return ""
    if not isinstance(data, dict) or "qa" not in data:
        return ""
    if data.get("qa") != SCHEMA_VERSION:
        return f"schema (version {data.get('qa')}, this qa writes {SCHEMA_VERSION})"
    for part, value in identity.items():
        if data.get(part) != value:
            return f"{part} ({_short(data.get(part))} -> {_short(value)})"
    return "identity"


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:79] + "…"
