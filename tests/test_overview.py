"""Overview questions (qa.answer.overview): "What is this article about?" gets the lead and the
most central sentences by LexRank, quoted at their offsets, in article order, as
``kind: "overview"``; one per document asked; an "In brief" card in the chat."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from helpers import with_hostile_article

import qa
from qa.answer.overview import (
    CENTRAL_SENTENCES,
    CENTRAL_SENTENCES_EACH,
    MAX_DOCUMENTS,
    is_overview_question,
    lexrank,
)
from qa.serve import chat, presentation
from qa.serve.sessions import SessionStore
from qa.types import Answer

OVERVIEW_QUESTIONS = [
    "What is this article about?",
    "what's the article about",
    "Summarize the article",
    "Summarise it, please",
    "Can you give me a summary?",
    "Give me the main points",
    "What are the key facts?",
    "Key points of the story",
    "tl;dr",
    "TL;DR?",
    "What happened?",
    "What's the gist?",
    "gist",
    "What does the article say?",
    "Overview please",
    "What are the main takeaways from this article?",
]
ORDINARY_QUESTIONS = [
    "What happened in 2013?",
    "What is MINUSMA?",
    "What is Barkhane?",
    "What about it?",
    "And France?",
    "What happened to the soldiers?",
    "Summarize what Macron said",
    "What does the article say about Niger?",
    "Who wrote the article?",
    "What is Takuba about?",
    "Why?",
]
TRAM = (
    "City opens its new tram line\n"
    "The city opened its new tram line on Saturday, linking the station to the "
    "university in twenty minutes.\n"
    "The line is 14.2 kilometres long and has 18 stops along the river.\n"
    "Trams run every six minutes at peak hours, the transport authority said.\n"
    "The project cost 310 million euros and took four years to build.\n"
)


@pytest.mark.parametrize("question", OVERVIEW_QUESTIONS)
def test_overview_questions_are_told_apart(question: str) -> None:
    assert is_overview_question(question)


@pytest.mark.parametrize("question", ORDINARY_QUESTIONS)
def test_questions_that_name_something_are_ordinary(question: str) -> None:
    assert not is_overview_question(question)


def test_lexrank_finds_the_sentence_the_others_resemble() -> None:
    # Sentence 0 resembles all; 1, 2 and 3 resemble only 0; 4 resembles nothing.
    similarity = np.eye(5)
    similarity[0, 1:4] = similarity[1:4, 0] = 0.6
    scores = lexrank(similarity)
    assert scores.sum() == pytest.approx(1.0)
    assert int(np.argmax(scores)) == 0
    assert scores[4] == pytest.approx(scores.min())
    assert scores[1] == pytest.approx(scores[2]) == pytest.approx(scores[3])
    # Below the threshold is no edge: all alike, all equal.
    assert np.allclose(lexrank(np.full((4, 4), 0.2) + 0.8 * np.eye(4)), 0.25)
    assert lexrank(np.zeros((0, 0))).shape == (0,)


def check_overview(answer: Answer, retriever: qa.Retriever) -> None:
    """Each sentence is the document's text at its offsets, in article order, the
    first of them the lead."""
    for overview in answer.overview:
        document = retriever.documents[overview.source]
        assert overview.title == document.title
        starts = [s.start for s in overview.sentences]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)
        assert overview.sentences[0].lead is True
        assert sum(s.lead for s in overview.sentences) == 1
        for sentence in overview.sentences:
            assert document.text[sentence.start : sentence.end] == sentence.text
            assert 1 <= sentence.paragraph <= sentence.paragraphs
            assert sentence.text in answer.message


def test_the_article_in_brief(real_retriever: qa.Retriever) -> None:
    answer = real_retriever.ask("What is this article about?")
    assert (answer.kind, answer.found, answer.confident) == ("overview", True, True)
    assert answer.answer is None and answer.passages == ()
    (overview,) = answer.overview
    check_overview(answer, real_retriever)
    assert len(overview.sentences) == 1 + CENTRAL_SENTENCES
    lead = overview.sentences[0]
    assert lead.text.startswith("A statement signed by France and its African and European")
    assert lead.paragraph == 1
    data = answer.to_dict()
    assert data["kind"] == "overview" and data["found"] is True and data["answer"] is None
    assert [s["text"] for s in data["overview"][0]["sentences"]] == [
        s.text for s in overview.sentences
    ]
    assert data["overview"][0]["sentences"][0]["lead"] is True
    # Every phrasing gets the same overview; look-alikes get an ordinary answer.
    for question in ("Summarize the article", "tl;dr", "Give me the main points"):
        again = real_retriever.ask(question)
        assert again.overview == answer.overview and again.question == question
    for question in ("What happened in 2013?", "What is MINUSMA?"):
        ordinary = real_retriever.ask(question)
        assert ordinary.kind == "answer" and ordinary.to_dict()["kind"] == "answer"
        assert ordinary.overview == () and ordinary.to_dict()["overview"] == []
    assert "2013" in real_retriever.ask("What happened in 2013?").answer.text


def test_one_overview_per_document_asked(real_retriever: qa.Retriever) -> None:
    mine = qa.Retriever.from_texts({"tram.txt": TRAM}, embedder=real_retriever.embedder)
    both = qa.Retriever.combine([real_retriever, mine])
    answer = both.ask("Summarize")
    assert [o.source for o in answer.overview] == [*real_retriever.documents, "tram.txt"]
    check_overview(answer, both)
    assert all(len(o.sentences) <= 1 + CENTRAL_SENTENCES_EACH for o in answer.overview)
    tram = both.overview(["tram.txt"])
    (overview,) = tram.overview
    assert overview.title == "City opens its new tram line"
    assert overview.sentences[0].text.startswith("The city opened its new tram line")
    check_overview(tram, both)
    # The app's HTTP ask answers a batch: the same there.
    assert both.ask_batch(["Summarize"])[0].overview == answer.overview


def test_the_lead_is_a_full_sentence_and_nothing_is_said_twice(fake_embedder) -> None:
    text = (
        "Council news\nBy the desk.\n"
        "The council voted on Monday to build a new library beside the market square.\n"
        + "Residents asked the council for longer opening hours at the swimming pool.\n" * 3
        + "The library will open in spring next year with a reading room for children.\n"
    )
    retriever = qa.Retriever.from_texts({"council.txt": text}, embedder=fake_embedder)
    (overview,) = retriever.overview().overview
    assert overview.sentences[0].lead
    assert overview.sentences[0].text.startswith("The council voted")  # not "By the desk."
    texts = [s.text for s in overview.sentences]
    assert len(texts) == len(set(texts)), "a sentence said three times is shown once"
    assert "By the desk." not in texts


def test_too_many_documents_are_counted_not_shown(fake_embedder) -> None:
    texts = {
        f"n{i}.txt": f"Note {i}\nThe note number {i} says that the bridge will close for "
        "repairs in the summer months.\n"
        for i in range(MAX_DOCUMENTS + 2)
    }
    answer = qa.Retriever.from_texts(texts, embedder=fake_embedder).ask("What is it about?")
    assert len(answer.overview) == MAX_DOCUMENTS
    assert answer.message.endswith("And 2 more documents: ask about one by what it is about.")


# ---- The chat ---------------------------------------------------------------------------


def test_the_in_brief_card(real_retriever: qa.Retriever) -> None:
    answer = real_retriever.ask("What is this article about?")
    html = presentation.reply(answer, real_retriever.documents)
    assert html.startswith('<div class="qa-reply"><section class="qa-card qa-brief">')
    assert '<p class="qa-lead">In brief</p>' in html
    assert "\n\n" not in html
    for n, sentence in enumerate(answer.overview[0].sentences, start=1):
        assert presentation._h(sentence.text) in html
        assert f'<span class="qa-n">[{n}]</span>' in html
    assert "the lead · paragraph 1 of" in html
    assert html.count('<details class="qa-article">') == 1
    assert html.count('<mark class="qa-passage') == len(answer.overview[0].sentences)


def test_the_card_escapes_everything(corpus_copy: Path, fake_embedder, tmp_path: Path) -> None:
    retriever = with_hostile_article(corpus_copy, fake_embedder, tmp_path / "cache")
    html = presentation.reply(retriever.ask("tl;dr"), retriever.documents)
    assert "<script" not in html and "<img" not in html and "<b>" not in html
    assert "&lt;img src=x onerror=" in html


def test_a_question_not_in_english_gets_its_own_card() -> None:
    answer = Answer(
        "Wie viele <b>Soldaten</b>?",
        False,
        (),
        "This question looks like German. <b>",
        kind="not_english",
        language="German",
    )
    html = presentation.reply(answer, {})
    assert "Not in English: German" in html and "&lt;b&gt;" in html
    assert "<blockquote" not in html and "qa-quote" not in html


def test_a_document_added_in_the_chat_is_shown_in_brief_first(real_retriever) -> None:
    store = SessionStore(real_retriever)
    history, added = chat.add_text(store, "tab", TRAM, [])
    (said,) = history
    content = said["content"]
    assert added and content.startswith("Added **Pasted text 1** (City opens its new tram line)")
    note, card = content.split("\n\n", 1)
    assert note.endswith("Ask about it below.")
    assert card.startswith('<div class="qa-reply"><section class="qa-card qa-brief">')
    assert "The city opened its new tram line on Saturday" in card
    assert "Pasted text 1" in card and "France" not in re.sub(r"<[^>]+>", "", card)
