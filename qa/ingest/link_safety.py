"""Which links qa may follow, and a network backend that connects only to those.

A person's link makes the server open a connection, so a link must not reach the
machine qa runs on or its network (server-side request forgery): ``127.0.0.1``, an
intranet wiki, a cloud metadata service at ``169.254.169.254``. ``check_link`` refuses
what can be refused from the text of a link (a scheme other than http and https, a
user name or password, a host name that is not one, an IP address that is not public);
``GuardedBackend`` does the rest at connection time, for every connection, so every
redirect too:

- the host name is resolved **once**, and every address it resolves to must be public
  (a name that resolves to one public and one private address is refused);
- the connection is made to one of those very addresses (never by name again), so a
  DNS answer that changes between the check and the connection (DNS rebinding) is
  never used;
- the address of the open socket is checked again before a byte is sent.

IPv4-mapped IPv6 (``::ffff:127.0.0.1``), NAT64 (``64:ff9b::/96``) and 6to4 addresses
are judged by the IPv4 address inside them. ``QA_ALLOW_PRIVATE_URLS=1`` (or
``allow_private=True``) lifts the address rule, for an intranet or for tests; the rest
stays. Refusals are ``FetchError`` (a ``DocumentError``) naming the link and what to do.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
import unicodedata
from typing import Any

import httpcore
import httpx

from qa.ingest.extraction import DocumentError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
ALLOW_PRIVATE_ENV = "QA_ALLOW_PRIVATE_URLS"
SCHEMES = ("http", "https")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_SHARED = ipaddress.ip_network("100.64.0.0/10")
_SHOWN_CHARS = 160
_ALLOW_ADVICE = (
    "Give the address of a public web page. (Whoever runs qa can allow intranet links "
    f"with {ALLOW_PRIVATE_ENV}=1.)"
)


class FetchError(DocumentError):
    """A link that cannot be fetched or read. The message names the link and says what
    to do; ``reason`` is a short fixed code for programs ("private-address", "timeout")."""

    def __init__(self, message: str, *, url: str, reason: str):
        super().__init__(message)
        self.url = url
        self.reason = reason


class BlockedAddress(Exception):
    """Raised inside the connection: ``host`` resolved or connected to a refused address."""

    def __init__(self, host: str, address: str, problem: str, *, connected: bool = False):
        super().__init__(f"{host} -> {address}: {problem}")
        self.host, self.address, self.problem, self.connected = host, address, problem, connected


class HostNotFound(Exception):
    """Raised inside the connection: the host name has no address (DNS said so)."""

    def __init__(self, host: str, detail: str):
        super().__init__(f"{host}: {detail}")
        self.host, self.detail = host, detail


def allow_private_urls() -> bool:
    """Whether ``QA_ALLOW_PRIVATE_URLS`` is set to a true value ("1", "true", "yes", "on")."""
    return os.environ.get(ALLOW_PRIVATE_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def address_problem(address: IPAddress) -> str | None:
    """Why qa must not connect to ``address`` (as words), or None when it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and address in _NAT64:
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return address_problem(inner)
    if address.is_unspecified:
        return "the unspecified address (it reaches this machine)"
    if address.is_loopback:
        return "a loopback address (this machine itself)"
    if address.is_link_local:
        return "a link-local address (such as a cloud metadata service)"
    if address.is_multicast:
        return "a multicast address"
    if isinstance(address, ipaddress.IPv4Address) and address in _SHARED:
        return "a shared address of a carrier's network"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private-network address"
    if not address.is_global:
        return "an address that is not publicly routable"
    return None


def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` for TCP, in the resolver's order (IP literals too)."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise HostNotFound(host, str(exc)) from None
    addresses: list[str] = []
    for family, _type, _proto, _name, sockaddr in found:
        if family in (socket.AF_INET, socket.AF_INET6) and sockaddr[0] not in addresses:
            addresses.append(str(sockaddr[0]))
    if not addresses:
        raise HostNotFound(host, "no IPv4 or IPv6 address")
    return addresses


class GuardedBackend(httpcore.SyncBackend):
    """httpcore's socket backend, connecting by address: each host is resolved once
    (``resolve``), every address is checked (``address_problem``) unless private
    addresses are allowed, the socket is opened to a checked address, and its peer is
    checked again before the request is sent. TLS still verifies the host's name:
    httpcore passes the name, not the address, as the server name."""

    def __init__(self, *, allow_private: bool):
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve(host, port)
        if not self.allow_private:
            for address in addresses:
                problem = address_problem(ipaddress.ip_address(address))
                if problem:
                    raise BlockedAddress(host, address, problem)
        failure: Exception | None = None
        for address in addresses[:4]:
            try:
                stream = super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
                continue
            peer = str(stream.get_extra_info("server_addr")[0])
            problem = None if self.allow_private else address_problem(ipaddress.ip_address(peer))
            if problem:
                stream.close()
                raise BlockedAddress(host, peer, problem, connected=True)
            return stream
        assert failure is not None
        raise failure


def check_link(text: str, *, redirected_from: httpx.URL | None = None) -> httpx.URL:
    """``text`` as a URL qa may request, or a ``FetchError`` saying why not.

    Only http and https, no user name or password, a valid host name (international
    names are encoded with IDNA 2008 for DNS), and, when the host is an IP address, a
    public one (``address_problem``; names are checked when they are resolved)."""
    raw = str(text).strip()
    before = f"{shown(redirected_from)} redirects to " if redirected_from else ""
    if not raw:
        raise FetchError(
            "No link given: paste the article's address, starting with https://",
            url=raw,
            reason="not-a-link",
        )
    label = shown_text(raw)
    try:
        url = httpx.URL(raw)
    except httpx.InvalidURL as exc:
        if "IDNA" in str(exc):
            raise FetchError(
                f"{before}{label}: its host name is not a valid international domain name "
                "(IDNA 2008; symbols and emoji are not allowed in one). Check the address, or "
                "copy it from the browser's address bar.",
                url=raw,
                reason="bad-host",
            ) from None
        raise FetchError(
            f"{before}{label} is not a web link qa can read ({exc}). Paste the article's "
            "full address, starting with https://",
            url=raw,
            reason="not-a-link",
        ) from None
    scheme = url.scheme.lower()
    if scheme and scheme not in SCHEMES and _SCHEME.match(raw):
        raise FetchError(
            f"{before}{label}: {_scheme_advice(scheme)}", url=raw, reason="unsupported-scheme"
        )
    if not scheme or any(c.isspace() for c in raw):
        first = raw.split()[0] if raw.split() else raw
        hint = (
            f" Did you mean https://{first}?"
            if not scheme and "." in first.split("/")[0] and " " not in raw
            else ""
        )
        raise FetchError(
            f'{before}"{label}" is not a web link.{hint} Paste the article\'s full address, '
            "starting with https://",
            url=raw,
            reason="not-a-link",
        )
    if url.userinfo:
        raise FetchError(
            f"{before}{shown(url)}: the link holds a user name or password (before the @), "
            "which qa does not send to sites. Use the article's public address, without them.",
            url=shown(url),
            reason="credentials",
        )
    host = url.host
    if not host:
        raise FetchError(
            f"{before}{label} has no host name. Paste the article's full address, such as "
            "https://news.example.com/story",
            url=raw,
            reason="not-a-link",
        )
    if "%" in host or any(c.isspace() or c in "<>\"'`{}|\\^" for c in host):
        raise FetchError(
            f"{before}{label}: {host!r} is not a valid host name. Check the address.",
            url=raw,
            reason="bad-host",
        )
    return url


def check_literal_address(url: httpx.URL, *, redirected_from: httpx.URL | None = None) -> None:
    """Refuse a link whose host is a non-public IP address, before connecting."""
    try:
        address = ipaddress.ip_address(url.host)
    except ValueError:
        return
    problem = address_problem(address)
    if problem:
        before = f"{shown(redirected_from)} redirects to " if redirected_from else ""
        raise FetchError(
            f"{before}{shown(url)}: it points to {url.host}, {problem}. qa does not fetch "
            f"private or local addresses. {_ALLOW_ADVICE}",
            url=shown(url),
            reason="private-address",
        )


def blocked_message(
    url: httpx.URL, blocked: BlockedAddress, *, redirected_from: httpx.URL | None = None
) -> str:
    """The message for a ``BlockedAddress`` raised while connecting for ``url``."""
    before = f"{shown(redirected_from)} redirects to " if redirected_from else ""
    host = readable_host(blocked.host)
    if blocked.connected:
        where = f"the connection to {host} reached {blocked.address}"
    elif host == blocked.address:
        where = f"it points to {blocked.address}"
    else:
        where = f"{host} resolves to {blocked.address}"
    return (
        f"{before}{shown(url)}: {where}, {blocked.problem}. qa does not fetch private or local "
        f"addresses. {_ALLOW_ADVICE}"
    )


def _scheme_advice(scheme: str) -> str:
    if scheme == "file":
        return (
            "qa does not open files on the machine it runs on. To ask about a file of "
            "yours, upload it instead."
        )
    if scheme in ("ftp", "ftps", "sftp"):
        return (
            f"{scheme}:// links are not fetched; qa reads http:// and https:// links only. "
            "Download the file and upload it instead."
        )
    return (
        f"{scheme}: links are not fetched; qa reads http:// and https:// links only. "
        "Paste the article's web address instead."
    )


def shown(url: httpx.URL) -> str:
    """``url`` as a person reads it: no user name or password, the host in its own
    letters (``readable_host``), at most 160 characters."""
    port = f":{url.port}" if url.port is not None else ""
    host = readable_host(url.raw_host.decode("ascii"))
    if ":" in host:
        host = f"[{host}]"
    target = url.raw_path.decode("ascii", "replace")
    return shown_text(f"{url.scheme}://{host}{port}{target}")


def shown_text(text: str) -> str:
    """``text`` cut to 160 characters, without line breaks, for a message."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _SHOWN_CHARS else flat[: _SHOWN_CHARS - 1] + "\u2026"


def readable_host(host: str) -> str:
    """An ASCII host with its IDNA labels (``xn--``) in their own letters ("bücher.de"),
    except a label that could pass for a Latin name: one that mixes Latin, Cyrillic or
    Greek letters, or is written only in Cyrillic or Greek letters that look Latin
    (``xn--80ak6aa92e`` spells "apple" in Cyrillic). Those stay encoded, as browsers
    show them, so a look-alike host is not passed off as the real one."""
    labels = []
    for label in host.split("."):
        if label.lower().startswith("xn--"):
            try:
                decoded = label.encode("ascii").decode("idna")
            except UnicodeError:
                decoded = label
            label = label if _looks_latin(decoded) else decoded
        labels.append(label)
    return ".".join(labels)


# Cyrillic and Greek letters that look like Latin ones (the common confusables).
_LATIN_LOOKING = set("аеорсухіјѕԁӏһԛԝвкмнтьАВЕКМНОРСТУХІЈЅαοιυνκτρεχΑΒΕΖΗΙΚΜΝΟΡΤΥΧ")


def _looks_latin(label: str) -> bool:
    letters = [ch for ch in label if ch.isalpha()]
    scripts = {unicodedata.name(ch, "").split(" ")[0] for ch in letters}
    if len(scripts & {"LATIN", "CYRILLIC", "GREEK"}) > 1:
        return True
    return bool(letters) and scripts <= {"CYRILLIC", "GREEK"} and set(letters) <= _LATIN_LOOKING
