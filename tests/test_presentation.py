"""qa.serve.presentation: what the chat shows is exactly the article's (or the person's) text.

A CommonMark renderer (markdown-it-py) is the oracle: escaped text must render to the
same characters, with no tag but those the presentation writes itself. The browser
test checks the same in the chat's real renderer.
"""

from __future__ import annotations

import dataclasses
import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import qa
from qa.serve.presentation import (
    SHOWN_QUESTION_CHARS,
    Mark,
    describe,
    document_view,
    escape,
    render_paragraphs,
    reply,
    shown_question,
    strength,
)

# CommonMark with raw HTML on, plus the GitHub tables and strikethrough the chat has.
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])

HOSTILE = [
    "<script>window.__pwned=1</script>",
    '<img src=x onerror="window.__pwned=1">',
    "<b>bold</b> &amp; &lt;not a tag&gt;",
    "# not a heading",
    "1. not a list",
    "2022) neither",
    "- not a bullet",
    "+ nor this",
    "> not a quote",
    "---",
    "===",
    "    four spaces are not code",
    "**not bold** __nor this__ *nor* _this_",
    "[a link](javascript:alert(1)) ![an image](x.png)",
    "`code` ~~struck~~ | a | b |",
    "$$x^2$$ costs $5",
    "back\\slash at the end\\",
    "Les élèves ont dit « non » — 12 000 soldats, 中文。",
]


class _Text(HTMLParser):
    """Text content and tag names of rendered HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def render(markdown: str) -> tuple[str, set[str]]:
    parser = _Text()
    parser.feed(MARKDOWN.render(markdown))
    return "".join(parser.text), set(parser.tags)


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_renders_as_itself_and_nothing_else(text: str) -> None:
    shown, tags = render(escape(text))
    assert shown.strip() == text.strip()
    assert tags == {"p"}


@given(st.text(alphabet=st.characters(exclude_characters="\r\x00", codec="utf-8"), max_size=80))
def test_any_line_renders_as_itself(text: str) -> None:
    line = text.replace("\n", " ")
    shown, tags = render(escape(line))
    # Markdown trims the whitespace around a paragraph; nothing else may change.
    assert shown.strip() == line.strip()
    assert tags <= {"p"}


def test_line_breaks_are_kept_and_each_line_is_escaped() -> None:
    shown, tags = render(escape("first line\n# second\n  - third"))
    assert shown.strip().split("\n") == ["first line", "# second", "- third"]
    assert tags == {"p"}


def test_marks_wrap_exactly_their_span_and_never_cross_a_paragraph() -> None:
    text = "Intro <b>line</b>.\nSecond *line* here.\n\nThird line."
    start, end = text.index("line</b>"), text.index("here")
    paragraphs = render_paragraphs(text, [Mark(start, end, "<mark>", "</mark>")], {start: "[1] "})
    assert len(paragraphs) == 3
    assert all(p.count("<mark>") == p.count("</mark>") for p in paragraphs)
    assert "<mark>" not in paragraphs[2]
    marked = re.findall(r"<mark>(.*?)</mark>", "".join(paragraphs), flags=re.S)
    assert [html.unescape(m) for m in marked] == ["line</b>.", "Second *line* "]
    assert html.unescape(re.sub(r"<[^>]+>", "", paragraphs[0])) == "Intro <b>[1] line</b>."


@pytest.mark.parametrize("text", HOSTILE)
def test_paragraphs_render_as_their_own_characters(text: str) -> None:
    (paragraph,) = render_paragraphs(text)
    shown, tags = render(f'<div class="qa-reply"><p>{paragraph}</p></div>')
    assert shown == text.strip()
    assert tags == {"div", "p"}


@pytest.fixture
def retriever(corpus_copy: Path, fake_embedder, tmp_path: Path) -> qa.Retriever:
    """The real article plus a hostile one, searched with the fake embedder."""
    (corpus_copy / "hostile.txt").write_text(
        "<img src=x onerror=alert(1)> **Breaking** news\n"
        "The <script>alert('troops')</script> troops said # nothing 1. else.\n"
        "- A bullet of troops? [link](javascript:alert(1)) says the UN.\n",
        encoding="utf-8",
    )
    return qa.Retriever.from_corpus(
        corpus_copy, embedder=fake_embedder, cache_dir=tmp_path / "cache"
    )


# Every tag a reply may hold; anything else would have come from the text.
REPLY_TAGS = {
    "div",
    "section",
    "p",
    "blockquote",
    "mark",
    "span",
    "cite",
    "ol",
    "li",
    "details",
    "summary",
    "b",
}


def test_a_reply_is_one_html_block_that_markdown_leaves_alone(retriever: qa.Retriever) -> None:
    for question in ("troops said", "<img src=x onerror=alert(1)> UN troops", "zzz"):
        text = reply(retriever.ask(question), retriever.documents)
        assert "\n" not in text  # no blank line: CommonMark keeps an HTML block whole
        assert MARKDOWN.render(text).strip() == text
        assert set(_tags(text)) <= REPLY_TAGS, _tags(text)


def _tags(markup: str) -> list[str]:
    parser = _Text()
    parser.feed(markup)
    return parser.tags


def test_the_answer_card_comes_first_with_its_key_phrase_marked(retriever: qa.Retriever) -> None:
    answer = retriever.ask("How many troops does it currently have according to its website?")
    assert answer.found and answer.answer and answer.answer.key == "about 12,000 troops"
    text = reply(answer, retriever.documents)
    assert text.startswith('<div class="qa-reply"><section class="qa-card">')
    card = text[: text.index("</section>")]
    shown, _ = render(card)
    assert f"“{answer.answer.text}”" in shown
    assert f'<mark class="qa-key">{html.escape(answer.answer.key)}</mark>' in card
    assert f"paragraph {answer.answer.paragraph} of {answer.answer.paragraphs}" in shown
    assert strength(answer.answer.score) in shown


def test_the_sentence_the_card_quotes_is_not_repeated_below_it(retriever: qa.Retriever) -> None:
    answer = retriever.ask("How many troops does the UN have in Mali?")
    text = reply(answer, retriever.documents)
    listing = text[text.index('<ol class="qa-passages">') : text.index("</ol>")]
    first = listing[: listing.index("</li>")]
    assert html.escape(answer.answer.text) not in first  # the card has it
    assert '<span class="qa-elided">[the answer, quoted above]</span>' in first
    hit = answer.passages[0]
    around = hit.text[: hit.answer_start] + hit.text[hit.answer_end :]
    assert html.escape(around.strip()[:40]) in first  # the rest of the passage stays
    assert "<strong>" not in text and "<b>" not in listing


@pytest.mark.parametrize(
    ("asked", "heading"),
    [
        ("", "Not in the articles"),  # this corpus has two
        ("your documents", "Not in your documents"),
        ("the article or your document", "Not in the article or your document"),
    ],
)
def test_a_refusal_says_what_was_asked(retriever: qa.Retriever, asked, heading) -> None:
    answer = retriever.ask("Who won the World Cup?")
    text = reply(answer, retriever.documents, asked)
    assert f'<p class="qa-lead">{heading}</p>' in text


def test_the_title_and_file_are_said_once(retriever: qa.Retriever) -> None:
    answer = retriever.ask("troops in Mali")
    hits = [h for h in answer.passages if h.source == answer.passages[0].source]
    answer = dataclasses.replace(answer, passages=tuple(hits), answering=len(hits))
    text = reply(answer, retriever.documents)
    body = text[: text.index("<details")]
    assert body.count(html.escape(hits[0].source)) == 1


def test_passages_far_below_the_best_are_not_shown(retriever: qa.Retriever) -> None:
    answer = retriever.ask("troops in Mali", k=3)
    one = dataclasses.replace(answer, answering=1)
    text = reply(one, retriever.documents)
    assert "[2]" not in text[: text.index("<details")]


def test_a_weak_answer_says_it_is_only_close(retriever: qa.Retriever) -> None:
    answer = dataclasses.replace(retriever.ask("troops in Mali"), confident=False)
    text = reply(answer, retriever.documents)
    assert 'class="qa-card qa-uncertain"' in text
    assert "The closest the article comes is" in render(text)[0]


def test_not_found_reply_says_so_and_offers_one_passage_not_as_an_answer(
    retriever: qa.Retriever,
) -> None:
    hits = tuple(retriever.search("troops", k=3))
    message = "The article does not say: no passage answers <b>this</b>."
    text = reply(qa.Answer("q", False, hits, message), retriever.documents)
    shown, _ = render(text)
    assert "Not in the article" in shown
    assert "The article does not say: no passage answers <b>this</b>." in shown
    assert shown.count("Closest passage, not an answer") == 1
    assert f"paragraph {hits[0].paragraph} of {hits[0].paragraphs}" in shown
    assert "qa-key" not in text and "qa-said" not in text
    assert "[closest]" in shown


def test_strength_is_words_first() -> None:
    assert strength(0.9).startswith("strong match")
    assert strength(0.01).startswith("no real match")
    assert "(0.90)" in strength(0.9)


def test_document_view_marks_every_passage_in_place(retriever: qa.Retriever) -> None:
    document = retriever.documents["hostile.txt"]
    hits = [h for h in retriever.search("troops UN", k=20) if h.source == "hostile.txt"]
    view = document_view(document.text, hits, [str(i) for i in range(1, len(hits) + 1)])
    shown, tags = render(view)
    assert tags <= {"p", "mark", "span", "b"}
    flat = shown.replace("\n", "")
    for rank, hit in enumerate(hits, start=1):
        assert f"[{rank}] {hit.text.splitlines()[0]}" in flat
    marked = re.findall(r"<mark[^>]*>(.*?)</mark>", view, re.S)
    assert "".join(html.unescape(re.sub(r"<[^>]+>", "", m)) for m in marked) == "".join(
        "".join(h.text.split("\n")) for h in sorted(hits, key=lambda h: h.start)
    )
    assert view.count("qa-first") == len(hits[0].text.strip().splitlines())
    # Every line of the document is there, in order, as text.
    lines = [line.strip() for line in document.text.splitlines() if line.strip()]
    paragraphs = re.findall(r"<p>(.*?)</p>", view)
    texts = [re.sub(r"\[\d+\] ", "", html.unescape(re.sub(r"<[^>]+>", "", p))) for p in paragraphs]
    assert texts == lines


def test_shown_question_escapes_and_shortens() -> None:
    assert render(shown_question("<script>x</script>"))[0].strip() == "<script>x</script>"
    long = "Why? " * 30_000
    shown = shown_question(long)
    assert len(shown) < SHOWN_QUESTION_CHARS + 100
    assert "150,000 characters in all" in shown


def test_describe_names_the_headlines_and_says_it_quotes() -> None:
    one, tags = render(describe(["France, allies <i>to</i> leave Mali"]))
    assert "the article France, allies <i>to</i> leave Mali." in one
    assert "quoted" in one and "Nothing is made up" in one
    assert tags == {"p", "strong"}
    many, _ = render(describe([f"Headline {i}" for i in range(5)]))
    assert "5 articles" in many and "2 more" in many


def test_a_long_document_is_shown_around_its_hits_only(retriever: qa.Retriever) -> None:
    lines = [f"Line {n} of a long article, about nothing in particular." for n in range(400)]
    text = "\n".join(lines)
    start = text.index("Line 200 ")
    end = start + len(lines[200])
    hit = qa.Hit(lines[200], 0.7, "long.txt", "Long", start, end, lines[200], 0, len(lines[200]))
    view = document_view(text, [hit], ["1"])
    assert len(text) > 12_000 and len(view) < 2_000
    assert view.count('class="qa-gap"') == 2
    for n in (198, 199, 200, 201, 202):
        assert f"Line {n} of" in view
    assert "Line 197 of" not in view and "Line 203 of" not in view


def test_a_carriage_return_does_not_start_a_heading() -> None:
    shown, tags = render(escape("bread?\r# heading\r\n- item"))
    assert tags == {"p"} and "# heading" in shown
