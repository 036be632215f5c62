"""The model run by ONNX Runtime instead of PyTorch: the same vectors, faster.

The default encoder (see ``qa.index.encoders``); ``QA_ENCODER=torch`` runs PyTorch instead.
On first use the model's transformer, mean pooling and normalisation are exported to
one ONNX graph in the cache folder (with PyTorch, once; ``qa.index.onnx_export``), checked
against PyTorch on probe texts and written atomically; later starts load that file
and the model's tokenizer alone, without importing PyTorch, so a cold ``qa ask`` takes
about a second instead of five, and a question embeds about twice as fast. The
vectors equal PyTorch's to 1e-5, so both encoders share the index and the
per-document vectors (one fingerprint: the weights').

``precision="int8"`` (``QA_ENCODER=onnx-int8``) runs that graph quantized to int8
weights by ONNX Runtime's own tool, made once beside it and checked against it on the
same probe texts (cosine at least ``MIN_INT8_COSINE``). Its vectors are close to fp32's,
not equal, so it has a fingerprint of its own: an index or a document's vectors made
with one precision are never served to the other. ONNX Runtime quantizes activations
with one scale per tensor, over the whole batch: a text's int8 vector depends a little
on the texts embedded beside it (cosine 0.977 at worst between two batchings, where
fp32 differs by 1e-7). Embedding one text a run would remove that, at 0.5-0.8x of the
speed (docs/benchmarks.md).

Texts are embedded in batches of at most ``TOKENS_PER_BATCH`` tokens (padding
included), longest first, and after a call
for documents ONNX Runtime's memory arena and the C heap give back what the batches
took: without that, adding a 200,000-character document left the process about
0.95 GB larger for good (see docs/benchmarks.md).

Only models that are a transformer, mean pooling and optional normalisation, in a
local folder (the bundled model is one), can be exported; others keep ``torch``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa import memory, stopping
from qa.files import atomic_path
from qa.index import onnx_export
from qa.index.cache import default_cache_dir
from qa.index.embedder import ModelError, ModelLock
from qa.index.torch_encoder import SentenceTransformerEmbedder

log = logging.getLogger(__name__)

PRECISIONS = ("fp32", "int8")
# Bump when the exported graph changes: the file name carries it, so a new qa never
# loads a graph an older one wrote.
GRAPH_VERSION = 1
MAX_DIFFERENCE = 1e-4  # largest difference to PyTorch's vectors an export may show
# The int8 graph's vectors must have at least this cosine to the fp32 graph's on every
# probe text; the bundled model gives 0.990-0.996 on a machine with VNNI. A CPU whose
# int8 products saturate would fall far below, and the graph is refused.
MIN_INT8_COSINE = 0.98
PROBE_TEXTS = (
    "How many troops does the UN have in Mali?",
    "Café au lait, 東京, 😀 and naïve façades.",
    "A long text, cut to the model's limit. " * 80,
)
# A batch holds at most this many tokens, padding included, and at most MAX_BATCH
# texts. The attention scores of a batch take batch x heads x length² floats, so 64
# texts of 256 tokens took 200 MB per attention tensor, and ONNX Runtime's arena kept
# its largest allocation. Small batches are also faster on CPU: embedding a 10,000-word
# article took about 0.6x the time of batches of 64 at 512 tokens, 0.7x at 1,024 or
# 2,048 (docs/benchmarks.md).
TOKENS_PER_BATCH = 512
MAX_BATCH = 64
# Texts are tokenized this many at a time (longest first), so a long document's
# token arrays never exist all at once.
TOKENIZE_WINDOW = 256


class OnnxEmbedder:
    """Embeds with an ONNX export of a sentence-transformers model; same vectors.

    >>> embedder = OnnxEmbedder()                        # bundled all-MiniLM-L6-v2
    >>> embedder.encode_queries(["Who leads Mali?"]).shape
    (1, 384)
    >>> OnnxEmbedder(precision="int8")                   # quantized: close, faster

    ``fallback=True`` (the default encoder's choice) encodes with PyTorch, after one
    warning, when ONNX Runtime is missing or the export fails: the same vectors,
    slower. Without it such a failure is a ``ModelError`` that says what to do. An
    int8 embedder never falls back (its vectors are not PyTorch's).
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        cache_dir: str | Path | None = None,
        fallback: bool = False,
        precision: str = "fp32",
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        self._torch = SentenceTransformerEmbedder(model)  # finds and checks the weights
        self.precision = precision
        self._fallback = fallback and precision == "fp32"
        folder = self._torch.folder
        if folder is None:
            raise ModelError(
                f"The ONNX encoder needs the model in a local folder; {self._torch.name!r} "
                "is a hub name. Use QA_ENCODER=torch, or download the model to a folder."
            )
        self._folder = folder
        self._config = onnx_export.plain_model_config(self._folder)
        self._tokenizer = onnx_export.load_tokenizer(self._folder, self._config)
        root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
        digest = hashlib.sha256(self._torch.fingerprint.encode()).hexdigest()[:16]
        self._fp32_name = f"{digest}-v{GRAPH_VERSION}.onnx"
        self._int8_name = f"{digest}-v{GRAPH_VERSION}-int8-q{onnx_export.QUANTIZATION_VERSION}.onnx"
        name = self._fp32_name if precision == "fp32" else self._int8_name
        self.graph_path = root / "onnx" / name
        self._lock = threading.Lock()  # loading or exporting the graph, once
        self._calls = ModelLock()  # every run of the model, one at a time
        self._session: Any = None
        self._failure: ModelError | None = None

    @property
    def name(self) -> str:
        return self._torch.name

    @property
    def fingerprint(self) -> str:
        """The weights' (shared with PyTorch) for fp32; for int8 that plus the graph and
        quantization versions, so int8 vectors are cached and indexed apart."""
        if self.precision == "fp32":
            return self._torch.fingerprint
        quantization = onnx_export.QUANTIZATION_VERSION
        return f"{self._torch.fingerprint}+onnx-int8-v{GRAPH_VERSION}-q{quantization}"

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
        # Questions keep the arena warm; documents give their batches' memory back.
        with self._calls:
            return _run(session, tokenizer, texts, self.dimension, progress, release=not queries)

    def load(self) -> None:
        """Open the graph now, making it first if needed (instead of on the first
        encode); ``ModelError`` if it cannot be made or opened."""
        self._load()

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
        """The session over the cached graph, made first when missing or damaged; with
        no writable cache, over a graph made in a temporary folder."""
        try:
            import onnxruntime
        except ImportError:
            stopping.raise_if_requested()  # a Ctrl-C or kill during the import, not a lack
            raise ModelError(
                f"QA_ENCODER={self._setting} needs ONNX Runtime: pip install onnxruntime "
                "onnx, or use QA_ENCODER=torch."
            ) from None
        try:
            return self._open_in(onnxruntime, self.graph_path.parent)
        except OSError as exc:
            log.warning(
                "Could not write the ONNX graph to %s (%s); exporting it for this process "
                "only. Set QA_CACHE_DIR to a writable folder.",
                self.graph_path.parent,
                exc,
            )
        with tempfile.TemporaryDirectory(prefix="qa-onnx-") as folder:
            return self._open_in(onnxruntime, Path(folder))  # read whole: the file may go

    def _open_in(self, onnxruntime: Any, folder: Path) -> Any:
        """The session over this precision's graph in ``folder``; int8 is quantized from
        the fp32 graph there, itself exported first when it is missing or damaged."""
        folder.mkdir(parents=True, exist_ok=True)
        fp32_path = folder / self._fp32_name

        def fp32() -> Any:
            return _cached_graph(onnxruntime, fp32_path, self._export, "exporting")

        if self.precision == "fp32":
            return fp32()

        def quantize(target: Path) -> None:
            self._quantize(fp32_path, fp32(), target)

        return _cached_graph(onnxruntime, folder / self._int8_name, quantize, "quantizing")

    def _export(self, target: Path) -> None:
        """Export with PyTorch, check against it, then move the file onto ``target``."""
        model = self._torch.model
        log.info("Exporting %s to ONNX (once): %s", self.name, target)
        with atomic_path(target) as tmp:
            try:
                onnx_export.export_graph(model, tmp)
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
        ours = _run(session, self._tokenizer, PROBE_TEXTS, self.dimension)
        theirs = self._torch.encode_documents(list(PROBE_TEXTS))
        difference = float(np.abs(ours - theirs).max())
        if difference > MAX_DIFFERENCE:
            raise ModelError(
                f"The ONNX export of {self.name} differs from PyTorch by {difference:.2g} "
                f"(more than {MAX_DIFFERENCE}); not used. Use QA_ENCODER=torch."
            )

    def _quantize(self, source: Path, reference: Any, target: Path) -> None:
        """Quantize the fp32 graph at ``source`` to int8, check its vectors against
        ``reference`` (a session over ``source``), then move it onto ``target``."""
        import onnxruntime

        log.info("Quantizing %s to int8 (once): %s", self.name, target)
        with atomic_path(target) as tmp:
            try:
                onnx_export.quantize_graph(source, tmp)
                session = _open_session(onnxruntime, tmp)
                ours = _run(session, self._tokenizer, PROBE_TEXTS, self.dimension)
            except (ModelError, OSError):
                raise
            except Exception as exc:  # the quantizer fails in many ways on odd graphs
                raise ModelError(
                    f"Could not quantize {self.name} to int8 ({type(exc).__name__}: {exc}). "
                    "Use QA_ENCODER=onnx."
                ) from exc
            theirs = _run(reference, self._tokenizer, PROBE_TEXTS, self.dimension)
            cosine = float((ours * theirs).sum(axis=1).min())
            if cosine < MIN_INT8_COSINE:
                raise ModelError(
                    f"The int8 graph of {self.name} gives vectors with a cosine of "
                    f"{cosine:.3f} to fp32's on a probe text (at least {MIN_INT8_COSINE} "
                    "needed); not used. Use QA_ENCODER=onnx."
                )

    @property
    def _setting(self) -> str:
        return "onnx" if self.precision == "fp32" else "onnx-int8"

    def __repr__(self) -> str:
        if self.precision == "fp32":
            return f"OnnxEmbedder({self.name!r})"
        return f"OnnxEmbedder({self.name!r}, precision={self.precision!r})"


def _cached_graph(onnxruntime: Any, path: Path, make: Callable[[Path], None], making: str) -> Any:
    """A session over the graph at ``path``, made with ``make`` when missing or
    unreadable (ONNX Runtime raises its own types for a damaged file)."""
    if path.is_file():
        try:
            return _open_session(onnxruntime, path)
        except Exception as exc:
            log.warning("%s is unreadable (%s); %s it again.", path, exc, making)
    make(path)
    return _open_session(onnxruntime, path)


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


def _run(
    session: Any,
    tokenizer: Any,
    texts: Sequence[str],
    dimension: int,
    progress: bool = False,
    *,
    release: bool = False,
) -> np.ndarray:
    """The vectors of ``texts`` (in their order), embedded longest first in batches of
    ``token_batches``. ``release`` gives the batches' memory back afterwards."""
    from tqdm import tqdm

    out = np.empty((len(texts), dimension), dtype=np.float32)
    order = np.argsort([-len(t) for t in texts], kind="stable")  # about longest first
    with tqdm(total=len(texts), desc="Embedding", unit="text", disable=not progress) as bar:

        def embed(rows: np.ndarray, feed: dict[str, np.ndarray], options: Any = None) -> None:
            out[rows] = session.run(None, feed, options)[0]
            bar.update(len(rows))

        pending = None  # one batch behind, so that the last one is known when it runs
        for batch in _feeds(tokenizer, texts, order):
            stopping.raise_if_requested()  # a stopping server waits one batch, not all
            if pending is not None:
                embed(*pending)
            pending = batch
        if pending is not None:
            embed(*pending, _shrink_arena(session) if release else None)
    if release:
        memory.release()  # glibc keeps freed blocks: about 150 MB after a large document
    return out


def _feeds(
    tokenizer: Any, texts: Sequence[str], order: np.ndarray
) -> Iterator[tuple[np.ndarray, dict[str, np.ndarray]]]:
    """(rows of ``texts``, model inputs) for each batch: tokenized a window at a time,
    each window's texts sorted by token count and cut by ``token_batches``."""
    for start in range(0, len(order), TOKENIZE_WINDOW):
        window = order[start : start + TOKENIZE_WINDOW]
        encoded = tokenizer.encode_batch([texts[i] for i in window])  # padded to the longest
        arrays = {
            "input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encoded], dtype=np.int64),
        }
        lengths = arrays["attention_mask"].sum(axis=1)
        longest_first = np.argsort(-lengths, kind="stable")
        for batch in token_batches(lengths[longest_first]):
            picked = longest_first[batch]
            width = int(lengths[picked[0]])  # padding is on the right: cut it to the batch
            yield window[picked], {k: a[picked, :width] for k, a in arrays.items()}


def token_batches(lengths: np.ndarray) -> list[slice]:
    """Consecutive batches of texts of ``lengths`` (longest first): each at most
    ``MAX_BATCH`` texts and, padded to its first text, ``TOKENS_PER_BATCH`` tokens (a
    text longer than that alone)."""
    batches = []
    start = 0
    while start < len(lengths):
        size = max(1, min(MAX_BATCH, TOKENS_PER_BATCH // max(1, int(lengths[start]))))
        stop = min(start + size, len(lengths))
        batches.append(slice(start, stop))
        start = stop
    return batches


def _shrink_arena(session: Any) -> Any:
    """Run options that make ONNX Runtime hand its CPU arena's free memory back to the
    heap at the end of the run (it otherwise keeps its largest size for good); None for
    a session without an arena, which would refuse them."""
    import onnxruntime

    if not session.get_session_options().enable_cpu_mem_arena:
        return None

    options = onnxruntime.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options
