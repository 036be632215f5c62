"""qa.ingest.chunking: passages of whole sentences whose offsets map exactly back to the source."""

from __future__ import annotations

from itertools import pairwise

import pytest
from conftest import CORPUS
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from qa.ingest.chunking import ChunkingConfig, chunk_document, leans_on_previous, split_sentences
from qa.ingest.corpus import BoilerplateRules, load_corpus, parse_document
from qa.types import Document, Passage

RULES = BoilerplateRules.load()

# Words that stress offsets and sentence splitting: accents (precomposed and combining),
# CJK, emoji with modifiers and joiners, right-to-left scripts, quotes, abbreviations,
# decimals, and words that make a sentence lean on the one before it.
WORDS = [
    "Mali",
    "troops",
    "the",
    "café",
    "naïve",
    "Zürich",
    "Bamako",
    "e\u0301te\u0301",
    "東京",
    "部隊は",
    "撤退した",
    "😀",
    "👍🏽",
    "👩‍👩‍👧",
    "שלום",
    "مرحبا",
    "Привет",
    "“quoted”",
    "'single'",
    "«guillemets»",
    "(aside)",
    "—",
    "Mr.",
    "Dr.",
    "U.S.",
    "e.g.",
    "3.5",
    "12,000",
    "p.m.",
    "It",
    "They",
    "But",
    "i̇",
    "ß",
    "Ⅻ",
    "x\u200by",
]
ENDINGS = [".", "!", "?", "…", "...", "。", "！", '."', '?"', ".”", "?)", ""]

word = st.one_of(
    st.sampled_from(WORDS),
    st.text(
        st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")),
        min_size=1,
        max_size=6,
    ),
)


@st.composite
def sentences(draw) -> str:
    words = draw(st.lists(word, min_size=1, max_size=12))
    if draw(st.booleans()):
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) + draw(st.sampled_from(ENDINGS))


@st.composite
def article_texts(draw) -> str:
    """A headline, then paragraphs of sentences drawn from a small pool (so identical
    sentences repeat), with headings, boilerplate and every kind of line break."""
    pool = draw(st.lists(sentences(), min_size=1, max_size=6))
    newline = st.sampled_from(["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\n \t\n"])
    space = st.sampled_from([" ", "  ", " \t", "\u00a0", "\u3000"])
    parts = [draw(sentences()), draw(newline)]
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["paragraph", "paragraph", "paragraph", "heading", "boiler"]))
        if kind == "heading":
            parts.append(
                draw(st.sampled_from(["'The pullout'", "## Background", "Why it matters"]))
            )
        elif kind == "boiler":
            parts.append("READ MORE: " + draw(sentences()))
        else:
            chosen = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=6))
            # often open with a word that leans on what came before (joins passages)
            opener = draw(st.sampled_from(["", "", "It ", "They ", "“But "]))
            parts.append(opener + draw(space).join(chosen))
        parts.append(draw(newline))
    return "".join(parts)


def expected_sentences(document: Document) -> list[tuple[int, int]]:
    return [
        (s.start, s.end)
        for line in document.body_spans
        for s in split_sentences(document.text, line.start, line.end)
    ]


def assert_exact_passages(document: Document, passages: list[Passage], config: ChunkingConfig):
    """Every invariant the rest of the system relies on, checked against the source."""
    text = document.text
    for p in passages:
        assert text[p.start : p.end] == p.text
        assert p.text and p.text == p.text.strip()
        assert p.source == document.source and p.title == document.title
        assert 1 <= p.paragraph <= p.paragraphs == len(document.body_spans)
        # whole sentences: the passage starts at its first sentence and ends at its last
        assert p.sentences and p.sentences[0].start == p.start and p.sentences[-1].end == p.end
        for s, following in pairwise(p.sentences):
            assert s.end <= following.start
        for s in p.sentences:
            assert p.start <= s.start < s.end <= p.end
        assert len(p.sentences) <= config.max_sentences
        assert len(p.text) <= config.max_chars or len(p.sentences) == 1
    for p, following in pairwise(passages):
        assert p.end <= following.start  # in order, no overlap
    # passage boundaries are exactly the sentence boundaries of the body lines
    assert [(s.start, s.end) for p in passages for s in p.sentences] == expected_sentences(document)
    # nothing lost, nothing from outside the body: each visible body character is in
    # exactly one passage, and every visible passage character is a body character
    body = {i for line in document.body_spans for i in range(line.start, line.end)}
    visible_body = {i for i in body if not text[i].isspace()}
    covered: list[int] = []
    for p in passages:
        covered += [i for i in range(p.start, p.end) if not text[i].isspace()]
    assert len(covered) == len(set(covered))
    assert set(covered) == visible_body


configs = st.builds(ChunkingConfig, max_chars=st.integers(1, 500), max_sentences=st.integers(1, 5))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=article_texts(), config=configs)
@example(
    text="Title\nFirst paragraph, a sentence.\nREAD MORE: elsewhere\nIt leans on the first.\n",
    config=ChunkingConfig(),
)
@example(text="Title\nA sentence here.\n'A heading'\nThey follow on.\n", config=ChunkingConfig())
@example(text="T\r\nSame. Same. Same.\r\nSame. Same.\r\n", config=ChunkingConfig(max_chars=6))
def test_passages_map_exactly_to_article_like_text(text, config):
    document = parse_document(text, "doc.txt", RULES)
    assert_exact_passages(document, chunk_document(document, config), config)


@settings(max_examples=300, deadline=None)
@given(
    text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=600),
    config=configs,
    markdown=st.booleans(),
)
def test_passages_map_exactly_to_arbitrary_text(text, config, markdown):
    document = parse_document(text, "doc.md", RULES, markdown=markdown)
    assert_exact_passages(document, chunk_document(document, config), config)


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",)), max_size=400))
def test_sentences_cover_every_visible_character_once(text):
    spans = split_sentences(text)
    covered = [i for s in spans for i in range(s.start, s.end)]
    assert len(covered) == len(set(covered))
    assert {i for i in covered if not text[i].isspace()} == {
        i for i, c in enumerate(text) if not c.isspace()
    }
    for s, following in pairwise(spans):
        assert s.end <= following.start
    for s in spans:
        assert text[s.start : s.end] == text[s.start : s.end].strip() != ""


def test_repeated_sentences_each_get_their_own_offsets():
    text = "Headline\nIt rained. It rained. It rained.\nIt rained.\n"
    document = parse_document(text, "rain.txt", RULES)
    passages = chunk_document(document, ChunkingConfig(max_chars=10, max_sentences=1))
    assert [p.text for p in passages] == ["It rained."] * 4
    assert [p.start for p in passages] == [9, 20, 31, 42]


# split_sentences on tricky English


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Mr. Smith went to Washington. He left.", ["Mr. Smith went to Washington.", "He left."]),
        (
            "U.S. troops left Mali. Then they went home.",
            ["U.S. troops left Mali.", "Then they went home."],
        ),
        (
            "It cost 3.5 million dollars. That is a lot.",
            ["It cost 3.5 million dollars.", "That is a lot."],
        ),
        ('He said "go." Then he left.', ['He said "go."', "Then he left."]),
        ('"Why?" he asked. Nobody knew.', ['"Why?" he asked.', "Nobody knew."]),
        ('She asked: "Why stay?" Macron answered.', ['She asked: "Why stay?"', "Macron answered."]),
        (
            "Dr. J. Smith came at 5 p.m. on Monday. It rained.",
            ["Dr. J. Smith came at 5 p.m. on Monday.", "It rained."],
        ),
        ("Troops left (finally.) Others stayed.", ["Troops left (finally.)", "Others stayed."]),
        ("Wait... What? Really! Yes.", ["Wait...", "What?", "Really!", "Yes."]),
        ("部隊は撤退した。理由は不明だ。", ["部隊は撤退した。", "理由は不明だ。"]),
        ("No full stop at the end", ["No full stop at the end"]),
        ("  \n ", []),
    ],
)
def test_split_sentences_tricky_cases(text, expected):
    assert [text[s.start : s.end] for s in split_sentences(text)] == expected


def test_split_sentences_of_a_range_returns_document_offsets():
    text = "Title.\nOne here. Two here.\nThree."
    start = text.index("One")
    spans = split_sentences(text, start, text.index("\nThree"))
    assert [(s.start, s.end) for s in spans] == [(start, start + 9), (start + 10, start + 19)]


@pytest.mark.parametrize(
    ("sentence", "leans"),
    [
        ("It currently has about 12,000 troops.", True),
        ('"They agreed nonetheless to continue."', True),
        ("However, the allies vowed to stay.", True),
        ("France initially deployed troops.", False),
        ("Items were counted.", False),
    ],
)
def test_leans_on_previous(sentence, leans):
    assert leans_on_previous(sentence) is leans


def test_leaning_sentence_joins_the_previous_paragraph_only_across_a_line_break():
    text = (
        "Headline\n"
        "The mission has a spokesman in Bamako.\n"
        "It has 12,000 troops.\n"
        "READ MORE: a link to another story\n"
        "It is not about the link.\n"
    )
    document = parse_document(text, "x.txt", RULES)
    passages = chunk_document(document)
    assert [p.text for p in passages] == [
        "The mission has a spokesman in Bamako.\nIt has 12,000 troops.",
        "It is not about the link.",
    ]
    assert passages[1].context == "It has 12,000 troops."  # embedded, never shown


def test_heading_is_embedding_context_not_text():
    document = parse_document(
        "Title\n## Background\nThe war began in 2012.\n", "x.md", RULES, markdown=True
    )
    [passage] = chunk_document(document)
    assert passage.text == "The war began in 2012."
    assert passage.context == "Background"


@pytest.mark.parametrize(("field", "value"), [("max_chars", 0), ("max_sentences", -1)])
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=rf"{field} must be >= 1, got {value}"):
        ChunkingConfig(**{field: value})


# The real article


@pytest.fixture(scope="module")
def article_passages() -> tuple[Document, list[Passage]]:
    [document] = load_corpus(CORPUS)
    return document, chunk_document(document)


def test_article_passages_are_exact_and_focused(article_passages):
    document, passages = article_passages
    assert_exact_passages(document, passages, ChunkingConfig())
    assert all(len(p.text) <= 400 for p in passages)
    assert all(1 <= len(p.sentences) <= 3 for p in passages)


def test_article_troops_sentence_comes_with_its_context(article_passages):
    _, passages = article_passages
    [passage] = [p for p in passages if "It currently has about 12,000 troops" in p.text]
    assert (
        "Olivier Salgado, the spokesman for the MINUSMA peacekeeping mission in Mali"
        in passage.text
    )


def test_article_has_no_boilerplate_or_title_passage(article_passages):
    document, passages = article_passages
    assert not any("READ MORE" in p.text for p in passages)
    assert not any(p.text.strip() == document.title for p in passages)
    assert not any(document.title in p.text for p in passages)
