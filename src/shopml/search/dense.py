"""Semantic retrieval: sentence embeddings and an exact cosine index.

:class:`SentenceEncoder` is the platform's one embedding service (:mod:`shopml.text.embeddings`:
the offline all-MiniLM-L6-v2, loaded once per process, cached per text and per list), so a
catalogue is embedded once and search shares the network with sentiment and support.
:class:`DenseIndex` keeps the unit-normalised catalogue embeddings and answers queries with one matrix product per chunk of queries (exact cosine; at catalogue
sizes of 10^5 an exact scan takes milliseconds and needs no approximate index).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shopml.core.errors import ValidationError
from shopml.search.topk import topk_dense

# One MiniLM service for the whole platform: search uses the encoder of ``shopml.text`` (which
# shares one loaded network and one per-text cache with sentiment and support), not a copy.
from shopml.text.embeddings import (
    SentenceEncoder,
    TextEncoder,
    _few_threads,
    content_key,
    normalize_rows,
)

__all__ = [
    "DenseIndex",
    "SentenceEncoder",
    "TextEncoder",
    "_few_threads",
    "content_key",
    "normalize_rows",
]


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
