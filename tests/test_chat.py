"""qa.serve.chat: one turn of the web chat, over a SessionStore with the fake embedder."""

from __future__ import annotations

import copy
import zipfile
from pathlib import Path

import pytest
from documents import make_bomb_pdf, make_scanned_pdf
from helpers import tags_in, text_of, with_hostile_article

import qa
from qa.serve import chat
from qa.serve.presentation import question_of, shown_question
from qa.serve.sessions import SessionStore

QUESTION = "How many troops does the UN have in Mali?"


@pytest.fixture
def store(corpus_copy: Path, fake_embedder, tmp_path: Path) -> SessionStore:
    retriever = with_hostile_article(corpus_copy, fake_embedder, tmp_path / "cache")
    return SessionStore(retriever)


def turn(store: SessionStore, question: str, history=(), scope="both", session="tab"):
    return chat.respond(store, session, question, list(history), scope, example=QUESTION)


def test_respond_adds_the_answer_and_never_changes_the_history(store) -> None:
    history = [
        {"role": "user", "content": [{"type": "text", "text": "Earlier question?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "Earlier answer."}]},
    ]
    before = copy.deepcopy(history)
    new = turn(store, QUESTION, history)
    assert history == before
    assert new[:2] == before
    assert [m["role"] for m in new[2:]] == ["user", "assistant"]
    assert text_of(new[2]) == QUESTION


def test_a_question_that_stands_alone_is_answered_the_same_after_others(store) -> None:
    alone = turn(store, QUESTION)
    after_others = turn(store, QUESTION, turn(store, "Why are they leaving?"))
    assert after_others[-2:] == alone


def test_a_follow_up_is_read_with_the_earlier_questions_and_says_how(store) -> None:
    history = turn(store, QUESTION)
    reply = text_of(turn(store, "And France?", history)[-1])
    assert "Read as: “How many troops does France have in Mali?”" in reply
    assert "Read as" not in text_of(history[-1])


def test_the_earlier_questions_come_back_from_the_chat_as_typed(store) -> None:
    typed = ["What about <b>Niger</b> & *Chad*?", "# 2022. [x](y) $5 \\ back"]
    history: list = []
    for question in typed:
        history = turn(store, question, history)
    assert chat.earlier_questions(history) == typed
    assert question_of(shown_question("x" * 3000)) == "x" * 2000  # a shortened one: its start


def test_answer_opens_with_the_card_and_offers_the_article(store) -> None:
    messages = turn(store, "troops in the country according to its website")
    reply = text_of(messages[1])
    assert reply.startswith('<div class="qa-reply"><section class="qa-card')
    assert '<details class="qa-article">' in reply and "<mark" in reply


def test_not_found_says_so_and_offers_one_closest_passage(store, monkeypatch) -> None:
    hits = tuple(store.search("tab", "troops", k=3))
    not_found = qa.Answer("q", False, hits, "The article does not say.")
    monkeypatch.setattr(store, "ask", lambda *args, **kwargs: not_found)
    text = text_of(turn(store, "Who won the World Cup?")[1])
    assert "The article does not say." in text
    assert text.count("Closest passage, not an answer") == 1
    assert "[closest]" in text


def test_empty_question_gets_a_friendly_hint_once(store) -> None:
    for blank in ("", "   ", "\n\t"):
        (message,) = turn(store, blank)
        assert message["role"] == "assistant"
        assert text_of(message).startswith("Type a question about the article")
    history = turn(store, "")
    assert turn(store, " ", history) == history  # no second hint in a row


def test_huge_question_is_answered_and_shown_shortened(store) -> None:
    question = (QUESTION + " ") * 2400
    messages = turn(store, question[:100_000])
    assert len(text_of(messages[0])) < 2_200
    assert "100,000 characters in all" in text_of(messages[0])
    assert "qa-card" in text_of(messages[1])


def test_hostile_question_and_document_show_as_text(store) -> None:
    question = '<img src=x onerror="window.__pwned=1"> <script>alert(1)</script> UN troops said'
    messages = turn(store, question)
    allowed = {"p", "div", "section", "blockquote", "mark", "span", "cite", "ol", "li"}
    allowed |= {"details", "summary", "b", "em"}
    for message in messages:
        assert tags_in(text_of(message)) <= allowed, text_of(message)
    assert text_of(messages[0]).startswith("&lt;img src=x")
    everything = "".join(text_of(turn(store, q)[1]) for q in ("Hostile headline", "said nothing"))
    assert "&lt;script&gt;window.__pwned=1&lt;/script&gt; Hostile &lt;b&gt;headline" in everything
    assert "&lt;img src=x onerror=" in everything
    assert "<script" not in everything and "<img" not in everything


# ---- Documents of one's own -------------------------------------------------------

BAKERY = (
    "Town bakery opens a second shop\n"
    "The Rivertown bakery will open a second shop on Main Street in March, its owner Ana "
    "Lopez said on Monday.\nThe bakery sells forty kinds of bread and employs 12 people.\n"
)


def test_a_pasted_article_is_said_to_be_added_and_then_answers(store) -> None:
    history, added = chat.add_text(store, "tab", BAKERY, [])
    (said,) = history
    assert added
    assert said["role"] == "assistant"
    assert text_of(said).startswith("Added **Pasted text 1** (Town bakery opens a second shop)")
    reply = text_of(turn(store, "How many kinds of bread does the bakery sell?", history)[-1])
    assert "forty kinds of bread" in reply and "Town bakery opens a second shop" in reply
    assert "Pasted text 1" in chat.listing(store, "tab")
    # Only this tab sees it.
    elsewhere = text_of(
        turn(store, "How many kinds of bread does the bakery sell?", session="x")[-1]
    )
    assert "Town bakery" not in elsewhere


def test_my_documents_only_without_any_says_what_to_do(store) -> None:
    reply = text_of(turn(store, QUESTION, scope="mine")[-1])
    assert "You have not added a document yet" in reply
    assert "No answer" in reply


def _files(tmp_path: Path) -> dict[str, bytes]:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a.txt", b"0" * 20_000_000)
    return {
        "scan.pdf": make_scanned_pdf(),
        "bomb.pdf": make_bomb_pdf(100),
        "archive.txt": bomb.read_bytes(),
        "latin1.txt": "Caf\xe9 news\nThe caf\xe9 opened.".encode("latin-1"),
        "empty.md": b"",
        "menu.html": b"<html><body><nav><a href='/'>Home</a><a href='/x'>World</a></nav>"
        b"</body></html>",
        "huge.txt": b"word " * 10_500_000,
    }


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("scan.pdf", "a scanned PDF needs OCR"),
        ("bomb.pdf", "PDF"),
        ("archive.txt", "ZIP archive"),
        ("latin1.txt", "UTF-8"),
        ("empty.md", "empty"),
        ("menu.html", "no article text"),
        ("huge.txt", "10 MB"),
    ],
)
def test_a_bad_upload_gets_a_clear_message_in_the_chat(store, tmp_path, name, said) -> None:
    path = tmp_path / name
    path.write_bytes(_files(tmp_path)[name])
    history = chat.add_files(store, "tab", [path], [])
    (message,) = history
    text = text_of(message)
    assert text.startswith(f"Could not add **{name}**"), text
    assert said.lower() in text.lower(), text
    print(text)
    assert store.documents("tab") == []
    # The app goes on answering.
    assert "qa-card" in text_of(turn(store, QUESTION, history)[-1])


@pytest.mark.parametrize(
    ("scope", "own", "asked"),
    [
        ("mine", 1, "your document"),
        ("mine", 2, "your documents"),
        ("both", 2, "the article or your documents"),
        ("both", 0, "the article"),
        ("bundled", 3, "the article"),
    ],
)
def test_a_refusal_is_headed_with_what_was_asked(scope, own, asked):
    from qa.serve.chat import _asked

    assert _asked(scope, own) == asked


def test_a_document_is_removed_and_said_so(store):
    session = store.create()
    history = chat.add_text(store, session, "Bakery news\nThe bakery sells bread.", [])[0]
    [info] = store.documents(session)
    history = chat.remove(store, session, info.name, history)
    assert text_of(history[-1]) == f"Removed **{info.name}**: it is no longer asked."
    assert store.documents(session) == []
    assert chat.remove(store, session, info.name, history)[-1]["content"].endswith(
        "is not among your documents any more."
    )
    assert chat.remove(store, session, None, history)[-1]["content"].startswith("Choose one")
