"""Build: ``Retriever.from_corpus`` from nothing against a bare encode of the same texts,
and the incremental rebuild after one document changes, is added or is deleted.
"""

from __future__ import annotations

import shutil
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import corpora
import numpy as np
from measure import RecordingEmbedder, timed


def measure_build(
    corpus: Path,
    cache: Path,
    embedder: RecordingEmbedder,
    bare_sample: int | None,
    repeats: int = 1,
) -> tuple[Any, dict[str, Any]]:
    """Build from nothing, then encode the same texts bare (or an even sample of them);
    ``repeats`` times, alternating, keeping the median of each (small corpora only)."""
    import qa

    builds, bares = [], []
    for _ in range(repeats):
        shutil.rmtree(cache, ignore_errors=True)
        embedder.texts.clear()
        build_s, retriever = timed(
            lambda: qa.Retriever.from_corpus(corpus, cache_dir=cache, embedder=embedder)
        )
        texts = list(embedder.texts)
        step = 1 if bare_sample is None else max(1, len(texts) // bare_sample)
        sample = texts[::step]
        bare_s, _ = timed(
            lambda s=sample, m=embedder.inner.model: m.encode(
                s, batch_size=64, normalize_embeddings=True, convert_to_numpy=True
            )
        )
        builds.append(build_s)
        bares.append(bare_s)
    build_s, bare_s = statistics.median(builds), statistics.median(bares)
    build_rate = len(texts) / build_s
    bare_rate = len(sample) / bare_s
    return retriever, {
        "documents": len(retriever.documents),
        "passages": len(retriever.passages),
        "texts_embedded": len(texts),
        "seconds": round(build_s, 2),
        "passages_per_s": round(len(retriever.passages) / build_s, 1),
        "texts_per_s": round(build_rate, 1),
        "bare_encode_texts": len(sample),
        "bare_encode_texts_per_s": round(bare_rate, 1),
        "ratio": round(build_rate / bare_rate, 3),
        "repeats": repeats,
        "index": retriever.built.store.params(),
    }


def measure_incremental(
    corpus: Path, cache: Path, embedder: RecordingEmbedder, spare: corpora.Description
) -> dict[str, Any]:
    """Change, add and delete one document; compare with a full rebuild."""
    import qa

    files = sorted(corpus.glob("*.txt"))
    steps: dict[str, Any] = {}

    def step(name: str, change: Callable[[], None]) -> Any:
        change()
        embedder.texts.clear()
        seconds, retriever = timed(
            lambda: qa.Retriever.from_corpus(corpus, cache_dir=cache, embedder=embedder)
        )
        steps[name] = {"seconds": round(seconds, 2), "texts_embedded": len(embedder.texts)}
        return retriever

    changed = files[10]
    step(
        "change one",
        lambda: changed.write_text(
            changed.read_text(encoding="utf-8") + "\nThis package was updated for the benchmark.\n",
            encoding="utf-8",
        ),
    )
    step("add one", lambda: (corpus / spare.filename).write_text(spare.as_document(), "utf-8"))
    deleted = files[20]
    deleted_title = deleted.read_text(encoding="utf-8").splitlines()[0]
    incremental = step("delete one", deleted.unlink)
    full = qa.Retriever.from_corpus(corpus, cache_dir=cache, embedder=embedder, rebuild=True)

    def key(p: Any) -> tuple[str, int, int, str]:
        return (p.source, p.start, p.end, p.text)

    same_passages = [key(p) for p in incremental.passages] == [key(p) for p in full.passages]
    a = incremental.built.store._index.reconstruct_n(0, len(incremental.passages))
    b = full.built.store._index.reconstruct_n(0, len(full.passages))
    deleted_found = {
        mode: any(
            h.source == deleted.name for h in incremental.with_mode(mode).search(deleted_title, 20)
        )
        for mode in ("hybrid", "dense", "lexical")
    }
    return {
        **steps,
        "equals_full_rebuild": bool(
            same_passages and a.shape == b.shape and np.allclose(a, b, atol=1e-5)
        ),
        "max_vector_difference": float(np.abs(a - b).max()) if a.shape == b.shape else None,
        "deleted_document_found": deleted_found,
    }
