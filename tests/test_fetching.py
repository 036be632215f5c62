"""Fetching an article by its link (qa.ingest.fetching, qa.ingest.link_safety), against a real HTTP
server on loopback (tests/news_site.py): real sockets, real redirects, real timeouts.

Loopback is private, so the tests that must reach the site pass ``allow_private=True``
(or set QA_ALLOW_PRIVATE_URLS=1); the guard's tests leave it off and check that the
site never saw the request. Where a test needs a *public* address that this machine
without internet can reach, 127.0.0.2 stands in for one: ``stand_in_public`` makes the
guard's address rule treat it as public and nothing else changes; the site listening
there is real.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterator
from importlib import metadata

import pytest
from news_site import NEWS, NewsSite

from qa.ingest import link_safety
from qa.ingest.extraction import DocumentError, extract
from qa.ingest.fetching import fetch_document
from qa.ingest.link_safety import FetchError, address_problem

ARTICLE = "/local/harbour-reopens-after-storm"
ADVICE = "Whoever runs qa can allow intranet links with QA_ALLOW_PRIVATE_URLS=1."
STAND_IN = "127.0.0.2"  # plays a public address: see stand_in_public


@pytest.fixture(scope="module")
def site() -> Iterator[NewsSite]:
    with NewsSite() as running:
        yield running


@pytest.fixture
def fresh_site() -> Iterator[NewsSite]:
    """A site of its own, so a test can count what reached it."""
    with NewsSite() as running:
        yield running


@pytest.fixture
def stand_in_public(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard treats 127.0.0.2 as a public address, and everything else as it is."""
    real = link_safety.address_problem

    def problem(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        return None if str(address) == STAND_IN else real(address)

    monkeypatch.setattr(link_safety, "address_problem", problem)


def resolver(monkeypatch: pytest.MonkeyPatch, names: dict[str, list[list[str]]]) -> list[str]:
    """Simulate DNS: ``names`` resolve to the given answers, one list of addresses per
    lookup (the last answer repeats, as a DNS server with a zero TTL may change its
    answer each time: DNS rebinding); other names resolve as usual. It replaces the
    system resolver (``socket.getaddrinfo``) itself, for everything in the process, so
    qa is tested unchanged. Returns the names looked up, in order."""
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):  # type: ignore[no-untyped-def]
        if host not in names:
            return real(host, port, family, type, proto, flags)
        asked.append(host)
        answers = names[host]
        found = []
        for address in answers[min(asked.count(host), len(answers)) - 1]:
            if ":" in address:
                found.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                found.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return found

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def refusal(url: str, **options: object) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetch_document(url, **options)  # type: ignore[arg-type]
    return caught.value


# The pages a person links to.


def test_a_news_page_gives_its_article_without_menus_banner_related_or_footer(site):
    page = fetch_document(site.url(ARTICLE), allow_private=True)
    assert page.text.startswith("Kelby harbour reopens a week after Storm Ingrid\n")
    for fact in (
        "a team of eleven commercial divers had worked in shifts",
        '"We had forty-two boats unable to leave',
        "a permanent repair had been costed at 2.3 million pounds",
        "pleasure craft could use the visitor pontoons again from Friday",
    ):
        assert fact in page.text
    for leftover in (
        "We use cookies",
        "Accept all",
        "Sign in",
        "Related stories",
        "Fish prices rise as boats stay in port",
        "Get the Courier in your inbox",
        "All rights reserved",
        "Cookie settings",
    ):
        assert leftover not in page.text
    assert page.kind == "html"
    assert page.name == "127.0.0.1 \u203a harbour-reopens-after-storm"
    assert page.final_url == page.url == site.url(ARTICLE)
    assert page.address == "127.0.0.1"
    assert page.redirects == ()
    assert page.encoding == "utf-8"


def test_the_request_names_qa_and_its_version(fresh_site):
    fetch_document(fresh_site.url(ARTICLE), allow_private=True)
    (seen,) = fresh_site.requests
    assert seen.user_agent.startswith(f"qa/{metadata.version('qa')} (")
    assert seen.host == f"127.0.0.1:{fresh_site.port}"


def test_a_charset_given_only_in_the_header_is_used(site):
    # Served as windows-1252 bytes and labelled iso-8859-1, as many old sites do:
    # browsers read that label as windows-1252, so the euro sign and quotes survive.
    assert "charset" not in (NEWS / "cologne-bakeries-euro.html").read_text()
    page = fetch_document(site.url("/economy/cologne-bakeries-euro"), allow_private=True)
    assert "Cologne\u2019s bakers raise the price of a Br\u00f6tchen to 60 cents" in page.text
    assert "owner K\u00e4the Sch\u00f6nbrunn said her gas bill alone had risen by \u20ac1,400" in (
        page.text
    )
    assert "M\u00fcllerstra\u00dfe" in page.text
    assert page.encoding == "cp1252"


def test_a_charset_given_only_in_a_meta_tag_is_used(site):
    page = fetch_document(site.url("/poland/gdansk-shipyard-cranes"), allow_private=True)
    for words in (
        "Gda\u0144sk",
        "Lech Wa\u0142\u0119sa",
        "Solidarno\u015b\u0107",
        "\u0141\u00f3d\u017a",
    ):
        assert words in page.text
    assert "Historian Bo\u017cena \u017b\u00f3\u0142kiewska, who campaigned" in page.text
    assert page.encoding == "iso8859-2"


def test_a_pdf_is_read_by_its_text_layer(site):
    page = fetch_document(site.url("/reports/kelby-inquiry.pdf"), allow_private=True)
    assert page.kind == "pdf"
    assert "The barge Tamar Trader dragged her anchor in Kelby Bay" in page.text
    assert "The barge was carrying 600 tonnes of wheat bound for the mill at Truro." in page.text
    assert page.name == "127.0.0.1 \u203a kelby-inquiry.pdf"


def test_a_pdf_served_as_a_download_is_read_by_its_bytes(site):
    page = fetch_document(site.url("/download?id=7"), allow_private=True)
    assert page.kind == "pdf"
    assert "600 tonnes of wheat" in page.text
    assert page.name == "127.0.0.1 \u203a download?id=7"


@pytest.mark.parametrize("coding", ["gzip", "deflate", "deflate-raw"])
def test_a_compressed_page_is_decompressed(site, coding):
    page = fetch_document(site.url(f"/compressed/{coding}"), allow_private=True)
    assert "a team of eleven commercial divers had worked in shifts" in page.text


def test_a_compression_qa_did_not_ask_for_is_refused(site):
    url = site.url("/compressed/br")
    error = refusal(url, allow_private=True)
    assert str(error) == (
        f"{url} came compressed as 'br', which qa does not read (it asks for gzip, deflate or "
        "none). Open it in your browser, save the page and upload it."
    )


def test_plain_text_is_taken_as_it_is(site):
    page = fetch_document(site.url("/notices/harbour-brief.txt"), allow_private=True)
    assert page.kind == "text"
    assert page.text == (NEWS / "harbour-brief.txt").read_text(encoding="utf-8")


def test_a_long_article_arrives_whole(site):
    page = fetch_document(site.url("/long/season-of-drought"), allow_private=True)
    assert page.text.startswith("A season of drought across the Sahel\n")
    assert len(page.text.split()) > 10_000
    assert "Related stories" not in page.text


def test_five_redirects_are_followed_and_the_final_address_is_kept(site):
    page = fetch_document(site.url("/hops/5"), allow_private=True)
    assert page.url == site.url("/hops/5")
    assert page.final_url == site.url(ARTICLE)
    assert page.redirects == (*(site.url(f"/hops/{n}") for n in (4, 3, 2, 1)), site.url(ARTICLE))
    assert page.name == "127.0.0.1 \u203a harbour-reopens-after-storm"


def test_the_environment_variable_opens_and_closes_private_addresses(site, monkeypatch):
    monkeypatch.setenv("QA_ALLOW_PRIVATE_URLS", "1")
    assert "eleven commercial divers" in fetch_document(site.url(ARTICLE)).text
    monkeypatch.setenv("QA_ALLOW_PRIVATE_URLS", "0")
    assert refusal(site.url(ARTICLE)).reason == "private-address"


def test_an_international_host_name_is_fetched_and_named_in_its_own_letters(
    fresh_site, monkeypatch
):
    asked = resolver(monkeypatch, {"xn--bcher-nachrichten-22b.test": [["127.0.0.1"]]})
    url = f"http://bücher-nachrichten.test:{fresh_site.port}{ARTICLE}"
    page = fetch_document(url, allow_private=True)
    assert asked == ["xn--bcher-nachrichten-22b.test"]  # DNS is asked the IDNA form
    assert fresh_site.requests[0].host == f"xn--bcher-nachrichten-22b.test:{fresh_site.port}"
    assert page.name == "bücher-nachrichten.test \u203a harbour-reopens-after-storm"
    assert page.final_url == f"http://xn--bcher-nachrichten-22b.test:{fresh_site.port}{ARTICLE}"


def test_a_look_alike_international_name_is_shown_encoded(fresh_site, monkeypatch):
    # "apple" spelled in Cyrillic letters: shown as its xn-- form, as browsers do.
    resolver(monkeypatch, {"xn--80ak6aa92e.test": [["127.0.0.1"]]})
    url = f"http://\u0430\u0440\u0440\u04cf\u0435.test:{fresh_site.port}{ARTICLE}"
    page = fetch_document(url, allow_private=True)
    assert page.name == "xn--80ak6aa92e.test \u203a harbour-reopens-after-storm"


def test_extraction_decodes_text_with_a_given_encoding_and_utf8_without_one():
    data = "Łódź lies in the middle of Poland.".encode("iso-8859-2")
    assert (
        extract(data, "notice", encoding="iso8859-2").text == "Łódź lies in the middle of Poland."
    )
    with pytest.raises(DocumentError, match="notice is not UTF-8 text"):
        extract(data, "notice")


# What goes wrong on the web: each with the message a person sees.


def test_a_host_that_does_not_exist(site):
    error = refusal("http://harbour-news.invalid/local/story")
    assert error.reason == "host-not-found"
    assert str(error).startswith(
        "http://harbour-news.invalid/local/story: the host harbour-news.invalid was not found ("
    )
    assert str(error).endswith(
        "). Check the address for typos; if it is right, the site may be down: try again later."
    )


def test_a_host_that_refuses_the_connection():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # closed again before the request: nothing listens
    error = refusal(f"http://127.0.0.1:{port}/story", allow_private=True)
    assert error.reason == "connection-refused"
    assert str(error) == (
        f"http://127.0.0.1:{port}/story: 127.0.0.1 refused the connection (nothing answers on "
        f"port {port}). The site may be down: check the address, or try again later."
    )


def test_a_host_that_does_not_answer_times_out():
    # A listening socket whose queue is full: the kernel drops further connection
    # attempts, as a firewall that swallows packets does.
    with socket.socket() as full:
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        port = full.getsockname()[1]
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(("127.0.0.1", port))
            fillers.append(filler)
        try:
            error = refusal(f"http://127.0.0.1:{port}/", allow_private=True, connect_timeout=0.5)
        finally:
            for filler in fillers:
                filler.close()
    assert error.reason == "timeout"
    assert str(error) == (
        f"http://127.0.0.1:{port}/: 127.0.0.1 did not answer within 0.5 s. The site may be "
        "down or overloaded; try again later."
    )


def test_a_server_that_stops_sending_times_out(site):
    error = refusal(site.url("/stall"), allow_private=True, read_timeout=0.5)
    assert error.reason == "timeout"
    assert str(error) == (
        f"{site.url('/stall')}: 127.0.0.1 stopped sending (nothing for 0.5 s). Try again "
        "later, or open the page in your browser, save it and upload it."
    )


def test_a_server_that_sends_a_byte_at_a_time_meets_the_deadline(site):
    error = refusal(site.url("/drip"), allow_private=True, read_timeout=0.5, total_timeout=1.0)
    assert error.reason == "timeout"
    assert str(error) == (
        f"{site.url('/drip')} took longer than 1 s to download. Open it in your browser, "
        "save the page and upload it."
    )


@pytest.mark.parametrize(
    ("path", "message"),
    [
        (
            "/local/no-such-story",
            "{url} was not found on the site (HTTP 404 Not Found). Check the link: copy it "
            "again from the browser's address bar.",
        ),
        (
            "/broken",
            "{url}: the site had an error (HTTP 500 Internal Server Error). Try again later, "
            "or open it in your browser, save the page and upload it.",
        ),
        (
            "/subscribers-only",
            "{url}: the site refused access (HTTP 403 Forbidden): the article may need a "
            "login or a subscription, or the site turns away automated readers. Open it in "
            "your browser, save the page and upload it.",
        ),
    ],
)
def test_an_error_status_says_what_the_site_answered(site, path, message):
    error = refusal(site.url(path), allow_private=True)
    assert error.reason == "http-status"
    assert str(error) == message.format(url=site.url(path))


def test_a_50_mb_page_is_stopped_at_the_cap_while_it_streams(fresh_site):
    error = refusal(fresh_site.url("/huge"), allow_private=True)
    assert error.reason == "too-large"
    assert str(error) == (
        f"{fresh_site.url('/huge')} is larger than 10 MB: qa stopped reading there, as it "
        "reads pages of up to 10 MB. Link to the article itself, or save the part you want "
        "and upload it."
    )
    # The server could push what the sockets' buffers hold past the cap, not the 50 MB.
    assert fresh_site.sent["/huge"] < 25_000_000


def test_the_cap_is_a_parameter(site):
    error = refusal(site.url(ARTICLE), allow_private=True, max_bytes=1_000)
    size = (NEWS / "harbour-reopens-after-storm.html").stat().st_size
    assert str(error) == (
        f"{site.url(ARTICLE)} is {size / 1000:.3g} KB; qa reads pages of up to 1 KB. Link to "
        "the article itself, or save the part you want and upload it."
    )


def test_a_page_that_declares_50_mb_is_refused_before_reading(fresh_site):
    error = refusal(fresh_site.url("/huge-declared"), allow_private=True)
    assert str(error) == (
        f"{fresh_site.url('/huge-declared')} is 52.4 MB; qa reads pages of up to 10 MB. "
        "Link to the article itself, or save the part you want and upload it."
    )


def test_a_gzip_bomb_is_stopped_at_the_cap_as_it_inflates(site):
    error = refusal(site.url("/gzip-bomb"), allow_private=True)
    assert error.reason == "too-large"
    assert str(error).startswith(f"{site.url('/gzip-bomb')} is larger than 10 MB: qa stopped")


def test_a_page_that_is_all_navigation(site):
    error = refusal(site.url("/local/"), allow_private=True)
    assert error.reason == "no-article"
    assert str(error) == (
        f"No article text found at {site.url('/local/')}: the page is all navigation, links "
        "or scripts (a home or section page?). Link to the article itself, or paste its text."
    )


def test_a_redirect_loop(site):
    a, b = site.url("/loop/a"), site.url("/loop/b")
    error = refusal(a, allow_private=True)
    assert error.reason == "redirect-loop"
    assert str(error) == (
        f"{a} redirects in a loop ({a} \u2192 {b} \u2192 {a}): the page never arrives. If it "
        "opens in your browser, the site may need cookies: save the page there and upload it."
    )


def test_more_than_five_redirects(site):
    error = refusal(site.url("/hops/6"), allow_private=True)
    assert error.reason == "too-many-redirects"
    assert str(error) == (
        f"{site.url('/hops/6')} redirected more than 5 times (the last to {site.url(ARTICLE)}); "
        "qa stops there. Open the link in your browser and paste the address of the page it "
        "ends on."
    )


@pytest.mark.parametrize(
    ("path", "what"),
    [
        ("/img/kelby-quay.jpg", "an image (image/jpeg)"),
        ("/feeds/local.xml", "a news feed (application/rss+xml)"),
    ],
)
def test_a_link_to_something_else_than_an_article(site, path, what):
    error = refusal(site.url(path), allow_private=True)
    assert error.reason == "unsupported-type"
    assert str(error) == (
        f"{site.url(path)} is {what}, not an article: qa reads web pages (HTML), PDFs and "
        "plain text. Link to the article's own page instead."
    )


def test_a_site_whose_secure_connection_fails(site):
    # https to a server that speaks plain HTTP: the TLS handshake fails for real.
    url = f"https://127.0.0.1:{site.port}{ARTICLE}"
    error = refusal(url, allow_private=True)
    assert error.reason == "tls"
    assert re.fullmatch(
        re.escape(f"{url}: the secure connection to 127.0.0.1 failed (")
        + ".+"
        + re.escape(
            "). Check the address; qa reads https sites only when their certificate is valid "
            "for their name."
        ),
        str(error),
    )


# Links that are not links, or not ones qa follows.


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "No link given: paste the article's address, starting with https://"),
        (
            "What did the harbour master say?",
            '"What did the harbour master say?" is not a web link. Paste the article\'s full '
            "address, starting with https://",
        ),
        (
            "coastalcourier.example/local/harbour",
            '"coastalcourier.example/local/harbour" is not a web link. Did you mean '
            "https://coastalcourier.example/local/harbour? Paste the article's full address, "
            "starting with https://",
        ),
        (
            "file:///etc/passwd",
            "file:///etc/passwd: qa does not open files on the machine it runs on. To ask "
            "about a file of yours, upload it instead.",
        ),
        (
            "ftp://ftp.example.org/pub/harbour.txt",
            "ftp://ftp.example.org/pub/harbour.txt: ftp:// links are not fetched; qa reads "
            "http:// and https:// links only. Download the file and upload it instead.",
        ),
        (
            "data:text/html,<p>Harbour reopens</p>",
            "data:text/html,<p>Harbour reopens</p>: data: links are not fetched; qa reads "
            "http:// and https:// links only. Paste the article's web address instead.",
        ),
        (
            "javascript:alert(1)",
            "javascript:alert(1): javascript: links are not fetched; qa reads http:// and "
            "https:// links only. Paste the article's web address instead.",
        ),
        (
            "https://editor:hunter2@news.example.com/local/story",
            "https://news.example.com/local/story: the link holds a user name or password "
            "(before the @), which qa does not send to sites. Use the article's public "
            "address, without them.",
        ),
        (
            "https://\u2603.example/story",
            "https://\u2603.example/story: its host name is not a valid international domain "
            "name (IDNA 2008; symbols and emoji are not allowed in one). Check the address, or "
            "copy it from the browser's address bar.",
        ),
        (
            "https:///local/story",
            "https:///local/story has no host name. Paste the article's full address, such as "
            "https://news.example.com/story",
        ),
    ],
)
def test_links_qa_does_not_follow_are_refused_before_any_connection(text, message):
    error = refusal(text, allow_private=True)
    assert str(error) == message
    assert "hunter2" not in str(error) and "hunter2" not in error.url


# The guard: private and local addresses are never reached.


def test_a_loopback_address_is_refused_without_connecting(fresh_site):
    url = fresh_site.url(ARTICLE)
    error = refusal(url)
    assert error.reason == "private-address"
    assert str(error) == (
        f"{url}: it points to 127.0.0.1, a loopback address (this machine itself). qa does "
        f"not fetch private or local addresses. Give the address of a public web page. ({ADVICE})"
    )
    assert fresh_site.connections == 0


def test_localhost_is_refused_by_what_it_resolves_to(fresh_site):
    url = fresh_site.url(ARTICLE, host="localhost")
    error = refusal(url)
    assert str(error).startswith(
        f"{url}: localhost resolves to 127.0.0.1, a loopback address (this machine itself). "
        "qa does not fetch private or local addresses."
    )
    assert fresh_site.connections == 0


def test_a_public_looking_name_that_resolves_to_a_private_address_is_refused(
    fresh_site, monkeypatch
):
    resolver(monkeypatch, {"news.example.com": [["10.20.30.40"]]})
    error = refusal("https://news.example.com/local/story")
    assert str(error).startswith(
        "https://news.example.com/local/story: news.example.com resolves to 10.20.30.40, a "
        "private-network address. qa does not fetch private or local addresses."
    )


def test_a_name_with_one_private_address_among_public_ones_is_refused(
    fresh_site, monkeypatch, stand_in_public
):
    resolver(monkeypatch, {"news.example.com": [[STAND_IN, "127.0.0.1"]]})
    error = refusal(f"http://news.example.com:{fresh_site.port}{ARTICLE}")
    assert "news.example.com resolves to 127.0.0.1, a loopback address" in str(error)
    assert fresh_site.connections == 0


def test_an_international_name_that_resolves_to_a_private_address_is_refused(monkeypatch):
    resolver(monkeypatch, {"xn--bcher-nachrichten-22b.test": [["192.168.1.20"]]})
    error = refusal("http://bücher-nachrichten.test/story")
    assert str(error).startswith(
        "http://bücher-nachrichten.test/story: bücher-nachrichten.test resolves to "
        "192.168.1.20, a private-network address."
    )


@pytest.fixture
def public_and_private_sites() -> Iterator[tuple[NewsSite, NewsSite]]:
    """A site on the stand-in public address and one on 127.0.0.1, on the same port."""
    with NewsSite("127.0.0.1") as private, NewsSite(STAND_IN, private.port) as public:
        yield public, private


def test_dns_rebinding_cannot_reach_the_private_address(
    public_and_private_sites, monkeypatch, stand_in_public
):
    # The name answers the public address first, then 127.0.0.1 (a rebinding DNS server
    # with a zero TTL). The check and the connection use the same single answer.
    public, private = public_and_private_sites
    asked = resolver(monkeypatch, {"news.example.com": [[STAND_IN], ["127.0.0.1"]]})
    page = fetch_document(f"http://news.example.com:{public.port}{ARTICLE}")
    assert private.connections == 0
    assert [seen.reached_at for seen in public.requests] == [STAND_IN]
    assert page.address == STAND_IN
    assert asked == ["news.example.com"]
    assert page.name == "news.example.com \u203a harbour-reopens-after-storm"


def test_the_open_socket_is_checked_before_a_byte_is_sent(fresh_site, monkeypatch):
    # The address rule passes the address when the name is resolved, then refuses it
    # when the socket is open: the check of the socket's peer is real and comes before
    # the request (the site sees the connection, never a request).
    real = link_safety.address_problem
    seen: list[str] = []

    def changes_its_mind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        seen.append(str(address))
        return None if len(seen) == 1 else real(address)

    monkeypatch.setattr(link_safety, "address_problem", changes_its_mind)
    resolver(monkeypatch, {"news.example.com": [["127.0.0.1"]]})
    url = f"http://news.example.com:{fresh_site.port}{ARTICLE}"
    error = refusal(url)
    assert str(error).startswith(
        f"{url}: the connection to news.example.com reached 127.0.0.1, a loopback address"
    )
    assert seen == ["127.0.0.1", "127.0.0.1"]
    assert fresh_site.requests == []


@pytest.mark.parametrize(
    ("target", "where"),
    [
        ("http://127.0.0.1:{port}/local/", "it points to 127.0.0.1, a loopback address"),
        ("http://localhost:{port}/local/", "localhost resolves to 127.0.0.1, a loopback address"),
        ("http://[::ffff:127.0.0.1]:{port}/", "it points to ::ffff:127.0.0.1, a loopback address"),
        ("http://0.0.0.0:{port}/", "it points to 0.0.0.0, the unspecified address"),
        ("http://2130706433:{port}/", "2130706433 resolves to 127.0.0.1, a loopback address"),
        ("http://127.1:{port}/", "127.1 resolves to 127.0.0.1, a loopback address"),
        ("http://[::1]:{port}/", "it points to ::1, a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "it points to 169.254.169.254, a link-local"),
        ("http://10.0.0.7/admin", "it points to 10.0.0.7, a private-network address"),
        ("http://[fd00::7]/admin", "it points to fd00::7, a private-network address"),
    ],
)
def test_a_redirect_to_a_private_address_is_refused(
    public_and_private_sites, stand_in_public, target, where
):
    public, private = public_and_private_sites
    target = target.format(port=private.port)
    start = public.url(f"/redirect?to={target}")
    error = refusal(start)
    assert error.reason == "private-address"
    assert str(error).startswith(f"{start} redirects to {target}: {where}")
    assert str(error).endswith(
        f"qa does not fetch private or local addresses. Give the address of a public web "
        f"page. ({ADVICE})"
    )
    assert len(public.requests) == 1
    assert private.connections == 0


@pytest.mark.parametrize(
    ("target", "message"),
    [
        (
            "file:///etc/passwd",
            "file:///etc/passwd: qa does not open files on the machine it runs on.",
        ),
        ("ftp://10.0.0.7/harbour.txt", "ftp://10.0.0.7/harbour.txt: ftp:// links are not fetched;"),
        (
            "http://admin:secret@{host}/",
            "http://{host}/: the link holds a user name or password",
        ),
    ],
)
def test_a_redirect_to_a_link_qa_does_not_follow_is_refused(
    public_and_private_sites, stand_in_public, target, message
):
    public, _ = public_and_private_sites
    host = f"{STAND_IN}:{public.port}"
    start = public.url(f"/redirect?to={target.format(host=host)}")
    error = refusal(start)
    assert str(error).startswith(f"{start} redirects to {message.format(host=host)}")
    assert "secret" not in str(error).replace(start, "")  # the test's own link holds it
    assert len(public.requests) == 1


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address (this machine itself)"),
        ("127.255.0.9", "a loopback address (this machine itself)"),
        ("10.1.2.3", "a private-network address"),
        ("172.16.0.1", "a private-network address"),
        ("192.168.0.10", "a private-network address"),
        ("100.64.0.1", "a shared address of a carrier's network"),
        ("169.254.169.254", "a link-local address (such as a cloud metadata service)"),
        ("224.0.0.251", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("0.0.0.0", "the unspecified address (it reaches this machine)"),
        ("192.0.2.10", "a private-network address"),
        ("::1", "a loopback address (this machine itself)"),
        ("::", "the unspecified address (it reaches this machine)"),
        ("fe80::1", "a link-local address (such as a cloud metadata service)"),
        ("fd12:3456::1", "a private-network address"),
        ("ff02::1", "a multicast address"),
        ("::ffff:127.0.0.1", "a loopback address (this machine itself)"),
        ("::ffff:10.0.0.1", "a private-network address"),
        ("64:ff9b::7f00:1", "a loopback address (this machine itself)"),
        ("2002:a00:1::", "a private-network address"),
        ("2001:db8::1", "a private-network address"),
        ("8.8.8.8", None),
        ("151.101.0.81", None),
        ("2a04:4e42::81", None),
        ("::ffff:151.101.0.81", None),
        ("64:ff9b::9765:51", None),
    ],
)
def test_which_addresses_are_private(address, problem):
    assert address_problem(ipaddress.ip_address(address)) == problem


def test_a_fetch_error_is_a_document_error():
    # So the app, the API and the CLI report it as they report a bad upload.
    assert issubclass(FetchError, DocumentError)
