"""Load test: many concurrent gradio_client users against the running app, on loopback.

    python scripts/load_test.py [--users 50] [--questions 20] [--url URL]

Without --url it starts `app.py` on a free loopback port and stops it at the end.
Each user asks its questions in turn through the `/search` API. Before the load, each
question is asked once alone; under load every answer must equal that one exactly
(same passages, same order), so cross-talk between users shows up as a wrong answer.
The loop is bounded in count and in time.
Prints errors, wrong answers, and latency p50/p99; exits 1 on any error or wrong answer.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

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


def answers_alone(url: str) -> dict[str, list[tuple[str, int, int]]]:
    """Each question's passages, asked alone before the load: the expected answers."""
    from gradio_client import Client

    client = Client(url, verbose=False)
    expected = {q: spans(client.predict(q, 3, api_name="/search")) for q in QUESTIONS}
    if "12,000 troops" not in client.predict(QUESTIONS[0], 1, api_name="/search")[0]["text"]:
        raise SystemExit("the app does not answer the first question right even alone")
    return expected


def spans(passages: list[dict]) -> list[tuple[str, int, int]]:
    return [(p["source"], p["start"], p["end"]) for p in passages]


def user(
    url: str, number: int, questions: int, stop_at: float, expected: dict[str, list]
) -> tuple[list[float], list[str]]:
    from gradio_client import Client

    client = Client(url, verbose=False)
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
            stop_at = time.monotonic() + DEADLINE_SECONDS
            began = time.perf_counter()
            with ThreadPoolExecutor(max_workers=args.users) as pool:
                results = list(
                    pool.map(
                        lambda n: user(url, n, args.questions, stop_at, expected), range(args.users)
                    )
                )
            wall = time.perf_counter() - began
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
    print(f"answered {len(latencies)}, problems {len(problems)}")
    for problem in problems[:20]:
        print("  " + problem)
    return 1 if problems or len(latencies) != total else 0


if __name__ == "__main__":
    threading.stack_size(1 << 20)
    sys.exit(main())
