"""bench/: the benchmark runs and reports every number it promises (it asserts no speed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import corpora  # noqa: E402
import run  # noqa: E402

RECORD = """Package: 2ping
Description-md5: 2543c220a763445976d1348c5b593743
Description-en: Ping utility to determine directional packet loss
 2ping is a bi-directional ping utility. It uses 3-way pings (akin to TCP SYN,
 SYN/ACK, ACK) and after-the-fact state comparison.
 .
 This can be used to determine which direction packet loss occurs."""


def test_a_description_record_becomes_an_article():
    item = corpora._parse(RECORD)
    assert item is not None
    assert item.title == "Ping utility to determine directional packet loss"
    assert item.body == (
        "2ping is a bi-directional ping utility. It uses 3-way pings (akin to TCP SYN, "
        "SYN/ACK, ACK) and after-the-fact state comparison.\n\n"
        "This can be used to determine which direction packet loss occurs."
    )
    assert item.as_document().startswith(item.title + "\n\n2ping")
    assert corpora._parse("Package: empty\nDescription-en: no body") is None


@pytest.mark.slow
def test_article_benchmark_writes_every_number_with_milvus_beside_faiss(tmp_path):
    """bench/run.py --quick on the article: FAISS sizes and both engines of
    bench/milvus.py (built, searched and served) write every number they promise."""
    out = tmp_path / "results"
    run_ = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--quick",
            "--sizes",
            "article",
            "--no-cold-start",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run_.returncode == 0, run_.stderr[-2000:]
    results = json.loads((out / "latest.json").read_text())
    result = results["sizes"]["article"]
    search, build = result["search"], result["build"]
    for name in ("floor", "search", "ask"):
        assert 0 < search[name]["p50_ms"] <= search[name]["p99_ms"]
    assert search["search"]["p50_ratio"] > 0 and build["ratio"] > 0
    assert build["passages"] > 5 and build["texts_embedded"] >= build["passages"]
    assert build["repeats"] == 1  # --quick
    assert result["peak_rss_mb"] > 100
    assert "| article |" in run_.stdout and "search p50 / floor" in run_.stdout

    article = results["milvus"]["sizes"]["article"]
    assert article["search"]["same_top3_share"] == 1.0
    for engine in ("faiss", "milvus"):
        assert 0 < article["search"][engine]["p50_ms"] <= article["search"][engine]["p99_ms"]
        assert article["build"][engine]["passages_per_s"] > 0
        assert article["serve"][engine]["qa_process"]["peak_mb"] > 100
    assert article["serve"]["milvus"]["engine_process"]["peak_mb"] > 10
    assert "| article | milvus |" in run_.stdout


def test_every_measurement_module_has_the_runner_s_three_names():
    """What bench/run.py calls on each module; a new one (say Milvus) needs only these."""
    assert [m.NAME for m in run.MEASUREMENTS] == ["cold_start", "sizes", "milvus"]
    for module in run.MEASUREMENTS:
        assert isinstance(module.NAME, str) and callable(module.measure)
        assert callable(module.report)


@pytest.mark.slow
def test_cold_start_is_measured_for_both_encoders(tmp_path):
    out = tmp_path / "results"
    run_ = subprocess.run(
        [
            sys.executable,
            "bench/run.py",
            "--quick",
            "--no-sizes",
            "--no-milvus",
            "--work",
            str(tmp_path / "work"),
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert run_.returncode == 0, run_.stderr[-2000:]
    cold = json.loads((out / "latest.json").read_text())["cold_start"]
    for encoder in ("onnx", "torch"):
        assert cold[encoder]["qa_ask_s"] > 0 and cold[encoder]["app_to_serving_s"] > 0
        assert cold[encoder]["qa_ask_peak_rss_mb"] > 50
    assert cold["bare_import_s"] > 0 and cold["bare_import_app_onnx_s"] > 0
    assert "ONNX Runtime (default): qa ask" in run_.stdout and "PyTorch: qa ask" in run_.stdout
