"""Visitors' uploads in the web app: only their own, bounded on disk, never served back.

Gradio reads a file named in an event's data (``FileData``: a chat history, a file
input, any JSON argument) and copies it into its cache before the handler runs. It
refuses a path that was not uploaded, but only for Blocks it believes were launched
(``Blocks.has_launched``, set by ``launch()``): an app mounted with
``gr.mount_gradio_app`` and served by uvicorn, as this one is, never sets it, so
every event copied and served back any file the server could read (``/etc/passwd``
sent as a file in the chat history came back as a link). ``CheckedBlocks`` is
``gr.Blocks`` with that check always on, however it is served: Gradio's own check
(``processing_utils._check_allowed`` with ``check_in_upload_folder``) then refuses,
before anything is read or copied, every path outside its upload folder.

The upload folder itself is kept small and private:

- it is this app's own folder (``upload_folder``), emptied at start (``clean_at_start``);
- ``UploadGate``, an ASGI middleware, refuses an upload over ``max_request_bytes``
  (from its ``Content-Length``, before a byte is stored) and any upload while the
  folder holds ``max_folder_bytes``, and answers 404 to Gradio's file routes: the app
  serves no file, uploaded or not;
- the app deletes each uploaded file once it has read it (``discard``), and Gradio's
  ``delete_cache`` removes, every minute, any upload older than ``MAX_AGE_SECONDS``
  (``QA_UPLOAD_MAX_AGE``) that no event claimed (an upload sent without a session).

So the folder never holds more than ``max_folder_bytes`` plus one request in flight
per open upload (each at most ``max_request_bytes``), and nothing stays longer than
``MAX_AGE_SECONDS`` and a sweep.
"""

from __future__ import annotations

import contextlib
import html
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import gradio as gr
from gradio.exceptions import InvalidPathError
from gradio_client import utils as client_utils

log = logging.getLogger(__name__)

# An upload no event has read within this time is deleted (Gradio's delete_cache);
# a queued upload is read within seconds, so this leaves room for a long queue.
# QA_UPLOAD_MAX_AGE (seconds) changes it.
MAX_AGE_SECONDS = 600
SWEEP_EVERY_SECONDS = 60
# One upload request: the largest file qa reads (10 MB) with room for the form, so a
# 50 MB file is refused at the door. Several files go in one request only while they
# fit together: the page sends each selection as one request.
MAX_REQUEST_BYTES = 64 * 1024 * 1024
# What the upload folder may hold at once, across every visitor.
MAX_FOLDER_BYTES = 256 * 1024 * 1024
# The inputs that take a file: the upload box.
FILE_INPUTS = (gr.File,)
# Gradio's routes that serve a file by path; the app never needs them.
FILE_ROUTES = ("/gradio_api/file=", "/gradio_api/file/", "/file=")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class CheckedBlocks(gr.Blocks):
    """``gr.Blocks`` that refuses, in every event, a file path nobody uploaded.

    Gradio checks each ``FileData`` path of an event's data against its upload folder
    only when ``has_launched`` is true; ``launch()`` sets it, ``mount_gradio_app`` does
    not. Here it is true from the start and cannot be unset, so the check runs however
    the Blocks are served (mounted, launched, or reloaded).
    """

    @property  # type: ignore[override]
    def has_launched(self) -> bool:
        return True

    @has_launched.setter
    def has_launched(self, value: bool) -> None:  # Blocks.__init__ sets it to False
        pass

    async def preprocess_data(
        self, block_fn: Any, inputs: list[Any], *args: Any, **kwargs: Any
    ) -> Any:
        """Gradio's own preprocessing, after two checks of ours: a file is accepted only
        by a file input (a chat history or a text never holds one here), and never as
        a URL (Gradio would download it). A refused file becomes an error the caller
        reads and one line in the log, instead of a traceback per request."""
        for block, value in zip(block_fn.inputs, inputs, strict=False):
            for path in _file_paths(value):
                if not isinstance(block, FILE_INPUTS):
                    raise refusal(f"This input takes no file; refused {path!r:.200}.", log)
                if "://" in path:
                    raise refusal(f"Upload the file itself; refused the URL {path!r:.200}.", log)
        try:
            return await super().preprocess_data(block_fn, inputs, *args, **kwargs)
        except InvalidPathError as exc:
            raise refusal(f"File refused: {exc}", log) from None


def _file_paths(value: Any) -> list[str]:
    """The paths of the files (Gradio's ``FileData``) anywhere in an event's value."""
    found: list[str] = []

    def collect(file: dict[str, Any]) -> dict[str, Any]:
        found.append(str(file["path"]))
        return file

    client_utils.traverse(value, collect, client_utils.is_file_obj_with_meta)
    return found


def refusal(message: str, logger: logging.Logger) -> gr.Error:
    """The error for a refused request: ``message`` for the caller, with ``<`` and ``&``
    escaped (Gradio's error modal renders HTML), and one line in ``logger`` instead of
    the traceback Gradio prints for every error unless told not to."""
    shown = message if len(message) <= 500 else message[:500] + " ..."
    logged = shown.encode("unicode_escape", "backslashreplace").decode()[:300]  # one line
    logger.info("Refused a request: %s", logged)
    return gr.Error(html.escape(shown, quote=False), print_exception=False)


def cleaning() -> tuple[int, int]:
    """Gradio's ``delete_cache`` setting: (seconds between sweeps, age of an upload
    that goes), ``MAX_AGE_SECONDS`` or ``QA_UPLOAD_MAX_AGE``."""
    age = max_age()
    return min(SWEEP_EVERY_SECONDS, max(1, age // 4)), age


def max_age() -> int:
    """Seconds an unclaimed upload is kept: ``QA_UPLOAD_MAX_AGE`` or ``MAX_AGE_SECONDS``."""
    text = os.environ.get("QA_UPLOAD_MAX_AGE", "").strip()
    if not text:
        return MAX_AGE_SECONDS
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"QA_UPLOAD_MAX_AGE must be a whole number of seconds >= 1, got {text!r}")
    return int(text)


def upload_folder(port: int | str) -> Path:
    """The folder Gradio keeps this app's uploads in: ``GRADIO_TEMP_DIR`` if set, else
    a folder of this app's own under the system's temporary folder, one per port (two
    apps on one machine never share it). Call before any component is made: Gradio
    reads the folder then."""
    configured = os.environ.get("GRADIO_TEMP_DIR")
    if configured:
        return Path(configured)
    folder = _own_folder(port)
    os.environ["GRADIO_TEMP_DIR"] = str(folder)
    return folder


def clean_at_start(folder: Path, port: int | str) -> int:
    """Delete the uploads an earlier run left; the bytes freed. The app's own folder is
    emptied; a folder given by ``GRADIO_TEMP_DIR``, which other programs may share,
    loses only what is older than ``MAX_AGE_SECONDS``."""
    folder.mkdir(parents=True, exist_ok=True)
    own = folder.resolve() == _own_folder(port).resolve()
    cutoff = time.time() - max_age()
    freed = 0
    for entry in folder.iterdir():
        if not own and _newest(entry) > cutoff:
            continue
        if entry.is_dir() and not entry.is_symlink():
            freed += folder_bytes(entry)
            shutil.rmtree(entry, ignore_errors=True)
        else:
            freed += _size(entry)
            with contextlib.suppress(OSError):
                entry.unlink()
    return freed


def _own_folder(port: int | str) -> Path:
    return Path(tempfile.gettempdir()) / f"qa-uploads-{port}"


def _newest(entry: Path) -> float:
    """The latest change time of ``entry`` or anything below it."""
    try:
        times = [entry.lstat().st_mtime]
    except OSError:
        return 0.0
    if entry.is_dir() and not entry.is_symlink():
        for root, dirs, files in os.walk(entry):
            for name in [*dirs, *files]:
                with contextlib.suppress(OSError):
                    times.append(Path(root, name).lstat().st_mtime)
    return max(times)


def folder_bytes(folder: Path) -> int:
    """Bytes of the regular files below ``folder``."""
    total = 0
    for root, _, files in os.walk(folder):
        total += sum(_size(Path(root, name)) for name in files)
    return total


def discard(paths: Iterable[str | os.PathLike[str]], folder: Path) -> None:
    """Delete uploaded files once read: the document lives in memory from then on.
    Only files inside ``folder`` are touched (Gradio has checked they are there)."""
    for path in paths:
        resolved = Path(path).resolve()
        if folder.resolve() in resolved.parents:
            with contextlib.suppress(OSError):
                resolved.unlink()
            with contextlib.suppress(OSError):
                resolved.parent.rmdir()  # Gradio's folder for that one upload, now empty


class UploadGate:
    """ASGI middleware: bounded uploads, and no file served by path.

    An upload (``POST .../gradio_api/upload``) must say its size (``Content-Length``;
    every browser and ``gradio_client`` do) and stay within ``max_request_bytes``; it
    is refused with 503 while the folder, with the uploads in flight, would pass
    ``max_folder_bytes``. Requests for Gradio's file routes get 404, and so does a
    queue stream for a session with no event (``waiting`` says which have one).
    """

    def __init__(
        self,
        app: ASGIApp,
        folder: Path,
        max_request_bytes: int = MAX_REQUEST_BYTES,
        max_folder_bytes: int = MAX_FOLDER_BYTES,
        waiting: Callable[[str], bool] | None = None,
    ):
        self.app = app
        self.folder = folder
        self.waiting = waiting
        self.max_request_bytes = max_request_bytes
        self.max_folder_bytes = max_folder_bytes
        self._lock = threading.Lock()
        self._in_flight = 0  # bytes announced by uploads still being received

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        if any(route in path for route in FILE_ROUTES):
            await _refuse(send, 404, "Not found: this app serves no files.")
            return
        if scope.get("method") == "POST" and path.rstrip("/").endswith("/gradio_api/upload"):
            await self._upload(scope, receive, send)
            return
        if self.waiting is not None and path.rstrip("/").endswith("/gradio_api/queue/data"):
            # Gradio answers a stream for a session with no event by raising inside the
            # stream it already started: a traceback in the log per such request.
            session = parse_qs(scope.get("query_string", b"").decode(errors="replace"))
            if not self.waiting((session.get("session_hash") or [""])[0]):
                await _refuse(send, 404, "No event of this session is waiting.")
                return
        await self.app(scope, receive, send)

    async def _upload(self, scope: Scope, receive: Receive, send: Send) -> None:
        length = _content_length(scope)
        limit_mb = self.max_request_bytes / 1024 / 1024
        if length is None:
            await _refuse(send, 411, "An upload must give its size (Content-Length).")
            return
        if length > self.max_request_bytes:
            log.info("Refused an upload of %d bytes (over %d).", length, self.max_request_bytes)
            await _refuse(
                send,
                413,
                f"The upload is {length / 1024 / 1024:.1f} MB; one upload may hold up to "
                f"{limit_mb:g} MB (qa reads files of up to 10 MB). Send fewer or smaller files.",
            )
            return
        with self._lock:
            held = folder_bytes(self.folder) + self._in_flight
            room = held + length <= self.max_folder_bytes
            if room:
                self._in_flight += length
        if not room:
            log.info("Refused an upload: the upload folder is full (%d bytes held).", held)
            await _refuse(
                send, 503, "The server is busy reading other uploads: try again in a minute."
            )
            return
        try:
            await self.app(scope, receive, send)
        finally:
            with self._lock:
                self._in_flight -= length


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-length":
            try:
                number = int(value)
            except ValueError:
                return None
            return number if number >= 0 else None
    return None


async def _refuse(send: Send, status: int, text: str) -> None:
    body = text.encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0
