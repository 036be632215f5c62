"""The ingest and memory benchmarks run and print every number they promise (they assert
no speed): bench/add_document.py, bench/embedding_memory.py, bench/session_memory.py."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_bench(script: str, *args: str, cache: Path) -> str:
    """What ``bench/<script> args`` prints, run as a user runs it: the app's own memory
    bound (not the one the tests raise), a private index cache."""
    env = {**os.environ, "QA_CACHE_DIR": str(cache)}
    env.pop("QA_MAX_RSS_MB", None)
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=1800,
        env=env,
        check=True,
    )
    return result.stdout


@pytest.mark.slow
def test_add_document_benchmark_prints_its_table(tmp_path):
    out = run_bench("add_document.py", "--words", "300", "--runs", "1", cache=tmp_path)
    assert "| document | characters | encoder | median s |" in out
    assert "| peak RSS growth MB | RSS retained MB |" in out
    rows = [line for line in out.splitlines() if line.startswith(("| 300 words", "| largest"))]
    assert [row.split("|")[3].strip() for row in rows] == ["fp32", "int8", "fp32", "int8"]
    assert "| largest (200,000 chars) |" in out
    for row in rows:
        cells = [c.strip() for c in row.split("|")[1:-1]]
        placed, embedded = int(cells[7]), int(cells[8])
        assert 0 < embedded <= placed  # a repeated text is embedded once
        assert float(cells[9]) > 0  # the add took memory at its peak
    assert re.search(r"\| int8 \| [\d.]+ \| [\d.]+ \| [\d.]+x \|", out)
    assert "The session store's own estimate" in out


@pytest.mark.slow
def test_embedding_memory_benchmark_measures_every_suspect(tmp_path):
    out = run_bench("embedding_memory.py", "--chars", "4000", cache=tmp_path)
    rows = [line for line in out.splitlines() if line.startswith("| ") and "MB" not in line]
    assert len(rows) == 6 and rows[0].startswith("| before:") and rows[-1].startswith("| now:")
    for row in rows:
        texts, seconds, peak, _retained = [c.strip() for c in row.split("|")[2:6]]
        assert int(texts) > 0 and float(seconds) > 0 and float(peak) >= 0


@pytest.mark.slow
def test_session_memory_benchmark_prints_rss_and_what_the_budget_did(tmp_path):
    out = run_bench("session_memory.py", "--sessions", "2", "--chars", "5000", cache=tmp_path)
    before, peak, after = map(
        int,
        re.search(r"RSS before (\d+) MB, peak while adding (\d+) MB, after (\d+) MB", out).groups(),
    )
    assert 0 < before <= peak and after > 0
    rows = re.findall(r"^ +(\d+) \| +(\d+) \| +(\d+) \| (.+)$", out, re.M)
    assert [int(r[0]) for r in rows] == [1, 2] and all(r[3] == "added" for r in rows)
    assert "against the bound 1536 MB; 0 sessions evicted, 0 refused." in out
