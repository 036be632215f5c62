"""A small news site on loopback for the link tests: real HTTP, real sockets, pages
shaped like real ones (tests/data/news: navigation, cookie banner, related stories,
footer), and every way a site can go wrong.

    with NewsSite() as site:
        page = site.url("/local/harbour-reopens-after-storm")
        qa.ingest.fetching.fetch_document(page, allow_private=True)

It records what reached it (``requests``: path, Host header, User-Agent, the address
it was reached at; ``connections``), and how many bytes each streamed answer managed
to send before the client hung up (``sent``). Run it alone to read the pages in a
browser: ``python tests/news_site.py``.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from documents import make_pdf, ten_thousand_words

NEWS = Path(__file__).resolve().parent / "data" / "news"
INQUIRY_PDF_PAGES = [
    [
        "Marine Accident Investigation Branch",
        "Preliminary note: grain barge Tamar Trader, Kelby Bay",
        "",
        "The barge Tamar Trader dragged her anchor in Kelby Bay on the evening of",
        "7 May 2024 as Storm Ingrid arrived, and sank across the harbour entrance",
        "shortly before midnight. Her crew of three were rescued by the lifeboat.",
        "",
        "The investigation will examine the anchoring arrangements, the weather",
        "forecasts received on board and the decision not to seek shelter earlier.",
    ],
    [
        "The barge was carrying 600 tonnes of wheat bound for the mill at Truro.",
        "A final report is expected to be published within twelve months.",
    ],
]
Handler = Callable[["_Request"], None]


@dataclass(frozen=True)
class Seen:
    """One request that reached the site."""

    path: str
    host: str
    user_agent: str
    reached_at: str  # the site's own address the connection came in on


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], site: NewsSite):
        self.site = site
        super().__init__(address, _Request)

    def verify_request(self, request, client_address) -> bool:  # type: ignore[no-untyped-def]
        self.site.connections += 1
        return True


class _Request(http.server.BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        site = self.server.site
        site.requests.append(
            Seen(
                self.path,
                self.headers.get("Host", ""),
                self.headers.get("User-Agent", ""),
                self.connection.getsockname()[0],
            )
        )
        path = urlsplit(self.path).path
        handler = site.routes.get(path)
        if handler is None:
            prefix = next((p for p in site.prefixes if path.startswith(p)), None)
            handler = site.prefixes[prefix] if prefix else _missing
        # The client may stop reading: what the size cap and the timeouts do.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            handler(self)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def answer(self, status: int, body: bytes, content_type: str, **headers: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def query(self, name: str) -> str:
        return parse_qs(urlsplit(self.path).query).get(name, [""])[0]


def page(file: str, content_type: str, encoding: str = "utf-8") -> Handler:
    """A fixture file from tests/data/news, encoded as ``encoding`` on the wire."""
    body = (NEWS / file).read_text(encoding="utf-8").encode(encoding)
    return lambda request: request.answer(200, body, content_type)


def body(data: bytes, content_type: str) -> Handler:
    return lambda request: request.answer(200, data, content_type)


def status(code: int) -> Handler:
    text = f"<html><body><h1>{code}</h1><p>Sorry, something went wrong.</p></body></html>"
    return lambda request: request.answer(code, text.encode(), "text/html; charset=utf-8")


def redirect(location: str, code: int = 302) -> Handler:
    return lambda request: request.answer(code, b"", "text/html", Location=location)


def long_page() -> bytes:
    """The 10,000-word article of tests/documents.py inside the harbour page's menus."""
    title, *lines = ten_thousand_words().splitlines()
    paragraphs = "\n".join(f"<p>{' '.join(p.split())}</p>" for p in "\n".join(lines).split("\n\n"))
    shell = (NEWS / "harbour-reopens-after-storm.html").read_text(encoding="utf-8")
    shell = shell.replace("Kelby harbour reopens a week after Storm Ingrid", title)
    start, end = shell.index("<article"), shell.index("</article>")
    article = f'<article class="story">\n<h1>{title}</h1>\n{paragraphs}\n'
    return (shell[:start] + article + shell[end:]).encode("utf-8")


def _missing(request: _Request) -> None:
    status(404)(request)


class NewsSite:
    """The site, on ``host`` (a loopback address) and a free port (or ``port``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.requests: list[Seen] = []
        self.connections = 0
        self.sent: dict[str, int] = {}
        self.stop_event = threading.Event()
        self.routes: dict[str, Handler] = {
            "/local/harbour-reopens-after-storm": page(
                "harbour-reopens-after-storm.html", "text/html; charset=utf-8"
            ),
            # Its charset only in the header, as "iso-8859-1" (browsers read windows-1252).
            "/economy/cologne-bakeries-euro": page(
                "cologne-bakeries-euro.html", "text/html; charset=iso-8859-1", "cp1252"
            ),
            # Its charset only in a <meta> tag; the header says text/html alone.
            "/poland/gdansk-shipyard-cranes": page(
                "gdansk-shipyard-cranes.html", "text/html", "iso-8859-2"
            ),
            "/local/": page("local-section.html", "text/html; charset=utf-8"),
            "/notices/harbour-brief.txt": page("harbour-brief.txt", "text/plain; charset=utf-8"),
            "/long/season-of-drought": body(long_page(), "text/html; charset=utf-8"),
            "/reports/kelby-inquiry.pdf": body(make_pdf(INQUIRY_PDF_PAGES), "application/pdf"),
            "/img/kelby-quay.jpg": body(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" * 50, "image/jpeg"),
            "/feeds/local.xml": body(b"<?xml version='1.0'?><rss></rss>", "application/rss+xml"),
            "/download": body(make_pdf(INQUIRY_PDF_PAGES), "application/octet-stream"),
            "/broken": status(500),
            "/subscribers-only": status(403),
            "/loop/a": redirect("/loop/b"),
            "/loop/b": redirect("/loop/a"),
            "/redirect": lambda request: redirect(request.query("to"))(request),
            "/huge": self._huge,
            "/huge-declared": self._huge_declared,
            "/gzip-bomb": self._gzip_bomb,
            "/stall": self._stall,
            "/drip": self._drip,
        }
        article = (NEWS / "harbour-reopens-after-storm.html").read_bytes()
        for coding, data in (
            ("gzip", gzip.compress(article)),
            ("deflate", zlib.compress(article)),
            ("deflate", zlib.compress(article, wbits=-15)),  # raw deflate, as some servers send
            ("br", article),
        ):
            path = f"/compressed/{coding}" + (
                "-raw" if f"/compressed/{coding}" in self.routes else ""
            )
            self.routes[path] = self._compressed(data, coding)
        # /hops/N redirects N times before the article.
        self.prefixes: dict[str, Handler] = {"/hops/": self._hops}
        self._server = _Server((host, port), self)
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def url(self, path: str, host: str | None = None) -> str:
        return f"http://{host or self.host}:{self.port}{path}"

    def add(self, path: str, handler: Handler) -> None:
        self.routes[path] = handler

    def __enter__(self) -> NewsSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_event.set()
        self._server.shutdown()
        self._server.server_close()

    # Hostile answers.

    def _stream(self, request: _Request, name: str, chunks: int, chunk: bytes) -> None:
        self.sent[name] = 0
        for _ in range(chunks):
            request.wfile.write(chunk)
            self.sent[name] += len(chunk)

    def _huge(self, request: _Request) -> None:
        """50 MB of a real-looking page, with no Content-Length: only a cap that counts
        while reading stops it."""
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.end_headers()
        paragraph = b"<p>The harbour master said the fleet would sail on the morning tide.</p>\n"
        block = paragraph * (65_536 // len(paragraph))
        self._stream(request, "/huge", 50_000_000 // len(block), block)

    def _huge_declared(self, request: _Request) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Length", str(52_428_800))
        request.end_headers()
        self._stream(request, "/huge-declared", 800, b" " * 65_536)

    def _gzip_bomb(self, request: _Request) -> None:
        """50 MB of spaces that travel as about 50 KB of gzip."""
        data = gzip.compress(b"<p>" + b" " * 50_000_000 + b"</p>", compresslevel=9)
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.send_header("Content-Encoding", "gzip")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        self._stream(request, "/gzip-bomb", 1, data)

    def _stall(self, request: _Request) -> None:
        """Headers, then silence: a server that stopped sending."""
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.end_headers()
        request.wfile.write(b"<html><body><p>The harbour")
        request.wfile.flush()
        self.stop_event.wait(10)

    def _drip(self, request: _Request) -> None:
        """A byte every 50 ms: never silent long enough for a read timeout."""
        request.send_response(200)
        request.send_header("Content-Type", "text/html; charset=utf-8")
        request.end_headers()
        while not self.stop_event.wait(0.05):
            request.wfile.write(b" ")
            request.wfile.flush()

    @staticmethod
    def _compressed(data: bytes, coding: str) -> Handler:
        def send(request: _Request) -> None:
            request.answer(200, data, "text/html; charset=utf-8", Content_Encoding=coding)

        return send

    def _hops(self, request: _Request) -> None:
        left = int(request.path.rsplit("/", 1)[-1] or 1)
        target = f"/hops/{left - 1}" if left > 1 else "/local/harbour-reopens-after-storm"
        redirect(target, 301 if left % 2 else 307)(request)


if __name__ == "__main__":
    with NewsSite() as site:
        for path in site.routes:
            print(site.url(path))
        print("Serving; Ctrl-C stops.")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
