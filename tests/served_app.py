"""Start the real app (``python app.py``) in a subprocess on a free port, for the client
and browser tests: the same command ``make run`` and Hugging Face Spaces use."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180  # seconds: loading the model and building the index on a busy machine
STOP_TIMEOUT = 20  # seconds from SIGTERM to exit, with clients still connected


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve_app(workdir: Path, **extra_env: str) -> Iterator[str]:
    """Run the app until the block ends; yield its URL once it answers HTTP requests.
    ``extra_env``: more environment for the app (e.g. ``QA_UPLOAD_MAX_AGE="4"``)."""
    with run_app(workdir, **extra_env) as (url, _):
        yield url


@contextlib.contextmanager
def run_app(workdir: Path, **extra_env: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``serve_app``, yielding the app's process too (to stop it in the block)."""
    port = free_port()
    env = {
        **os.environ,
        "GRADIO_SERVER_PORT": str(port),
        "GRADIO_SERVER_NAME": "127.0.0.1",
        "GRADIO_ANALYTICS_ENABLED": "False",
        "QA_CACHE_DIR": str(workdir / "cache"),
        "PYTHONUNBUFFERED": "1",
        **extra_env,
    }
    env.pop("QA_CORPUS", None)
    env.pop("GRADIO_TEMP_DIR", None)  # the app's own upload folder (upload_folder_of)
    log_path = workdir / "app.log"
    url = f"http://127.0.0.1:{port}/"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py")],
            cwd=workdir,  # not the repo: the app must find its corpus by itself
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_serving(process, url, log_path)
            yield url, process
        finally:
            stopped = _stop(process)
        if not stopped:  # only when the block itself passed: never hide its error
            raise AssertionError(f"app.py was still running {STOP_TIMEOUT} s after SIGTERM")


def upload_folder_of(url: str) -> Path:
    """Where the app served at ``url`` keeps uploads (qa.serve.uploads.upload_folder)."""
    import tempfile

    port = url.rstrip("/").rsplit(":", 1)[1]
    return Path(tempfile.gettempdir()) / f"qa-uploads-{port}"


def mcp_call(url: str, work: Any) -> Any:
    """Run ``work(session, initialized)`` in an MCP client session over streamable HTTP
    at ``url`` (the official MCP client)."""
    import asyncio

    from mcp import ClientSession

    try:
        from mcp.client.streamable_http import streamable_http_client as connect
    except ImportError:  # mcp before the rename
        from mcp.client.streamable_http import streamablehttp_client as connect

    async def call() -> Any:
        async with connect(url) as (read, write, _), ClientSession(read, write) as session:
            initialized = await session.initialize()
            return await work(session, initialized)

    return asyncio.run(asyncio.wait_for(call(), timeout=60))


def _stop(process: subprocess.Popen) -> bool:
    """SIGTERM, then SIGKILL; False when the app needed the kill. A stopping app closes
    its open streams after a few seconds (app.py's SHUTDOWN_SECONDS)."""
    if process.poll() is not None:
        return True
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
        return True
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
        return False


def _wait_until_serving(process: subprocess.Popen, url: str, log_path: Path) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # local: no proxy
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"app.py exited with code {process.returncode} before serving; its output:\n"
                + log_path.read_text(errors="replace")[-4000:]
            )
        try:
            with opener.open(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.25)
    raise RuntimeError(
        f"app.py did not serve {url} within {START_TIMEOUT} s; its output:\n"
        + log_path.read_text(errors="replace")[-4000:]
    )
