"""qa.serve.sessions: each session's documents, kept apart, in memory only, within limits.

Most tests use the fast fake embedder; the last ones run two concurrent clients with
the real model and the real article."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ARTICLE, CORPUS, FakeEmbedder
from documents import ARTICLE_HTML, make_pdf, make_scanned_pdf

from qa.ingest.extraction import DocumentError
from qa.retriever import Retriever
from qa.serve.documents import Limits, expected_bytes, shown_name
from qa.serve.sessions import SessionStore

BAKERY = "Bakery opens in Bamako\nThe new bakery sells forty kinds of bread every morning.\n"
GARDEN = "Garden news\nThe community garden grows tomatoes and peppers near the river.\n"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Retriever:
    return Retriever.from_corpus(
        CORPUS, cache_dir=tmp_path_factory.mktemp("cache"), embedder=FakeEmbedder()
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=[False, True], ids=["direct", "batched"])
def store(request, base, clock) -> Iterator[SessionStore]:
    """Every test of a store runs twice: questions answered one by one, and in batches
    (``batched=True``, as the app serves them): the answers must be the same."""
    store = SessionStore(base, clock=clock, batched=request.param)
    yield store
    if store.batcher is not None:
        store.batcher.close()


def sources(answer) -> set[str]:
    return {hit.source for hit in answer.passages}


def test_each_session_sees_only_its_own_documents(store):
    alice, bob, carol = store.create(), store.create(), store.create()
    assert len({alice, bob, carol}) == 3
    store.add_text(alice, BAKERY, name="bakery.txt")
    store.add_text(bob, GARDEN, name="garden.txt")
    assert sources(store.ask(alice, "bread", k=10, scope="mine")) == {"bakery.txt"}
    assert sources(store.ask(bob, "bread", k=10, scope="mine")) == {"garden.txt"}
    assert sources(store.ask(alice, "bread tomatoes troops", k=20)) == {"bakery.txt", ARTICLE.name}
    assert sources(store.ask(carol, "bread tomatoes troops", k=20)) == {ARTICLE.name}
    assert sources(store.ask(alice, "bread", k=20, scope="bundled")) == {ARTICLE.name}
    assert [d.name for d in store.documents(alice)] == ["bakery.txt"]
    assert store.documents(carol) == []


def test_asking_your_documents_before_adding_any(store):
    answer = store.ask(store.create(), "bread", scope="mine")
    assert not answer.found and answer.passages == ()
    assert answer.message.startswith("You have not added a document yet")
    with pytest.raises(DocumentError, match="not added a document yet"):
        store.search(store.create(), "bread", scope="mine")


def test_pasted_texts_and_clashing_names_get_names_of_their_own(store, base):
    sid = store.create()
    assert store.add_text(sid, BAKERY).name == "Pasted text 1"
    assert store.add_text(sid, GARDEN).name == "Pasted text 2"
    assert store.add_text(sid, "Title\nA third text, pasted under a name.", "notes.txt").name == (
        "notes.txt"
    )
    assert store.add_text(sid, "Title\nAnother text with the same name.", "notes.txt").name == (
        "notes (2).txt"
    )
    bundled = next(iter(base.documents))
    assert store.add_text(sid, "Title\nA text named like the article.", bundled).name != bundled
    hits = store.search(sid, "bread tomatoes troops text", k=20)
    assert {h.source for h in hits} <= {d.name for d in store.documents(sid)} | {bundled}


def test_a_name_cannot_hide_what_it_is_with_direction_marks(store):
    sid = store.create()
    info = store.add_bytes(sid, b"Title\nA text with a deceiving name.", "report\u202etxt.exe")
    assert info.name == "report txt.exe"
    assert shown_name("\u2067notes\u2069.txt\u200f") == "notes .txt"


def test_files_of_every_kind_and_what_each_hit_says(store, tmp_path):
    sid = store.create()
    (tmp_path / "upload-123").write_bytes(make_pdf())  # Gradio keeps a temporary name
    pdf = store.add_file(sid, tmp_path / "upload-123", name="C:\\Users\\me\\drought.pdf")
    page = store.add_bytes(sid, ARTICLE_HTML.encode(), "drought.html")
    assert (pdf.name, pdf.kind, page.kind) == ("drought.pdf", "pdf", "html")
    assert pdf.title == "Drought pushes Sahel herders south" and pdf.passages >= 1
    hit = store.search(sid, "How many animals crossed the district?", k=1, scope="mine")[0]
    assert hit.source in {"drought.pdf", "drought.html"} and "60,000" in hit.text


def test_progress_is_reported_up_to_done(store):
    seen: list[tuple[float, str]] = []
    store.add_text(store.create(), BAKERY, progress=lambda f, m: seen.append((f, m)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert seen[-1][1] == "Pasted text 1 is ready: 1 passages"


def test_remove_and_close(store):
    sid = store.create()
    store.add_text(sid, BAKERY, name="bakery.txt")
    store.remove(sid, "bakery.txt")
    assert store.documents(sid) == []
    with pytest.raises(KeyError, match=r"no document named 'bakery\.txt'"):
        store.remove(sid, "bakery.txt")
    store.add_text(sid, BAKERY, name="bakery.txt")
    store.close(sid)
    assert store.documents(sid) == []  # a closed id starts again empty
    # ... and its next question is told why its documents went.
    told = store.ask(sid, "How many kinds of bread?", scope="mine").message
    assert "removed from the server (the page was closed or lost its connection)" in told


# Bad input: every refusal says what to do


def test_a_50_mb_upload_is_refused_before_it_is_read(store, tmp_path):
    big = tmp_path / "huge.pdf"
    with big.open("wb") as handle:
        handle.truncate(50 * 1_000_000)  # sparse: 50 MB on paper, nothing to read
    with pytest.raises(
        DocumentError, match=r"huge\.pdf is 50\.0 MB; qa takes files of up to 10 MB"
    ):
        store.add_file(store.create(), big)
    with pytest.raises(DocumentError, match=r"big\.txt is 11\.0 MB"):
        store.add_bytes(store.create(), b"x" * 11_000_000, "big.txt")


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (make_scanned_pdf(), "scan.pdf", r"No text found in scan\.pdf: a scanned PDF needs OCR"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "photo.pdf", r"photo\.pdf is not a PDF: it is a PNG"),
        (b"Caf\xe9 society", "latin.txt", r"latin\.txt is not UTF-8 text"),
        (b"Title\nREAD MORE: elsewhere\nShort line\n", "links.txt", r"Nothing to search|nothing"),
    ],
)
def test_bad_files_get_a_message_and_change_nothing(store, data, name, message):
    sid = store.create()
    with pytest.raises(DocumentError, match=message):
        store.add_bytes(sid, data, name)
    assert store.documents(sid) == [] and store.memory_bytes() == 0


def test_empty_paste_and_unknown_scope(store):
    with pytest.raises(DocumentError, match="The pasted text is empty"):
        store.add_text(store.create(), "  \n ")
    with pytest.raises(ValueError, match="scope must be one of both, bundled, mine"):
        store.ask(store.create(), "bread", scope="everything")


def test_session_limits(base, clock):
    limits = Limits(max_documents=2, max_document_chars=350, max_session_chars=400)
    store = SessionStore(base, limits, clock=clock)
    sid = store.create()
    with pytest.raises(DocumentError, match=r"holds 351 characters of text; a document may hold"):
        store.add_text(sid, "T\n" + "x" * 349)
    store.add_text(sid, BAKERY)
    store.add_text(sid, GARDEN)
    with pytest.raises(DocumentError, match=r"already holds 2 documents, the most it can\."):
        store.add_text(sid, "T\nOne more text about the town.")
    store.remove(sid, "Pasted text 1")
    with pytest.raises(DocumentError, match="would bring this session's text to"):
        store.add_text(sid, "T\n" + "A sentence about the town. " * 12)


def test_session_passage_limit(base, clock):
    store = SessionStore(base, Limits(max_session_passages=3), clock=clock)
    sid = store.create()
    text = "Title\n" + "\n".join(f"Paragraph {i} says something new." for i in range(5))
    with pytest.raises(DocumentError, match="has 5 passages and this session already 0"):
        store.add_text(sid, text)


def test_idle_sessions_are_dropped_and_told(store, clock):
    sid = store.create()
    store.add_text(sid, BAKERY)
    clock.now += 61 * 60
    assert store.sweep() == 1 and len(store) == 0
    answer = store.ask(sid, "bread")
    assert not answer.found
    assert answer.message.startswith("Your documents were removed from the server (no question")
    assert store.ask(sid, "bread", scope="bundled").passages  # the article still answers


def counted_store(base, clock, budget_bytes: float) -> SessionStore:
    """A store whose "resident memory" is 100 MB plus its documents' estimates, so the
    budget's decisions are exact in a test (the app's store reads the real RSS)."""
    stores: list[SessionStore] = []
    limits = Limits(max_rss_mb=(100_000_000 + budget_bytes) / 1_000_000)
    store = SessionStore(
        base,
        limits,
        clock=clock,
        resident=lambda: 100_000_000 + sum(s.memory_bytes() for s in stores),
    )
    stores.append(store)
    return store


def test_a_full_server_evicts_the_sessions_idle_longest(base, clock):
    probe = SessionStore(base, clock=clock)
    one = probe.add_text(probe.create(), BAKERY).memory_bytes
    expected = expected_bytes(len(BAKERY))  # what the store sets aside for one
    store = counted_store(base, clock, 2 * one + expected + 1)
    old, recent, me, later = store.create(), store.create(), store.create(), store.create()
    store.add_text(old, BAKERY)
    clock.now += 600
    store.add_text(recent, BAKERY)
    clock.now += 600
    store.add_text(me, BAKERY)  # 2 held + this one fit
    assert all(store.documents(s) for s in (old, recent, me))
    clock.now += 600
    store.add_text(later, BAKERY)  # 3 held + this one do not: the session idle longest goes
    assert store.documents(recent) and store.documents(me) and store.documents(later)
    message = store.ask(old, "bread", scope="mine").message
    assert "needed the memory for other visitors" in message
    assert store.memory_bytes() <= 3 * one


def test_a_full_server_of_active_sessions_refuses_politely(base, clock, caplog):
    caplog.set_level("INFO", logger="qa.serve.sessions")
    probe = SessionStore(base, clock=clock)
    one = probe.add_text(probe.create(), BAKERY).memory_bytes
    store = counted_store(base, clock, one + expected_bytes(len(GARDEN)) - 1)
    store.add_text(store.create(), BAKERY)
    with pytest.raises(DocumentError, match="holding as many documents as it can right now"):
        store.add_text(store.create(), GARDEN)  # the other session was active a moment ago
    assert "Refused a document" in caplog.text


def test_the_store_counts_the_real_resident_memory(base):
    store = SessionStore(base)
    measured = store.resident_bytes()
    with open("/proc/self/status") as status:
        rss = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS"))
    assert abs(measured - rss) < 50_000_000  # the same number, read a moment apart


def test_a_bad_memory_bound_in_the_environment_is_named(monkeypatch):
    monkeypatch.setenv("QA_MAX_RSS_MB", "lots")
    with pytest.raises(ValueError, match="QA_MAX_RSS_MB must be a number of megabytes"):
        Limits.from_environment()
    monkeypatch.setenv("QA_MAX_RSS_MB", "900")
    assert Limits.from_environment().max_rss_mb == 900


def test_too_many_sessions_drops_the_oldest(base, clock):
    store = SessionStore(base, Limits(max_sessions=3), clock=clock)
    ids = [store.create() for _ in range(5)]
    assert len(store) == 3
    store.add_text(ids[-1], BAKERY)
    assert store.documents(ids[-1])


def test_questions_make_no_session_and_empty_sessions_go_first(base, clock):
    store = SessionStore(base, Limits(max_sessions=3), clock=clock)
    alice = store.create()
    store.add_text(alice, BAKERY)
    for n in range(20):  # anonymous callers, each with a new id, asking
        store.ask(f"caller-{n}", "How many kinds of bread?")
        store.search(f"caller-{n}", "bread", 1)
        assert store.documents(f"caller-{n}") == []
    assert len(store) == 1
    for _ in range(5):  # sessions made empty go before the one holding documents
        store.create()
    assert store.documents(alice), "a session with documents outlived the empty ones"


def test_limits_are_checked():
    with pytest.raises(ValueError, match=r"Limits\.max_documents must be > 0, got 0"):
        Limits(max_documents=0)


def test_nothing_is_written_anywhere(base, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("QA_CACHE_DIR", str(tmp_path / "cache"))
    store = SessionStore(base)
    sid = store.create()
    store.add_text(sid, BAKERY)
    store.add_bytes(sid, make_pdf(), "drought.pdf")
    store.ask(sid, "bread")
    assert not list(tmp_path.iterdir())


def test_many_threads_at_once(base):
    """Sixteen visitors add and ask at the same time: no error, no leak between them."""
    store = SessionStore(base)
    errors: list[BaseException] = []
    ids = [store.create() for _ in range(16)]

    def visit(number: int) -> None:
        try:
            sid = ids[number]
            word = f"zebra{number}"
            store.add_text(sid, f"Note {number}\nThe {word} lives in enclosure {number}.\n")
            for _ in range(5):
                hits = store.search(sid, word, k=20, scope="mine")
                assert {h.source for h in hits} == {"Pasted text 1"}
                assert all(word in h.text for h in hits)
                store.ask(sid, "How many troops?", history=["Who is the spokesman?"])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=visit, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(len(store.documents(sid)) for sid in ids) == 16


def test_batched_questions_get_the_answers_asked_alone(base):
    """Many visitors at once on a batched store: those without documents of their own
    (or asking the bundled corpus) are answered in batches, the others by their own
    retriever; every answer is the one an unbatched store gives, never another's."""
    direct, batched = SessionStore(base), SessionStore(base, batched=True)
    assert batched.batcher is not None
    questions = ["How many troops does the UN have in Mali?", "bread", "Who is the spokesman?"]
    ids = [f"visitor-{n}" for n in range(24)]
    for sid in ids[::3]:  # a third of them bring a document
        for store in (direct, batched):
            store.add_text(sid, BAKERY, name="bakery.txt")
    scopes = ("both", "bundled", "mine")
    asked = [(sid, questions[n % 3], scopes[(n // 3) % 3]) for n, sid in enumerate(ids)]
    expected = [direct.ask(sid, q, 5, scope=scope).to_dict() for sid, q, scope in asked]
    start = threading.Barrier(len(asked))
    results: list[object] = [None] * len(asked)

    def visit(i: int) -> None:
        sid, question, scope = asked[i]
        start.wait()
        results[i] = batched.ask(sid, question, 5, scope=scope).to_dict()

    threads = [threading.Thread(target=visit, args=(i,)) for i in range(len(asked))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    batched.batcher.close()
    assert results == expected
    with_documents = set(ids[::3])
    bundled_only = [
        scope == "bundled" or (scope == "both" and sid not in with_documents)
        for sid, _, scope in asked
    ]
    assert batched.batcher.stats["questions"] == sum(bundled_only) > 0
    assert not all(bundled_only)


# The real model: two concurrent clients


@pytest.mark.slow
def test_two_concurrent_clients_never_see_each_other(real_retriever):
    store = SessionStore(real_retriever)
    alice, bob = store.create(), store.create()
    results: dict[str, object] = {}

    def client(sid: str, text: str, question: str) -> None:
        store.add_text(sid, text)
        results[sid] = store.ask(sid, question, k=5)

    threads = [
        threading.Thread(target=client, args=(alice, BAKERY, "How many kinds of bread are sold?")),
        threading.Thread(target=client, args=(bob, GARDEN, "What does the garden grow?")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    a, b = results[alice], results[bob]
    assert a.found and a.passages[0].answer.startswith("The new bakery sells forty kinds")
    assert b.found and "tomatoes and peppers" in b.passages[0].text
    assert all("garden" not in h.text for h in a.passages)
    assert all("bakery" not in h.text for h in b.passages)
    # Both still reach the bundled article, and follow-ups work over their documents.
    assert store.ask(alice, "How many troops does the UN have in Mali?").found
    follow = store.ask(bob, "And peppers?", history=["Does the garden grow tomatoes?"])
    assert follow.read_as != "And peppers?"


@pytest.mark.slow
def test_a_document_is_searchable_at_once_with_the_real_model(real_retriever, tmp_path):
    store = SessionStore(real_retriever)
    sid = store.create()
    path = Path(tmp_path / "drought.html")
    path.write_text(ARTICLE_HTML, encoding="utf-8")
    info = store.add_file(sid, path)
    assert info.kind == "html" and info.seconds < 60
    answer = store.ask(sid, "How many animals crossed the district?", scope="mine")
    assert answer.found and "60,000" in answer.passages[0].answer
