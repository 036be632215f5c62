"""What a document is about, in its own sentences: its lead and its most central ones.

"What is this article about?", "Summarize", "Give me the main points", "tl;dr" ask
about the whole document, which no passage answers. The reply is the lead (the first
full sentence: a news article's summary of itself) and the few sentences most central
to the document by LexRank (Erkan & Radev, "LexRank: Graph-based Lexical Centrality as
Salience in Text Summarization", JAIR 22, 2004), in article order, each quoted with
its offsets: nothing is written that the document does not say.

LexRank: the sentences are the nodes of a graph whose edges join two sentences as
similar as ``SIMILARITY_THRESHOLD`` or more (the paper's section 3.2), weighted by that
similarity (its "continuous LexRank", section 3.3); a sentence is central when central
sentences resemble it: the stationary distribution of a random walk on the graph that
jumps to any sentence with probability ``DAMPING``, found by power iteration. Unlike
the paper, a sentence is not linked to itself, and one linked to no other walks on to
any sentence (as PageRank treats a page without links), so a sentence like no other
ranks low rather than average. The similarity is the cosine of the sentence vectors
qa already stores for search (all-MiniLM-L6-v2), in place of the paper's tf-idf cosine.

``is_overview_question`` tells an overview question from an ordinary one by its
words: one of ``TRIGGERS`` ("summarize", "gist", "main points", "what happened",
"about") and nothing else than words about the document and the asking ("What is
this article about?"). "What happened in 2013?" and "What is MINUSMA?" name something,
so they are searched as usual.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

from qa.answer.ranking import sentence_vectors
from qa.index.embedder import Embedder
from qa.index.stores import BuiltIndex
from qa.types import Answer, Document, Overview, OverviewSentence, Span

# Cosine similarity at or above which two sentences are joined in the graph. The
# paper's 0.1 was for tf-idf cosines, which are 0 for sentences sharing no word; two
# sentences of one article score 0.22-0.54 (10th-90th percentile) with this model,
# so below 0.3 every pair is joined and every sentence comes out the same.
SIMILARITY_THRESHOLD = 0.3
# The probability of the random walk jumping to any sentence (the paper's d, chosen in
# [0.1, 0.2]): it makes the walk converge whatever the graph.
DAMPING = 0.15
# Power iteration stops when no score moves by more than this (the paper's epsilon).
TOLERANCE = 1e-6
MAX_ITERATIONS = 200
# Central sentences shown after the lead: for one document, and for each of several.
CENTRAL_SENTENCES = 3
CENTRAL_SENTENCES_EACH = 2
# Documents given an overview at most; the message says how many more there are.
MAX_DOCUMENTS = 5
# A sentence shown has at least this many words: "Yes." or "Read more" is no summary.
MIN_WORDS = 6
# A sentence this similar to one already chosen says it again: the next is taken.
REDUNDANT = 0.8
# Overviews kept, per model and document version: a document's overview never changes.
CACHED = 256

# Words that ask for an overview; at least one must be there.
TRIGGERS = frozenset(
    "summary summaries summarize summarise summarized summarised summarizing summarising "
    "summarization sum recap gist tldr overview synopsis brief briefly nutshell short "
    "point points facts ideas takeaways takeaway highlights essentials happened "
    "happening going about".split()
)
# Words for the documents; with one of ``_ASKING_ABOUT`` they ask about them too
# ("What does the article say?").
_DOCUMENT = frozenset(
    "article articles story stories text texts document documents doc docs piece page "
    "report news item post file files content contents corpus".split()
)
_ASKING_ABOUT = frozenset(
    "what say says said tell cover covers discuss discusses explain describe".split()
)
# What an overview question may hold besides: the asking, pronouns, fillers, and the
# pieces of contractions ("what's", "I'd").
_ASKING = frozenset(
    "whats is are was were the a an of in on from me us give get tell show list can could "
    "would will you please pls quick quickly i want need like to do does did so far just "
    "main key most important top few three five some overall basic basically words your "
    "own for here there up mean means whole general and or with this these that those it "
    "its they them all each both s d ll re ve m".split()
)
_KNOWN = TRIGGERS | _DOCUMENT | _ASKING_ABOUT | _ASKING
# Words that, right before "about", make it a follow-up ("What about France?").
_NOT_ABOUT = frozenset({"what", "how"})
_TLDR = re.compile(r"\btl\W{0,2}dr\b")  # "tl;dr", "TL;DR", "tl dr"
_WORD = re.compile(r"[a-z0-9]+")
_MAX_WORDS = 14

_cache: OrderedDict[tuple[str, str, str, int], Overview] = OrderedDict()
_cache_lock = threading.Lock()


def is_overview_question(question: str) -> bool:
    """Whether ``question`` asks what the document is about, as a whole.

    >>> is_overview_question("What is this article about?"), is_overview_question("tl;dr")
    (True, True)
    >>> is_overview_question("What happened in 2013?"), is_overview_question("What about it?")
    (False, False)
    """
    words = _WORD.findall(_TLDR.sub("tldr", question.lower()))
    if not words or len(words) > _MAX_WORDS or any(w not in _KNOWN for w in words):
        return False  # it names something ("What happened in 2013?"): an ordinary question
    if any(w in _DOCUMENT for w in words) and any(w in _ASKING_ABOUT for w in words):
        return True
    return any(
        w in TRIGGERS and not (w == "about" and i > 0 and words[i - 1] in _NOT_ABOUT)
        for i, w in enumerate(words)
    )


def lexrank(similarity: np.ndarray) -> np.ndarray:
    """Each sentence's centrality by continuous LexRank, from their cosine similarities
    (a square matrix): scores that sum to 1, higher for sentences more central."""
    count = len(similarity)
    if count == 0:
        return np.zeros(0)
    weights = np.where(similarity >= SIMILARITY_THRESHOLD, similarity, 0.0)
    np.fill_diagonal(weights, 0.0)  # resembling itself makes no sentence central
    degree = weights.sum(axis=1, keepdims=True)
    # A sentence like no other walks on to any sentence (PageRank's dangling nodes).
    walk = np.where(degree > 0, weights / np.where(degree > 0, degree, 1.0), 1.0 / count)
    scores = np.full(count, 1.0 / count)
    for _ in range(MAX_ITERATIONS):
        updated = DAMPING / count + (1 - DAMPING) * (walk.T @ scores)
        done = float(np.abs(updated - scores).max()) < TOLERANCE
        scores = updated
        if done:
            break
    return np.asarray(scores / scores.sum())


def summarize(
    document: Document,
    sentences: Sequence[tuple[Span, int, int]],
    vectors: np.ndarray,
    central: int = CENTRAL_SENTENCES,
) -> Overview:
    """``document`` in brief: its lead, then its ``central`` most central sentences
    (``lexrank`` over ``vectors``, one unit vector per sentence), in article order.

    ``sentences`` are the document's sentences in order, each with its paragraph n
    of m (1-based). A sentence shorter than ``MIN_WORDS`` words is never shown, nor
    one that says again what a sentence already chosen says (``REDUNDANT``).
    """
    if not sentences:
        return Overview(document.source, document.title, ())
    long_enough = [_words(document.text[s.start : s.end]) >= MIN_WORDS for s, _, _ in sentences]
    lead = long_enough.index(True) if any(long_enough) else 0
    similarity = vectors @ vectors.T
    scores = lexrank(similarity) * len(sentences)  # 1.0: an average sentence
    chosen = [lead]
    for i in np.argsort(-scores, kind="stable"):
        if len(chosen) > central:
            break
        if i != lead and long_enough[i] and all(similarity[i, j] < REDUNDANT for j in chosen):
            chosen.append(int(i))
    shown = []
    for i in sorted(chosen):
        span, paragraph, paragraphs = sentences[i]
        text = document.text[span.start : span.end]
        shown.append(
            OverviewSentence(
                text, span.start, span.end, paragraph, paragraphs, i == lead, float(scores[i])
            )
        )
    return Overview(document.source, document.title, tuple(shown))


def overview_answer(
    question: str,
    documents: Iterable[Document],
    built: Sequence[BuiltIndex],
    embedder: Embedder,
    sources: Sequence[str] | None = None,
) -> Answer:
    """The answer to an overview question: one overview per document (of ``sources``,
    else all, at most ``MAX_DOCUMENTS``), from the indexes ``built`` that hold them."""
    wanted = list(documents)
    if sources is not None:
        named = set(sources)
        wanted = [d for d in wanted if d.source in named]
    shown = wanted[:MAX_DOCUMENTS]
    central = CENTRAL_SENTENCES if len(shown) == 1 else CENTRAL_SENTENCES_EACH
    overviews = tuple(
        o for d in shown if (o := document_overview(d, built, embedder, central)).sentences
    )
    return Answer(
        question,
        bool(overviews),
        (),
        overview_message(overviews, len(wanted) - len(shown)),
        confident=bool(overviews),
        read_as=question,
        kind="overview",
        overview=overviews,
    )


def overview_message(overviews: Sequence[Overview], left_out: int = 0) -> str:
    """The overviews in plain words (what a terminal or an assistant shows)."""
    if not overviews:
        return "There is no document to give an overview of."
    parts = [f"In brief, “{o.title}”: " + " ".join(s.text for s in o.sentences) for o in overviews]
    if left_out:
        parts.append(
            f"And {left_out} more document{'s' if left_out != 1 else ''}: ask about one by "
            "what it is about."
        )
    return "\n\n".join(parts)


def document_overview(
    document: Document,
    built: Sequence[BuiltIndex],
    embedder: Embedder,
    central: int = CENTRAL_SENTENCES,
) -> Overview:
    """``summarize`` over the document's sentence vectors as the index holds them.

    A passage of several sentences has a vector for each; a passage of one sentence
    has only its passage vector, which is that sentence's (the passage's text is what
    was embedded, ``qa.index.building.embedding_input``): it is embedded again here, the
    same text through the same model. Kept in a small cache, per model and version.
    """
    key = (embedder.fingerprint, document.source, document.content_hash, central)
    with _cache_lock:
        if (cached := _cache.get(key)) is not None:
            _cache.move_to_end(key)
            return cached
    sentences, vectors = _sentences_of(document, built, embedder)
    result = summarize(document, sentences, vectors, central)
    with _cache_lock:
        _cache[key] = result
        while len(_cache) > CACHED:
            _cache.popitem(last=False)
    return result


def _sentences_of(
    document: Document, built: Sequence[BuiltIndex], embedder: Embedder
) -> tuple[list[tuple[Span, int, int]], np.ndarray]:
    """The document's sentences (span, paragraph, paragraphs) in order, and a unit
    vector for each."""
    for index in built:
        ids = [i for i, p in enumerate(index.passages) if p.source == document.source]
        if ids:
            break
    else:
        return [], np.zeros((0, 0), np.float32)
    sentences: list[tuple[Span, int, int]] = []
    rows: list[np.ndarray | None] = []
    for i, vectors in zip(ids, sentence_vectors(index, ids), strict=True):
        passage = index.passages[i]
        spans = passage.sentences or (Span(passage.start, passage.end),)
        sentences += [(s, passage.paragraph, passage.paragraphs) for s in spans]
        # A one-sentence passage has no sentence vector of its own: embedded below.
        rows += list(vectors) if len(vectors) == len(spans) > 1 else [None] * len(spans)
    missing = [i for i, row in enumerate(rows) if row is None]
    if missing:
        texts = [document.text[sentences[i][0].start : sentences[i][0].end] for i in missing]
        for i, vector in zip(missing, embedder.encode_documents(texts), strict=True):
            rows[i] = vector
    order = sorted(range(len(sentences)), key=lambda i: sentences[i][0].start)
    matrix = np.asarray([rows[i] for i in order], dtype=np.float32)
    return [sentences[i] for i in order], matrix


def _words(text: str) -> int:
    return len(re.findall(r"\w+", text))
