"""What every measurement of the benchmark shares: timing, percentiles, peak memory,
the question asked in single-question timings, and an embedder that records its work.

A measurement module (latency.py, build.py, cold_start.py, scale.py, ...) imports these;
bench/run.py lists the modules and runs them (see its docstring for how to add one).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
for folder in (ROOT, HERE, ROOT / "scripts"):  # qa, the bench modules, load_test
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

ARTICLE_QUESTION = "How many troops does the UN have in Mali?"
# bench/run.py --quick sets this for itself and the processes it starts: one repeat and
# one round of everything, to check that every number is written (the tests do that);
# its numbers are too few to report.
QUICK_ENV = "QA_BENCH_QUICK"


def quick() -> bool:
    """True in a ``--quick`` run."""
    return os.environ.get(QUICK_ENV) == "1"


def rounds_of(full: int) -> int:
    """``full`` repeats or rounds, or one in a ``--quick`` run."""
    return 1 if quick() else full


FLOOR_K = 10  # k of the bare FAISS search in the floor


@dataclass
class Context:
    """What a measurement module is given by the runner."""

    work: Path  # scratch folder, kept between runs (corpora, caches)
    sizes: list[str]  # corpus sizes asked for (scale.py)
    repeats: int = 3  # repeats of the slow whole-process timings (cold_start.py)
    # Called with (name, partial results) so a long run keeps what is done.
    checkpoint: Callable[[str, Any], None] = field(default=lambda name, value: None)


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    ms = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 3),
        "p99_ms": round(float(np.percentile(ms, 99)), 3),
        "n": len(ms),
    }


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


class RecordingEmbedder:
    """The real embedder, noting every text the build asks it to embed."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.texts: list[str] = []

    name = property(lambda self: self.inner.name)
    fingerprint = property(lambda self: self.inner.fingerprint)
    dimension = property(lambda self: self.inner.dimension)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.encode_documents(texts, progress=progress)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        json.dump(data, f, indent=2)
    os.replace(f.name, path)
