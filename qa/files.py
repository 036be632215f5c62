"""Files that can be trusted: content hashes, and writes that land whole or not at all.

The lowest layer of qa: the cache hashes and writes index files with these, the model
is checked by its weights' hash, and the ONNX export is written atomically. It imports
nothing from qa, so every module may use it without an import circle.

>>> with atomic_path(Path("manifest.json")) as tmp:   # readers see the old file or
...     tmp.write_text("{}")                          # the new one, never half of it
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks (model weights are large)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def atomic_path(path: Path, *, durable: bool = True) -> Iterator[Path]:
    """A temporary sibling of ``path``; moved onto ``path`` on success, deleted on failure.

    ``durable`` flushes the data to disk before the move, so a power cut cannot leave a
    renamed but empty file (a process kill never can: the move is atomic).
    """
    # Unique per process and thread, so two writers of one file never share a temp file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        yield tmp
        if durable:
            with tmp.open("rb") as handle:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``atomic_path``, flushed to disk."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
