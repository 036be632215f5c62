"""Load test: many concurrent gradio_client users against the running app, on loopback.

    python scripts/load_test.py [--users 50] [--questions 20] [--url URL]

Without --url it starts `app.py` on a free loopback port and stops it at the end.
Each user asks its questions in turn through the `/search` API, over plain HTTP (the
documented call-then-read protocol) in one Gradio session of its own, as a client
program or a browser tab keeps (``--client http-per-call``: a new session per call, as
``curl`` does; ``--client gradio`` uses ``gradio_client``).
Before the load, each question is asked once alone (with ``gradio_client``); under
load every answer must equal that one exactly (same passages, same order), so
cross-talk between users shows up as a wrong answer.
The loop is bounded in count and in time.
Prints errors, wrong answers, and latency p50/p99; exits 1 on any error or wrong answer.

In the same run, before the load, it measures the in-process rate on this machine: the
same questions through ``qa.Retriever.search`` one at a time, and through
``search_batch`` 50 at a time, in this process over the same corpus and index, with as
many model threads as the app uses (``qa.serve.batching.model_threads``). With
the app it started, it also reports the CPU time the app and this client used during
the load (the client shares the machine's cores with the app).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "How many troops does the UN have in Mali?",
    "How many French soldiers are in the Sahel?",
    "Who is the spokesman for the MINUSMA mission?",
    "How many European nations are in the Takuba mission?",
    "When did France first deploy troops in Mali?",
    "How many of the soldiers killed died in Mali?",
    "Who did the junta deploy?",
    "What did Macron say about failure?",
    "Who won the World Cup?",
    "x" * 100_000,  # a flood of long questions must not starve the others
]
DEADLINE_SECONDS = 600


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_app(port: int, cache: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_SERVER_PORT": str(port),
        "QA_CACHE_DIR": cache,
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"app.py exited with code {proc.returncode} before serving")
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc
        except OSError:
            time.sleep(0.05)  # fine-grained: `make bench` times the start with this
    proc.kill()
    raise SystemExit("app.py did not serve within 180 s")


def in_process_rates(cache: str, seconds: float = 10.0) -> tuple[float, float]:
    """Questions per second answered by ``Retriever.search`` one by one, and by
    ``search_batch`` in batches of 50, each for about ``seconds``."""
    from qa.serve.batching import model_threads

    # As many model threads as the app uses (read when the model loads, below).
    os.environ.setdefault("OMP_NUM_THREADS", str(model_threads()))
    import qa

    corpus = os.environ.get("QA_CORPUS") or ROOT / "corpus"
    retriever = qa.Retriever.from_corpus(corpus, cache_dir=cache)
    for question in QUESTIONS:
        retriever.search(question, 3)  # warm up

    def rate(step: Callable[[list[str]], object], size: int) -> float:
        done, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            batch = [QUESTIONS[(done + i) % len(QUESTIONS)] for i in range(size)]
            step(batch)
            done += size
        return done / (time.perf_counter() - began)

    serial = rate(lambda batch: retriever.search(batch[0], 3), 1)
    batched = rate(lambda batch: retriever.search_batch(batch, 3), 50)
    return serial, batched


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def answers_alone(url: str) -> dict[str, list[tuple[str, int, int]]]:
    """Each question's passages, asked alone before the load: the expected answers."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    expected = {q: spans(client.predict(q, 3, api_name="/search")) for q in QUESTIONS}
    if "12,000 troops" not in client.predict(QUESTIONS[0], 1, api_name="/search")[0]["text"]:
        raise SystemExit("the app does not answer the first question right even alone")
    return expected


class HttpClient:
    """The documented HTTP API (what ``curl`` uses: POST the question, then read the
    result's event stream), on one kept-alive connection. Far cheaper per question than
    ``gradio_client``, so the load measures the app rather than the load generator,
    which shares the machine's cores with it."""

    def __init__(self, url: str, keep_session: bool = True):
        import httpx

        self.url = url.rstrip("/")
        self.http = httpx.Client(timeout=DEADLINE_SECONDS, trust_env=False)
        # One Gradio session per user, as gradio_client and a browser tab keep; without
        # one (curl's way) Gradio makes a new session for every call, which costs the
        # server more than the question (a copy of every component's settings).
        self.session = uuid.uuid4().hex[:12] if keep_session else None

    def predict(self, question: str, k: int, api_name: str = "/search") -> Any:
        call = f"{self.url}/gradio_api/call{api_name}"
        body: dict[str, Any] = {"data": [question, k, [], "both"]}
        if self.session:
            body["session_hash"] = self.session
        event = self.http.post(call, json=body)
        event.raise_for_status()
        stream = self.http.get(f"{call}/{event.json()['event_id']}")
        stream.raise_for_status()
        kind = ""
        for line in stream.text.splitlines():
            if line.startswith("event: "):
                kind = line[7:].strip()
            elif line.startswith("data: ") and kind in ("complete", "error"):
                data = json.loads(line[6:])
                if kind == "error":
                    raise RuntimeError(f"the app answered with an error: {data}")
                return data[0]
        raise RuntimeError(f"no result in the event stream: {stream.text[:200]!r}")


def make_client(url: str, kind: str) -> Any:
    if kind in ("http", "http-per-call"):
        return HttpClient(url, keep_session=kind == "http")
    from gradio_client import Client

    return Client(url, verbose=False)


def spans(passages: list[dict]) -> list[tuple[str, int, int]]:
    return [(p["source"], p["start"], p["end"]) for p in passages]


def user(
    url: str, number: int, questions: int, stop_at: float, expected: dict[str, list], kind: str
) -> tuple[list[float], list[str]]:
    client = make_client(url, kind)
    latencies: list[float] = []
    problems: list[str] = []
    for i in range(questions):
        if time.monotonic() > stop_at:
            problems.append(f"user {number}: deadline reached after {i} questions")
            break
        question = QUESTIONS[(number + i) % len(QUESTIONS)]
        began = time.perf_counter()
        try:
            passages = client.predict(question, 3, api_name="/search")
        except Exception as exc:  # any failure counts as an error
            problems.append(f"user {number}: error on {question!r}: {exc}")
            continue
        latencies.append(time.perf_counter() - began)
        if spans(passages) != expected[question]:
            problems.append(f"user {number}: wrong answer to {question[:50]!r}: {spans(passages)}")
    return latencies, problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=20, help="questions per user")
    parser.add_argument("--url", help="an app already running on loopback")
    parser.add_argument(
        "--cache", help="the app's QA_CACHE_DIR, for the in-process rate with --url"
    )
    parser.add_argument(
        "--client",
        choices=("http", "http-per-call", "gradio"),
        default="http",
        help="http: the documented HTTP API on a kept-alive connection, one session per "
        "user (default, cheap); http-per-call: the same without a session, as curl calls "
        "it (a new Gradio session per question); gradio: gradio_client, as Python users "
        "call it (costs the machine far more CPU)",
    )
    parser.add_argument(
        "--no-in-process", dest="in_process", action="store_false", help="skip the in-process rate"
    )
    args = parser.parse_args()
    if args.url and not args.url.startswith(("http://127.", "http://localhost", "http://[::1]")):
        raise SystemExit("load tests target loopback only")

    proc = None
    with tempfile.TemporaryDirectory() as cache:
        url = args.url
        if url is None:
            port = free_port()
            began = time.perf_counter()
            proc = start_app(port, cache)
            print(f"app serving after {time.perf_counter() - began:.1f} s")
            url = f"http://127.0.0.1:{port}/"
        try:
            expected = answers_alone(url)
            serial, batched = in_process_rates(args.cache or cache) if args.in_process else (0, 0)
            stop_at = time.monotonic() + DEADLINE_SECONDS
            app_cpu = cpu_seconds(proc.pid) if proc else 0.0
            usage = resource.getrusage(resource.RUSAGE_SELF)
            began = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.users) as pool:
                results = list(
                    pool.map(
                        lambda n: user(url, n, args.questions, stop_at, expected, args.client),
                        range(args.users),
                    )
                )
            wall = time.perf_counter() - began
            after = resource.getrusage(resource.RUSAGE_SELF)
            client_cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
            app_cpu = cpu_seconds(proc.pid) - app_cpu if proc else 0.0
        finally:
            if proc is not None:
                proc.terminate()
                proc.wait(timeout=30)
    latencies = sorted(x for lat, _ in results for x in lat)
    problems = [p for _, probs in results for p in probs]
    total = args.users * args.questions
    print(
        f"users {args.users} x questions {args.questions} = {total} requests in {wall:.1f} s "
        f"({len(latencies) / wall:.1f} answered/s)"
    )
    if latencies:
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        worst = latencies[-1]
        print(
            f"latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {worst * 1000:.0f} ms"
        )
    if serial:
        print(
            f"in-process, same machine and run: {serial:.1f} answered/s one by one, "
            f"{batched:.1f} answered/s in batches of 50; served / in-process (one by one): "
            f"{len(latencies) / wall / serial:.2f}"
        )
    answered = max(len(latencies), 1)
    app_part = (
        f"app {app_cpu:.1f} s ({app_cpu / answered * 1000:.0f} ms a question), " if proc else ""
    )
    print(
        f"CPU during the load: {app_part}this client {client_cpu:.1f} s "
        f"({client_cpu / answered * 1000:.0f} ms a question), over {wall:.1f} s on "
        f"{os.cpu_count()} cores (load average {os.getloadavg()[0]:.1f})"
    )
    wrong = sum("wrong answer" in p for p in problems)
    print(
        f"answered {len(latencies)}, errors {len(problems) - wrong}, wrong (crossed) answers "
        f"{wrong}"
    )
    for problem in problems[:20]:
        print("  " + problem)
    return 1 if problems or len(latencies) != total else 0


if __name__ == "__main__":
    threading.stack_size(1 << 20)
    sys.exit(main())
