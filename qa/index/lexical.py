"""Lexical search: BM25 over the passages, built in memory from their text.

Dense vectors find paraphrases; BM25 finds the exact words an embedding blurs: names
("Takuba"), numbers ("4,300"), rare terms ("MINUSMA"). The scoring itself is done by
`bm25s`, a maintained and tested implementation; this module decides what a term is:

- words are lower-cased, accents folded, English stop words dropped, and stemmed with
  Snowball (PyStemmer), so "troops" finds "troop" and "Macrons" finds "Macron";
- a number keeps its digits whole: "4,300" and "4300" are the same term;
- a question word the corpus lacks is taken for the corpus word it misspells when one
  lies within one edit (two from eight letters on), starting with the same letter;
  swapping two letters is one edit. So "peacekepers" finds "peacekeepers" and
  "soliders" finds "soldiers", while "night" is not read as "fight".

``LexicalIndex.scores`` is BM25 normalised per question to [0, 1], as a share of what
the question asks for (see there); ``coverage`` is the same idea for any one text.
"""

from __future__ import annotations

import bisect
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_EN_PLUS
from rapidfuzz import process
from rapidfuzz.distance import OSA

# NLTK's English stop words (shipped with bm25s) plus question words it lacks.
# Question words rarely occur in news text, so matching them only adds noise.
STOPWORDS = frozenset(STOPWORDS_EN_PLUS) | frozenset(
    ["many", "much", "whose", "would", "could", "also"]
)
# A number with its separators ("4,300", "3.5"), or a run of letters and digits.
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W_]+")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\d{3})+$")
# Words shorter than this are never spell-corrected: too many real words lie one edit
# apart ("night"/"fight", "found"/"bound"), so a correction would often be wrong.
MIN_CORRECTABLE = 6
# From this length on, two edits are allowed ("deploymnet" -> "deployment").
TWO_EDITS_FROM = 8


def words(text: str) -> list[str]:
    """The lower-cased, accent-folded words and numbers of ``text``, in order.

    >>> words("Macron's 4,300 soldiers")
    ['macron', 's', '4300', 'soldiers']
    """
    folded = unicodedata.normalize("NFKD", text.lower())
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return [t.replace(",", "") if _THOUSANDS.match(t) else t for t in _TOKEN.findall(folded)]


def content_words(text: str) -> list[str]:
    """``words`` without stop words and single letters: what a question asks about."""
    return [w for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


@dataclass(frozen=True)
class QueryTerms:
    """A question's content words as the corpus knows them.

    ``terms`` are the stems searched for; ``corrections`` maps a misspelt question word
    to the corpus word taken for it; ``unknown`` lists the content words the corpus
    does not contain even after correction, in question order.
    """

    terms: tuple[str, ...]
    corrections: dict[str, str] = field(default_factory=dict)
    unknown: tuple[str, ...] = ()

    def corrected(self, question: str) -> str:
        """``question`` with each misspelt word replaced by the corpus word it stands for."""
        for wrong, right in self.corrections.items():
            question = re.sub(rf"\b{re.escape(wrong)}\b", right, question, flags=re.IGNORECASE)
        return question


class LexicalIndex:
    """BM25 (Lucene variant) over a list of texts, with typo-tolerant questions.

    Built in memory in well under a second for thousands of passages, so it is made
    when a ``Retriever`` is constructed, never per question.

    >>> index = LexicalIndex(["About 4,300 French soldiers.", "The UN has 12,000 peacekeepers."])
    >>> index.scores("how many peacekepers does the UN have").round(2)
    array([0., 1.], dtype=float32)
    """

    def __init__(self, texts: Sequence[str], *, k1: float = 1.5, b: float = 0.75):
        if not texts:
            raise ValueError("LexicalIndex needs at least one text, got an empty list")
        self._stemmer = Stemmer.Stemmer("english")
        per_text = [content_words(t) for t in texts]
        self.vocabulary: frozenset[str] = frozenset(w for ws in per_text for w in ws)
        ordered = sorted(self.vocabulary)
        self._sorted = ordered
        self._stems = dict(zip(ordered, self._stemmer.stemWords(ordered), strict=True))
        self._known_stems = frozenset(self._stems.values())
        # Candidates for spelling correction, by first letter; stop words are included
        # so that "betwen" is read as "between" (and then dropped), not as unknown.
        self._by_letter: dict[str, list[str]] = defaultdict(list)
        for word in sorted(self.vocabulary | STOPWORDS):
            if word.isalpha():
                self._by_letter[word[0]].append(word)
        # A corpus word for each stem (the shortest), to spell a correction found by stem.
        self._word_of_stem: dict[str, str] = {}
        for word in sorted(ordered, key=len):
            self._word_of_stem.setdefault(self._stems[word], word)
        self._stems_by_letter: dict[str, list[str]] = defaultdict(list)
        for stem in sorted(self._word_of_stem):
            if stem.isalpha():
                self._stems_by_letter[stem[0]].append(stem)
        tokens = [[self._stems[w] for w in ws] for ws in per_text]
        self._bm25 = bm25s.BM25(k1=k1, b=b, method="lucene")
        self._bm25.index([t or [""] for t in tokens], show_progress=False)  # "" = empty text
        self._best = self._best_per_term()
        # What a question word the corpus lacks weighs in ``scores``: as much as a
        # typical corpus term (the median best score), so a question that is mostly
        # about things the corpus never mentions cannot reach a high lexical score.
        used = self._best[self._best > 0]
        self._unknown_weight = float(np.median(used)) if len(used) else 1.0
        df = Counter(stem for t in tokens for stem in set(t))
        n = len(texts)
        self._idf = {s: math.log(1 + (n - c + 0.5) / (c + 0.5)) for s, c in df.items()}
        self._unknown_idf = float(np.median(list(self._idf.values()))) if self._idf else 1.0
        self.size = n

    def _best_per_term(self) -> np.ndarray:
        """The highest score each vocabulary term gives any text (0 for unused ids)."""
        indptr = self._bm25.scores["indptr"]
        data = self._bm25.scores["data"]
        best = np.zeros(len(indptr) - 1, dtype=np.float32)
        nonempty = np.flatnonzero(np.diff(indptr) > 0)
        if len(nonempty):
            best[nonempty] = np.maximum.reduceat(data, indptr[nonempty])
        return best

    def knows(self, word: str) -> bool:
        """Whether the corpus contains ``word`` (lower case) or another form of it.

        Another form is the same stem, or a corpus word that this one extends or is
        extended by, by at most three letters, sharing four or more: "Malian" for
        "Mali", "Russia" for "Russian". (So "Nigeria" counts as "Niger": a fair price.)
        """
        return self._corpus_stem(word) is not None

    def _corpus_stem(self, word: str) -> str | None:
        """The index's stem for ``word`` or a form of it (see ``knows``), else None."""
        word = word.replace(",", "") if _THOUSANDS.match(word) else word
        stem = self._stem(word)
        if stem in self._known_stems:
            return stem
        if word.isdigit() or len(word) < 4:
            return None
        for n in range(len(word) - 1, max(4, len(word) - 3) - 1, -1):
            if word[:n] in self.vocabulary:
                return self._stems[word[:n]]  # "malian" -> "mali"
        i = bisect.bisect_left(self._sorted, word)
        while i < len(self._sorted) and self._sorted[i].startswith(word):
            if len(self._sorted[i]) - len(word) <= 3:
                return self._stems[self._sorted[i]]  # "russia" -> "russian"
            i += 1
        return None

    def correct(self, word: str) -> str | None:
        """The corpus word (or stop word) ``word`` misspells, or None (see module doc)."""
        if len(word) < MIN_CORRECTABLE or not word.isalpha() or word in STOPWORDS:
            return None
        if self.knows(word):
            return None
        edits = 2 if len(word) >= TWO_EDITS_FROM else 1
        candidates = self._by_letter.get(word[0], [])
        match = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=edits)
        if match is not None:
            return str(match[0])
        # Then by stem, for a typo in another form of a corpus word: "peacekepers" is
        # three edits from "peacekeeping", but its stem "peacekep" one from "peacekeep".
        # One edit, long stems only: short stems lie too close ("conting"/"continu").
        stem = self._stem(word)
        if len(stem) < TWO_EDITS_FROM:
            return None
        stems = self._stems_by_letter.get(word[0], [])
        match = process.extractOne(stem, stems, scorer=OSA.distance, score_cutoff=1)
        return None if match is None else self._word_of_stem[str(match[0])]

    def analyze(self, question: str) -> QueryTerms:
        """The stems to search for, spelling corrections made, and content words not found."""
        terms: list[str] = []
        corrections: dict[str, str] = {}
        unknown: list[str] = []
        for word in content_words(question):
            if known := self._corpus_stem(word):
                terms.append(known)
            elif fixed := self.correct(word):
                corrections[word] = fixed
                if fixed not in STOPWORDS:
                    terms.append(self._stem(fixed))
            else:
                unknown.append(word)
        return QueryTerms(tuple(terms), corrections, tuple(dict.fromkeys(unknown)))

    def scores(self, question: str | QueryTerms) -> np.ndarray:
        """BM25 of every text for ``question`` as a share of what the question asks for.

        A text's BM25 score is divided by the sum, over the question's terms, of the
        best score that term reaches in any text, plus a typical term's weight for each
        question word the corpus lacks. 1 means the text matches every question word as
        well as any text does; 0, none of them. Depends on the question and the corpus
        only, so it compares across questions.
        """
        terms = self.analyze(question) if isinstance(question, str) else question
        ids = self._bm25.get_tokens_ids(list(terms.terms))
        ceiling = float(self._best[ids].sum()) + self._unknown_weight * len(terms.unknown)
        if not ids or ceiling <= 0:
            return np.zeros(self.size, dtype=np.float32)
        raw = self._bm25.get_scores_from_ids(ids)
        return np.clip(raw / ceiling, 0.0, 1.0).astype(np.float32)

    def coverage(self, terms: QueryTerms, text: str) -> float:
        """The IDF-weighted share of the question's words that ``text`` contains, in [0, 1].

        For ranking the sentences of one passage, where BM25's length normalisation
        and saturation have nothing to work on.
        """
        present = {self._stem(w) for w in content_words(text)}
        weights = [self._idf.get(t, self._unknown_idf) for t in terms.terms]
        total = sum(weights) + self._unknown_idf * len(terms.unknown)
        found = sum(w for t, w in zip(terms.terms, weights, strict=True) if t in present)
        return found / total if total > 0 else 0.0

    def _stem(self, word: str) -> str:
        return self._stems.get(word) or str(self._stemmer.stemWord(word))
