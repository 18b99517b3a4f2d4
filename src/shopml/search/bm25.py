"""BM25 / BM25F on scipy sparse matrices.

Every (document, term) weight is computed once at ``fit``:

    w[d, t] = idf[t] * tf~ / (k1 + tf~),   tf~ = sum_f  weight_f * tf_f[d, t] / B_f[d],
    B_f[d]  = 1 - b + b * len_f[d] / mean(len_f),   idf[t] = ln(1 + (N - df_t + 0.5) / (df_t + 0.5))

(BM25F, Robertson & Zaragoza 2009, with Lucene's idf and tf saturation, the default of Lucene
and of ``bm25s``; with one field it is plain BM25 and equals ``bm25s(method="lucene")``). A query
is then a sparse count vector, and scoring a batch of queries is one sparse matrix product
``Q @ W.T``; the top-k per row come from ``argpartition``. Per-field BM25 matrices are kept too,
so a re-ranker can see which field matched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.core.errors import NotFittedError, ValidationError
from shopml.core.persist import atomic_directory
from shopml.search.analyzer import Analyzer, Tokens
from shopml.search.topk import topk_dense


def _idf(df: np.ndarray, n_docs: int) -> np.ndarray:
    return np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)


class BM25:
    """A BM25F index over one or more text fields of a catalogue.

    Parameters
    ----------
    k1, b : float
        Term-frequency saturation and length normalisation.
    field_weights : mapping of field name to weight, optional
        How much a term occurrence in each field counts (default 1 for every field).
    analyzer : Analyzer, optional
        Turns texts into tokens (default :class:`Analyzer`).
    """

    def __init__(
        self,
        k1: float = 1.5,
        b: float = 0.75,
        field_weights: Mapping[str, float] | None = None,
        analyzer: Analyzer | None = None,
    ) -> None:
        self.k1 = k1
        self.b = b
        self.field_weights = field_weights
        self.analyzer = analyzer

    # ----------------------------------------------------------------- fit
    def fit(self, docs: Sequence[str | None] | Mapping[str, Sequence[str | None]]) -> BM25:
        """Index texts: a sequence (one field, ``"text"``) or a mapping field -> texts."""
        fields = {"text": docs} if not isinstance(docs, Mapping) else dict(docs)
        analyzer = self._analyzer()
        return self.fit_tokens({f: analyzer.tokens(list(v)) for f, v in fields.items()})

    def fit_tokens(self, fields: Mapping[str, Tokens]) -> BM25:
        """Index already analysed fields (each a :class:`Tokens` over the same documents)."""
        if not fields:
            raise ValidationError("BM25.fit needs at least one field, got none")
        sizes = {f: t.n_docs for f, t in fields.items()}
        if len(set(sizes.values())) != 1:
            raise ValidationError(f"every field must cover the same documents, got sizes {sizes}")
        if self.k1 < 0 or not 0 <= self.b <= 1:
            raise ValidationError(f"need k1 >= 0 and 0 <= b <= 1, got k1={self.k1}, b={self.b}")
        weights = {f: 1.0 for f in fields} | dict(self.field_weights or {})
        unknown = set(weights) - set(fields)
        if unknown:
            raise ValidationError(
                f"field_weights name fields that were not given: {sorted(unknown)}"
            )
        n_docs = next(iter(sizes.values()))
        self.fields_ = list(fields)
        self.vocab_ = pd.Index(
            pd.unique(np.concatenate([t.tokens for t in fields.values()] + [np.array([], object)]))
        )
        n_terms = len(self.vocab_)
        tf = {}
        for f, t in fields.items():
            tf[f] = sp.csr_matrix(
                (np.ones(len(t.doc), np.float32), (t.doc, self.vocab_.get_indexer(t.tokens))),
                shape=(n_docs, n_terms),
            )
            tf[f].sum_duplicates()
        combined = sp.csr_matrix((n_docs, n_terms), dtype=np.float32)
        self.field_matrices_: dict[str, sp.csr_matrix] = {}
        for f, m in tf.items():
            norm = self._length_norm(m)
            combined = combined + weights[f] * sp.diags(1.0 / norm) @ m
            # per-field BM25 with the field's own idf: what a re-ranker sees as "title matched"
            idf_f = _idf(np.bincount(m.indices, minlength=n_terms), n_docs)
            self.field_matrices_[f] = self._saturate(sp.diags(1.0 / norm) @ m, idf_f)
        present = sum((m > 0).astype(np.int32) for m in tf.values())
        self.idf_ = _idf(np.bincount(sp.csr_matrix(present).indices, minlength=n_terms), n_docs)
        self.weights_ = self._saturate(combined, self.idf_)  # documents x terms
        self.postings_ = self.weights_.T.tocsr()  # terms x documents: a query sums rows
        self.n_docs_ = n_docs
        return self

    def _length_norm(self, tf: sp.csr_matrix) -> np.ndarray:
        length = np.asarray(tf.sum(axis=1)).ravel()
        mean = length.mean() if length.size and length.mean() > 0 else 1.0
        return (1 - self.b + self.b * length / mean).astype(np.float32)

    def _saturate(self, tfn: sp.csr_matrix, idf: np.ndarray) -> sp.csr_matrix:
        out = sp.csr_matrix(tfn, dtype=np.float32, copy=True)
        out.data = out.data / (self.k1 + out.data) * idf[out.indices]
        out.eliminate_zeros()
        return out

    def _analyzer(self) -> Analyzer:
        if self.analyzer is None:
            self.analyzer = Analyzer()
        return self.analyzer

    def _check_fitted(self) -> None:
        if not hasattr(self, "weights_"):
            raise NotFittedError("BM25 is not fitted: call fit(docs) first")

    # ------------------------------------------------------------- queries
    def query_matrix(self, queries: Sequence[str] | Tokens) -> sp.csr_matrix:
        """Queries as a sparse (queries x terms) count matrix; unknown terms are dropped."""
        self._check_fitted()
        toks = queries if isinstance(queries, Tokens) else self._analyzer().tokens(list(queries))
        term = self.vocab_.get_indexer(toks.tokens) if len(toks.tokens) else np.array([], np.int64)
        known = term >= 0
        q = sp.csr_matrix(
            (np.ones(int(known.sum()), np.float32), (toks.doc[known], term[known])),
            shape=(toks.n_docs, len(self.vocab_)),
        )
        q.sum_duplicates()
        return q

    def scores(self, queries: Sequence[str] | Tokens | sp.csr_matrix) -> sp.csr_matrix:
        """BM25F scores of every document for every query, (queries x documents), sparse."""
        q = queries if sp.issparse(queries) else self.query_matrix(queries)
        return sp.csr_matrix(q @ self.postings_)

    def search(
        self,
        queries: Sequence[str] | Tokens | sp.csr_matrix,
        k: int = 10,
        mask: np.ndarray | None = None,
        chunk: int = 256,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` documents per query, best first: (indices, scores), ``-1`` where none match.

        ``mask`` (boolean over documents) keeps only the documents where it is true.
        """
        q = queries if sp.issparse(queries) else self.query_matrix(queries)
        if mask is not None and (mask.dtype != bool or mask.shape != (self.n_docs_,)):
            raise ValidationError(f"mask must be a boolean array of shape ({self.n_docs_},)")
        idx, vals = [], []
        for start in range(0, q.shape[0], chunk):
            dense = (q[start : start + chunk] @ self.postings_).toarray()
            if mask is not None:
                dense[:, ~mask] = 0.0
            i, v = topk_dense(dense, k, min_score=0.0)
            idx.append(i)
            vals.append(v)
        if not idx:
            return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
        return np.vstack(idx), np.vstack(vals)

    def search_one(self, query: str | Tokens, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` for one query without building a matrix: sum its terms' posting lists."""
        q = self.query_matrix([query] if isinstance(query, str) else query)
        terms, counts = q.indices, q.data
        p = self.postings_
        starts, ends = p.indptr[terms], p.indptr[terms + 1]
        sel = np.concatenate([np.arange(s, e) for s, e in zip(starts, ends, strict=True)] or [[]])
        sel = sel.astype(np.int64)
        w = p.data[sel] * np.repeat(counts, ends - starts)
        scores = np.bincount(p.indices[sel], weights=w, minlength=self.n_docs_)
        i, v = topk_dense(scores[None, :], k, min_score=0.0)
        return i[0], v[0]

    def score_pairs(
        self, q: sp.csr_matrix, q_idx: np.ndarray, d_idx: np.ndarray, field: str | None = None
    ) -> np.ndarray:
        """Scores of given (query row, document) pairs; ``field`` for one field's BM25."""
        w = self.weights_ if field is None else self.field_matrices_[field]
        return np.asarray(q[q_idx].multiply(w[d_idx]).sum(axis=1), dtype=np.float64).ravel()

    # ------------------------------------------------------------- persist
    def save(self, path: str | Path) -> Path:
        """Write the index to a new folder: sparse matrices as ``.npz``, the rest as JSON."""
        self._check_fitted()
        path = Path(path)
        with atomic_directory(path) as tmp:
            sp.save_npz(tmp / "weights.npz", self.weights_)
            for i, f in enumerate(self.fields_):
                sp.save_npz(tmp / f"field_{i}.npz", self.field_matrices_[f])
            np.save(tmp / "idf.npy", self.idf_)
            meta = {
                "k1": self.k1,
                "b": self.b,
                "field_weights": dict(self.field_weights or {}),
                "fields": self.fields_,
                "vocab": self.vocab_.tolist(),
                "analyzer": self._analyzer().get_params(),
            }
            (tmp / "bm25.json").write_text(json.dumps(meta))
        return path

    @classmethod
    def load(cls, path: str | Path) -> BM25:
        """Read an index written by :meth:`save` (no code is executed from the files)."""
        path = Path(path)
        meta = json.loads((path / "bm25.json").read_text())
        a = meta["analyzer"]
        obj = cls(meta["k1"], meta["b"], meta["field_weights"] or None, Analyzer(**a))
        obj.fields_ = meta["fields"]
        obj.vocab_ = pd.Index(meta["vocab"], dtype=object)
        obj.weights_ = sp.load_npz(path / "weights.npz").tocsr()
        obj.field_matrices_ = {
            f: sp.load_npz(path / f"field_{i}.npz").tocsr() for i, f in enumerate(obj.fields_)
        }
        obj.idf_ = np.load(path / "idf.npy", allow_pickle=False)
        obj.postings_ = obj.weights_.T.tocsr()
        obj.n_docs_ = obj.weights_.shape[0]
        return obj
