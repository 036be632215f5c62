"""Cut documents into passages of whole sentences, with exact offsets.

Sentences are found as spans of the document text (never rebuilt from tokens), so
``document.text[p.start:p.end] == p.text`` holds by construction. A passage is a
paragraph when it fits ``max_chars``, else a run of its sentences; a passage whose
first sentence leans on the one before ("It currently has ...", "They agreed ...")
is joined to the passage before it when both fit, and otherwise carries that
sentence as unseen embedding context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

from qa.types import Document, Passage, Span

# Words that, opening a sentence, refer back to the sentence before it.
LEANING_WORDS = frozenset(
    "it its they them their this these those that he she his her such also however "
    "but yet still meanwhile nonetheless nevertheless moreover furthermore instead "
    "thus hence".split()
)
# Abbreviations after which a period does not end a sentence.
ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr gen col lt sgt capt cpt maj adm gov sen rep rev hon pres "
    "no nos vol fig jan feb mar apr jun jul aug sep sept oct nov dec inc ltd co corp dept "
    "est approx vs etc al e.g i.e u.s u.k u.n a.m p.m".split()
)
# A candidate sentence end: terminal punctuation, closing quotes/brackets, then space.
_BOUNDARY = re.compile(r"([.!?…]+|[。！？]+)(['\"”’)\]]*)(\s+|(?<=[。！？]))")
_WORD_BEFORE = re.compile(r"([\w.]+)$")


@dataclass(frozen=True)
class ChunkingConfig:
    """How passages are cut; recorded in the index manifest so a change rebuilds."""

    max_chars: int = 400
    max_sentences: int = 3

    def __post_init__(self) -> None:
        if self.max_chars < 1:
            raise ValueError(f"max_chars must be >= 1, got {self.max_chars}")
        if self.max_sentences < 1:
            raise ValueError(f"max_sentences must be >= 1, got {self.max_sentences}")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of ``text[start:end]``, covering every non-space character once.

    Spans are trimmed of surrounding whitespace and never overlap. A period after a
    known abbreviation, an initial ("J. Smith") or a digit ("3.5") does not split.
    """
    end = len(text) if end is None else end
    spans: list[Span] = []
    sentence_start = start
    for match in _BOUNDARY.finditer(text, start, end):
        if match.group(1).startswith(".") and _is_abbreviation(text, sentence_start, match.start()):
            continue
        following = text[match.end() : match.end() + 1]
        starts_sentence = following.isupper() or following.isdigit() or following in "\"'“‘(["
        if following and not starts_sentence and match.group(1) not in "。！？":
            continue  # "e.g. this", "3.5 million": no capital after it, not an end
        cut = match.end(2)
        spans.extend(_trimmed(text, sentence_start, cut))
        sentence_start = match.end()
    spans.extend(_trimmed(text, sentence_start, end))
    return spans


def _is_abbreviation(text: str, sentence_start: int, period: int) -> bool:
    word = _WORD_BEFORE.search(text, sentence_start, period)
    if not word:
        return False
    token = word.group(1).lower().strip(".")
    if token in ABBREVIATIONS:
        return True
    # A single capital letter is an initial ("J. Smith", "U.S."), not a sentence end.
    return len(token) == 1 and text[word.start(1)].isupper()


def _trimmed(text: str, start: int, end: int) -> Iterator[Span]:
    segment = text[start:end]
    stripped = segment.strip()
    if stripped:
        offset = start + len(segment) - len(segment.lstrip())
        yield Span(offset, offset + len(stripped))


def leans_on_previous(sentence: str) -> bool:
    """True when the sentence opens with a word that points back ("It", "They", "But")."""
    first = re.match(r"[\"'“‘(]*(\w+)", sentence)
    return first is not None and first.group(1).lower() in LEANING_WORDS


def chunk_document(document: Document, config: ChunkingConfig | None = None) -> list[Passage]:
    """The passages of one document, in reading order, with exact offsets."""
    config = config or ChunkingConfig()
    text = document.text
    paragraphs = document.body_spans
    groups: list[tuple[int, list[Span]]] = []  # (paragraph index, sentence spans)
    for number, paragraph in enumerate(paragraphs, start=1):
        sentences = split_sentences(text, paragraph.start, paragraph.end)
        for group in _pack(text, sentences, config):
            previous = groups[-1][1] if groups else None
            if (
                previous is not None
                and leans_on_previous(text[group[0].start : group[0].end])
                # only across a line break: never swallow a heading or boilerplate line
                and not text[previous[-1].end : group[0].start].strip()
                and group[-1].end - previous[0].start <= config.max_chars
                and len(previous) + len(group) <= config.max_sentences
            ):
                previous.extend(group)
            else:
                groups.append((number, list(group)))
    passages = []
    for index, (number, sentences) in enumerate(groups):
        start, end = sentences[0].start, sentences[-1].end
        passages.append(
            Passage(
                text=text[start:end],
                source=document.source,
                title=document.title,
                start=start,
                end=end,
                paragraph=number,
                paragraphs=len(paragraphs),
                context=_context(document, start, groups[index - 1][1] if index else None),
                sentences=tuple(sentences),
            )
        )
    return passages


def _pack(text: str, sentences: list[Span], config: ChunkingConfig) -> Iterable[list[Span]]:
    """Greedy runs of whole sentences within ``max_chars`` and ``max_sentences``."""
    group: list[Span] = []
    for sentence in sentences:
        if group and (
            sentence.end - group[0].start > config.max_chars or len(group) >= config.max_sentences
        ):
            yield group
            group = []
        group.append(sentence)
    if group:
        yield group


def _context(document: Document, start: int, previous: list[Span] | None) -> str:
    """What is embedded before a passage but not shown: its heading and, when the
    passage leans on it, the sentence just before."""
    parts = []
    heading = max(
        (h for h in document.headings if h.end <= start), default=None, key=lambda h: h.start
    )
    if heading is not None:
        parts.append(document.text[heading.start : heading.end].strip().lstrip("#").strip())
    opening = document.text[start : start + 40]
    if previous and leans_on_previous(opening):
        last = previous[-1]
        parts.append(document.text[last.start : last.end])
    return " ".join(parts)
