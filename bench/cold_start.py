"""Cold start, warm cache: a new process until the first answer, with each encoder.

``qa ask`` (start, load the index, answer one question) and ``python app.py`` until it
serves its page, each with ONNX Runtime (the default) and with PyTorch, against bare
imports of what each path cannot avoid: ``sentence_transformers`` and ``faiss`` for
PyTorch, ``gradio``, ``faiss`` and ``onnxruntime`` for the app on ONNX Runtime.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from measure import ARTICLE_QUESTION, ROOT, Context

NAME = "cold_start"  # the key of the results
ENCODERS = ("onnx", "torch")


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak memory (MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(command)} failed with exit code {proc.returncode}")
    return seconds, usage.ru_maxrss / 1024


def app_to_serving(cache: Path, encoder: str) -> float:
    """Seconds from starting app.py until it serves its page (started as ``make load`` does)."""
    import load_test  # scripts/load_test.py, on sys.path through measure

    before = os.environ.get("QA_ENCODER")
    os.environ["QA_ENCODER"] = encoder  # load_test.start_app passes os.environ on
    try:
        start = time.perf_counter()
        proc = load_test.start_app(load_test.free_port(), str(cache))
        seconds = time.perf_counter() - start
    finally:
        if before is None:
            os.environ.pop("QA_ENCODER", None)
        else:
            os.environ["QA_ENCODER"] = before
    proc.terminate()
    proc.wait(30)
    return seconds


def measure(context: Context) -> dict[str, Any]:
    print("cold start ...", file=sys.stderr, flush=True)
    cache = context.work / "cache-cold"
    env = {**os.environ, "QA_CACHE_DIR": str(cache), "QA_CORPUS": str(ROOT / "corpus")}
    ask = [sys.executable, "-m", "qa", "ask", ARTICLE_QUESTION]
    out: dict[str, Any] = {"repeats": context.repeats}
    for encoder in ENCODERS:  # the index, and the ONNX graph once: a warm cache after
        run_measured(ask, {**env, "QA_ENCODER": encoder})
    for label, code in (
        ("bare_import_s", "import sentence_transformers, faiss"),
        ("bare_import_app_onnx_s", "import gradio, faiss, onnxruntime"),
    ):
        runs = [run_measured([sys.executable, "-c", code], env) for _ in range(context.repeats)]
        out[label] = round(statistics.median(s for s, _ in runs), 2)
    for encoder in ENCODERS:  # interleaved would be fairer; whole processes are seconds
        asks = [run_measured(ask, {**env, "QA_ENCODER": encoder}) for _ in range(context.repeats)]
        apps = [app_to_serving(cache, encoder) for _ in range(context.repeats)]
        out[encoder] = {
            "qa_ask_s": round(statistics.median(s for s, _ in asks), 2),
            "qa_ask_peak_rss_mb": round(max(m for _, m in asks), 1),
            "app_to_serving_s": round(statistics.median(apps), 2),
        }
    return out


def report(c: dict[str, Any]) -> list[str]:
    lines = []
    for encoder, label in (("onnx", "ONNX Runtime (default)"), ("torch", "PyTorch")):
        if r := c.get(encoder):
            lines.append(
                f"Cold start, warm cache, {label}: qa ask {r['qa_ask_s']:.2f} s "
                f"(peak {r['qa_ask_peak_rss_mb']:.0f} MB); app to serving "
                f"{r['app_to_serving_s']:.2f} s"
            )
    lines.append(
        f"Bare imports: sentence_transformers + faiss {c['bare_import_s']:.2f} s; "
        f"gradio + faiss + onnxruntime {c['bare_import_app_onnx_s']:.2f} s"
    )
    return ["\n".join(lines)]
