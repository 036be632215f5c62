"""qa.presentation: what the chat shows is exactly the article's (or the person's) text.

A CommonMark renderer (markdown-it-py) is the oracle: escaped text must render to the
same characters, with no tag but those the presentation writes itself. The browser
test checks the same in the chat's real renderer.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

import qa
from qa.presentation import (
    SHOWN_QUESTION_CHARS,
    Mark,
    describe,
    document_view,
    escape,
    quote,
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
    rendered = [MARKDOWN.render(p) for p in paragraphs]
    assert all(r.count("<mark>") == r.count("</mark>") for r in rendered)
    assert "<mark>" not in rendered[2]
    marked = re.findall(r"<mark>(.*?)</mark>", "".join(rendered), flags=re.S)
    assert [html.unescape(m) for m in marked] == ["line</b>.", "Second *line* "]
    assert render(paragraphs[0])[0].strip() == "Intro <b>[1] line</b>."


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


def _hit_from(retriever: qa.Retriever, source: str, question: str) -> qa.Hit:
    return next(h for h in retriever.search(question, k=50) if h.source == source)


def test_quote_shows_the_passage_with_its_answer_in_bold(retriever: qa.Retriever) -> None:
    hit = _hit_from(retriever, "hostile.txt", "troops script alert")
    shown, tags = render(quote(hit))
    assert re.sub(r"\s+", " ", shown).strip() == re.sub(r"\s+", " ", hit.text).strip()
    assert tags <= {"blockquote", "p", "strong"}
    bold = re.findall(r"<strong>(.*?)</strong>", MARKDOWN.render(quote(hit)), flags=re.S)
    assert html.unescape("".join(bold)) == hit.answer
    assert "strong" not in render(quote(hit, mark_answer=False))[1]


def test_reply_lists_passages_best_first_with_where_and_strength(retriever: qa.Retriever) -> None:
    answer = qa.Answer("q", True, tuple(retriever.search("troops in Mali", k=3)), "Found.")
    text = reply(answer)
    positions = [text.index(f"**{rank}** · ") for rank in (1, 2, 3)]
    assert positions == sorted(positions)
    for hit in answer.passages:
        assert f"paragraph {hit.paragraph} of {hit.paragraphs}" in text
        assert strength(hit.score) in text
        assert escape(hit.source) in text


def test_not_found_reply_says_so_and_offers_one_passage_not_as_an_answer(
    retriever: qa.Retriever,
) -> None:
    hits = tuple(retriever.search("troops", k=3))
    message = "The article does not say: no passage answers <b>this</b>."
    text = reply(qa.Answer("q", False, hits, message))
    shown, tags = render(text)
    assert shown.startswith("The article does not say: no passage answers <b>this</b>.")
    assert text.count("**Closest passage, not an answer**") == 1
    assert f"paragraph {hits[0].paragraph} of {hits[0].paragraphs}" in text
    assert "strong" in tags  # the label only: the quote itself is not marked
    assert "<strong>" not in text


def test_strength_is_words_first() -> None:
    assert strength(0.9).startswith("strong match")
    assert strength(0.01).startswith("no real match")
    assert "(0.90)" in strength(0.9)


def test_document_view_marks_every_passage_in_place(retriever: qa.Retriever) -> None:
    document = retriever.documents["hostile.txt"]
    hits = [h for h in retriever.search("troops UN", k=50) if h.source == "hostile.txt"]
    markdown = document_view(document.text, hits, [str(i) for i in range(1, len(hits) + 1)])
    rendered = MARKDOWN.render(markdown)
    shown, tags = render(markdown)
    assert tags <= {"p", "mark", "strong"}
    for rank, hit in enumerate(hits, start=1):
        assert f"[{rank}] {hit.text.splitlines()[0]}" in shown
    marked = re.findall(r"<mark>(.*?)</mark>", rendered, re.S)
    assert "".join(html.unescape(re.sub(r"<[^>]+>", "", m)) for m in marked) == "".join(
        "".join(h.text.split("\n")) for h in sorted(hits, key=lambda h: h.start)
    )
    # Every line of the document is there, in order, as text.
    lines = [line.strip() for line in document.text.splitlines() if line.strip()]
    assert re.sub(r"\[\d+\] ", "", shown).strip().split("\n") == lines


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
