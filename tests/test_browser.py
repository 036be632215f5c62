"""The chat in a real browser: Debian's Chromium driven by Playwright, against the real
app (``python app.py``) with the real model.

No browser is downloaded: Playwright drives /usr/bin/chromium (``.ci/run`` installs
it). Without it the tests skip locally, and fail in CI, where they must run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from served_app import serve_app

CHROMIUM = Path("/usr/bin/chromium")
# As root Chromium needs --no-sandbox; the rest keep it off the network at start-up.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-gpu",
]
TIMEOUT_MS = 60_000  # the longest wait for anything on the page

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must run the browser tests")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serve_app(tmp_path_factory.mktemp("app")) as url:
        yield url


@pytest.fixture
def page(browser, served: str, tmp_path: Path):
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(served)
    page.get_by_placeholder("Ask a question about the article").wait_for()
    yield page
    page.screenshot(path=str(tmp_path / "chat.png"))
    context.close()


def ask(page, question: str) -> None:
    box = page.get_by_placeholder("Ask a question about the article")
    box.fill(question)
    box.press("Enter")


def test_page_says_what_it_knows_and_that_it_quotes(page) -> None:
    header = page.locator("body").inner_text()
    assert "France, allies to begin military withdrawal from Mali" in header
    assert "quoted from the article" in header
    assert "Nothing is made up" in header


def test_a_question_is_answered_with_the_sentence_marked(page, tmp_path: Path) -> None:
    ask(page, "How many troops does the UN have in Mali?")
    answer = page.locator("[data-testid=bot] strong", has_text="12,000 troops").first
    answer.wait_for()
    assert "It currently has about 12,000 troops in the country" in answer.inner_text()
    reply = page.locator("[data-testid=bot]").first.inner_text()
    assert "paragraph 11 of 15" in reply
    assert "strong match" in reply or "good match" in reply

    page.get_by_text("Read it in the article").first.click()
    marked = page.locator("[data-testid=bot] mark", has_text="12,000 troops").first
    marked.wait_for()
    marked.scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "answer.png"))


def test_injected_html_shows_as_text_and_does_not_run(page, tmp_path: Path) -> None:
    ask(page, "How many troops does the UN have in Mali?")
    page.locator("[data-testid=bot] strong", has_text="12,000 troops").first.wait_for()
    hostile = "<img src=x onerror=window.__pwned=1> <script>window.__pwned=2</script> <b>bold</b>"
    ask(page, hostile)
    # The question comes back as its own characters, and is answered (not found).
    page.locator("[data-testid=user]", has_text=hostile).wait_for()
    page.locator("[data-testid=bot]", has_text="Closest passage, not an answer").wait_for()
    assert page.evaluate("window.__pwned") is None
    chat = page.locator(".message-content")
    assert chat.locator("img[src=x]").count() == 0
    assert chat.locator("script").count() == 0
    assert chat.locator("b", has_text="bold").count() == 0
    page.screenshot(path=str(tmp_path / "injection.png"))


def test_empty_question_gets_a_hint_not_an_error(page) -> None:
    ask(page, "")
    page.locator("[data-testid=bot]", has_text="Type a question about the article").wait_for()
    assert page.locator(".toast-body.error").count() == 0


def test_clicking_an_example_asks_it(page) -> None:
    page.get_by_role("button", name="How many French soldiers died in Mali?").first.click()
    page.locator("[data-testid=user]", has_text="How many French soldiers died in Mali?").wait_for()
    page.locator("[data-testid=bot] strong", has_text="48 of them died in Mali").first.wait_for()
