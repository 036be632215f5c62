"""Faults: a build killed at any point, and two processes building one cache at once,
never leave a cache that loads wrong."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).resolve().parent / "build_worker.py"
pytestmark = pytest.mark.slow


def run_worker(corpus: Path, cache: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(WORKER), str(corpus), str(cache), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def result(proc: subprocess.CompletedProcess[str]) -> dict:
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


class Versions:
    """One corpus folder (the cache is per folder) whose article is switched between
    the original (v1) and an edit with a paragraph changed and one added (v2)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.article = next(folder.glob("*.txt"))
        self.v1 = self.article.read_text(encoding="utf-8")
        self.v2 = (
            self.v1.replace("12,000 troops", "13,500 troops") + "\nA new paragraph on Niger.\n"
        )

    def use(self, version: str) -> Path:
        self.article.write_text(self.v1 if version == "v1" else self.v2, encoding="utf-8")
        return self.folder


@pytest.fixture
def versions(corpus_copy: Path) -> Versions:
    return Versions(corpus_copy)


def test_kill_at_every_file_move_never_loads_a_mixed_index(versions, tmp_path):
    cache = tmp_path / "cache"
    fresh_v2 = result(run_worker(versions.use("v2"), tmp_path / "reference"))
    first = result(run_worker(versions.use("v1"), cache))
    moves = first["replaces"]
    assert moves >= 2, "a build should write several files"
    for n in range(1, moves + 1):
        killed = run_worker(versions.use("v2"), cache, "--kill-at-replace", str(n))
        assert killed.returncode == -9, f"worker was not killed at move {n}: {killed.stdout}"
        after = result(run_worker(versions.folder, cache))
        # Whatever state the kill left, the next start serves exactly the v2 index...
        assert after["passages"] == fresh_v2["passages"]
        assert after["top"] == fresh_v2["top"]
        # ...and the index it wrote is then reused, not rebuilt again.
        assert result(run_worker(versions.folder, cache))["from_cache"] is True
        # Back to v1 as the last good index for the next round.
        assert result(run_worker(versions.use("v1"), cache))["passages"] == first["passages"]


def test_kill_during_embedding_keeps_last_good_index(versions, tmp_path):
    cache = tmp_path / "cache"
    good = result(run_worker(versions.use("v1"), cache))
    versions.use("v2")
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), str(versions.folder), str(cache), "--stall-embed"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "EMBEDDING"
    finally:
        proc.kill()
        proc.wait(timeout=30)
    again = result(run_worker(versions.use("v1"), cache))
    assert again["from_cache"] is True  # the build never got to touch the v1 files
    assert again["top"] == good["top"]


def test_two_processes_building_at_once_end_with_one_good_index(corpus_copy, tmp_path):
    cache = tmp_path / "cache"
    reference = result(run_worker(corpus_copy, tmp_path / "reference"))
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), str(corpus_copy), str(cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=False):
        assert proc.returncode == 0, err[-2000:]
        got = json.loads(out.strip().splitlines()[-1])
        assert got["top"] == reference["top"]
    # Exactly one of them built; the other waited on the lock and loaded its work.
    built = [json.loads(out.strip().splitlines()[-1])["from_cache"] for out, _ in outputs]
    assert sorted(built) == [False, True]
    assert result(run_worker(corpus_copy, cache))["from_cache"] is True
