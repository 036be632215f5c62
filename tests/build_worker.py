"""A child process for the fault tests: builds (or loads) an index with the fake
embedder, optionally killing itself with SIGKILL at the N-th file move, or stalling
in the middle of embedding so the parent can kill it there.

    python tests/build_worker.py CORPUS CACHE [--kill-at-replace N] [--stall-embed]

Prints one JSON line with what it got: from_cache, passage count, top hit per probe.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time

# Run as a script: its own folder (tests/) is on sys.path, and qa is installed.
from conftest import FakeEmbedder

PROBES = ("How many troops does the UN have in Mali?", "Why is France leaving Mali?")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("cache")
    parser.add_argument("--kill-at-replace", type=int, default=0)
    parser.add_argument("--stall-embed", action="store_true")
    args = parser.parse_args()

    real_replace = os.replace
    calls = {"n": 0}

    def replace(src, dst, *a, **kw):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == args.kill_at_replace:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_replace(src, dst, *a, **kw)

    os.replace = replace  # type: ignore[assignment]

    embedder = FakeEmbedder()
    if args.stall_embed:
        encode = embedder.encode_documents

        def slow(texts, *, progress=False):  # type: ignore[no-untyped-def]
            print("EMBEDDING", flush=True)
            time.sleep(60)
            return encode(texts, progress=progress)

        embedder.encode_documents = slow  # type: ignore[method-assign]

    import qa

    retriever = qa.Retriever.from_corpus(args.corpus, cache_dir=args.cache, embedder=embedder)
    print(
        json.dumps(
            {
                "from_cache": retriever.from_cache,
                "passages": len(retriever.passages),
                "top": [
                    [h.source, h.start, h.end] for q in PROBES for h in retriever.search(q, k=1)
                ],
                "replaces": calls["n"],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
