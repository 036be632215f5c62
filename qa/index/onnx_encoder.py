"""The model run by ONNX Runtime instead of PyTorch: the same vectors, faster.

The default encoder (see ``qa.index.encoders``); ``QA_ENCODER=torch`` runs PyTorch instead.
On first use the model's transformer, mean pooling and normalisation are exported to
one ONNX graph in the cache folder (with PyTorch, once), checked against PyTorch on
probe texts and written atomically; later starts load that file and the model's
tokenizer alone, without importing PyTorch, so a cold ``qa ask`` takes about a second
instead of five, and a question embeds about twice as fast. The vectors equal
PyTorch's to 1e-5, so both encoders share the index and the per-document vectors (one
fingerprint: the weights').

Only models that are a transformer, mean pooling and optional normalisation, in a
local folder (the bundled model is one), can be exported; others keep ``torch``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa import stopping
from qa.files import atomic_path
from qa.index.cache import default_cache_dir
from qa.index.embedder import ModelError, ModelLock
from qa.index.torch_encoder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)

BATCH_SIZE = 64
# Bump when the exported graph changes: the file name carries it, so a new qa never
# loads a graph an older one wrote.
GRAPH_VERSION = 1
MAX_DIFFERENCE = 1e-4  # largest difference to PyTorch's vectors an export may show
PROBE_TEXTS = (
    "How many troops does the UN have in Mali?",
    "Café au lait, 東京, 😀 and naïve façades.",
    "A long text, cut to the model's limit. " * 80,
)


class OnnxEmbedder:
    """Embeds with an ONNX export of a sentence-transformers model; same vectors.

    >>> embedder = OnnxEmbedder()                        # bundled all-MiniLM-L6-v2
    >>> embedder.encode_queries(["Who leads Mali?"]).shape
    (1, 384)

    ``fallback=True`` (the default encoder's choice) encodes with PyTorch, after one
    warning, when ONNX Runtime is missing or the export fails: the same vectors,
    slower. Without it such a failure is a ``ModelError`` that says what to do.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        cache_dir: str | Path | None = None,
        fallback: bool = False,
    ):
        self._torch = SentenceTransformerEmbedder(model)  # finds and checks the weights
        self._fallback = fallback
        folder = self._torch.folder
        if folder is None:
            raise ModelError(
                f"The ONNX encoder needs the model in a local folder; {self._torch.name!r} "
                "is a hub name. Use QA_ENCODER=torch, or download the model to a folder."
            )
        self._folder = folder
        self._config = _plain_model_config(self._folder)
        self._tokenizer = _load_tokenizer(self._folder, self._config)
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        digest = hashlib.sha256(self._torch.fingerprint.encode()).hexdigest()[:16]
        self.graph_path = root / "onnx" / f"{digest}-v{GRAPH_VERSION}.onnx"
        self._lock = threading.Lock()  # loading or exporting the graph, once
        self._calls = ModelLock()  # every run of the model, one at a time
        self._session: Any = None
        self._failure: ModelError | None = None

    @property
    def name(self) -> str:
        return self._torch.name

    @property
    def fingerprint(self) -> str:
        return self._torch.fingerprint

    @property
    def dimension(self) -> int:
        return int(self._config["dimension"])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, progress=False, queries=True)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        return self._encode(texts, progress=progress, queries=False)

    def _encode(self, texts: Sequence[str], *, progress: bool, queries: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        try:
            session, tokenizer = self._load()
        except ModelError:
            if not self._fallback:
                raise
            if queries:  # PyTorch's encoder takes its own lock
                return self._torch.encode_queries(texts)
            return self._torch.encode_documents(texts, progress=progress)
        with self._calls:
            return self._run(session, tokenizer, texts, progress)

    def _run(
        self, session: Any, tokenizer: Any, texts: Sequence[str], progress: bool
    ) -> np.ndarray:
        from tqdm import tqdm

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")  # less padding
        with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:
            for start in range(0, len(texts), BATCH_SIZE):
                stopping.raise_if_requested()  # a stopping server waits one batch, not all
                rows = order[start : start + BATCH_SIZE]
                batch = tokenizer.encode_batch([texts[i] for i in rows])
                feed = {
                    "input_ids": np.array([e.ids for e in batch], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask for e in batch], dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids for e in batch], dtype=np.int64),
                }
                out[rows] = session.run(None, feed)[0]
                bar.update(len(rows))
        return out

    def _load(self) -> tuple[Any, Any]:  # the session, and the tokenizer beside it
        with self._lock:
            if self._failure is not None:  # do not export again on every question
                raise self._failure
            if self._session is None:
                try:
                    self._session = self._open()
                except ModelError as exc:
                    self._failure = exc
                    if self._fallback:
                        log.warning("%s Encoding with PyTorch instead (same vectors).", exc)
                    raise
            return self._session, self._tokenizer

    def _open(self) -> Any:
        """The session over the cached graph, exporting it first when missing or damaged;
        with no writable cache, over a graph exported to a temporary folder."""
        try:
            import onnxruntime
        except ImportError:
            stopping.raise_if_requested()  # a Ctrl-C or kill during the import, not a lack
            raise ModelError(
                "QA_ENCODER=onnx needs ONNX Runtime: pip install onnxruntime onnx, "
                "or use QA_ENCODER=torch."
            ) from None
        if self.graph_path.is_file():
            try:
                return _open_session(onnxruntime, self.graph_path)
            except Exception as exc:  # ORT raises its own types for a damaged file
                log.warning("%s is unreadable (%s); exporting it again.", self.graph_path, exc)
        try:
            self.graph_path.parent.mkdir(parents=True, exist_ok=True)
            self._export(self.graph_path)
            return _open_session(onnxruntime, self.graph_path)
        except OSError as exc:
            log.warning(
                "Could not write the ONNX graph to %s (%s); exporting it for this process "
                "only. Set QA_CACHE_DIR to a writable folder.",
                self.graph_path.parent,
                exc,
            )
        with tempfile.TemporaryDirectory(prefix="qa-onnx-") as folder:
            path = Path(folder) / self.graph_path.name
            self._export(path)
            return _open_session(onnxruntime, path)  # read whole: the file may go

    def _export(self, target: Path) -> None:
        """Export with PyTorch, check against it, then move the file onto ``target``."""
        model = self._torch.model
        log.info("Exporting %s to ONNX (once): %s", self.name, target)
        with atomic_path(target) as tmp:
            try:
                _export_graph(model, tmp)
                self._check_export(tmp)
            except (ModelError, OSError):
                raise
            except Exception as exc:  # the exporter and ORT fail in many ways on odd models
                raise ModelError(
                    f"Could not export {self.name} to ONNX ({type(exc).__name__}: {exc}). "
                    "Use QA_ENCODER=torch."
                ) from exc

    def _check_export(self, path: Path) -> None:
        import onnxruntime

        session = _open_session(onnxruntime, path)
        ours = self._run(session, self._tokenizer, PROBE_TEXTS, progress=False)
        theirs = self._torch.encode_documents(list(PROBE_TEXTS))
        difference = float(np.abs(ours - theirs).max())
        if difference > MAX_DIFFERENCE:
            raise ModelError(
                f"The ONNX export of {self.name} differs from PyTorch by {difference:.2g} "
                f"(more than {MAX_DIFFERENCE}); not used. Use QA_ENCODER=torch."
            )

    def __repr__(self) -> str:
        return f"OnnxEmbedder({self.name!r})"


_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def _open_session(onnxruntime: Any, path: Path) -> Any:
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    # Idle threads sleep instead of spinning: a server between questions (and PyTorch
    # in the same process) gets the cores back.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    # OMP_NUM_THREADS caps the threads of a forward pass, as it does for PyTorch: the app
    # leaves a core to its web server (qa.serve.batching.model_threads). Unset: every core.
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) > 0:
        options.intra_op_num_threads = int(threads)
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _plain_model_config(folder: Path) -> dict[str, Any]:
    """What the export needs from the model's files, or ``ModelError`` if it is not a
    transformer with mean pooling (and optional normalisation) and no prompts."""

    def read(name: str) -> dict[str, Any]:
        path = folder / name
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(
                f"{path} is missing or unreadable ({exc}): QA_ENCODER=onnx needs a "
                "sentence-transformers model folder; use QA_ENCODER=torch."
            ) from None
        return value if isinstance(value, dict) else {"modules": value}

    modules = read("modules.json")["modules"]
    kinds = [str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules]
    pooling_folder = next(
        (m.get("path", "") for m in modules if "Pooling" in m.get("type", "")), ""
    )
    pooling = read(f"{pooling_folder}/config.json") if pooling_folder else {}
    modes = [k for k, v in pooling.items() if k.startswith("pooling_mode") and v]
    prompts: dict[str, Any] = {}
    if (folder / "config_sentence_transformers.json").is_file():
        prompts = read("config_sentence_transformers.json").get("prompts") or {}
    if (
        kinds[:2] != ["Transformer", "Pooling"]
        or set(kinds[2:]) - {"Normalize"}
        or modes != ["pooling_mode_mean_tokens"]
        or any(prompts.values())
    ):
        raise ModelError(
            f"{folder}: QA_ENCODER=onnx handles a transformer with mean pooling and no "
            f"prompts; this model has {' + '.join(kinds)} ({', '.join(modes)}). Use "
            "QA_ENCODER=torch."
        )
    limit = 512
    if (folder / "sentence_bert_config.json").is_file():
        limit = int(read("sentence_bert_config.json").get("max_seq_length") or limit)
    special = read("tokenizer_config.json") if (folder / "tokenizer_config.json").is_file() else {}
    pad_token = str(special.get("pad_token") or "[PAD]")
    try:
        dimension = int(pooling["word_embedding_dimension"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(
            f"{folder}: the pooling configuration gives no word_embedding_dimension ({exc}). "
            "Use QA_ENCODER=torch."
        ) from None
    return {"dimension": dimension, "max_length": limit, "pad_token": pad_token}


def _load_tokenizer(folder: Path, config: dict[str, Any]) -> Any:
    """The model's own fast tokenizer, cut and padded as sentence-transformers does."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    except Exception as exc:  # tokenizers raises a bare Exception for a missing file
        raise ModelError(
            f"{folder}: QA_ENCODER=onnx needs the model's tokenizer.json "
            f"({type(exc).__name__}: {exc}). Use QA_ENCODER=torch."
        ) from None
    pad_id = tokenizer.token_to_id(config["pad_token"])
    tokenizer.enable_truncation(max_length=int(config["max_length"]))
    tokenizer.enable_padding(pad_id=0 if pad_id is None else pad_id, pad_token=config["pad_token"])
    return tokenizer


def _export_graph(model: Any, path: Path) -> None:
    """Write the transformer, mean pooling over real tokens and L2 normalisation (what
    sentence-transformers computes) as one ONNX graph with dynamic batch and length."""
    import torch

    transformer = model[0].auto_model

    class PooledTransformer(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            tokens = self.transformer(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    preprocess = getattr(model, "preprocess", None) or model.tokenize  # 5.x: tokenize
    features = preprocess(["probe"])
    axes = {name: {0: "batch", 1: "tokens"} for name in _INPUTS}
    with warnings.catch_warnings(), torch.inference_mode():
        warnings.simplefilter("ignore")  # the tracer's warnings are about other inputs
        torch.onnx.export(
            PooledTransformer().eval(),
            tuple(features[name] for name in _INPUTS),
            str(path),
            input_names=list(_INPUTS),
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
