"""Persistence of a built index: a folder with a JSON manifest and plain data files.

Layout of ``<cache_dir>/<corpus key>/``::

    manifest.json        what the index was built from, and the hash of every file below
    index.faiss          the vector store, written by FAISS's own writer
    passages.jsonl       one passage per line (text, source, offsets, sentences)
    sentences.npy        unit vectors of the sentences of multi-sentence passages
    sentence_rows.npy    passage i's sentence vectors are rows [rows[i], rows[i+1])

and beside it ``<corpus key>.embeddings/ab/<key>.npy``: each document's vectors
(``EmbeddingCache``), so a change to one document re-embeds that document only. They
are needed to build, not to serve: the index folder alone is the artifact to ship.
An index held by Milvus (``qa.index.milvus_store``) keeps only a manifest on this side, in
``<corpus key>.milvus/`` (with Milvus Lite's file when the URI is local): the engine's
rows are the index.

Every file is written to a temporary name and moved into place; the manifest goes
last and lists the SHA-256 of the others, so a build interrupted half way, a
truncated file or a hand edit is detected on load, and the index is rebuilt. NumPy
files load with ``allow_pickle=False``; nothing here unpickles. A build that is killed
leaves at most temporary files, which the next build deletes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa.files import atomic_path, file_sha256, write_atomic
from qa.index.faiss_store import FaissStore
from qa.index.stores import PARAM_NAMES, BuiltIndex
from qa.types import Passage, Span

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
INDEX_FILE = "index.faiss"
PASSAGES_FILE = "passages.jsonl"
SENTENCES_FILE = "sentences.npy"
SENTENCE_ROWS_FILE = "sentence_rows.npy"
_DATA_FILES = (PASSAGES_FILE, INDEX_FILE, SENTENCES_FILE, SENTENCE_ROWS_FILE)
EMBEDDINGS_SUFFIX = ".embeddings"


def default_cache_dir() -> Path:
    """``QA_CACHE_DIR``, else ``$XDG_CACHE_HOME/qa``, else ``~/.cache/qa``."""
    if env := os.environ.get("QA_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qa"


def index_folder(cache_dir: Path, corpus: Path) -> Path:
    """One folder per corpus location, so two corpora never overwrite each other."""
    resolved = str(corpus.resolve())
    key = hashlib.sha256(resolved.encode()).hexdigest()[:12]
    return cache_dir / f"{corpus.resolve().name or 'corpus'}-{key}"


@dataclass(frozen=True)
class BuildSpec:
    """Everything an index depends on; any difference from the manifest rebuilds it."""

    documents: dict[str, str]  # source -> SHA-256 of its text
    model: dict[str, Any]  # name, fingerprint (weights hash), dimension
    chunking: dict[str, Any]
    boilerplate: str
    embedding_input: str
    index: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def difference(self, stored: dict[str, Any]) -> str | None:
        """Why an index built from ``stored`` does not fit this spec, or None."""
        if stored.get("format_version") != self.format_version:
            return f"cache format {stored.get('format_version')} != {self.format_version}"
        if stored.get("model") != self.model:
            key = "name" if _name(stored.get("model")) != _name(self.model) else "fingerprint"
            old, new = _name(stored.get("model"), key), _name(self.model, key)
            return f"model changed ({old} -> {new})"
        if stored.get("documents") != self.documents:
            previous = stored.get("documents")
            change = _corpus_change(previous if isinstance(previous, dict) else {}, self.documents)
            return f"corpus changed ({change})"
        for part in ("chunking", "boilerplate", "embedding_input", "index"):
            if stored.get(part) != getattr(self, part):
                return f"{part} settings changed ({stored.get(part)} -> {getattr(self, part)})"
        return None


def _name(model: Any, key: str = "name") -> str:
    return str(model.get(key)) if isinstance(model, dict) else "unknown"


def _corpus_change(old: dict[str, str], new: dict[str, str]) -> str:
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed = sorted(s for s in set(old) & set(new) if old[s] != new[s])
    parts = [
        f"{label}: {', '.join(names[:3])}{' …' if len(names) > 3 else ''}"
        for label, names in (("added", added), ("removed", removed), ("modified", changed))
        if names
    ]
    return "; ".join(parts)


class CacheError(RuntimeError):
    """A cached index could not be used; the message says why."""


def load_index(folder: Path, spec: BuildSpec) -> BuiltIndex:
    """Load the index in ``folder`` if it was built from ``spec``, else raise ``CacheError``."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise CacheError("no cached index yet")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CacheError(f"{manifest_path} is unreadable ({exc})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("spec"), dict):
        raise CacheError(f"{manifest_path} is not an index manifest")
    if reason := spec.difference(manifest["spec"]):
        raise CacheError(reason)
    files = manifest.get("files")
    if not isinstance(files, dict) or not set(_DATA_FILES) <= set(files):
        raise CacheError(f"{manifest_path} does not list the index files {', '.join(_DATA_FILES)}")
    store_params = manifest.get("store")
    if not isinstance(store_params, dict):
        raise CacheError(f"{manifest_path} does not describe the vector store")
    for name, digest in files.items():
        path = folder / name
        try:
            intact = path.is_file() and file_sha256(path) == digest
        except OSError as exc:
            raise CacheError(f"{path} is unreadable ({exc})") from None
        if not intact:
            raise CacheError(f"{path} is missing or corrupted (hash mismatch)")
    store_params = manifest.get("store")
    if not isinstance(store_params, dict) or store_params.get("kind") not in PARAM_NAMES:
        raise CacheError(f"{manifest_path} does not say which index kind it holds")
    try:
        passages = [
            _passage_from_json(line)
            for line in (folder / PASSAGES_FILE).read_text(encoding="utf-8").splitlines()
        ]
        store = FaissStore.load(folder / INDEX_FILE, store_params)
        sentence_vectors = np.load(folder / SENTENCES_FILE, allow_pickle=False)
        sentence_rows = np.load(folder / SENTENCE_ROWS_FILE, allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise CacheError(f"cached index in {folder} is unreadable ({exc})") from None
    if len(store) != len(passages) or len(sentence_rows) != len(passages) + 1:
        raise CacheError(f"cached index in {folder} is inconsistent (counts differ)")
    return BuiltIndex(
        passages, store, sentence_vectors, sentence_rows, str(store_params.get("chosen_by", ""))
    )


def save_index(folder: Path, spec: BuildSpec, built: BuiltIndex) -> None:
    """Write ``built`` atomically, file by file, the manifest last."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).unlink(missing_ok=True)  # the old index is invalid from here on
    lines = "".join(
        json.dumps(_passage_to_json(p), ensure_ascii=False) + "\n" for p in built.passages
    )
    write_atomic(folder / PASSAGES_FILE, lines.encode("utf-8"))
    built.store.save(folder / INDEX_FILE)
    for name, array in (
        (SENTENCES_FILE, built.sentence_vectors),
        (SENTENCE_ROWS_FILE, built.sentence_rows),
    ):
        with atomic_path(folder / name) as tmp, tmp.open("wb") as handle:
            np.save(handle, array, allow_pickle=False)
    files = {
        name: file_sha256(folder / name)
        for name in (PASSAGES_FILE, INDEX_FILE, SENTENCES_FILE, SENTENCE_ROWS_FILE)
    }
    manifest = {
        "spec": spec.to_dict(),
        "files": files,
        "counts": {"documents": len(spec.documents), "passages": len(built.passages)},
        "store": {**built.store.params(), "chosen_by": built.chosen_by},
        "engine": {"name": "faiss", "file": INDEX_FILE},
    }
    write_atomic(
        folder / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
    )


def save_engine_manifest(
    folder: Path, spec: BuildSpec, built: BuiltIndex, engine: dict[str, Any]
) -> None:
    """The manifest of an index held by an engine (Milvus): what it was built from, and
    where it is (``engine``: name, URI without credentials, collection), never a token.
    A record for people and tools; the engine's own rows say what is current."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "spec": spec.to_dict(),
        "counts": {"documents": len(spec.documents), "passages": len(built.passages)},
        "store": {**built.store.params(), "chosen_by": built.chosen_by},
        "engine": engine,
    }
    write_atomic(
        folder / MANIFEST, json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
    )


def embeddings_folder(folder: Path) -> Path:
    """Where the per-document vectors of the index in ``folder`` are kept (a sibling)."""
    return folder.with_name(folder.name + EMBEDDINGS_SUFFIX)


def remove_stale_temp_files(folder: Path) -> int:
    """Delete the temporary files a killed build left behind; call under the build lock."""
    stale = [*folder.glob(".*.tmp"), *embeddings_folder(folder).glob("*/.*.tmp")]
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


class EmbeddingCache:
    """The vectors of each document, stored apart so unchanged documents are never
    embedded again: ``<folder>/ab/<key>.npy``, one float32 array per document (its
    passage vectors, then its sentence vectors), written atomically, loaded with
    ``allow_pickle=False``.

    The key (``key``) is a hash of the document's content hash, the model's
    fingerprint, the embedding-input version, and the exact texts embedded, which
    follow from the chunking settings and boilerplate rules, so any change to those,
    or to the chunker's code, misses the cache instead of serving stale vectors.
    ``folder=None`` keeps nothing (no writable cache); ``reuse=False`` stores vectors
    but reads none back (a forced rebuild).

    >>> cache = EmbeddingCache(embeddings_folder(index_folder))
    >>> key = cache.key(doc.content_hash, texts, model_fingerprint, "text/1")
    >>> cache.get(key, len(texts)) is None            # not embedded yet
    """

    def __init__(self, folder: Path | None, *, reuse: bool = True):
        self.folder = folder
        self.reuse = reuse
        self.used: set[str] = set()  # keys read or written since creation: kept by prune

    @staticmethod
    def key(
        content_hash: str, texts: Sequence[str], model_fingerprint: str, embedding_input: str
    ) -> str:
        digest = hashlib.sha256()
        for part in (content_hash, model_fingerprint, embedding_input, *texts):
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little") + data)  # length-prefixed: unambiguous
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        assert self.folder is not None
        return self.folder / key[:2] / f"{key}.npy"

    def get(self, key: str, rows: int) -> np.ndarray | None:
        """The stored vectors for ``key`` if present, finite, float32 and ``rows`` long."""
        if self.folder is None or not self.reuse:
            return None
        try:
            vectors = np.load(self._path(key), allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None  # missing, truncated or not a plain array: embed again
        if vectors.dtype != np.float32 or vectors.ndim != 2 or len(vectors) != rows:
            return None
        # Embeddings are unit rows (or zero): anything else is a torn or foreign file.
        norms = np.linalg.norm(vectors, axis=1) if len(vectors) else vectors[:, 0]
        if not np.isfinite(norms).all() or (norms > 1.001).any():
            return None
        self.used.add(key)
        return vectors

    def put(self, key: str, vectors: np.ndarray) -> None:
        """Store ``vectors`` under ``key``; a cache that cannot be written is turned off."""
        if self.folder is None:
            return
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Not fsynced: one flush per document would cost minutes on a large corpus,
            # and a file a power cut tears fails the checks in ``get`` and is redone.
            with atomic_path(path, durable=False) as tmp, tmp.open("wb") as handle:
                np.save(handle, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
        except OSError as exc:
            # info, not warning: the index save that follows fails the same way and
            # warns once, with what to do.
            log.info(
                "Could not write document vectors to %s (%s); they will be embedded "
                "again next time.",
                self.folder,
                exc,
            )
            self.folder = None
            return
        self.used.add(key)

    def prune(self) -> int:
        """Delete stored vectors of documents no longer in the corpus (keys not used)."""
        if self.folder is None or not self.folder.is_dir():
            return 0
        removed = 0
        for path in self.folder.glob("*/*.npy"):
            if path.stem not in self.used:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _passage_to_json(p: Passage) -> dict[str, Any]:
    return {
        "text": p.text,
        "source": p.source,
        "title": p.title,
        "start": p.start,
        "end": p.end,
        "paragraph": p.paragraph,
        "paragraphs": p.paragraphs,
        "context": p.context,
        "sentences": [[s.start, s.end] for s in p.sentences],
    }


def _passage_from_json(line: str) -> Passage:
    data = json.loads(line)
    return Passage(
        text=str(data["text"]),
        source=str(data["source"]),
        title=str(data["title"]),
        start=int(data["start"]),
        end=int(data["end"]),
        paragraph=int(data["paragraph"]),
        paragraphs=int(data["paragraphs"]),
        context=str(data["context"]),
        sentences=tuple(Span(int(s), int(e)) for s, e in data["sentences"]),
    )
