"""The public app under hostile use, tried as an attacker would, with raw HTTP: no
request makes it read, copy or serve a file of the server; uploads are bounded and
removed; bad API input gets an error in words, never a crash."""

from __future__ import annotations

import http.client
import json
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from served_app import mcp_call, run_app, serve_app, upload_folder_of

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = "corpus/france-allies-begin-military-withdrawal-from-mali.txt"
pytestmark = pytest.mark.slow


# Uploads no event claims go after this many seconds in the app under test.
UPLOAD_MAX_AGE = 4
SECRET = "ZEBRA-CANARY-7731"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    workdir = tmp_path_factory.mktemp("app")
    with serve_app(workdir, QA_UPLOAD_MAX_AGE=str(UPLOAD_MAX_AGE)) as url:
        yield url, workdir


@pytest.fixture(scope="module")
def canary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private file outside the app's folder, its working folder and its uploads."""
    path = tmp_path_factory.mktemp("private") / "canary.txt"
    path.write_text(f"Canary notes\nThe secret word is {SECRET}. The zebras number 42.\n")
    return path


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served[0], verbose=False)


def status_of(url: str) -> int:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=10) as response:
            body = response.read()
            return 200 if body else 204
    except urllib.error.HTTPError as exc:
        return exc.code


def file_urls(base: str, path: str) -> list[str]:
    quoted = urllib.parse.quote(path)
    return [f"{base}gradio_api/file={quoted}", f"{base}file={quoted}"]


def test_files_of_the_machine_repo_and_cache_are_not_served(served):
    base, workdir = served
    manifests = list((workdir / "cache").rglob("manifest.json"))
    assert manifests, "the app should have written its index cache"
    private = [
        "/etc/passwd",
        str(ROOT / "app.py"),
        str(ROOT / ARTICLE),
        ARTICLE,
        "app.py",
        "../../../../etc/passwd",
        str(manifests[0]),
        str(manifests[0].parent / "passages.jsonl"),
    ]
    for path in private:
        for url in file_urls(base, path):
            assert status_of(url) in (403, 404), f"{url} is served"


def test_the_page_itself_is_served(served):
    assert status_of(served[0]) == 200


@pytest.mark.parametrize("k", [0, -1, 21, 10**12, "3", None, 2.5], ids=lambda k: f"k={k!r}")
def test_bad_k_through_the_api_is_an_error_in_words(client, k):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match=r"k must be a whole number from 1 to 20, got "):
        client.predict("How many troops does the UN have in Mali?", k, api_name="/search")


QUESTIONS = {
    "10 MB": "Mali " * 2_000_000,
    "NUL and control bytes": "\x00\x07How many troops does the UN have in Mali?\x1b",
    "RTL, emoji, combining": "كم عدد الجنود 🇲🇱 Ma\u0301li?",
    "Markdown link and image": "![x](http://127.0.0.1:1/x.png) [a](javascript:alert(1)) Mali?",
    "HTML and script": "<script>alert(1)</script><img src=x onerror=alert(1)> troops in Mali?",
}


@pytest.mark.parametrize("question", QUESTIONS.values(), ids=QUESTIONS.keys())
def test_hostile_questions_through_the_api_are_answered(client, question):
    passages = client.predict(question, 3, api_name="/search")
    assert 1 <= len(passages) <= 3
    assert all(set(p) >= {"text", "score", "source", "start", "end", "answer"} for p in passages)


def test_the_app_still_answers_after_all_that(client):
    passages = client.predict("How many troops does the UN have in Mali?", 3, api_name="/search")
    assert any("12,000 troops" in p["text"] for p in passages)


# --- Raw HTTP, as an attacker sends it ---------------------------------------------------

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get_json(url: str) -> Any:
    with OPENER.open(url, timeout=30) as response:
        return json.loads(response.read())


def run_event(base: str, fn_index: int, data: list[Any], session: str) -> str:
    """Join the queue for event ``fn_index`` with ``data``; the whole event stream."""
    body = {"data": data, "fn_index": fn_index, "session_hash": session, "trigger_id": None}
    request = urllib.request.Request(
        f"{base}gradio_api/queue/join",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    try:
        with OPENER.open(request, timeout=30) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}: {exc.read().decode(errors='replace')}"
    stream = ""
    with OPENER.open(f"{base}gradio_api/queue/data?session_hash={session}", timeout=120) as r:
        for raw in r:
            line = raw.decode(errors="replace")
            stream += line
            if '"process_completed"' in line or '"close_stream"' in line:
                break
    return stream


def file_data(path: str) -> dict[str, Any]:
    return {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": Path(path).name}


def hostile_values(component: dict[str, Any], path: str) -> list[Any]:
    """What an attacker puts in an input of this kind to name the server file ``path``."""
    fd = file_data(path)
    values: list[Any] = [fd, [fd], {"value": fd}]
    if component["type"] == "chatbot":
        values.append([{"role": "user", "content": [{"type": "file", "file": fd}]}])
        values.append([{"role": "user", "content": {"file": fd, "alt_text": None}}])
    return values


def events(base: str) -> list[tuple[int, str, list[dict[str, Any]]]]:
    """Every event of the app that takes an input, from its own config: (fn_index, name,
    input components). A new event is covered without touching this test."""
    config = get_json(f"{base}config")
    components = {c["id"]: c for c in config["components"]}
    found = []
    for dependency in config["dependencies"]:
        if dependency["inputs"]:
            inputs = [components[i] for i in dependency["inputs"]]
            found.append((dependency["id"], str(dependency.get("api_name")), inputs))
    return found


def files_below(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_no_event_reads_copies_or_serves_a_server_file(served, canary):
    base, workdir = served
    uploads = upload_folder_of(base)
    found = events(base)
    names = {name for _, name, _ in found}
    # The events this app has today; the loop below covers any added later by itself.
    assert {"chat", "add_files", "add_pasted", "ask", "search", "add_document"} <= names
    targets = [str(canary), f"{canary.parent}/../{canary.parent.name}/canary.txt", "HTTP://x/y"]
    for fn_index, name, inputs in found:
        for target in targets:
            for position, component in enumerate(inputs):
                for value in hostile_values(component, target):
                    session = uuid.uuid4().hex[:12]
                    data = [None] * len(inputs)
                    data[position] = value
                    stream = run_event(base, fn_index, data, session)
                    where = f"event {name} (fn {fn_index}), input {position}, {value!r:.120}"
                    assert SECRET not in stream, f"the canary's text came back from {where}"
                    assert "file=" not in stream, f"a file link came back from {where}"
            # Every input at once, as the page sends them.
            session = uuid.uuid4().hex[:12]
            data = [hostile_values(c, target)[-1] for c in inputs]
            stream = run_event(base, fn_index, data, session)
            assert SECRET not in stream and "file=" not in stream, f"event {name}"
            asked = run_event(
                base, _index(found, "ask"), ["What is the secret word?", 3, [], "mine"], session
            )
            assert "You have not added a document yet" in asked, f"{name} added the file"
    gradio_default = Path(tempfile.gettempdir()) / "gradio"
    written = files_below(uploads) + files_below(gradio_default)
    copies = [p for p in written if p.name == "canary.txt" or SECRET in _text_of(p)]
    assert not copies, f"the canary was copied to {copies}"
    assert SECRET not in (workdir / "app.log").read_text(errors="replace")


def _text_of(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _index(found: list[tuple[int, str, list[dict[str, Any]]]], name: str) -> int:
    return next(fn_index for fn_index, event, _ in found if event == name)


def test_the_canary_is_not_askable_after_the_attack(served, canary):
    """The second route of the report: the upload handler given a server path, then the
    file's words asked with scope "mine" in the same session."""
    base, _ = served
    found = events(base)
    session = uuid.uuid4().hex[:12]
    stream = run_event(base, _index(found, "add_files"), [[file_data(str(canary))], []], session)
    assert "File refused" in stream and "Added" not in stream
    answer = run_event(
        base, _index(found, "ask"), ["What is the secret word?", 3, [], "mine"], session
    )
    assert "You have not added a document yet" in answer
    assert SECRET not in answer


def test_refusals_are_one_line_each_in_the_server_log(served, canary):
    base, workdir = served
    found = events(base)
    before = (workdir / "app.log").read_text(errors="replace")
    run_event(base, _index(found, "chat"), ["hi", [file_data(str(canary))], "both"], "s1")
    run_event(base, _index(found, "search"), ["Mali?", 10**9, [], "both"], "s2")
    assert status_of(f"{base}gradio_api/queue/data?session_hash=nobody") == 404
    time.sleep(0.5)
    added = (workdir / "app.log").read_text(errors="replace")[len(before) :]
    assert "Traceback" not in added, added
    refused = [line for line in added.splitlines() if "Refused a request" in line]
    assert len(refused) == 2, added


def test_mcp_tools_take_no_file(served, canary):
    base, _ = served

    async def work(session, _):
        calls = []
        for arguments in (
            {"question": str(canary)},
            {"question": file_data(str(canary))},
            {"question": "What is the secret word?", "history": [file_data(str(canary))]},
        ):
            for tool in ("ask", "search"):
                calls.append(await session.call_tool(tool, arguments))
        return calls

    for result in mcp_call(base + "gradio_api/mcp/", work):
        text = json.dumps(result.model_dump(mode="json"))
        assert SECRET not in text and "file=" not in text


# --- Uploads: bounded, removed, never served ---------------------------------------------


def upload(base: str, name: str, content: bytes) -> tuple[int, str]:
    """POST one file to Gradio's upload route, with no session: (status, body)."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; '
            f'filename="{name}"\r\nContent-Type: text/plain\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{base}gradio_api/upload",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    try:
        with OPENER.open(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def test_an_upload_is_read_then_deleted_and_never_served(served):
    base, _ = served
    found = events(base)
    status, body = upload(base, "tram.txt", b"Tram news\nThe new tram line is 14.2 km long.\n")
    assert status == 200
    [path] = json.loads(body)
    assert Path(path).is_file() and Path(path).is_relative_to(upload_folder_of(base))
    for url in file_urls(base, path):
        assert status_of(url) == 404, f"{url} serves an upload"
    session = uuid.uuid4().hex[:12]
    stream = run_event(base, _index(found, "add_files"), [[file_data(path)], []], session)
    assert "Added" in stream and "tram.txt" in stream
    assert not Path(path).exists(), "the upload stays on disk after it was read"
    answer = run_event(
        base, _index(found, "ask"), ["How long is the new tram line?", 3, [], "mine"], session
    )
    assert "14.2 km" in answer


def test_an_upload_no_event_claims_is_removed(served):
    base, _ = served
    status, body = upload(base, "orphan.txt", b"Nobody asks for this file.\n" * 100)
    assert status == 200
    [path] = json.loads(body)
    assert Path(path).is_file()
    deadline = time.monotonic() + 4 * UPLOAD_MAX_AGE + 10
    while Path(path).exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not Path(path).exists(), f"an unclaimed upload outlived {UPLOAD_MAX_AGE} s"


def test_an_upload_over_the_limit_is_refused_before_it_is_stored(served):
    base, _ = served
    before = files_below(upload_folder_of(base))
    host, port = base.removeprefix("http://").rstrip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/gradio_api/upload")
    connection.putheader("Content-Type", "multipart/form-data; boundary=x")
    connection.putheader("Content-Length", str(200 * 1024 * 1024))
    connection.endheaders()
    connection.send(b"--x\r\n" + b"a" * 65536)  # then stop: the answer must not wait
    response = connection.getresponse()
    assert response.status == 413
    assert "up to 64 MB" in response.read().decode()
    connection.close()
    assert files_below(upload_folder_of(base)) == before


def mcp_raw(base: str, calls: list[str]) -> list[str]:
    """Send JSON-RPC texts as they are (a lone surrogate stays an escape, which the MCP
    client cannot send) to the MCP endpoint, after the handshake; the reply bodies."""
    url = base + "gradio_api/mcp/"
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    hello = {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-03-26",
            "capabilities": {},
            "clientInfo": {"name": "attacker", "version": "1"},
        },
    }
    request = urllib.request.Request(url, json.dumps(hello).encode(), headers)
    with OPENER.open(request, timeout=30) as response:
        session = response.headers.get("mcp-session-id")
        response.read()
    if session:
        headers["mcp-session-id"] = session
    done = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
    with OPENER.open(urllib.request.Request(url, done, headers), timeout=30) as response:
        response.read()
    replies = []
    for text in calls:
        request = urllib.request.Request(url, text.encode(), headers)
        try:
            with OPENER.open(request, timeout=60) as response:
                replies.append(response.read().decode(errors="replace"))
        except urllib.error.HTTPError as exc:
            replies.append(f"HTTP {exc.code}: {exc.read().decode(errors='replace')}")
    return replies


def test_mcp_answers_odd_questions_and_logs_no_traceback(served):
    base, workdir = served
    before = (workdir / "app.log").read_text(errors="replace")
    call = (
        '{"jsonrpc": "2.0", "id": %d, "method": "tools/call", "params": {"name": "%s", '
        '"arguments": {"question": "%s", "k": %s}}}'
    )
    lone, bad_k = mcp_raw(
        base,
        [
            call % (1, "ask", "How many \\ud800troops does the UN have in Mali?", "3"),
            call % (2, "search", "Mali?", "1000000000"),
        ],
    )
    assert '\\"found\\": true' in lone and '"isError":false' in lone.replace(" ", ""), lone
    assert "less than or equal to 20" in bad_k, bad_k
    time.sleep(0.5)
    assert "Traceback" not in (workdir / "app.log").read_text(errors="replace")[len(before) :]


# --- Stopping -----------------------------------------------------------------------------


def test_a_stop_during_an_upload_tells_the_visitor_and_logs_no_traceback(tmp_path):
    """SIGTERM (a Space restarting) while a long document is being added, with a page
    connected: the visitor reads why, the app exits within seconds, the log stays clean."""
    import threading

    from gradio_client import Client
    from gradio_client.exceptions import AppError
    from gradio_client.utils import Status

    # Every sentence differs: a repeated one is embedded once, and the add must take time.
    text = "A long report\n" + "\n".join(
        " ".join(
            f"In meeting {n}.{m} the committee agreed on {n * 7 + m} euros for tram line {n}."
            for m in range(4)
        )
        for n in range(450)
    )
    with run_app(tmp_path) as (url, process):
        heartbeat = threading.Thread(
            target=lambda: _read_quietly(f"{url}gradio_api/heartbeat/page1"), daemon=True
        )
        heartbeat.start()
        client = Client(url, verbose=False)
        job = client.submit(text, "report.txt", api_name="/add_document")
        log = tmp_path / "app.log"
        deadline = time.monotonic() + 60
        # Stop once the client's stream is open (it reported the start) and the document
        # is being added: a client that connects after the stop has nothing to be told.
        while time.monotonic() < deadline and not (
            job.status().code == Status.PROCESSING
            and "Adding a session document" in log.read_text(errors="replace")
        ):
            time.sleep(0.05)
        process.terminate()
        with pytest.raises(AppError, match=r"The server is restarting, so report\.txt was not"):
            job.result(timeout=30)
        process.wait(timeout=20)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "graceful shutdown exceeded" not in text, text[-3000:]


def _read_quietly(url: str) -> None:
    try:
        with OPENER.open(url, timeout=60) as response:
            response.read()
    except OSError:
        pass
