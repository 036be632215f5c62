"""The vector store in process: FAISS, scored by inner product on L2-normalised
vectors, which is cosine similarity. It meets ``qa.index.stores.VectorStore``; the kind
of index (exact ``flat``, ``ivf``, ``hnsw``) is chosen by ``stores.choose_index``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from qa.index.stores import PARAM_NAMES, check_index_request, default_params

log = logging.getLogger(__name__)

# IVF trains its clusters on at most this many vectors per cluster: enough for stable
# centroids, and it keeps training at 1,000,000 vectors to about a minute on 2 cores.
IVF_TRAIN_PER_LIST = 64
ADD_BATCH = 50_000  # vectors added per step, so a long add can show progress


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
