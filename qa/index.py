"""Stage 4: the vector store, behind a small interface.

``VectorStore`` is all the retriever needs: add vectors, search, save and load. The
FAISS implementation uses inner product on L2-normalised vectors, which is cosine
similarity. Exact search (``flat``) is right for a few hundred thousand passages;
``hnsw`` and ``ivf`` are approximate indexes for larger corpora. A store for a
distributed engine would be one new module implementing the same protocol.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np

INDEX_KINDS = ("flat", "hnsw", "ivf")
# Above this many vectors "auto" picks an approximate index (see VectorStore docs).
AUTO_EXACT_LIMIT = 200_000


class VectorStore(Protocol):
    """Nearest-neighbour search over unit vectors; ids are row numbers in add order."""

    kind: str

    def add(self, vectors: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Scores and ids, each of shape (n_queries, k), best first; id -1 pads."""
        ...

    def __len__(self) -> int: ...

    def params(self) -> dict[str, Any]: ...

    def save(self, path: Path) -> None: ...


def choose_index_kind(kind: str, count: int) -> str:
    """Resolve ``"auto"`` by corpus size; check any explicit kind."""
    if kind == "auto":
        return "flat" if count <= AUTO_EXACT_LIMIT else "hnsw"
    if kind not in INDEX_KINDS:
        raise ValueError(f"index kind must be one of auto, {', '.join(INDEX_KINDS)}; got {kind!r}")
    return kind


class FaissStore:
    """A FAISS index over unit vectors, scored by inner product (= cosine).

    >>> store = FaissStore(dimension=384)            # exact search
    >>> store.add(vectors); scores, ids = store.search(query_vectors, k=3)
    """

    def __init__(self, dimension: int, kind: str = "flat", **params: Any):
        import faiss

        if dimension < 1:
            raise ValueError(f"dimension must be >= 1, got {dimension}")
        self.kind = choose_index_kind(kind, 0)
        self.dimension = dimension
        if self.kind == "flat":
            self._index = faiss.IndexFlatIP(dimension)
        elif self.kind == "hnsw":
            m = int(params.setdefault("m", 32))
            self._index = faiss.IndexHNSWFlat(dimension, m, faiss.METRIC_INNER_PRODUCT)
            self._index.hnsw.efConstruction = int(params.setdefault("ef_construction", 80))
            self._index.hnsw.efSearch = int(params.setdefault("ef_search", 64))
        else:  # ivf
            nlist = int(params.setdefault("nlist", 1024))
            quantizer = faiss.IndexFlatIP(dimension)
            self._index = faiss.IndexIVFFlat(quantizer, dimension, nlist, faiss.METRIC_INNER_PRODUCT)
            self._index.nprobe = int(params.setdefault("nprobe", 16))
            self._quantizer = quantizer  # keep alive: FAISS does not own it
        self._params = params

    def add(self, vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dimension:
            raise ValueError(f"vectors must have shape (n, {self.dimension}), got {vectors.shape}")
        if not self._index.is_trained:
            self._index.train(vectors)
        self._index.add(vectors)

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
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path, params: dict[str, Any]) -> FaissStore:
        """Read an index written by ``save``; FAISS raises RuntimeError on a bad file."""
        import faiss

        index = faiss.read_index(str(path))
        store = cls.__new__(cls)
        store.kind = params.get("kind", "flat")
        if store.kind not in INDEX_KINDS:  # "auto" is resolved before saving
            raise ValueError(f"saved index kind must be one of {INDEX_KINDS}, got {store.kind!r}")
        store.dimension = int(index.d)
        store._params = {k: v for k, v in params.items() if k != "kind"}
        store._index = index
        if store.kind == "hnsw" and "ef_search" in store._params:
            faiss.downcast_index(index).hnsw.efSearch = int(store._params["ef_search"])
        if store.kind == "ivf" and "nprobe" in store._params:
            faiss.extract_index_ivf(index).nprobe = int(store._params["nprobe"])
        return store
