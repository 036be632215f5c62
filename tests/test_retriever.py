"""qa.retriever: the public API, with a fake embedder for contracts and the real model
and article end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ARTICLE, CORPUS, FakeEmbedder

import qa
import qa.shortcuts
from qa.limits import MAX_K
from qa.retriever import Retriever, default_corpus

TROOPS = "It currently has about 12,000 troops in the country, according to its website."
FRENCH = (
    "There are a total of 25,000 foreign troops currently deployed in the Sahel region, "
    "including around 4,300 French soldiers."
)


@pytest.fixture
def fake_retriever(corpus_copy: Path, tmp_path: Path) -> Retriever:
    (corpus_copy / "notes.md").write_text(
        "# Café notes\n\n## 東京\n\nThe café in Tōkyō serves crème brûlée. "
        "It opens at 9 a.m. every day.\n\nשלום: the sign is in Hebrew!\n",
        encoding="utf-8",
    )
    return Retriever.from_corpus(corpus_copy, cache_dir=tmp_path / "cache", embedder=FakeEmbedder())


def assert_hits_exact(retriever: Retriever, hits: list[qa.Hit]) -> None:
    for hit in hits:
        document = retriever.documents[hit.source]
        assert document.text[hit.start : hit.end] == hit.text
        assert hit.text[hit.answer_start : hit.answer_end] == hit.answer
        assert hit.answer and hit.answer in hit.text
        assert hit.title == document.title
        assert 0.0 <= hit.score <= 1.0
        assert 1 <= hit.paragraph <= hit.paragraphs
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


@pytest.mark.parametrize(
    "question",
    ["How many troops does the UN have in Mali?", "crème brûlée café", "東京", "Hebrew sign שלום"],
)
def test_hits_are_exact_and_best_first(fake_retriever, question):
    hits = fake_retriever.search(question, k=5)
    assert len(hits) == 5
    assert_hits_exact(fake_retriever, hits)


def test_answer_is_one_of_the_passage_sentences(fake_retriever):
    for hit in fake_retriever.search("troops Mali France", k=10):
        [passage] = [
            p for p in fake_retriever.passages if p.start == hit.start and p.source == hit.source
        ]
        sentences = [(s.start - p.start, s.end - p.start) for p in [passage] for s in p.sentences]
        assert (hit.answer_start, hit.answer_end) in sentences


def test_k_past_the_limit_is_refused_not_clamped(fake_retriever):
    count = len(fake_retriever.passages)
    assert count < MAX_K
    hits = fake_retriever.search("troops", k=MAX_K)
    assert len(hits) == count
    assert len({(h.source, h.start) for h in hits}) == count
    with pytest.raises(ValueError, match=f"k must be a whole number from 1 to {MAX_K}, got"):
        fake_retriever.search("troops", k=MAX_K + 1)


@pytest.mark.parametrize("question", ["", "   ", "\n\t \r\n", "\x00\x01", "\u3000"])
def test_empty_question(fake_retriever, question):
    with pytest.raises(ValueError, match="question is empty: type a question"):
        fake_retriever.search(question)
    answer = fake_retriever.ask(question)
    assert answer.found is False
    assert answer.passages == ()
    assert "empty" in answer.message and answer.message[0].isupper()


def test_question_must_be_a_string(fake_retriever):
    with pytest.raises(TypeError, match="question must be a string, got NoneType"):
        fake_retriever.search(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("k", [0, -1, "3", True, 2.5, None])
def test_bad_k_is_named(fake_retriever, k):
    with pytest.raises(ValueError, match=r"^k must be"):
        fake_retriever.search("troops", k=k)


def test_odd_questions_do_not_crash(fake_retriever):
    for question in ["\ud800 lone surrogate troops", "troops\x00\x1f in Mali", "😀" * 5000]:
        assert_hits_exact(fake_retriever, fake_retriever.search(question))


def test_bad_index_kind_fails_before_any_work(corpus_copy, tmp_path):
    embedder = FakeEmbedder()
    with pytest.raises(
        ValueError, match="index kind must be one of auto, flat, hnsw, ivf; got 'best'"
    ):
        Retriever.from_corpus(corpus_copy, cache_dir=tmp_path, embedder=embedder, index_kind="best")
    assert embedder.calls == 0


def test_corpus_errors_reach_the_caller(tmp_path):
    with pytest.raises(qa.CorpusError, match="Corpus folder not found"):
        Retriever.from_corpus(tmp_path / "missing", cache_dir=tmp_path, embedder=FakeEmbedder())


def test_documents_give_the_context_of_a_hit(fake_retriever):
    hit = fake_retriever.search("crème brûlée", k=1)[0]
    assert hit.text in fake_retriever.documents[hit.source].text


def test_default_corpus(monkeypatch, tmp_path):
    monkeypatch.delenv("QA_CORPUS", raising=False)
    assert default_corpus() == Path("corpus")
    monkeypatch.setenv("QA_CORPUS", str(tmp_path))
    assert default_corpus() == tmp_path


def test_hit_to_dict_is_json_ready(fake_retriever):
    hit = fake_retriever.search("troops", k=1)[0]
    data = hit.to_dict()
    assert data["text"][data["answer_start"] : data["answer_end"]] == data["answer"]
    assert set(data) >= {"text", "score", "source", "title", "start", "end", "answer"}
    assert len(repr(hit)) < 200


# End to end: the real model and the real article.


@pytest.mark.slow
def test_un_troops_in_mali(real_retriever):
    hits = real_retriever.search("How many troops does the UN have in Mali?", k=3)
    assert_hits_exact(real_retriever, hits)
    top = hits[0]
    assert "12,000 troops" in top.text
    assert "MINUSMA" in top.text
    assert top.answer == TROOPS
    assert top.source == ARTICLE.name


@pytest.mark.slow
def test_french_soldiers_in_the_sahel(real_retriever):
    answer = real_retriever.ask("How many French soldiers are in the Sahel?")
    assert answer.found
    top = answer.passages[0]
    assert "4,300" in top.text and "4,300" in top.answer
    assert top.answer == FRENCH


@pytest.mark.slow
def test_world_cup_is_not_in_the_article(real_retriever):
    answer = real_retriever.ask("Who won the World Cup?")
    assert answer.found is False
    assert answer.message == "The article does not mention World Cup."
    assert answer.passages  # the closest passages, labelled as not an answer


@pytest.mark.slow
def test_scores_compare_across_questions(real_retriever):
    related = real_retriever.search("Why is France withdrawing its troops from Mali?", k=1)[0]
    unrelated = real_retriever.search("What is a good recipe for banana bread?", k=1)[0]
    assert related.score > unrelated.score + 0.2


@pytest.mark.slow
def test_a_100000_character_question(real_retriever):
    question = ("How many troops does the UN have in Mali? " * 2400)[:100_000]
    assert len(question) == 100_000
    hits = real_retriever.search(question, k=3)
    assert len(hits) == 3
    assert_hits_exact(real_retriever, hits)
    assert "12,000 troops" in hits[0].text
    assert real_retriever.ask(question).found


@pytest.mark.slow
def test_qa_search_shortcut_uses_qa_corpus(monkeypatch, tmp_path):
    corpus = tmp_path / "elsewhere"
    corpus.mkdir()
    (corpus / "bakery.txt").write_text(
        "Bakery opens in Bamako\nThe new bakery sells forty kinds of bread every morning.\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("QA_CORPUS", str(corpus))
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("QA_MODEL", raising=False)
    monkeypatch.setattr(qa.shortcuts, "_default", None)  # the shortcut builds its retriever once
    [hit] = qa.search("How many kinds of bread are sold?", k=3)
    assert hit.source == "bakery.txt"
    assert hit.answer == "The new bakery sells forty kinds of bread every morning."
    assert qa.ask("How many kinds of bread are sold?").found


def test_the_query_path_reads_no_file_and_rebuilds_nothing(tmp_path, monkeypatch):
    """Everything a question needs is made once, when the retriever loads: a question
    opens no file and builds no BM25, chunks no document, tokenises no corpus."""
    import builtins

    import bm25s

    from qa import retriever
    from qa.index import building, lexical

    r = Retriever.from_corpus(CORPUS, cache_dir=tmp_path, embedder=FakeEmbedder())

    def refuse(*args, **kwargs):
        raise AssertionError("work on the query path that could be done once")

    for target, name in [
        (builtins, "open"),
        (Path, "read_text"),
        (Path, "read_bytes"),
        (lexical.LexicalIndex, "__init__"),
        (bm25s.BM25, "index"),
        (building, "chunk_document"),
        (building, "load_index"),
        (retriever, "load_corpus"),
    ]:
        monkeypatch.setattr(target, name, refuse)
    assert r.search("How many peacekepers does the UN have in Mali?", k=3)
    assert r.ask("How many troops does the UN have in Mali?").passages
    assert not r.ask("Who won the World Cup?").found
    assert r.ask("And France?", history=["How many troops does the UN have in Mali?"]).passages


# Texts held in memory, and several retrievers searched as one


BAKERY = {
    "bakery.txt": (
        "Bakery opens in Bamako\nThe new bakery sells forty kinds of bread every morning.\n"
    )
}


def test_from_texts_builds_in_memory_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    r = Retriever.from_texts(BAKERY, embedder=FakeEmbedder())
    assert list(r.documents) == ["bakery.txt"] and len(r.passages) == 1
    [hit] = r.search("kinds of bread", k=3)
    assert hit.source == "bakery.txt" and hit.title == "Bakery opens in Bamako"
    assert_hits_exact(r, [hit])
    assert not list(tmp_path.rglob("*"))  # no cache folder, no file at all
    assert r.cache_folder is None and not r.from_cache


def test_from_texts_takes_documents_too():
    from qa.ingest.corpus import documents_from_texts

    r = Retriever.from_texts(documents_from_texts(BAKERY), embedder=FakeEmbedder())
    assert r.search("bread", k=1)[0].source == "bakery.txt"


def test_from_texts_reports_progress():
    seen = []
    Retriever.from_texts(BAKERY, embedder=FakeEmbedder(), report=lambda *a: seen.append(a))
    assert seen and seen[-1][0] == seen[-1][1]


@pytest.mark.parametrize(
    ("texts", "message"),
    [({}, "No texts given"), ({"a.txt": "  "}, r"a\.txt: the text is empty")],
)
def test_from_texts_refuses_empty_input(texts, message):
    with pytest.raises(qa.CorpusError, match=message):
        Retriever.from_texts(texts, embedder=FakeEmbedder())


def test_combine_searches_both_without_embedding_again(tmp_path):
    embedder = FakeEmbedder()
    article = Retriever.from_corpus(CORPUS, cache_dir=tmp_path, embedder=embedder)
    mine = Retriever.from_texts(BAKERY, embedder=embedder)
    calls = embedder.calls
    both = Retriever.combine([article, mine])
    assert embedder.calls == calls  # combining embeds nothing
    assert set(both.documents) == {ARTICLE.name, "bakery.txt"}
    assert len(both.passages) == len(article.passages) + 1
    assert both.search("forty kinds of bread", k=1)[0].source == "bakery.txt"
    assert both.search("UN troops in Mali peacekeeping", k=1)[0].source == ARTICLE.name
    hits = both.search("bread troops Mali", k=len(both.passages))
    assert_hits_exact(both, hits)  # every hit maps back into its own document
    assert {h.source for h in hits} == {ARTICLE.name, "bakery.txt"}


def test_combine_names_what_the_article_lacks_only_if_no_part_has_it(tmp_path):
    embedder = FakeEmbedder()
    article = Retriever.from_corpus(CORPUS, cache_dir=tmp_path, embedder=embedder)
    mine = Retriever.from_texts(BAKERY, embedder=embedder)
    both = Retriever.combine([article, mine])
    assert article.ask("When does the Bakery open?").message == (
        "The article does not mention Bakery."
    )
    assert "mention" not in both.ask("When does the Bakery open?").message
    answer = both.ask("How many troops does Britain have in Bamako?")
    assert not answer.found and answer.message == "The articles do not mention Britain."


def test_combine_refuses_clashing_names_and_other_models(tmp_path):
    mine = Retriever.from_texts(BAKERY, embedder=FakeEmbedder())
    again = Retriever.from_texts(BAKERY, embedder=FakeEmbedder())
    with pytest.raises(ValueError, match=r"two documents are named 'bakery\.txt'"):
        Retriever.combine([mine, again])
    other = Retriever.from_texts(
        {"x.txt": "T\nSome other text here."}, embedder=FakeEmbedder(fingerprint="other")
    )
    with pytest.raises(ValueError, match="cannot combine retrievers of different models"):
        Retriever.combine([mine, other])
    with pytest.raises(ValueError, match="at least one retriever"):
        Retriever.combine([])


def test_with_embedder_shares_the_index_and_checks_the_model():
    mine = Retriever.from_texts(BAKERY, embedder=FakeEmbedder())
    other = mine.with_embedder(FakeEmbedder())
    assert other.passages is mine.passages and other.embedder is not mine.embedder
    with pytest.raises(ValueError, match="same model"):
        mine.with_embedder(FakeEmbedder(name="x", fingerprint="x"))


# Follow-ups


def test_read_as_is_the_question_when_it_stands_alone(fake_retriever):
    answer = fake_retriever.ask("How many troops?", history=["Who is the spokesman for MINUSMA?"])
    assert answer.read_as == "How many troops?" and answer.question == "How many troops?"


def test_a_follow_up_is_searched_as_completed(fake_retriever):
    history = ["How many troops does the UN have in Mali?"]
    answer = fake_retriever.ask("And France?", history=history)
    assert answer.question == "And France?"
    assert answer.read_as == "How many troops does France have in Mali?"
    assert fake_retriever.search("And France?", history=history)
    assert fake_retriever.ask("And France?").read_as == "And France?"


def test_an_empty_question_has_read_as_too(fake_retriever):
    answer = fake_retriever.ask("  ", history=["How many troops?"])
    assert not answer.found and answer.read_as == "  "


def test_bad_history_is_named(fake_retriever):
    with pytest.raises(TypeError, match="history must be a list of the earlier questions"):
        fake_retriever.search("And France?", history="How many troops?")  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("history", "question", "answer"),
    [
        # The two examples of issue 13.
        (["How many troops does the UN have in Mali?"], "And France?", None),
        (
            ["What does the UN say about France's withdrawal?"],
            "And how many troops does it have there?",
            "about 12,000 troops",
        ),
        (["Who is the spokesman for MINUSMA?"], "What did he say?", "take the necessary steps"),
        (["How many French soldiers are in the Sahel?"], "How many of them died in Mali?", "48"),
    ],
)
def test_follow_ups_find_their_answer(real_retriever, history, question, answer):
    alone = real_retriever.ask(question)
    read = real_retriever.ask(question, history=history)
    assert read.read_as != question
    if answer is not None:
        assert answer in read.passages[0].text
    else:  # "And France?": read as France's troops, no longer the joint statement
        assert "joint statement" in alone.passages[0].text
        assert "France" in read.read_as and "troops" in read.read_as


@pytest.mark.slow
def test_a_question_on_another_subject_stays_a_refusal_after_a_mali_question(real_retriever):
    answer = real_retriever.ask(
        "Who won the World Cup?", history=["How many troops does the UN have in Mali?"]
    )
    assert not answer.found and answer.read_as == "Who won the World Cup?"
    assert answer.message == "The article does not mention World Cup."
