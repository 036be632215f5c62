"""What makes a process grow while it embeds a large document, suspect by suspect.

    .venv/bin/python bench/embedding_memory.py              # the largest document a session takes
    .venv/bin/python bench/embedding_memory.py --chars 65000

Each row embeds the distinct passages and sentences of one document (the largest a
session takes, ``Limits.max_document_chars``, of Debian's package descriptions) with the
fp32 ONNX encoder, in a process of its own: peak is VmHWM during the call minus VmRSS
before it, retained is VmRSS after it minus VmRSS before. The suspects, one changed at
a time from what qa did before (first row) to what it does now (last row):

- batches: 64 texts padded to the longest (attention takes 64 x 12 heads x 256² floats),
  or at most ``TOKENS_PER_BATCH`` tokens a batch;
- ONNX Runtime's CPU memory arena (``enable_cpu_mem_arena``), which keeps its largest
  size unless asked to shrink at the end of a run;
- glibc, which keeps freed blocks unless ``malloc_trim`` gives them back.

Also the seconds of the call (on a shared machine, compare within the run).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

# name: (batches of 64 texts, arena on, give back after a call)
VARIANTS = {
    "before: 64 texts a batch, arena, nothing given back": (True, True, False),
    "64 texts a batch, no arena": (True, False, False),
    "64 texts a batch, no arena, malloc_trim": (True, False, True),
    "64 texts a batch, arena shrunk, malloc_trim": (True, True, True),
    "token budget, arena, nothing given back": (False, True, False),
    "now: token budget, arena shrunk, malloc_trim": (False, True, True),
}


def measure(variant: str, chars: int) -> dict[str, Any]:
    """In this process: embed the document's texts as ``variant`` says."""
    from add_document import article, memory_mb

    from qa import memory
    from qa.index import onnx_encoder
    from qa.index.onnx_encoder import OnnxEmbedder
    from qa.ingest.chunking import chunk_document
    from qa.ingest.corpus import documents_from_texts

    fixed_64, arena, give_back = VARIANTS[variant]
    if fixed_64:  # a budget no batch reaches: 64 texts, padded to the longest
        onnx_encoder.TOKENS_PER_BATCH = 64 * 100_000
    if not give_back:
        onnx_encoder._shrink_arena = lambda session: None
        memory.release = lambda collect=False: None  # this process only: no malloc_trim
    if not arena:
        open_session = onnx_encoder._open_session

        def without_arena(onnxruntime: Any, path: Path) -> Any:
            real = onnxruntime.SessionOptions

            def options() -> Any:
                made = real()
                made.enable_cpu_mem_arena = False
                return made

            onnxruntime.SessionOptions = options
            try:
                return open_session(onnxruntime, path)
            finally:
                onnxruntime.SessionOptions = real

        onnx_encoder._open_session = without_arena
    text, _ = article(chars=chars)
    passages = chunk_document(documents_from_texts({"r.txt": text})[0])
    texts = [p.text for p in passages] + [
        p.text[s.start - p.start : s.end - p.start]
        for p in passages
        if len(p.sentences) > 1
        for s in p.sentences
    ]
    texts = list(dict.fromkeys(texts))
    embedder = OnnxEmbedder(precision="fp32")
    embedder.encode_queries(["How many troops does the UN have in Mali?"])  # loaded
    before = memory_mb()["VmRSS"]
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from VmRSS
    began = time.perf_counter()
    embedder.encode_documents(texts)
    seconds = time.perf_counter() - began
    after = memory_mb()
    return {
        "texts": len(texts),
        "seconds": seconds,
        "peak_mb": after["VmHWM"] - before,
        "retained_mb": after["VmRSS"] - before,
    }


def main() -> int:
    from qa.serve.sessions import Limits

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chars", type=int, default=Limits().max_document_chars)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.chars)))
        return 0
    from qa.index.onnx_encoder import TOKENS_PER_BATCH

    print(
        f"A document of {args.chars:,} characters, fp32 ONNX encoder; token budget "
        f"{TOKENS_PER_BATCH} tokens a batch.\n"
    )
    print("| how it embeds | texts | seconds | peak RSS growth MB | RSS retained MB |")
    print("|---|---:|---:|---:|---:|")
    for variant in VARIANTS:
        done = subprocess.run(
            [sys.executable, __file__, "--chars", str(args.chars), "--child", variant],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"{variant} failed:\n{done.stderr[-3000:]}")
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(
            f"| {variant} | {r['texts']} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | "
            f"{r['retained_mb']:.0f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
