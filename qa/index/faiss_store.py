"""Stage 4: the vector store, behind a small interface.

``VectorStore`` is all the retriever needs to serve: search, count, describe, save. The
FAISS implementation uses inner product on L2-normalised vectors, which is cosine
similarity. The kind of index follows the corpus size (``choose_index``): exact
search (``flat``) up to ``AUTO_EXACT_LIMIT`` vectors, where one query scans them all
in a few milliseconds; above it an inverted-file index (``ivf``), which scans only
the ``nprobe`` clusters nearest the query. ``hnsw`` (a graph) is there on request:
it searches as fast, but takes far longer to build and cannot drop vectors. A
distributed engine is one more module implementing the same protocol:
``qa.index.milvus_store`` (docs/milvus.md).
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

log = logging.getLogger(__name__)

INDEX_KINDS = ("flat", "hnsw", "ivf")
# Up to this many vectors "auto" keeps exact search: one query over 50,000 vectors of
# 384 floats scans 77 MB, a few milliseconds here (see `make bench`). Above it, "ivf".
AUTO_EXACT_LIMIT = 50_000
# The parameters each kind takes, with what they trade (see ``default_params``).
PARAM_NAMES: dict[str, tuple[str, ...]] = {
    "flat": (),
    "hnsw": ("m", "ef_construction", "ef_search"),
    "ivf": ("nlist", "nprobe"),
}
# IVF trains its clusters on at most this many vectors per cluster: enough for stable
# centroids, and it keeps training at 1,000,000 vectors to about a minute on 2 cores.
IVF_TRAIN_PER_LIST = 64
ADD_BATCH = 50_000  # vectors added per step, so a long add can show progress


class VectorStore(Protocol):
    """Nearest-neighbour search over unit vectors; ids are row numbers of the passages.

    What the retriever needs to serve. ``FaissStore`` also has ``add`` (vectors in row
    order, built in this process); a server engine is written by documents instead
    (``qa.index.milvus_store``), and its ``save`` has nothing to do.
    """

    kind: str

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids, each of shape (n_queries, k), best first; id -1 pads.

        One call for many queries: a batch of questions costs one round trip."""
        ...

    def __len__(self) -> int: ...

    def params(self) -> dict[str, Any]: ...

    def save(self, path: Path) -> None: ...


@runtime_checkable
class PassageStore(VectorStore, Protocol):
    """A store that also holds the passages and the vectors of their sentences (a server
    engine), so the serving process keeps neither: it reads them for the hits only."""

    def sentence_vectors(self, ids: Sequence[int]) -> list[np.ndarray]:
        """The sentence vectors of passages ``ids``, one (n_sentences, d) array each
        (empty for a one-sentence passage), in one round trip."""
        ...


@dataclass(frozen=True)
class IndexChoice:
    """The index kind and parameters for a corpus, and why: written to the manifest."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, **self.params, "chosen_by": self.reason}


def check_index_request(kind: str, params: dict[str, Any] | None = None) -> None:
    """Fail at once on an unknown kind or parameter, before any work is done."""
    if kind != "auto" and kind not in INDEX_KINDS:
        raise ValueError(
            f"index kind must be one of auto, {', '.join(INDEX_KINDS)}; got {kind!r}. "
            "Set it with index_kind= or QA_INDEX_KIND."
        )
    allowed = (
        set(PARAM_NAMES[kind]) if kind != "auto" else {p for v in PARAM_NAMES.values() for p in v}
    )
    for name, value in (params or {}).items():
        if name not in allowed:
            raise ValueError(
                f"index_params: {name!r} is not a parameter of the {kind} index; it takes "
                f"{', '.join(sorted(allowed)) or 'none'}."
            )
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"index_params: {name} must be a whole number >= 1, got {value!r}")


def choose_index(
    count: int, kind: str = "auto", params: dict[str, Any] | None = None
) -> IndexChoice:
    """The index for ``count`` vectors: ``kind`` (``"auto"`` picks by size) with its
    default parameters for that size, overridden by ``params``.

    Under ``"auto"``, ``params`` may name parameters of any kind; only those of the
    kind chosen apply.
    """
    check_index_request(kind, params)
    if kind == "auto":
        chosen = "flat" if count <= AUTO_EXACT_LIMIT else "ivf"
        relation = "<=" if chosen == "flat" else ">"
        reason = f"auto: {count:,} vectors {relation} {AUTO_EXACT_LIMIT:,} (exact limit)"
    else:
        chosen, reason = kind, "requested"
    given = {k: v for k, v in (params or {}).items() if k in PARAM_NAMES[chosen]}
    merged = {**default_params(chosen, count), **given}
    return IndexChoice(
        chosen, merged, reason + (" with " + ", ".join(sorted(given)) if given else "")
    )


def default_params(kind: str, count: int) -> dict[str, int]:
    """Defaults measured with `make bench FULL=1` (recall@10 >= 0.95 against exact search).

    ivf: about 4·√n lists (a power of two), so a list holds a few hundred vectors, and
    at most n/39 of them (FAISS wants 39 training vectors per list); nprobe lists are
    scanned per query, 1/64 of them but at least 32.
    hnsw: 32 links per node; ef_* are the candidate lists while building and searching.
    """
    if kind == "ivf":
        nlist = 2 ** round(math.log2(4 * math.sqrt(max(count, 1))))
        nlist = max(1, min(nlist, count // 39))
        return {"nlist": nlist, "nprobe": min(nlist, max(32, nlist // 64))}
    if kind == "hnsw":
        return {"m": 32, "ef_construction": 80, "ef_search": 64}
    return {}


def choose_index_kind(kind: str, count: int) -> str:
    """The kind ``choose_index`` picks for ``count`` vectors (kept for callers of 0.1)."""
    return choose_index(count, kind).kind


class FaissStore:
    """A FAISS index over unit vectors, scored by inner product (= cosine).

    >>> store = FaissStore(dimension=384)                 # exact search
    >>> store = FaissStore(384, "ivf", nlist=4096, nprobe=64)
    >>> store.add(vectors); scores, ids = store.search(query_vectors, k=3)
    """

    _index: Any  # faiss.IndexFlatIP, IndexHNSWFlat or IndexIVFFlat

    def __init__(self, dimension: int, kind: str = "flat", **params: Any):
        import faiss

        if dimension < 1:
            raise ValueError(f"dimension must be >= 1, got {dimension}")
        if kind == "auto":
            raise ValueError(
                "FaissStore needs a concrete kind; resolve 'auto' with choose_index first"
            )
        check_index_request(kind, params)
        self.kind = kind
        self.dimension = dimension
        params = {**default_params(kind, 0), **params}
        if kind == "flat":
            self._index = faiss.IndexFlatIP(dimension)
        elif kind == "hnsw":
            self._index = faiss.IndexHNSWFlat(dimension, params["m"], faiss.METRIC_INNER_PRODUCT)
            self._index.hnsw.efConstruction = params["ef_construction"]
            self._index.hnsw.efSearch = params["ef_search"]
        else:  # ivf
            quantizer = faiss.IndexFlatIP(dimension)
            self._index = faiss.IndexIVFFlat(
                quantizer, dimension, params["nlist"], faiss.METRIC_INNER_PRODUCT
            )
            self._index.cp.max_points_per_centroid = IVF_TRAIN_PER_LIST
            self._index.nprobe = params["nprobe"]
            self._quantizer = quantizer  # keep alive: the IVF index does not own it
        self._params = params

    def add(self, vectors: np.ndarray, progress: Callable[[int], None] | None = None) -> None:
        """Add rows in order (ids continue from ``len(self)``); IVF trains on the first
        call. ``progress`` is called with the number of rows added after each step."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"vectors must have shape (n, {self.dimension}), got {vectors.shape}")
        if not self._index.is_trained:
            if len(vectors) < self._params.get("nlist", 1):
                raise ValueError(
                    f"an ivf index with nlist={self._params['nlist']} needs at least that many "
                    f"vectors to train, got {len(vectors)}: lower nlist or use kind 'flat'"
                )
            log.info("Training the %s index on %d vectors", self.kind, len(vectors))
            self._index.train(vectors)
        for start in range(0, len(vectors), ADD_BATCH):
            batch = vectors[start : start + ADD_BATCH]
            self._index.add(batch)
            if progress is not None:
                progress(len(batch))

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"k must be a whole number >= 1, got {k!r}")
        if queries.ndim != 2 or queries.shape[1] != self.dimension:
            raise ValueError(f"queries must have shape (n, {self.dimension}), got {queries.shape}")
        scores, ids = self._index.search(queries, int(k))  # FAISS rejects NumPy ints
        return scores, ids

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def params(self) -> dict[str, Any]:
        return {"kind": self.kind, **self._params}

    def save(self, path: Path) -> None:
        """Write with FAISS's own writer to a temporary name, then move into place."""
        import faiss

        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            faiss.write_index(self._index, str(tmp))
            with tmp.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, params: dict[str, Any]) -> FaissStore:
        """Read an index written by ``save``; ``params`` as ``params()`` returned them.

        The search-time parameters (``ef_search``, ``nprobe``) are set again from
        ``params``; FAISS raises RuntimeError on a file it cannot read.
        """
        import faiss

        kind = str(params.get("kind", "flat"))
        types: dict[str, Any] = {
            "flat": faiss.IndexFlatIP,
            "hnsw": faiss.IndexHNSWFlat,
            "ivf": faiss.IndexIVFFlat,
        }
        if kind not in types:
            raise ValueError(f"{path}: unknown index kind {kind!r} in the manifest")
        index: Any = faiss.read_index(str(path))  # returned as its concrete type
        if not isinstance(index, types[kind]):
            raise ValueError(
                f"{path} holds a {type(index).__name__}, not the {kind} index expected"
            )
        store = cls.__new__(cls)
        store.kind = kind
        store.dimension = int(index.d)
        store._params = {k: v for k, v in params.items() if k in PARAM_NAMES[kind]}
        store._index = index
        if kind == "hnsw" and "ef_search" in store._params:
            index.hnsw.efSearch = int(store._params["ef_search"])
        if kind == "ivf" and "nprobe" in store._params:
            index.nprobe = int(store._params["nprobe"])
        return store
