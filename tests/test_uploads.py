"""qa.serve.uploads in-process: the upload gate's limits, the folder's cleaning, and the
Blocks whose upload check is always on. The served app is attacked in
tests/test_app_security.py."""

from __future__ import annotations

import os
import time
from pathlib import Path

import gradio as gr
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from qa.serve import uploads


def storing_app(folder: Path) -> Starlette:
    """A stand-in for Gradio's upload route: stores the body as one file."""

    async def store(request: Request) -> PlainTextResponse:
        body = await request.body()
        path = folder / f"{time.monotonic_ns()}.bin"
        path.write_bytes(body)
        return PlainTextResponse(str(path))

    async def page(_: Request) -> PlainTextResponse:
        return PlainTextResponse("page")

    return Starlette(
        routes=[
            Route("/gradio_api/upload", store, methods=["POST"]),
            Route("/gradio_api/file={path:path}", page),
            Route("/", page),
        ]
    )


@pytest.fixture
def gate(tmp_path: Path) -> tuple[TestClient, Path]:
    folder = tmp_path / "uploads"
    folder.mkdir()
    app = uploads.UploadGate(
        storing_app(folder), folder, max_request_bytes=1000, max_folder_bytes=2500
    )
    return TestClient(app), folder


def test_uploads_fill_the_folder_up_to_its_bound_then_wait(gate) -> None:
    client, folder = gate
    assert client.post("/gradio_api/upload", content=b"a" * 900).status_code == 200
    assert client.post("/gradio_api/upload", content=b"b" * 900).status_code == 200
    refused = client.post("/gradio_api/upload", content=b"c" * 900)
    assert refused.status_code == 503
    assert refused.text == "The server is busy reading other uploads: try again in a minute."
    assert uploads.folder_bytes(folder) == 1800
    for path in folder.iterdir():
        path.unlink()
    assert client.post("/gradio_api/upload", content=b"c" * 900).status_code == 200


def test_an_upload_over_the_request_limit_is_refused_unstored(gate) -> None:
    client, folder = gate
    refused = client.post("/gradio_api/upload", content=b"x" * 1001)
    assert refused.status_code == 413
    assert "one upload may hold up to" in refused.text
    assert list(folder.iterdir()) == []


def test_file_routes_are_not_served_and_the_page_is(gate) -> None:
    client, _ = gate
    assert client.get("/gradio_api/file=/etc/passwd").status_code == 404
    assert client.get("/").text == "page"


def test_clean_at_start_empties_the_apps_own_folder(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(uploads.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.delenv("GRADIO_TEMP_DIR", raising=False)
    folder = uploads.upload_folder(7999)
    assert folder == tmp_path / "qa-uploads-7999"
    assert os.environ["GRADIO_TEMP_DIR"] == str(folder)
    (folder / "abc").mkdir(parents=True)
    (folder / "abc" / "left.txt").write_bytes(b"x" * 10)
    assert uploads.clean_at_start(folder, 7999) == 10
    assert list(folder.iterdir()) == []


def test_a_shared_folder_loses_only_old_uploads(tmp_path, monkeypatch) -> None:
    shared = tmp_path / "shared"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(shared))
    assert uploads.upload_folder(7999) == shared
    (shared / "old").mkdir(parents=True)
    (shared / "old" / "a.txt").write_bytes(b"x" * 5)
    (shared / "new").mkdir()
    (shared / "new" / "b.txt").write_bytes(b"y" * 7)
    long_ago = time.time() - uploads.max_age() - 60
    for path in (shared / "old", shared / "old" / "a.txt"):
        os.utime(path, (long_ago, long_ago))
    assert uploads.clean_at_start(shared, 7999) == 5
    assert [p.name for p in shared.iterdir()] == ["new"]


def test_discard_touches_only_files_in_the_folder(tmp_path) -> None:
    folder = tmp_path / "uploads"
    (folder / "h").mkdir(parents=True)
    inside = folder / "h" / "a.txt"
    inside.write_text("a")
    outside = tmp_path / "keep.txt"
    outside.write_text("b")
    uploads.discard([inside, outside, folder / ".." / "keep.txt"], folder)
    assert not inside.exists() and not (folder / "h").exists()
    assert outside.read_text() == "b"


@pytest.mark.parametrize("value", ["0", "-3", "soon", "1.5"])
def test_a_bad_upload_age_says_what_it_takes(monkeypatch, value) -> None:
    monkeypatch.setenv("QA_UPLOAD_MAX_AGE", value)
    with pytest.raises(ValueError, match="QA_UPLOAD_MAX_AGE must be a whole number"):
        uploads.max_age()


def test_checked_blocks_cannot_be_unlaunched() -> None:
    with uploads.CheckedBlocks() as demo:
        gr.Textbox()
    assert demo.has_launched is True
    demo.has_launched = False  # what Blocks.__init__ and mount_gradio_app leave alone
    assert demo.has_launched is True
    with gr.Blocks() as plain:
        gr.Textbox()
    assert plain.has_launched is False  # the reason CheckedBlocks exists
