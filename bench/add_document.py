"""How long a person waits for their own article: the time to add a 10,000-word
document to a web session (cut, embed, index) until it answers, on this machine.

    .venv/bin/python bench/add_document.py            # 10,000 words, 3 runs each
    .venv/bin/python bench/add_document.py --words 2000 --runs 5

The article is real English: Debian's package descriptions (bench/corpora.py), one
paragraph each, up to the number of words asked for; without them, the bundled
article's paragraphs repeated. It is added as pasted text and as a web page (the
same paragraphs in HTML, so trafilatura's time is counted too). Printed: the median
and slowest time to add, passages and texts embedded, the time of the first question
after it, and the memory the document holds (measured with tracemalloc, beside the
store's own estimate, which the global memory budget uses). The floor is the model
alone encoding the same texts (``encode_documents``), timed between the runs, so the
ratio holds when other work slows the machine down.
"""

from __future__ import annotations

import argparse
import html
import os
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import qa  # noqa: E402
from qa.serve.sessions import SessionStore  # noqa: E402


def article(words: int) -> tuple[str, str]:
    """A title and ``words`` words of paragraphs, and where they came from."""
    paragraphs: list[str] = []
    count = 0
    source = "Debian package descriptions"
    try:
        from corpora import MissingTextError, descriptions

        for item in descriptions():
            text = " ".join(item.body.split())
            if len(text.split()) < 20 or not text.endswith("."):
                continue
            paragraphs.append(text)
            count += len(text.split())
            if count >= words:
                break
    except (ImportError, MissingTextError, OSError):
        paragraphs, count = [], 0
    if count < words:
        source = "the bundled article, repeated"
        lines = ROOT / "corpus" / "france-allies-begin-military-withdrawal-from-mali.txt"
        body = [line for line in lines.read_text("utf-8").splitlines()[1:] if len(line) > 80]
        paragraphs, count = [], 0
        while count < words:
            paragraphs.append(body[len(paragraphs) % len(body)])
            count += len(paragraphs[-1].split())
    title = "A long report for the benchmark"
    return title + "\n" + "\n\n".join(paragraphs) + "\n", source


def as_html(text: str) -> bytes:
    title, _, body = text.partition("\n")
    paragraphs = "".join(f"<p>{html.escape(p)}</p>\n" for p in body.split("\n\n") if p.strip())
    page = (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"</head><body><nav><a href='/'>Home</a> <a href='/news'>News</a></nav><article>"
        f"<h1>{html.escape(title)}</h1>\n{paragraphs}</article>"
        "<footer>Copyright 2026</footer></body></html>"
    )
    return page.encode()


def texts_to_embed(text: str) -> list[str]:
    """Passages, then the sentences of passages of several: what the model embeds."""
    from qa.ingest.chunking import chunk_document
    from qa.ingest.corpus import documents_from_texts

    document = documents_from_texts({"r.txt": text})[0]
    passages = chunk_document(document)
    sentences = [
        document.text[s.start : s.end]
        for p in passages
        if len(p.sentences) > 1
        for s in p.sentences
    ]
    return [p.text for p in passages] + sentences


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--words", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    text, source = article(args.words)
    words = len(text.split())
    base = qa.Retriever.from_corpus(ROOT / "corpus")
    base.search("How many troops does the UN have in Mali?", k=1)  # load the model first
    store = SessionStore(base)
    print(
        f"{words:,} words ({len(text):,} characters) from {source}; model "
        f"{base.model_name}; {os.cpu_count()} CPU cores; torch threads "
        f"{os.environ.get('OMP_NUM_THREADS', 'default')}.\n"
    )
    print(
        "| added as | median s | slowest s | floor s (model alone) | passages | texts embedded "
        "| first answer ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    texts = texts_to_embed(text)
    adders = {
        "pasted text": lambda sid: store.add_text(sid, text, name="report.txt"),
        "web page": lambda sid: store.add_bytes(sid, as_html(text), "report.html"),
    }
    for kind, add in adders.items():
        seconds, first, floor = [], [], []
        passages = 0
        for _ in range(args.runs):
            sid = store.create()
            began = time.perf_counter()
            passages = add(sid).passages
            seconds.append(time.perf_counter() - began)
            began = time.perf_counter()
            base.embedder.encode_documents(texts)
            floor.append(time.perf_counter() - began)
            began = time.perf_counter()
            store.ask(sid, "What does the report say about the first package?", scope="mine")
            first.append(1000 * (time.perf_counter() - began))
            store.close(sid)
        print(
            f"| {kind} | {statistics.median(seconds):.2f} | {max(seconds):.2f} | "
            f"{statistics.median(floor):.2f} | {passages} | {len(texts)} | "
            f"{statistics.median(first):.0f} |"
        )
    # Memory in a run of its own: tracemalloc slows Python down, so it is not timed.
    sid = store.create()
    tracemalloc.start()
    info = store.add_text(sid, text, name="report.txt")
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"\nMemory held by the document (tracemalloc, Python and NumPy): {held / 1e6:.1f} MB; "
        f"the store's estimate, which its memory budget counts: {info.memory_bytes / 1e6:.1f} MB."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
