"""qa.files: hashes match hashlib, and an atomic write lands whole or not at all."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from qa.files import atomic_path, file_sha256, write_atomic


def test_file_sha256_equals_hashlib_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "données-東京.bin"
    data = bytes(range(256)) * 9000  # more than two 1 MiB blocks, not a multiple of one
    path.write_bytes(data)
    assert file_sha256(path) == hashlib.sha256(data).hexdigest()
    (tmp_path / "empty").write_bytes(b"")
    assert file_sha256(tmp_path / "empty") == hashlib.sha256(b"").hexdigest()


def test_a_write_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "manifest.json"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(RuntimeError, match="disk full"), atomic_path(target) as tmp:
        tmp.write_text("half of the new", encoding="utf-8")
        raise RuntimeError("disk full")
    assert target.read_text(encoding="utf-8") == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


@pytest.mark.parametrize("durable", [True, False])
def test_a_write_that_succeeds_replaces_the_file(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "vectors.npy"
    target.write_bytes(b"old")
    with atomic_path(target, durable=durable) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".vectors.npy.")
        tmp.write_bytes(b"new")
        assert target.read_bytes() == b"old"  # readers see the old file until the move
    assert target.read_bytes() == b"new"
    write_atomic(target, "née".encode())
    assert target.read_bytes() == "née".encode()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors.npy"]


def test_two_threads_writing_one_file_never_share_a_temporary(tmp_path: Path) -> None:
    target = tmp_path / "graph.onnx"
    names: list[str] = []
    inside = threading.Barrier(2)

    def write(data: bytes) -> None:
        with atomic_path(target, durable=False) as tmp:
            names.append(tmp.name)
            tmp.write_bytes(data)
            inside.wait(timeout=10)  # both temporaries exist at once

    threads = [threading.Thread(target=write, args=(bytes([n]) * 1000,)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(names)) == 2
    assert target.read_bytes() in (b"\x01" * 1000, b"\x02" * 1000)
