"""The whole web app served: the Gradio page and API, the MCP server beside it, the
upload gate in front, and a stop that tells visitors why.

``serve`` runs it with uvicorn (``python app.py`` calls it). On SIGTERM (a Space
restarting, Ctrl-C, a test's teardown) it stops within seconds: a document being added
stops at its next batch of texts and its visitor is told so, the page's streams end
once no event is under way, and whatever still runs after ``SHUTDOWN_SECONDS`` is
cancelled (uvicorn would otherwise wait for every connected client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import gradio as gr
import uvicorn

from qa import stopping
from qa.retriever import Retriever
from qa.serve import mcp, uploads, webui
from qa.serve.documents import Limits
from qa.serve.sessions import SessionStore
from qa.serve.web import MAX_UPLOAD, build_app, served_port

log = logging.getLogger("app")
MCP_PATH = "/gradio_api/mcp"
# Seconds a stopping app waits for open requests and streams before it cancels them.
SHUTDOWN_SECONDS = 5
# Seconds between two sweeps of the sessions idle too long (their memory goes back).
SWEEP_SECONDS = 60


def build_server(retriever: Retriever) -> Any:
    """The whole web app: the Gradio page and API, with the MCP server beside it."""
    from fastapi import FastAPI

    store = SessionStore(retriever, Limits.from_environment(), batched=True)
    demo = build_app(retriever, store)
    folder = uploads.upload_folder(served_port())
    if freed := uploads.clean_at_start(folder, served_port()):
        log.info("Removed %d bytes of uploads left by an earlier run.", freed)
    tools = mcp.build_mcp(store.retriever("-", "bundled"))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sweeping = asyncio.create_task(_sweep_every(store, SWEEP_SECONDS))
        try:
            async with mcp.lifespan(tools):
                yield
        finally:
            sweeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeping

    server = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    server.mount(MCP_PATH, mcp.http_app(tools))
    # Gradio's own record of the sessions with an event waiting for its stream.
    queued = demo._queue.pending_messages_per_session
    server.add_middleware(uploads.UploadGate, folder=folder, waiting=queued.__contains__)
    gr.mount_gradio_app(
        server,
        demo,
        path="/",
        theme=webui.theme(),
        css=webui.css(),
        js=webui.js(),
        head=webui.HEAD,
        footer_links=["api", "settings"],
        run_history=False,  # no record of visitors' runs
        max_file_size=MAX_UPLOAD,
    )
    mounted = next(
        app
        for route in server.routes
        if isinstance(app := getattr(route, "app", None), gr.routes.App)
    )

    def stop_streams() -> None:
        """What Gradio's own ``close()`` does before its server stops: end the page's
        heartbeat streams, which would otherwise hold the stop until uvicorn cancels
        them (an error and a traceback in the log at every restart)."""
        mounted.stop_event.set()

    server.state.stop_streams = stop_streams
    server.state.busy = lambda: bool(demo._queue.event_ids_to_events)  # events under way
    return server


async def _sweep_every(store: SessionStore, seconds: float) -> None:
    """Drop the sessions idle too long, now and then: their memory goes back even when
    nobody asks anything."""
    while True:
        await asyncio.sleep(seconds)
        if gone := await asyncio.to_thread(store.sweep):
            log.info("Dropped %d idle sessions.", gone)


def serve(retriever: Retriever, host: str, port: int) -> None:
    """Serve the app over ``retriever`` on ``host``:``port`` until stopped."""
    log.info("Serving on http://%s:%d/ (MCP: http://%s:%d%s/)", host, port, host, port, MCP_PATH)
    server = build_server(retriever)
    config = uvicorn.Config(
        server,
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=SHUTDOWN_SECONDS,
    )
    StoppingServer(config, server.state.stop_streams, server.state.busy).run()


class StoppingServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM or Ctrl-C first tells the app it is stopping:
    ``on_stop`` ends the page's streams, and a document being added stops at its next
    group of texts (``qa.stopping``), so its visitor reads why instead of a cut stream."""

    def __init__(
        self, config: uvicorn.Config, on_stop: Callable[[], None], busy: Callable[[], bool]
    ):
        super().__init__(config)
        self._on_stop = on_stop
        self._busy = busy

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            log.info("Stopping: finishing open requests.")
            stopping.request()
            # The page's streams end once the events under way have answered (a client
            # that loses its stream gives up on its answers), or just before the stop.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + SHUTDOWN_SECONDS - 1

            def close_when_idle() -> None:
                if self._busy() and loop.time() < deadline:
                    loop.call_later(0.1, close_when_idle)
                else:
                    self._on_stop()

            loop.call_soon(close_when_idle)
        super().handle_exit(sig, frame)
