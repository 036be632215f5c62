"""The body of one HTTP answer: is it a kind qa reads, how big (capped while it streams
in), how it is compressed, which charset it is in.

``read_body`` refuses, with a ``FetchError`` naming the link, a type qa does not read
(an image, a feed, JSON) before a byte of the body is read, a body whose declared
length passes the cap, and a body that passes the cap as it streams, counted after
decompression and decompressed a bounded piece at a time (so a gzip bomb costs no
more memory than the cap). ``page_encoding`` picks the charset: the header's, else
a ``<meta>`` tag's, read as browsers read its label.
"""

from __future__ import annotations

import codecs
import re
import time
import zlib
from dataclasses import dataclass

import httpcore
import httpx

from qa.ingest.link_safety import FetchError, shown

HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown")
# Served without a useful type: read by their bytes, as an upload is.
_SNIFFED_TYPES = ("", "application/octet-stream", "binary/octet-stream", "application/x-download")
# Labels browsers read as another encoding (the WHATWG Encoding Standard): a page that
# says latin-1 is windows-1252 in every browser, so its curly quotes and euro sign work.
_BROWSER_ENCODINGS = {
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "iso-8859-9": "cp1254",
    "gb2312": "gbk",
    "x-sjis": "shift_jis",
}
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.IGNORECASE
)
_FAMILIES = (
    ("image/", "an image"),
    ("video/", "a video"),
    ("audio/", "an audio file"),
    ("font/", "a font"),
    ("application/json", "JSON data"),
    ("application/rss+xml", "a news feed"),
    ("application/atom+xml", "a news feed"),
    ("application/zip", "a ZIP archive"),
    ("text/xml", "XML data (a news feed or a sitemap?)"),
    ("application/xml", "XML data (a news feed or a sitemap?)"),
    ("application/javascript", "a script"),
    ("text/javascript", "a script"),
    ("text/css", "a style sheet"),
)


@dataclass(frozen=True)
class Body:
    """The bytes of an answer (decompressed), its media type ("text/html") and the
    codec its Content-Type names (None when it names none Python knows)."""

    data: bytes
    content_type: str
    charset: str | None


def kind_of(content_type: str) -> str:
    """ "html", "text", or "" (read by its bytes) for a media type qa accepts."""
    return "html" if content_type in HTML_TYPES else "text" if content_type in TEXT_TYPES else ""


def header(response: httpcore.Response, name: str) -> str:
    wanted = name.lower().encode("ascii")
    for key, value in response.headers:
        if key.lower() == wanted:
            return value.decode("latin-1").strip()
    return ""


def read_body(
    response: httpcore.Response,
    url: httpx.URL,
    max_bytes: int,
    deadline: float,
    total_timeout: float,
) -> Body:
    """The body of a 2xx answer, decompressed, refused past ``max_bytes`` as it streams."""
    content_type, _, params = header(response, "Content-Type").partition(";")
    content_type = content_type.strip().lower()
    charset = _charset(params)
    _check_content_type(url, content_type)
    limit_mb = size_words(max_bytes)
    declared = header(response, "Content-Length")
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(
            f"{shown(url)} is {size_words(int(declared))}; qa reads pages of up to "
            f"{limit_mb}. Link to the article itself, or save the part you want and upload it.",
            url=shown(url),
            reason="too-large",
        )
    inflater = _Inflater(url, header(response, "Content-Encoding").lower())
    parts: list[bytes] = []
    size = 0
    for chunk in response.iter_stream():
        for part in inflater.feed(chunk, max_bytes - size + 1):
            size += len(part)
            parts.append(part)
        if size > max_bytes:
            raise FetchError(
                f"{shown(url)} is larger than {limit_mb}: qa stopped reading there, as it reads "
                f"pages of up to {limit_mb}. Link to the article itself, or save the part you "
                "want and upload it.",
                url=shown(url),
                reason="too-large",
            )
        if time.monotonic() > deadline:
            raise FetchError(
                f"{shown(url)} took longer than {total_timeout:g} s to download. Open it in "
                "your browser, save the page and upload it.",
                url=shown(url),
                reason="timeout",
            )
    return Body(b"".join(parts), content_type, charset)


def size_words(count: int) -> str:
    """52428800 -> '52.4 MB', 10000000 -> '10 MB', 4449 -> '4.45 KB'."""
    return f"{count / 1e6:.3g} MB" if count >= 1e6 else f"{count / 1e3:.3g} KB"


class _Inflater:
    """Decompresses a body (gzip, deflate or none) a bounded piece at a time, so a
    small gzip bomb cannot inflate past the cap in memory."""

    def __init__(self, url: httpx.URL, encoding: str):
        self.url = url
        self.raw_deflate = False
        if encoding in ("", "identity"):
            self.inflater = None
        elif encoding in ("gzip", "x-gzip"):
            self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self.inflater = zlib.decompressobj()
            self.raw_deflate = True  # may be zlib-wrapped or raw: decided on the first bytes
        else:
            raise FetchError(
                f"{shown(url)} came compressed as {encoding!r}, which qa does not read (it asks "
                "for gzip, deflate or none). Open it in your browser, save the page and upload it.",
                url=shown(url),
                reason="unsupported-encoding",
            )

    def feed(self, chunk: bytes, room: int) -> list[bytes]:
        """Decompressed pieces of ``chunk``, stopping once more than ``room`` bytes came."""
        if self.inflater is None:
            return [chunk]
        out: list[bytes] = []
        try:
            data = chunk
            while data and room > 0:
                try:
                    piece = self.inflater.decompress(data, room)
                except zlib.error:
                    if not self.raw_deflate:
                        raise
                    self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    piece = self.inflater.decompress(data, room)
                self.raw_deflate = False
                out.append(piece)
                room -= len(piece)
                data = self.inflater.unconsumed_tail
        except zlib.error as exc:
            raise FetchError(
                f"{shown(self.url)} came with damaged compressed data ({exc}). Try again "
                "later, or open it in your browser, save the page and upload it.",
                url=shown(self.url),
                reason="broken-connection",
            ) from None
        return out


def _check_content_type(url: httpx.URL, content_type: str) -> None:
    known = HTML_TYPES + TEXT_TYPES + _SNIFFED_TYPES + ("application/pdf",)
    if content_type in known or content_type.endswith("+html"):
        return
    what = next((w for prefix, w in _FAMILIES if content_type.startswith(prefix)), None)
    raise FetchError(
        f"{shown(url)} is {what or 'a file'} ({content_type}), not an article: qa reads web "
        "pages (HTML), PDFs and plain text. Link to the article's own page instead.",
        url=shown(url),
        reason="unsupported-type",
    )


def _charset(params: str) -> str | None:
    """The codec named by a ``charset=`` parameter, or None if absent or unknown."""
    match = re.search(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", params, re.IGNORECASE)
    return _codec(match.group(1)) if match else None


def _codec(label: str) -> str | None:
    label = label.strip().lower()
    label = _BROWSER_ENCODINGS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def page_encoding(data: bytes, header_charset: str | None, kind: str) -> str | None:
    """How to decode a page: a byte-order mark, else the header's charset, else (for
    HTML) a ``<meta charset>`` in its first 16 KB; text that is not UTF-8 and says
    nothing is read as windows-1252, as browsers do. None: let extraction decide."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if header_charset:
        return header_charset
    if kind == "html":
        match = _META_CHARSET.search(data[:16_384])
        if match:
            return _codec(match.group(1).decode("ascii"))
    if kind == "text":
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return "cp1252"
    return None
