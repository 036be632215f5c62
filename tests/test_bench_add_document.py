"""bench/add_document.py runs and prints every number it promises (it asserts no speed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_add_document_benchmark_prints_its_table(tmp_path):
    env = {**os.environ, "QA_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "add_document.py"), "--words", "300", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        check=True,
    )
    out = result.stdout
    assert "| added as | median s | slowest s | floor s (model alone) |" in out
    assert "| pasted text |" in out and "| web page |" in out
    assert "Memory held by the document" in out
