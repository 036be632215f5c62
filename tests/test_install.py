"""scripts/install.py (``make install``): PyTorch's CPU build wherever its index is
reachable, this machine's configuration where it is not, and no hanging either way.

The index is simulated by a PEP 503 folder served on loopback holding the real CPU
wheel of torch that this machine keeps on disk. The dry runs use ``pip --isolated``,
which ignores this machine's pip configuration (its wheel folder and constraints): what
pip does on any other machine. Without the CPU index such a dry run takes the CUDA
build of torch and its ``nvidia-*`` packages from the public index.
"""

from __future__ import annotations

import contextlib
import hashlib
import html
import http.server
import json
import re
import subprocess
import sys
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))

import install  # scripts/ is not a package: found through sys.path above

WHEELS = Path("/opt/wheels")  # where this machine keeps PyTorch's CPU wheel
TORCH = "2.13.0"  # constraints.txt's pin


def cpu_wheel() -> Path:
    found = sorted(WHEELS.glob(f"torch-{TORCH}+cpu-*.whl"))
    if not found:
        pytest.skip(f"needs torch {TORCH}'s CPU wheel in {WHEELS} to stand in for the index")
    return found[0]


def write_index(folder: Path, wheel: Path) -> None:
    """A PEP 503 simple index with one project, torch, and PEP 658 metadata beside the
    wheel, so pip resolves without reading the 190 MB file."""
    project = folder / "simple" / "torch"
    project.mkdir(parents=True)
    (project / wheel.name).symlink_to(wheel)
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = archive.read(name)
    (project / f"{wheel.name}.metadata").write_bytes(metadata)
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    meta = f"sha256={hashlib.sha256(metadata).hexdigest()}"
    href = urllib.parse.quote(wheel.name)
    (project / "index.html").write_text(
        "<!DOCTYPE html><html><body>"
        f'<a href="{href}#sha256={digest}" data-dist-info-metadata="{meta}" '
        f'data-core-metadata="{meta}">{html.escape(wheel.name)}</a>'
        "</body></html>",
        encoding="utf-8",
    )
    (folder / "simple" / "index.html").write_text('<a href="torch/">torch</a>', encoding="utf-8")


@contextlib.contextmanager
def served(folder: Path) -> Iterator[str]:
    """``folder`` over HTTP on a free loopback port, until the block ends."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def cpu_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("torch-cpu-index")
    write_index(folder, cpu_wheel())
    with served(folder) as url:
        yield url


def closed_port_url() -> str:
    """An address on loopback where nothing listens: refused at once."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/simple"


def plan(*args: str) -> tuple[float, str]:
    began = time.monotonic()
    run = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "install.py"), "--plan", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return time.monotonic() - began, run.stdout


def dry_run(pip_args: list[str], report: Path) -> list[dict]:
    """``pip install --isolated --dry-run``: what pip would install on another machine."""
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--isolated",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--report",
            str(report),
            *pip_args,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if run.returncode and re.search(r"NewConnectionError|Could not find a version", run.stderr):
        pytest.skip(f"the public package index is not reachable: {run.stderr[-500:]}")
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(report.read_text())["install"]


def names_and_versions(installs: list[dict]) -> dict[str, str]:
    return {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in installs}


def test_requirements_txt_names_the_cpu_index() -> None:
    index = install.torch_index_of(ROOT / "requirements.txt")
    assert index and index.startswith("https://") and index.rstrip("/").endswith("/cpu")


def test_the_probe_says_yes_to_an_index_and_no_at_once_to_a_dead_one(cpu_index) -> None:
    assert install.probe(cpu_index) is None
    began = time.monotonic()
    assert install.probe(closed_port_url()) is not None
    assert install.probe("http://127.0.0.1:1/nothing-here") is not None
    assert time.monotonic() - began < 2 * install.PROBE_TIMEOUT


def test_the_plan_adds_the_index_only_when_it_answers(cpu_index) -> None:
    _, reachable = plan("--torch-index", cpu_index)
    assert "torch comes from it" in reachable
    assert f"--extra-index-url {cpu_index}" in reachable.splitlines()[-1]
    assert "-c " in reachable.splitlines()[-1] and "constraints.txt" in reachable

    seconds, unreachable = plan("--torch-index", closed_port_url())
    assert "not reachable" in unreachable and "this machine's pip configuration" in unreachable
    assert "--extra-index-url" not in unreachable.splitlines()[-1]
    assert seconds < 30, "the fallback must not wait out time-outs"


def test_progress_lines_from_pip_output() -> None:
    lines: list[str] = []

    class Collect:
        def write(self, text: str) -> None:
            lines.append(text)

        def flush(self) -> None:
            pass

    progress = install.Progress(stream=Collect())  # type: ignore[arg-type]
    for line in [
        "Looking in indexes: x",
        "Collecting gradio<7,>=6.0 (from qa==0.1.0)",
        "  Downloading torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl (190.1 MB)",
        "WARNING: Location '/x' is ignored: it is neither a file nor a directory.",
        "Requirement already satisfied: numpy>=1.24 in ./.venv (2.3.5)",
        "Installing collected packages: a, b, torch",
        "Successfully installed a-1 b-2 torch-2.13.0+cpu",
    ]:
        progress.feed(line)
    text = "".join(lines)
    assert "resolving: 1 packages so far (gradio<7,>=6.0)" in text
    assert "downloading torch-2.13.0+cpu" in text and "190.1 MB" in text
    assert "resolved; installing 3 packages (unpacking PyTorch" in text
    assert "installed 3 packages" in text
    assert "is ignored" not in text


@pytest.mark.slow
def test_isolated_dry_run_takes_the_cpu_build_and_no_nvidia_package(cpu_index, tmp_path) -> None:
    """What ``make install`` asks pip for, on a machine without this one's pip
    configuration, when PyTorch's CPU index answers."""
    command = install.pip_command(
        sys.executable, cpu_index, ROOT / "constraints.txt", ["-e", f"{ROOT}[test]"]
    )
    installs = dry_run(command[4:], tmp_path / "report.json")  # after `python -m pip install`
    packages = names_and_versions(installs)
    assert packages.get("torch") == f"{TORCH}+cpu", packages.get("torch")
    assert not [name for name in packages if name.startswith("nvidia")]
    assert not [name for name in packages if name.startswith("triton")]  # CUDA kernels
    assert {"qa", "sentence-transformers", "gradio", "onnxruntime"} <= set(packages)
    torch = next(i for i in installs if i["metadata"]["name"].lower() == "torch")
    assert torch["download_info"]["url"].startswith(cpu_index.rsplit("/", 1)[0])


@pytest.mark.slow
def test_isolated_dry_run_of_requirements_txt_takes_the_cpu_build(cpu_index, tmp_path) -> None:
    """What a Hugging Face Space installs: requirements.txt as written, its CPU index
    line pointed at the stand-in."""
    index = install.torch_index_of(ROOT / "requirements.txt")
    assert index
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        (ROOT / "requirements.txt").read_text(encoding="utf-8").replace(index, cpu_index),
        encoding="utf-8",
    )
    # The stand-in holds torch 2.13.0 only, the public index newer releases too; the
    # real CPU index holds every release, so pin the one both have here.
    pip_args = ["-r", str(requirements), "-c", str(ROOT / "constraints.txt")]
    packages = names_and_versions(dry_run(pip_args, tmp_path / "report.json"))
    assert packages.get("torch") == f"{TORCH}+cpu", packages.get("torch")
    assert not [name for name in packages if name.startswith(("nvidia", "triton"))]


@pytest.mark.slow
def test_this_machine_installed_the_cpu_build() -> None:
    """Here the CPU index is out of reach: the fallback still gave the CPU build."""
    import torch

    assert torch.__version__.startswith(TORCH) and "+cpu" in torch.__version__
    assert not torch.cuda.is_available() and torch.version.cuda is None
