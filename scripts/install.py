"""Install qa into a virtual environment, saying what it does and how long it takes.

    python scripts/install.py [--torch-index URL] [--plan] [-- PIP_INSTALL_ARGS ...]

``make install`` runs this with the venv's Python (default arguments: ``-e .[test]``).

PyTorch: a plain ``pip install torch`` on Linux takes the CUDA build, several GB with
its ``nvidia-*`` packages, which qa never uses. PyTorch publishes CPU-only wheels on
its own index; requirements.txt names it on an ``--extra-index-url`` line (the line a
Hugging Face Space reads too), and this script passes the same option to pip, so any
pip picks the ``+cpu`` build (a local version label sorts above the plain release).
The index is probed first, with a short time-out: when it cannot be reached (a machine
without internet, a mirror-only network), pip runs as this machine's configuration
says, instead of waiting out pip's own time-outs and retries on every package.

Needs only the standard library: it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

ROOT = Path(__file__).resolve().parent.parent
PROBE_TIMEOUT = 5.0  # seconds: an index that answers at all answers well within this
HEARTBEAT = 15.0  # seconds of pip silence before a "still working" line
# This machine's pip prints one such warning per package for a missing find-links folder.
NOISE = re.compile(r"is ignored: it is neither a file nor a directory")
# What a fresh install costs: about 150 packages, 1 GB unpacked, torch's CPU wheel 190 MB.
ESTIMATE = (
    "about 3-5 minutes with a warm pip cache; on a first install about 1 GB is "
    "downloaded (PyTorch's CPU build is the largest part, 190 MB)"
)


def torch_index_of(requirements: Path) -> str | None:
    """The ``--extra-index-url`` of requirements.txt: PyTorch's CPU wheel index."""
    for line in requirements.read_text(encoding="utf-8").splitlines():
        if match := re.match(r"\s*--extra-index-url[\s=]+(\S+)", line):
            return match.group(1)
    return None


def probe(index: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None when ``index`` serves torch's project page within ``timeout``; else why not."""
    url = index.rstrip("/") + "/torch/"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return None if response.status == 200 else f"HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        return str(reason) or type(exc).__name__


def pip_command(
    python: str, index: str | None, constraints: Path | None, targets: Sequence[str]
) -> list[str]:
    """The pip command: the CPU wheel index added when given, the constraints applied."""
    command = [python, "-m", "pip", "install", "--progress-bar", "off"]
    if constraints is not None:
        command += ["-c", str(constraints)]
    if index:
        command += ["--extra-index-url", index]
    return command + list(targets)


class Progress:
    """Turns pip's output into a few lines a person can follow, with elapsed time."""

    def __init__(self, stream: TextIO = sys.stdout):
        self.stream = stream
        self.started = time.monotonic()
        self.last_output = self.started
        self.phase = "resolving the dependencies"
        self.collected = 0
        self.satisfied = 0
        self.downloaded: list[str] = []
        self._lock = threading.Lock()

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def say(self, text: str) -> None:
        with self._lock:
            print(f"  [{self.elapsed()}] {text}", file=self.stream, flush=True)
            self.last_output = time.monotonic()

    def feed(self, line: str) -> None:
        """One line of pip's output."""
        line = line.rstrip()
        if not line or NOISE.search(line):
            return
        if line.startswith("Collecting "):
            self.collected += 1
            if self.collected == 1 or self.collected % 25 == 0:
                self.say(f"resolving: {self.collected} packages so far ({line.split()[1]})")
        elif line.startswith("Requirement already satisfied"):
            self.satisfied += 1
            if self.satisfied % 25 == 0:
                self.say(f"checking: {self.satisfied} packages already installed")
        elif match := re.match(r"\s*Downloading (\S+) \(([^)]+)\)", line):
            name = match.group(1).rsplit("/", 1)[-1]
            if not name.endswith(".metadata"):
                self.downloaded.append(name)
                self.say(f"downloading {name} ({match.group(2)})")
        elif line.startswith("Installing collected packages:"):
            names = [name.strip() for name in line.split(":", 1)[1].split(",")]
            self.phase = f"installing {len(names)} packages"
            slow = " (unpacking PyTorch: the longest step, often 1-2 minutes)"
            self.say(
                f"resolved; installing {len(names)} packages{slow if 'torch' in names else ''}"
            )
        elif line.startswith("Successfully installed"):
            self.say(f"installed {len(line.split()) - 2} packages")
        elif line.startswith("Building editable") or line.startswith("Building wheels"):
            self.phase = "building qa itself"
        elif line.startswith(("ERROR", "WARNING", "error", "note:", "hint:")):
            self.say(line)  # what pip says went wrong always shows
        elif line.startswith("Obtaining"):
            self.say("reading qa's dependencies from pyproject.toml")

    def heartbeat(self, stop: threading.Event) -> None:
        """While pip is quiet (a big unpack, a slow download), say it is still working."""
        while not stop.wait(1.0):
            if time.monotonic() - self.last_output >= HEARTBEAT:
                self.say(f"still {self.phase} ...")


def run_pip(command: Sequence[str], progress: Progress) -> int:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=env,
    ) as process:
        stop = threading.Event()
        beat = threading.Thread(target=progress.heartbeat, args=(stop,), daemon=True)
        beat.start()
        lines: list[str] = []
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            progress.feed(line)
        stop.set()
        code = process.wait()
    if code:  # show pip's own last words in full: they say what to fix
        tail = [line.rstrip() for line in lines if not NOISE.search(line)][-30:]
        print("\n".join(tail), file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--torch-index",
        help="PyTorch's CPU wheel index (default: the --extra-index-url of requirements.txt)",
    )
    parser.add_argument(
        "--constraints", type=Path, default=ROOT / "constraints.txt", help="pip constraints"
    )
    parser.add_argument(
        "--plan", action="store_true", help="probe, print the pip command, install nothing"
    )
    parser.add_argument("targets", nargs="*", help="pip install arguments (after --)")
    args = parser.parse_args(argv)
    targets = args.targets or ["-e", f"{ROOT}[test]"]
    index = args.torch_index or torch_index_of(ROOT / "requirements.txt")

    began = time.monotonic()
    print(f"Installing qa into {Path(sys.prefix)}: {ESTIMATE}.", flush=True)
    chosen = None
    if index:
        why_not = probe(index)
        waited = time.monotonic() - began
        if why_not is None:
            chosen = index
            print(f"  PyTorch's CPU wheel index answered ({waited:.1f} s): torch comes from it.")
        else:
            print(
                f"  PyTorch's CPU wheel index is not reachable ({why_not}; {waited:.1f} s): "
                "torch comes from this machine's pip configuration."
            )
    command = pip_command(sys.executable, chosen, args.constraints, targets)
    if args.plan:
        print(" ".join(command))
        return 0
    progress = Progress()
    progress.say("pip: " + " ".join(command[1:]))
    code = run_pip(command, progress)
    if code:
        print(f"pip failed (exit code {code}) after {progress.elapsed()}; see above.")
        return code
    print(f"Installed in {progress.elapsed()} (minutes:seconds).", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
