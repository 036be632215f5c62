"""What visitors' documents cost the served app in real memory, and that the budget holds.

    .venv/bin/python bench/session_memory.py                  # both parts, ~5 minutes
    .venv/bin/python bench/session_memory.py --sessions 10    # a quicker second part
    .venv/bin/python bench/session_memory.py --max-rss-mb 700 # a server with less memory

Starts the app (``python app.py``, as ``make run`` does) on a free port and reads its
resident memory (RSS, from /proc) as visitors add documents over the HTTP API, each
visitor a ``gradio_client.Client`` (one session each):

1. the largest document a visitor may add (``Limits.max_document_chars``), alone:
   RSS before, the peak while it is added, and after;
2. ``--sessions`` visitors (40) each adding a ``--chars`` (150,000) character document,
   one after another: RSS after each, and whether the budget engaged (an idle
   session evicted, or the document refused with "try again"), against the bound the
   app documents (``Limits.max_rss_mb``, or ``--max-rss-mb``, passed to the app as
   ``QA_MAX_RSS_MB``).

The text is real English: Debian's package descriptions (bench/corpora.py), each
visitor's document different; without them, the bundled article's paragraphs. Linux
only (RSS from /proc).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from qa.serve.sessions import Limits  # noqa: E402


def texts(count: int, chars: int) -> list[str]:
    """``count`` different documents of about ``chars`` characters, a title line first."""
    paragraphs: list[str] = []
    try:
        from corpora import MissingTextError, descriptions

        for item in descriptions():
            body = " ".join(item.body.split())
            if len(body) > 200 and body.endswith("."):
                paragraphs.append(body)
            if sum(map(len, paragraphs)) > count * chars * 1.1:
                break
    except (ImportError, MissingTextError, OSError):
        pass
    if sum(map(len, paragraphs)) < count * chars:
        article = ROOT / "corpus" / "france-allies-begin-military-withdrawal-from-mali.txt"
        lines = [x for x in article.read_text("utf-8").splitlines()[1:] if len(x) > 80]
        paragraphs = [
            f"{line} (Copy {n}.)" for n in range(count * chars // 4000 + 2) for line in lines
        ]
    documents, at = [], 0
    for number in range(count):
        body: list[str] = []
        while sum(map(len, body)) + len(body) < chars - 100 and at < len(paragraphs):
            body.append(paragraphs[at])
            at += 1
        text = f"Visitor document {number + 1}\n" + "\n".join(body)
        documents.append(text[:chars])
    return documents


def rss_mb(pid: int) -> tuple[float, float]:
    """(resident now, peak resident) of process ``pid``, in MB (10^6 bytes)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        fields[name] = value.strip()
    kb = {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}
    return kb["VmRSS"] * 1024 / 1e6, kb["VmHWM"] * 1024 / 1e6


class App:
    """The app in a subprocess, with its peak RSS sampled every 50 ms."""

    def __init__(self, workdir: Path, max_rss_mb: float | None = None):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        env = {
            **os.environ,
            "GRADIO_SERVER_PORT": str(self.port),
            "QA_CACHE_DIR": os.environ.get("QA_CACHE_DIR", str(workdir / "cache")),
            "GRADIO_ANALYTICS_ENABLED": "False",
        }
        env.pop("QA_CORPUS", None)
        if max_rss_mb is not None:
            env["QA_MAX_RSS_MB"] = f"{max_rss_mb:g}"
        self.log = (workdir / "app.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=workdir,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{self.port}/"
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url, timeout=5):
                    break
            except OSError:
                time.sleep(0.25)
        else:
            raise RuntimeError("the app did not start within 300 s")
        self._peak = 0.0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self._peak = max(self._peak, rss_mb(self.process.pid)[0])
            except (OSError, ValueError):
                return

    def rss(self) -> float:
        return rss_mb(self.process.pid)[0]

    def peak_since_reset(self) -> float:
        return self._peak

    def reset_peak(self) -> None:
        self._peak = self.rss()

    def close(self) -> None:
        self._stop.set()
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=40)
    parser.add_argument("--chars", type=int, default=150_000)
    parser.add_argument(
        "--max-rss-mb", type=float, default=None, help="the app's memory bound (QA_MAX_RSS_MB)"
    )
    args = parser.parse_args()
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    if args.max_rss_mb is not None:
        os.environ["QA_MAX_RSS_MB"] = f"{args.max_rss_mb:g}"
    limits = Limits.from_environment()
    largest = limits.max_document_chars
    documents = texts(args.sessions + 1, max(args.chars, largest))
    with tempfile.TemporaryDirectory(prefix="qa-session-memory-") as folder:
        started = time.perf_counter()
        app = App(Path(folder), args.max_rss_mb)
        print(f"App served after {time.perf_counter() - started:.1f} s: RSS {app.rss():.0f} MB")
        try:
            time.sleep(2)
            idle = app.rss()
            print(f"\n1. The largest document a visitor may add ({largest:,} characters)")
            client = Client(app.url, verbose=False)
            app.reset_peak()
            began = time.perf_counter()
            info = client.predict(documents[0][:largest], "largest.txt", api_name="/add_document")
            seconds = time.perf_counter() - began
            after = app.rss()
            print(
                f"   RSS before {idle:.0f} MB, peak while adding {app.peak_since_reset():.0f} MB, "
                f"after {after:.0f} MB (+{after - idle:.0f} MB); {info['passages']} passages "
                f"in {seconds:.1f} s; the store counts {info['memory_bytes'] / 1e6:.1f} MB"
            )
            client.close()
            print(
                f"\n2. {args.sessions} visitors, one {args.chars:,}-character document each "
                f"(budget: process RSS {limits.max_rss_mb:g} MB)"
            )
            print("   visitor | RSS MB | peak MB | what happened")
            clients = []
            refused = 0
            highest = 0.0
            for number, text in enumerate(documents[1 : args.sessions + 1], start=1):
                client = Client(app.url, verbose=False)
                clients.append(client)
                app.reset_peak()
                try:
                    client.predict(text[: args.chars], f"v{number}.txt", api_name="/add_document")
                    happened = "added"
                except AppError as exc:
                    refused += 1
                    happened = f"refused: {str(exc)[:70]}"
                evicted = _evictions(Path(folder) / "app.log")
                peak = app.peak_since_reset()
                highest = max(highest, peak)
                print(
                    f"   {number:7d} | {app.rss():6.0f} | {peak:7.0f} | {happened}"
                    + (f" ({evicted} evicted so far)" if evicted else "")
                )
            print(
                f"\n   Highest RSS {highest:.0f} MB against the bound {limits.max_rss_mb:g} MB; "
                f"{_evictions(Path(folder) / 'app.log')} sessions evicted, {refused} refused."
            )
            for client in clients:
                client.close()
        finally:
            app.close()


def _evictions(log: Path) -> int:
    return log.read_text(errors="replace").count("Evicted an idle session")


if __name__ == "__main__":
    main()
