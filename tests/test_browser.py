"""The chat in a real browser: Debian's Chromium driven by Playwright, against the real
app (``python app.py``) with the real model.

No browser is downloaded: Playwright drives /usr/bin/chromium (``.ci/run`` installs
it). Without it the tests skip locally, and fail in CI, where they must run.

Screenshots go to the test's temporary folder, or to ``$QA_SCREENSHOTS`` when it is
set (``make screenshots`` sets it to docs/screenshots, whose pictures the README shows).
"""

from __future__ import annotations

import os
import re
import time
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
DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
UN = "How many troops does the UN have in Mali?"
# WCAG 2.1 AA for normal text.
MIN_CONTRAST = 4.5

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
    # Loopback links allowed: the link test's news site runs on this machine.
    with serve_app(tmp_path_factory.mktemp("app"), QA_ALLOW_PRIVATE_URLS="1") as url:
        yield url


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("QA_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_page(browser, url: str, scheme: str = "light", device: str = "desktop"):
    context = browser.new_context(color_scheme=scheme, **DEVICES[device])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.get_by_placeholder("Ask a question about the article").wait_for()
    return page


@pytest.fixture
def page(browser, served: str):
    page = open_page(browser, served)
    yield page
    page.context.close()


def ask(page, question: str) -> None:
    box = page.get_by_placeholder("Ask a question about the article")
    box.fill(question)
    box.press("Enter")


def last_reply(page):
    return page.locator("[data-testid=bot]").last


def settled(page) -> None:
    """Wait until nothing on the page has moved for a few frames (chat.js scrolls the
    question into view on the frame after an answer is drawn)."""
    page.wait_for_function(
        """() => new Promise(done => {
            let last = null, still = 0;
            const tick = () => {
                const rects = [...document.querySelectorAll('[data-testid=user], mark')]
                    .map(e => Math.round(e.getBoundingClientRect().top)).join(',');
                still = rects === last ? still + 1 : 0;
                last = rects;
                if (still >= 5) done(true); else requestAnimationFrame(tick);
            };
            tick();
        })"""
    )


def contrast(foreground: str, background: str) -> float:
    """WCAG contrast ratio of two CSS ``rgb()``/``rgba()`` colours (opaque ones)."""

    def luminance(css: str) -> float:
        r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])
        linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def colours(locator) -> list[tuple[str, str, str]]:
    """Each element's text, computed colour and computed background colour."""
    return locator.evaluate_all(
        "els => els.map(e => { const s = getComputedStyle(e);"
        " return [e.innerText, s.color, s.backgroundColor]; })"
    )


def accessible_names(page) -> list[str]:
    """The accessible name of every node of the page's accessibility tree (Chromium's),
    and every aria-label on the page."""
    session = page.context.new_cdp_session(page)
    tree = session.send("Accessibility.getFullAXTree")
    names = [str(node.get("name", {}).get("value", "")) for node in tree["nodes"]]
    labels = page.locator("[aria-label]").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))"
    )
    return names + labels


@pytest.mark.parametrize("device", ["desktop", "phone"])
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_answer_comes_first_readable_and_in_view(browser, served, shots, scheme, device):
    page = open_page(browser, served, scheme, device)
    try:
        title = page.get_by_role("heading", name="Ask the article")
        assert title.is_visible() and title.bounding_box()["y"] >= 0, "the title is in view"
        ask(page, UN)
        reply = last_reply(page)
        key = reply.locator(".qa-card mark.qa-key")
        key.wait_for()
        assert key.inner_text() == "about 12,000 troops"
        # The answer card is the first thing in the reply.
        first = reply.locator(".qa-reply > *").first
        assert "qa-card" in (first.get_attribute("class") or "")
        assert "It currently has about 12,000 troops in the country" in first.inner_text()
        # The question and the whole card are on screen, not the end of the reply (the
        # page's script scrolls on the next frame: wait for the page to settle first).
        height = DEVICES[device]["viewport"]["height"]
        settled(page)
        question = page.locator("[data-testid=user]", has_text=UN).last.bounding_box()
        card = first.bounding_box()
        assert question and card
        assert 0 <= question["y"] < card["y"], (question, card)
        assert card["y"] + card["height"] <= height, (card, height)
        page.screenshot(path=str(shots / f"answer-{scheme}-{device}.png"))

        # Highlights meet WCAG AA: the key phrase, then the passages in the article.
        reply.locator("details.qa-article summary").first.click()
        passage = reply.locator("details.qa-article mark.qa-first").first
        passage.wait_for()
        marks = colours(reply.locator("mark"))
        assert len(marks) >= 2
        for text, fg, bg in marks:
            assert contrast(fg, bg) >= MIN_CONTRAST, (scheme, text, fg, bg)
        # The article opens at the answer's passage, in reading size.
        settled(page)
        box = passage.bounding_box()
        assert box and 0 <= box["y"] <= height - box["height"] / 2, box
        size = passage.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
        assert size >= 15, size
        page.screenshot(path=str(shots / f"article-{scheme}-{device}.png"))

        for name in accessible_names(page):
            assert "**" not in name and "&lt;" not in name and "<mark" not in name, name
    finally:
        page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_a_first_visit_shows_the_question_box_examples_and_own_articles(
    browser, served, scheme
) -> None:
    """At 1280 x 900 before any question: the question box's hint is readable (AA), and
    "Your own articles" is in view, not under an empty chat."""
    page = open_page(browser, served, scheme)
    try:
        box = page.locator("#qa-question textarea")
        hint = box.evaluate("e => getComputedStyle(e, '::placeholder').color")
        background = box.evaluate("e => getComputedStyle(e).backgroundColor")
        assert contrast(hint, background) >= MIN_CONTRAST, (scheme, hint, background)
        panel = page.locator("#qa-documents").bounding_box()
        assert panel is not None and panel["y"] + panel["height"] <= 900, panel
        page.get_by_text("or paste a news link").wait_for()
    finally:
        page.context.close()


def test_a_phone_footer_has_no_stray_separator(browser, served) -> None:
    page = open_page(browser, served, "light", "phone")
    try:
        assert page.locator("footer").inner_text().split() == ["Settings"]
    finally:
        page.context.close()


def test_the_answer_card_is_reachable_by_keyboard(page) -> None:
    ask(page, UN)
    last_reply(page).locator(".qa-card mark.qa-key").wait_for()
    page.get_by_placeholder("Ask a question about the article").focus()
    for _ in range(40):  # back from the question box, through the reply
        page.keyboard.press("Shift+Tab")
        focused = page.evaluate("document.activeElement.className")
        if "qa-card" in focused:
            break
    else:
        pytest.fail("Shift+Tab from the question box never reached the answer card")
    text = page.evaluate("document.activeElement.innerText")
    assert "about 12,000 troops" in text and "paragraph 11 of 15" in text


def test_a_message_is_named_by_its_plain_text(page) -> None:
    ask(page, UN)
    reply = last_reply(page)
    reply.locator(".qa-card").wait_for()
    label = reply.get_attribute("aria-label") or ""
    assert label.startswith("Answer: ")
    assert "about 12,000 troops" in label and "<" not in label


def test_page_says_what_it_knows_and_that_it_quotes(page) -> None:
    header = page.locator("body").inner_text()
    assert "France, allies to begin military withdrawal from Mali" in header
    assert "quoted from the article" in header
    assert "Nothing is made up" in header


def test_fonts_render_bold_without_a_web_font(page) -> None:
    # The theme uses the system's fonts: no font file is fetched, and bold text uses the
    # same family as regular text (no mid-word fallback).
    fonts = page.evaluate("[...document.fonts].map(f => f.family + ' ' + f.status)")
    assert not [f for f in fonts if "loaded" in f], fonts
    family = page.get_by_role("heading", name="Ask the article").evaluate(
        "e => getComputedStyle(e).fontFamily"
    )
    assert family.split(",")[0].strip() == "system-ui"


def test_why_question_shows_the_reason(page) -> None:
    ask(page, "Why is France leaving Mali?")
    key = last_reply(page).locator(".qa-card mark.qa-key")
    key.wait_for()
    assert "multiple obstructions" in key.inner_text()


def test_weak_match_says_it_is_only_close(page) -> None:
    ask(page, "What is the size of the blue-helmet force?")
    card = last_reply(page).locator(".qa-card.qa-uncertain")
    card.wait_for()
    assert "The closest the article comes is" in card.inner_text()
    assert "12,000 troops" in card.inner_text()


def test_injected_html_shows_as_text_and_does_not_run(page) -> None:
    ask(page, UN)
    last_reply(page).locator(".qa-card").wait_for()
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


def test_empty_question_gets_a_hint_of_its_own(page) -> None:
    ask(page, UN)
    last_reply(page).locator(".qa-card").wait_for()
    ask(page, "")
    hint = page.locator("[data-testid=bot]", has_text="Type a question about the article")
    hint.wait_for()
    assert hint.count() == 1
    answer = page.locator("[data-testid=bot]").first
    assert "Type a question" not in answer.inner_text(), "the hint is not glued to the answer"
    assert page.locator(".toast-body.error").count() == 0
    ask(page, "   ")  # a second empty question adds no second hint
    page.wait_for_timeout(1500)
    assert page.locator("[data-testid=bot]", has_text="Type a question").count() == 1


def test_clicking_an_example_asks_it(page) -> None:
    page.get_by_role("button", name="Who is the spokesman for MINUSMA?").first.click()
    page.locator("[data-testid=user]", has_text="Who is the spokesman for MINUSMA?").wait_for()
    key = last_reply(page).locator(".qa-card mark.qa-key")
    key.wait_for()
    assert key.inner_text() == "Olivier Salgado"


def test_a_file_of_ones_own_is_uploaded_and_answers(page, tmp_path: Path) -> None:
    article = tmp_path / "bakery.txt"
    article.write_text(
        "Town bakery opens a second shop\n"
        "The Rivertown bakery will open a second shop on Main Street in March, its owner "
        "Ana Lopez said on Monday.\n"
        "The bakery sells forty kinds of bread and employs 12 people.\n",
        encoding="utf-8",
    )
    page.get_by_text("Your own articles").click()
    page.locator("#qa-upload input[type=file]").set_input_files(str(article))
    page.locator("[data-testid=bot]", has_text="Added bakery.txt").wait_for()
    page.locator("#qa-listing", has_text="bakery.txt").wait_for()
    page.get_by_label("My documents only").check()
    ask(page, "How many kinds of bread does the bakery sell?")
    card = last_reply(page).locator(".qa-card")
    card.wait_for()
    assert "forty kinds of bread" in card.inner_text()
    assert "bakery.txt" in last_reply(page).inner_text()


def test_a_pasted_link_is_read_then_answered(page, shots, capsys) -> None:
    """A news link pasted in the chat adds the article (with its overview as the first
    reply), then a question about it is answered from it; prints the time from pasting
    to the first answer."""
    from news_site import NewsSite

    with NewsSite() as site:
        link = site.url("/local/harbour-reopens-after-storm")
        started = time.perf_counter()
        ask(page, link)
        added = page.locator("[data-testid=bot]", has_text="Added")
        added.wait_for()
        read = time.perf_counter() - started
        assert "in brief" in added.inner_text().lower()
        ask(page, "What was the barge carrying?")
        key = last_reply(page).locator(".qa-card mark.qa-key")
        key.wait_for()
        answered = time.perf_counter() - started
        assert key.inner_text() == "was carrying 600 tonnes of wheat"
        assert "harbour-reopens-after-storm" in last_reply(page).inner_text()
        settled(page)
        page.screenshot(path=str(shots / "link-light-desktop.png"))
        page.get_by_text("Your own articles").click()
        page.locator("#qa-listing", has_text="harbour-reopens-after-storm").wait_for()
    with capsys.disabled():
        print(
            f"\nLink pasted to article added: {read:.1f} s; to the first answer: {answered:.1f} s"
        )


def test_a_document_of_ones_own_is_removed_from_the_panel(page) -> None:
    page.get_by_text("Your own articles").click()
    page.locator("#qa-paste textarea").fill("Harbour notes\nThe ferry runs twice a day.")
    page.get_by_role("button", name="Add the pasted text").click()
    page.locator("#qa-listing", has_text="Pasted text 1").wait_for()
    page.locator("#qa-remove-choice input").click()
    page.get_by_role("option", name="Pasted text 1").click()
    page.locator("#qa-remove").click()
    page.locator("[data-testid=bot]", has_text="Removed Pasted text 1").wait_for()
    page.locator("#qa-listing", has_text="No document of yours yet").wait_for()


def test_a_follow_up_says_how_it_was_read(page) -> None:
    ask(page, UN)
    last_reply(page).locator(".qa-card").wait_for()
    ask(page, "And France?")
    page.locator("[data-testid=bot] .qa-readas").wait_for()
    assert "How many troops does France have in Mali?" in page.locator(".qa-readas").inner_text()
    card = last_reply(page).locator(".qa-card")
    read_as = card.locator(".qa-readas").bounding_box()
    label = card.locator(".qa-lead").bounding_box()
    assert read_as and label and label["y"] - (read_as["y"] + read_as["height"]) >= 6


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_an_overview_question_gets_the_in_brief_card(browser, served, shots, scheme) -> None:
    """The question "What is this article about?" gets the "In brief" card: the lead and
    the central sentences, readable in both themes; a German question is told so."""
    page = open_page(browser, served, scheme)
    try:
        ask(page, "What is this article about?")
        card = last_reply(page).locator(".qa-card.qa-brief")
        card.wait_for()
        assert card.locator(".qa-lead").inner_text().strip().lower() == "in brief"
        items = card.locator("li")
        assert items.count() == 4
        assert "A statement signed by France" in items.first.inner_text()
        assert "the lead · paragraph 1 of" in items.first.inner_text()
        background = card.evaluate("e => getComputedStyle(e).backgroundColor")
        for text, fg, _ in colours(card.locator("li, .qa-lead, .qa-where, .qa-cite, .qa-from")):
            assert contrast(fg, background) >= MIN_CONTRAST, (scheme, text, fg, background)
        settled(page)
        page.screenshot(path=str(shots / f"overview-{scheme}-desktop.png"))
        ask(page, "Wie viele Soldaten hat Frankreich in Mali?")
        refusal = last_reply(page).locator(".qa-card.qa-language")
        refusal.wait_for()
        assert "German" in refusal.inner_text() and "in English" in refusal.inner_text()
        assert last_reply(page).locator("blockquote, mark").count() == 0
        settled(page)
        page.screenshot(path=str(shots / f"not-english-{scheme}-desktop.png"))
    finally:
        page.context.close()
