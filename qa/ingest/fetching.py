"""The text of the article at a URL, fetched safely.

``fetch_document(url)`` downloads one page with httpcore (the connection engine of
httpx) through ``qa.ingest.link_safety.GuardedBackend``, which resolves each host once and
connects only to public addresses (see that module: the guard against server-side
request forgery, lifted by ``QA_ALLOW_PRIVATE_URLS=1``); ``qa.ingest.http_body`` reads the
answer (its type, size, compression, charset). Then the bytes go through the same
extraction as an uploaded file (``qa.ingest.extraction.extract``): HTML by trafilatura, PDF by
pypdf, plain text as is. This module holds the conversation: redirects, statuses,
timeouts, and the name and address the document keeps.

Limits, each with a message a person can act on (``FetchError``, a ``DocumentError``):
http and https only; at most ``MAX_REDIRECTS`` redirects, each checked like the first
link; a connect timeout, a read timeout (no byte for that long) and a deadline for the
whole download; at most ``max_bytes`` (10 MB, the size of an upload) counted while the
body streams in, after decompression, so a 50 MB page or a gzip bomb stops at the cap.
The charset comes from the Content-Type header, else the page's own ``<meta>``.
"""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from importlib import metadata

import httpcore
import httpx

from qa.ingest.extraction import DocumentError, extract
from qa.ingest.http_body import Body, header, kind_of, page_encoding, read_body
from qa.ingest.link_safety import (
    BlockedAddress,
    FetchError,
    GuardedBackend,
    HostNotFound,
    allow_private_urls,
    blocked_message,
    check_link,
    check_literal_address,
    readable_host,
    shown,
)

MAX_BYTES = 10_000_000  # the same 10 MB as an uploaded file (qa.serve.sessions.Limits.max_file_mb)
MAX_REDIRECTS = 5
CONNECT_TIMEOUT = 10.0  # seconds to open the connection (and the TLS handshake)
READ_TIMEOUT = 20.0  # seconds without a byte from the server
TOTAL_TIMEOUT = 60.0  # seconds for the whole download, redirects included
_REDIRECTS = (301, 302, 303, 307, 308)
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # a Location with its own scheme


@dataclass(frozen=True)
class Fetched:
    """The article at a link, ready for ``qa.ingest.corpus.parse_document``.

    ``name`` is what to call it ("news.example.org \u203a harbour-reopens"); ``final_url`` is
    the page actually read, after redirects: the address to cite. ``address`` is the IP
    address the page came from; ``kind`` is "html", "pdf", "text" or "markdown"."""

    text: str
    name: str
    url: str
    final_url: str
    kind: str
    content_type: str
    encoding: str | None
    size: int
    address: str
    redirects: tuple[str, ...] = ()


def fetch_document(
    url: str,
    *,
    allow_private: bool | None = None,
    max_bytes: int = MAX_BYTES,
    max_redirects: int = MAX_REDIRECTS,
    connect_timeout: float = CONNECT_TIMEOUT,
    read_timeout: float = READ_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
) -> Fetched:
    """Fetch the article at ``url`` and extract its text, or raise ``FetchError`` (or the
    ``DocumentError`` of extraction) with a message that names the link.

    ``allow_private=None`` reads ``QA_ALLOW_PRIVATE_URLS``; True lets links reach
    loopback and private addresses (an intranet, tests)."""
    allow = allow_private_urls() if allow_private is None else allow_private
    first = current = check_link(url)
    if not allow:
        check_literal_address(current)
    deadline = time.monotonic() + total_timeout
    visited: list[httpx.URL] = []
    came_from: httpx.URL | None = None
    pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        network_backend=GuardedBackend(allow_private=allow),
        http1=True,
        http2=False,
        retries=0,
    )
    with pool:
        while True:
            visited.append(current)
            left = deadline - time.monotonic()
            timeouts = {
                "connect": min(connect_timeout, max(left, 0.01)),
                "read": min(read_timeout, max(left, 0.01)),
                "write": min(read_timeout, max(left, 0.01)),
                "pool": connect_timeout,
            }
            try:
                with pool.stream(
                    "GET",
                    httpcore.URL(
                        scheme=current.raw_scheme,
                        host=current.raw_host,
                        port=current.port,
                        target=current.raw_path,
                    ),
                    headers=_request_headers(),
                    extensions={"timeout": timeouts},
                ) as response:
                    target = _redirect_target(response, current)
                    if target is None:
                        body = read_body(response, current, max_bytes, deadline, total_timeout)
                        address = str(_peer(response))
                        break
            except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as e:
                raise _network_error(e, current, connect_timeout, read_timeout) from None
            except BlockedAddress as blocked:
                message = blocked_message(current, blocked, redirected_from=came_from)
                raise FetchError(message, url=shown(current), reason="private-address") from None
            except HostNotFound as missing:
                raise FetchError(
                    f"{shown(current)}: the host {readable_host(missing.host)} was not found "
                    f"({missing.detail}). Check the address for typos; if it is right, the "
                    "site may be down: try again later.",
                    url=shown(current),
                    reason="host-not-found",
                ) from None
            if len(visited) > max_redirects:
                raise _too_many_redirects(first, visited, target, max_redirects)
            next_url = check_link(str(target), redirected_from=current)
            if not allow:
                check_literal_address(next_url, redirected_from=current)
            came_from, current = current, next_url
    return _extracted(body, first, current, visited, address)


def _request_headers() -> list[tuple[str, str]]:
    return [
        ("User-Agent", user_agent()),
        ("Accept", "text/html,application/xhtml+xml,application/pdf,text/plain;q=0.9,*/*;q=0.1"),
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "close"),
    ]


@functools.lru_cache(maxsize=1)
def user_agent() -> str:
    """'qa/0.1.0 (...)': names qa and its version, so a site knows who reads it."""
    try:
        version = metadata.version("qa")
    except metadata.PackageNotFoundError:
        version = "dev"
    return f"qa/{version} (question answering over news articles; fetches one page on request)"


def _peer(response: httpcore.Response) -> str:
    stream = response.extensions.get("network_stream")
    peer = stream.get_extra_info("server_addr") if stream is not None else None
    return str(peer[0]) if peer else ""


def _redirect_target(response: httpcore.Response, url: httpx.URL) -> str | None:
    """Where a redirect points (resolved against ``url``), None for any other answer;
    a ``FetchError`` for an error status."""
    status = response.status
    if status in _REDIRECTS:
        location = header(response, "Location")
        if not location:
            raise FetchError(
                f"{shown(url)}: the site answered with a redirect (HTTP {status}) but no "
                "address to go to. Open the link in a browser and paste the address it ends on.",
                url=shown(url),
                reason="bad-redirect",
            )
        try:
            return location if _ABSOLUTE.match(location) else str(url.join(location))
        except httpx.InvalidURL:
            raise FetchError(
                f"{shown(url)} redirects to an address that is not a valid link "
                f"({location[:80]!r}). Open the link in a browser and paste the address it "
                "ends on.",
                url=shown(url),
                reason="bad-redirect",
            ) from None
    if 200 <= status < 300:
        return None
    raise FetchError(_status_message(url, status), url=shown(url), reason="http-status")


def _status_message(url: httpx.URL, status: int) -> str:
    phrase = httpx.codes.get_reason_phrase(status)
    said = f"HTTP {status} {phrase}".strip()
    if status in (404, 410):
        return (
            f"{shown(url)} was not found on the site ({said}). Check the link: copy it "
            "again from the browser's address bar."
        )
    if status in (401, 402, 403, 451):
        return (
            f"{shown(url)}: the site refused access ({said}): the article may need a login "
            "or a subscription, or the site turns away automated readers. Open it in your "
            "browser, save the page and upload it."
        )
    if status == 429:
        return f"{shown(url)}: the site asks qa to slow down ({said}). Try again in a few minutes."
    if status >= 500:
        return (
            f"{shown(url)}: the site had an error ({said}). Try again later, or open it in "
            "your browser, save the page and upload it."
        )
    return (
        f"{shown(url)}: the site answered {said} instead of the page. Check the link, or "
        "open it in your browser, save the page and upload it."
    )


def _too_many_redirects(
    first: httpx.URL, visited: list[httpx.URL], target: str, limit: int
) -> FetchError:
    addresses = [str(u) for u in visited]
    if target in addresses:
        start = len(addresses) - 1 - addresses[::-1].index(target)
        loop = " \u2192 ".join(shown(u) for u in [*visited[start:], httpx.URL(target)])
        return FetchError(
            f"{shown(first)} redirects in a loop ({loop}): the page never arrives. If it "
            "opens in your browser, the site may need cookies: save the page there and "
            "upload it.",
            url=shown(first),
            reason="redirect-loop",
        )
    return FetchError(
        f"{shown(first)} redirected more than {limit} times (the last to "
        f"{shown(httpx.URL(target))}); "
        "qa stops there. Open the link in your browser and paste the address of the page "
        "it ends on.",
        url=shown(first),
        reason="too-many-redirects",
    )


def _network_error(
    error: Exception, url: httpx.URL, connect_timeout: float, read_timeout: float
) -> FetchError:
    host = readable_host(url.raw_host.decode("ascii"))
    at = shown(url)
    detail = str(error) or type(error).__name__
    cause = error.__cause__ or error.__context__
    if isinstance(error, httpcore.ConnectTimeout):
        message = (
            f"{at}: {host} did not answer within {connect_timeout:g} s. The site may be "
            "down or overloaded; try again later."
        )
        return FetchError(message, url=at, reason="timeout")
    if isinstance(error, httpcore.TimeoutException):
        message = (
            f"{at}: {host} stopped sending (nothing for {read_timeout:g} s). Try again "
            "later, or open the page in your browser, save it and upload it."
        )
        return FetchError(message, url=at, reason="timeout")
    if isinstance(error, httpcore.ConnectError) and "ssl" in type(cause).__module__.lower():
        message = (
            f"{at}: the secure connection to {host} failed ({detail}). Check the address; "
            "qa reads https sites only when their certificate is valid for their name."
        )
        return FetchError(message, url=at, reason="tls")
    if isinstance(error, httpcore.ConnectError):
        refused = isinstance(cause, ConnectionRefusedError) or "refused" in detail.lower()
        if refused:
            port = url.port or (443 if url.scheme == "https" else 80)
            message = (
                f"{at}: {host} refused the connection (nothing answers on port {port}). "
                "The site may be down: check the address, or try again later."
            )
            return FetchError(message, url=at, reason="connection-refused")
        message = (
            f"{at}: could not connect to {host} ({detail}). The site may be down or out "
            "of reach of this server; try again later."
        )
        return FetchError(message, url=at, reason="unreachable")
    message = (
        f"{at}: the connection to {host} broke off ({detail}). Try again later, or open "
        "the page in your browser, save it and upload it."
    )
    return FetchError(message, url=at, reason="broken-connection")


def _extracted(
    body: Body, first: httpx.URL, final: httpx.URL, visited: list[httpx.URL], address: str
) -> Fetched:
    at = shown(final)
    data = body.data
    pdf = b"%PDF-" in data[:1024]
    encoding = None if pdf else page_encoding(data, body.charset, kind_of(body.content_type))
    try:
        extracted = extract(data, at, encoding=encoding)
    except DocumentError as exc:
        if str(exc).startswith("No article text found"):
            raise FetchError(
                f"No article text found at {at}: the page is all navigation, links or "
                "scripts (a home or section page?). Link to the article itself, or paste "
                "its text.",
                url=at,
                reason="no-article",
            ) from None
        raise
    return Fetched(
        text=extracted.text,
        name=document_name(final),
        url=str(first),
        final_url=str(final),
        kind=extracted.kind,
        content_type=body.content_type,
        encoding=encoding,
        size=len(data),
        address=address,
        redirects=tuple(str(u) for u in visited[1:]),
    )


def document_name(url: httpx.URL) -> str:
    """What to call a fetched page: its host and the last part of its path (with the
    query, which often is the article's id), without slashes, at most 120 characters:
    "news.example.org \u203a harbour-reopens-after-storm"."""
    host = readable_host(url.raw_host.decode("ascii"))
    if host.startswith("www."):
        host = host[4:]
    segments = [s for s in url.path.split("/") if s.strip()]
    last = segments[-1] if segments else ""
    if url.query:
        last += "?" + url.query.decode("ascii", "replace")
    last = " ".join(re.sub(r"[\x00-\x1f\x7f/\\]+", " ", last).split())
    name = f"{host} \u203a {last}" if last else host
    return name if len(name) <= 120 else name[:119] + "\u2026"
