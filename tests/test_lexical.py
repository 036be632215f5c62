"""qa.index.lexical: terms, typo tolerance, and BM25 scores checked against a hand computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import ARTICLE

from qa.index.lexical import STOPWORDS, LexicalIndex, QueryTerms, content_words, words

TEXTS = [
    "About 4,300 French soldiers serve in the Sahel.",
    "The UN peacekeepers have about 12,000 troops in Mali.",
    "Macron said France had not failed in Mali. Soldiers of Barkhane left.",
    "Élections à Bamako: the junta delayed them until 2025.",
]


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    return LexicalIndex(TEXTS)


@pytest.fixture(scope="module")
def article_index() -> LexicalIndex:
    return LexicalIndex(ARTICLE.read_text(encoding="utf-8").splitlines()[1:])


def test_words_keep_numbers_whole_and_fold_case_and_accents():
    assert words("About 4,300 French soldiers") == ["about", "4300", "french", "soldiers"]
    assert words("Élections à Bamako, 3.5 km") == ["elections", "a", "bamako", "3.5", "km"]
    assert words("Mali's junta") == ["mali", "s", "junta"]


def test_content_words_drop_stop_words_and_single_letters():
    assert content_words("How many troops does the UN have in Mali?") == ["troops", "un", "mali"]
    assert "what" in STOPWORDS and "many" in STOPWORDS


def _reference_bm25(texts: list[list[str]], query: list[str], k1=1.5, b=0.75) -> np.ndarray:
    """Lucene BM25 written out by hand: idf = ln(1 + (N - df + .5) / (df + .5))."""
    n = len(texts)
    avgdl = sum(len(t) for t in texts) / n
    out = np.zeros(n)
    for term in query:
        df = sum(term in t for t in texts)
        if df == 0:
            continue
        idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
        for i, t in enumerate(texts):
            tf = t.count(term)
            out[i] += idf * tf / (tf + k1 * (1 - b + b * len(t) / avgdl))
    return out


def test_scores_are_bm25_normalised_by_the_best_score_of_each_term():
    texts = ["mali troops troops", "mali soldiers", "niger troops", "paris"]
    index = LexicalIndex(texts)
    tokens = [["mali", "troop", "troop"], ["mali", "soldier"], ["niger", "troop"], ["pari"]]
    raw = _reference_bm25(tokens, ["mali", "troop"])
    best_mali = max(_reference_bm25(tokens, ["mali"]))
    best_troop = max(_reference_bm25(tokens, ["troop"]))
    expected = raw / (best_mali + best_troop)
    np.testing.assert_allclose(index.scores("mali troops?"), expected, rtol=1e-5)
    assert index.scores("mali troops?").max() < 1  # no text is the best for both terms
    assert index.scores("troops")[0] == pytest.approx(1.0)


def test_words_the_corpus_lacks_lower_the_score(index):
    full = index.scores("French soldiers")
    partial = index.scores("French soldiers helicopters")
    assert full.max() == pytest.approx(1.0)
    assert 0 < partial.max() < full.max()
    assert index.analyze("French soldiers helicopters").unknown == ("helicopters",)


def test_scores_stay_in_unit_range_and_are_zero_without_known_words(index):
    for question in ("troops", "Who won the World Cup?", "4300 12,000 soldiers Mali junta"):
        scores = index.scores(question)
        assert scores.shape == (len(TEXTS),)
        assert np.all(scores >= 0) and np.all(scores <= 1)
    assert not index.scores("Who won the World Cup?").any()


def test_numbers_match_with_or_without_separators(index):
    assert int(np.argmax(index.scores("4300"))) == 0
    assert int(np.argmax(index.scores("12,000"))) == 1


def test_non_ascii_text_is_searchable(index):
    assert int(np.argmax(index.scores("elections bamako"))) == 3
    assert int(np.argmax(index.scores("Élections"))) == 3


@pytest.mark.parametrize(
    ("typo", "meant"),
    [
        ("peacekepers", "peacekeepers"),  # a letter missing
        ("peacekepping", "peacekeeping"),
        ("soliders", "soldiers"),  # two letters swapped: one edit
        ("barkhnae", "barkhane"),
        ("betwen", "between"),  # a stop word: corrected, then not searched
    ],
)
def test_misspelt_words_are_read_as_the_corpus_word(article_index, typo, meant):
    assert article_index.correct(typo) == meant


@pytest.mark.parametrize(
    "word",
    [
        "night",  # one edit from "fight", but short words are real words too often
        "bought",  # one edit from "fought"? different first letter: never
        "britain",  # nothing close
        "troops",  # known already
        "contingent",  # its stem "conting" is one edit from "continu": too short to trust
    ],
)
def test_real_or_known_words_are_not_corrected(article_index, word):
    assert article_index.correct(word) is None


def test_analyze_reports_corrections_and_unknown_words(article_index):
    terms = article_index.analyze("How many peacekepers does Britain have in Estonia?")
    assert terms.corrections == {"peacekepers": "peacekeepers"}
    assert terms.unknown == ("britain", "estonia")
    assert terms.corrected("peacekepers? PEACEKEPERS") == "peacekeepers? peacekeepers"


def test_other_forms_of_a_corpus_word_are_known(article_index):
    assert article_index.knows("macrons")  # stem
    assert article_index.knows("malian")  # "mali" + "an"
    assert article_index.knows("russia")  # "russian" less "n"
    assert not article_index.knows("estonia")
    assert article_index.analyze("Did Russia send troops?").terms == ("russian", "troop")


def test_a_typo_in_another_form_of_a_word_is_corrected_by_stem():
    index = LexicalIndex(["The peacekeeping mission."])
    assert index.correct("peacekepers") == "peacekeeping"  # stem peacekep ~ peacekeep


def test_typo_finds_the_passage(article_index):
    texts = ARTICLE.read_text(encoding="utf-8").splitlines()[1:]
    best = texts[int(np.argmax(article_index.scores("peacekepers")))]
    assert "peacekeepers" in best


def test_coverage_is_the_idf_weighted_share_of_question_words(index):
    terms = index.analyze("French soldiers in Mali")
    assert index.coverage(terms, "French soldiers in Mali") == pytest.approx(1.0)
    assert 0 < index.coverage(terms, "soldiers") < 1
    assert index.coverage(terms, "nothing here") == 0
    assert index.coverage(QueryTerms(()), "anything") == 0


def test_an_empty_corpus_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match="at least one text"):
        LexicalIndex([])


def test_texts_without_content_words_do_not_break_the_index():
    index = LexicalIndex(["the of and", "Mali troops"])
    assert index.scores("mali").tolist() == [0.0, 1.0]
