"""The vector stores behind one interface, the record every build hands on, and the
choices between them: which engine holds the index, and which kind of index.

``VectorStore`` is all the retriever needs to serve: search, count, describe, save.
Two engines meet it: ``faiss_store`` (in this process, the default) and
``milvus_store`` (a Milvus server, Zilliz Cloud or Milvus Lite; docs/milvus.md), chosen
by ``vector_store_name`` (``QA_VECTOR_STORE``). ``BuiltIndex`` is what a build makes
and a cache keeps, whichever engine holds the vectors.

The kind of index follows the corpus size (``choose_index``): exact search (``flat``)
up to ``AUTO_EXACT_LIMIT`` vectors, where one query scans them all in a few
milliseconds; above it an inverted-file index (``ivf``), which scans only the
``nprobe`` clusters nearest the query. ``hnsw`` (a graph) is there on request: it
searches as fast, but takes far longer to build and cannot drop vectors.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from qa.types import Passage

# The engines that can hold an index: FAISS in this process, or a Milvus collection.
ENGINES = ("faiss", "milvus")
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


@dataclass
class BuiltIndex:
    """What a build produces and the cache stores."""

    passages: list[Passage]
    store: VectorStore
    sentence_vectors: np.ndarray
    sentence_rows: np.ndarray
    chosen_by: str = ""  # why this index kind: shown in the manifest


def vector_store_name(name: str | None = None) -> str:
    """The engine: ``name``, else ``QA_VECTOR_STORE``, else ``"faiss"``."""
    chosen = name or os.environ.get("QA_VECTOR_STORE") or "faiss"
    if chosen not in ENGINES:
        raise ValueError(
            f"vector store must be one of {', '.join(ENGINES)}; got {chosen!r}. "
            "Set it with vector_store= or QA_VECTOR_STORE."
        )
    return chosen
