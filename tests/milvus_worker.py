"""A child process for the Milvus tests: builds (or loads) an index in a Milvus Lite
file with the fake embedder, optionally killing itself with SIGKILL after the N-th
upsert (a build killed half way), like a crash or an OOM kill would.

    python tests/milvus_worker.py CORPUS CACHE URI [--kill-after-upserts N]

Prints one JSON line: from_cache, passage count, top hits per probe, upserts made.
"""

from __future__ import annotations

import argparse
import json
import os
import signal

# Run as a script: its own folder (tests/) is on sys.path, and qa is installed.
from conftest import FakeEmbedder

PROBES = ("How many troops does the UN have in Mali?", "Why is France leaving Mali?")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("cache")
    parser.add_argument("uri")
    parser.add_argument("--kill-after-upserts", type=int, default=0)
    args = parser.parse_args()
    os.environ.update({"QA_VECTOR_STORE": "milvus", "QA_MILVUS_URI": args.uri})

    import qa
    from qa.index import milvus_store

    milvus_store.WRITE_BATCH_ROWS = 8  # many small upserts, so a kill lands between them
    calls = {"upserts": 0}
    real_call = milvus_store.MilvusStore._call

    def call(self, method, *a, **kw):  # type: ignore[no-untyped-def]
        result = real_call(self, method, *a, **kw)
        if method == "upsert":
            calls["upserts"] += 1
            if calls["upserts"] == args.kill_after_upserts:
                os.kill(os.getpid(), signal.SIGKILL)
        return result

    milvus_store.MilvusStore._call = call  # type: ignore[method-assign]
    retriever = qa.Retriever.from_corpus(args.corpus, cache_dir=args.cache, embedder=FakeEmbedder())
    print(
        json.dumps(
            {
                "from_cache": retriever.from_cache,
                "passages": len(retriever.passages),
                "top": [
                    [h.source, h.start, h.end, round(h.score, 6)]
                    for q in PROBES
                    for h in retriever.search(q, k=3)
                ],
                "upserts": calls["upserts"],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
