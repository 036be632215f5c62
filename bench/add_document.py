"""How long a person waits for their own document, and what it costs in memory: adding
a 10,000-word article and the largest document a session takes to a web session (cut,
embed, index) until it answers, with the fp32 and the int8 encoder.

    .venv/bin/python bench/add_document.py            # 10,000 words and the largest, 3 runs
    .venv/bin/python bench/add_document.py --words 2000 --runs 1

The text is real English: Debian's package descriptions (bench/corpora.py), one
paragraph each; without them, the bundled article's paragraphs repeated. The largest
document is ``Limits.max_document_chars`` characters (200,000) of the same text, cut
at a paragraph. Every add runs in a process of its own (started for it, the bundled
index loaded and one question asked first, as a served app would have), so its peak
memory is its own: peak RSS growth is VmHWM during the add minus VmRSS before it, and
retained is VmRSS after it (the session still open) minus VmRSS before. fp32 and int8
alternate run by run, so their ratio holds when other work slows the machine down.
"texts embedded" counts what the model was given; "texts placed" the passages and
sentences that get a vector (a text that occurs twice is embedded once).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

ENCODERS = ("onnx", "onnx-int8")  # fp32, int8
LABELS = {"onnx": "fp32", "onnx-int8": "int8"}
QUESTION = "What does the report say about the first package?"


@functools.cache
def paragraphs() -> tuple[list[str], str]:
    """Paragraphs of real English, and where they came from."""
    try:
        from corpora import MissingTextError, descriptions

        found = []
        for item in descriptions():
            text = " ".join(item.body.split())
            if len(text.split()) >= 20 and text.endswith("."):
                found.append(text)
            if len(found) >= 20_000:
                break
        return found, "Debian package descriptions"
    except (ImportError, MissingTextError, OSError):
        lines = ROOT / "corpus" / "france-allies-begin-military-withdrawal-from-mali.txt"
        body = [line for line in lines.read_text("utf-8").splitlines()[1:] if len(line) > 80]
        return body * 2000, "the bundled article, repeated"


def article(words: int = 0, chars: int = 0) -> tuple[str, str]:
    """A title and paragraphs up to ``words`` words or ``chars`` characters."""
    title = "A long report for the benchmark"
    found, source = paragraphs()
    chosen: list[str] = []
    count, length = 0, len(title) + 1
    for paragraph in found:
        if chars and length + len(paragraph) + 2 > chars:
            break
        chosen.append(paragraph)
        count += len(paragraph.split())
        length += len(paragraph) + 2
        if words and count >= words:
            break
    return title + "\n" + "\n\n".join(chosen) + "\n", source


def texts_placed(text: str) -> int:
    """Passages, and the sentences of passages of several: the texts that get a vector."""
    from qa.ingest.chunking import chunk_document
    from qa.ingest.corpus import documents_from_texts

    passages = chunk_document(documents_from_texts({"r.txt": text})[0])
    return len(passages) + sum(len(p.sentences) for p in passages if len(p.sentences) > 1)


def memory_mb() -> dict[str, float]:
    """VmRSS and VmHWM (peak) of this process, in MB."""
    out = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
    return out


class CountingEmbedder:
    """The embedder, counting the texts it is given to embed as documents."""

    def __init__(self, inner: Any):
        self.inner = inner
        self.texts = 0

    name = property(lambda self: self.inner.name)
    fingerprint = property(lambda self: self.inner.fingerprint)
    dimension = property(lambda self: self.inner.dimension)

    def encode_queries(self, texts: Any) -> Any:
        return self.inner.encode_queries(texts)

    def encode_documents(self, texts: Any, *, progress: bool = False) -> Any:
        self.texts += len(texts)
        return self.inner.encode_documents(texts, progress=progress)


def add_once(encoder: str, text: str, cache: Path) -> dict[str, Any]:
    """In this process: load the bundled index with ``encoder``, add ``text`` to a
    session, and measure it."""
    import qa
    from qa.index.encoders import make_embedder
    from qa.serve.sessions import SessionStore

    embedder = CountingEmbedder(make_embedder(None, encoder, cache))
    # An index folder per encoder: fp32 and int8 indexes never share one.
    base = qa.Retriever.from_corpus(
        ROOT / "corpus", cache_dir=cache / LABELS[encoder], embedder=embedder
    )
    base.search("How many troops does the UN have in Mali?", k=1)  # the model loaded
    store = SessionStore(base)
    sid = store.create()
    embedder.texts = 0
    before = memory_mb()["VmRSS"]
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from VmRSS
    began = time.perf_counter()
    info = store.add_text(sid, text, name="report.txt")
    seconds = time.perf_counter() - began
    after = memory_mb()
    began = time.perf_counter()
    store.ask(sid, QUESTION, scope="mine")
    first = 1000 * (time.perf_counter() - began)
    return {
        "seconds": seconds,
        "passages": info.passages,
        "texts_embedded": embedder.texts,
        "peak_growth_mb": after["VmHWM"] - before,
        "retained_mb": after["VmRSS"] - before,
        "first_answer_ms": first,
        "estimate_mb": info.memory_bytes / 1e6,
    }


def run_child(encoder: str, text_file: Path, cache: Path) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", encoder, str(text_file), str(cache)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"the {encoder} run failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        encoder, text_file, cache = args.child
        text = Path(text_file).read_text(encoding="utf-8")
        print(json.dumps(add_once(encoder, text, Path(cache))))
        return 0

    from qa.index.cache import default_cache_dir
    from qa.serve.sessions import Limits

    largest = Limits().max_document_chars
    work = Path(os.environ.get("TMPDIR", "/tmp")) / f"qa-bench-add-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    documents = {}
    for label, (words, chars) in {
        f"{args.words:,} words": (args.words, 0),
        f"largest ({largest:,} chars)": (0, largest),
    }.items():
        text, source = article(words=words, chars=chars)
        path = work / f"{len(documents)}.txt"
        path.write_text(text, encoding="utf-8")
        documents[label] = (path, text)
    cache = default_cache_dir()
    print(
        f"Text from {source}; {os.cpu_count()} CPU cores; OMP_NUM_THREADS "
        f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; {args.runs} runs, fp32 and int8 "
        "alternating, each add in a process of its own.\n"
    )
    for encoder in ENCODERS:  # the graphs and the bundled index, made before timing
        run_child(encoder, documents[next(iter(documents))][0], cache)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for _ in range(args.runs):
        for label, (path, _text) in documents.items():
            for encoder in ENCODERS:
                results.setdefault((label, encoder), []).append(run_child(encoder, path, cache))
    print(
        "| document | characters | encoder | median s | slowest s | int8 / fp32 | passages "
        "| texts placed | texts embedded | peak RSS growth MB | RSS retained MB "
        "| first answer ms |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, (_path, text) in documents.items():
        fp32 = statistics.median(r["seconds"] for r in results[(label, "onnx")])
        for encoder in ENCODERS:
            runs = results[(label, encoder)]
            median = statistics.median(r["seconds"] for r in runs)
            ratio = f"{median / fp32:.2f}x" if encoder != "onnx" else ""
            print(
                f"| {label} | {len(text):,} | {LABELS[encoder]} | {median:.2f} | "
                f"{max(r['seconds'] for r in runs):.2f} | {ratio} | {runs[0]['passages']} | "
                f"{texts_placed(text)} | {runs[0]['texts_embedded']} | "
                f"{max(r['peak_growth_mb'] for r in runs):.0f} | "
                f"{max(r['retained_mb'] for r in runs):.0f} | "
                f"{statistics.median(r['first_answer_ms'] for r in runs):.0f} |"
            )
    print(
        "\nPeak and retained: the largest of the runs. The session store's own estimate "
        "of a document's memory, which its budget counts: "
        + ", ".join(
            f"{label} {results[(label, 'onnx')][0]['estimate_mb']:.1f} MB" for label in documents
        )
        + "."
    )
    for path, _text in documents.values():
        path.unlink()
    work.rmdir()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
