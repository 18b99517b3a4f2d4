"""Query-title matching features of (query, item) pairs, for fusion and re-ranking.

All features are computed for many pairs at once from sparse matrices: a query row and a title
row are gathered for each pair and multiplied elementwise, so the overlap of terms, bigrams,
numbers and character trigrams of a million pairs is a handful of sparse operations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from shopml.search.analyzer import Tokens
from shopml.search.topk import pair_lookup

_CHUNK = 200_000  # pairs per block: bounds the memory of the gathered sparse rows


def _binary(tokens: Tokens, vocab: pd.Index) -> sp.csr_matrix:
    """Documents x vocab 0/1 matrix of the tokens that the vocabulary knows."""
    col = vocab.get_indexer(tokens.tokens) if len(tokens.tokens) else np.array([], np.int64)
    ok = col >= 0
    m = sp.csr_matrix(
        (np.ones(int(ok.sum()), np.float32), (tokens.doc[ok], col[ok])),
        shape=(tokens.n_docs, len(vocab)),
    )
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def bigrams(tokens: Tokens) -> Tokens:
    """Adjacent token pairs within each document, as "a b" strings."""
    same = tokens.doc[1:] == tokens.doc[:-1]
    left, right = tokens.tokens[:-1][same], tokens.tokens[1:][same]
    grams = (pd.Series(left, dtype=object) + " " + pd.Series(right, dtype=object)).to_numpy(object)
    return Tokens(tokens.doc[1:][same], grams, tokens.n_docs)


def _rowdot(a: sp.csr_matrix, b: sp.csr_matrix, ai: np.ndarray, bi: np.ndarray) -> np.ndarray:
    out = np.empty(len(ai), np.float64)
    for s in range(0, len(ai), _CHUNK):
        x, y = a[ai[s : s + _CHUNK]], b[bi[s : s + _CHUNK]]
        out[s : s + _CHUNK] = np.asarray(x.multiply(y).sum(axis=1)).ravel()
    return out


def _max_missing(qw: sp.csr_matrix, titles: sp.csr_matrix, ai: np.ndarray, bi: np.ndarray):
    """Per pair, the largest weight among query terms that the title lacks (0 if none)."""
    out = np.empty(len(ai), np.float64)
    for s in range(0, len(ai), _CHUNK):
        x = qw[ai[s : s + _CHUNK]]
        miss = x - x.multiply(titles[bi[s : s + _CHUNK]])
        out[s : s + _CHUNK] = miss.max(axis=1).toarray().ravel()
    return out


class TextMatchFeatures:
    """How a query's words meet an item's title: terms, bigrams, numbers, last word, trigrams."""

    def fit(self, title_terms: Tokens, title_text: pd.Series) -> TextMatchFeatures:
        """Learn the title side from stemmed title terms and normalised title text."""
        self.vocab_ = pd.Index(pd.unique(title_terms.tokens), dtype=object)
        self.titles_ = _binary(title_terms, self.vocab_)
        self.numeric_ = np.asarray(self.vocab_.str.match(r"^\d"), dtype=bool)
        df = np.bincount(self.titles_.indices, minlength=len(self.vocab_))
        n = title_terms.n_docs
        self.idf_ = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        self.title_len_ = np.bincount(title_terms.doc, minlength=title_terms.n_docs).astype(
            np.float64
        )
        # titles open with the brand: a term that mostly comes first is a brand name
        first_pos = np.searchsorted(title_terms.doc, np.arange(n))
        has = first_pos < len(title_terms.doc)
        has[has] = title_terms.doc[first_pos[has]] == np.flatnonzero(has)
        self.first_term_ = np.full(n, -1, np.int64)
        self.first_term_[has] = self.vocab_.get_indexer(title_terms.tokens[first_pos[has]])
        firsts = np.bincount(self.first_term_[has], minlength=len(self.vocab_))
        self.brand_terms_ = (firsts >= 3) & (firsts >= 0.5 * df)
        bi = bigrams(title_terms)
        self.bigram_vocab_ = pd.Index(pd.unique(bi.tokens), dtype=object)
        self.title_bigrams_ = _binary(bi, self.bigram_vocab_)
        # character trigrams catch what words miss: compounds, model numbers, leftover typos
        self.chars_ = TfidfVectorizer(
            analyzer="char_wb", ngram_range=(3, 3), sublinear_tf=True, dtype=np.float32
        )
        self.title_chars_ = self.chars_.fit_transform(title_text.tolist()).tocsr()
        return self

    def transform(
        self, q_terms: Tokens, q_text: list[str], q_idx: np.ndarray, d_idx: np.ndarray
    ) -> pd.DataFrame:
        """Features of pairs (query ``q_idx[i]`` of ``q_terms``, title ``d_idx[i]``)."""
        q_idx = np.asarray(q_idx, dtype=np.int64)
        d_idx = np.asarray(d_idx, dtype=np.int64)
        uniq = pd.DataFrame({"d": q_terms.doc, "t": q_terms.tokens}).drop_duplicates()
        n_q = q_terms.n_docs
        q_len = np.bincount(uniq["d"].to_numpy(), minlength=n_q).astype(np.float64)
        is_num = uniq["t"].str.match(r"^\d").to_numpy(dtype=bool)
        q_num = np.bincount(uniq["d"].to_numpy()[is_num], minlength=n_q).astype(np.float64)
        qt = _binary(q_terms, self.vocab_)
        qnum = qt @ sp.diags(self.numeric_.astype(np.float32))
        qb_tokens = bigrams(q_terms)
        qb = _binary(qb_tokens, self.bigram_vocab_)
        q_bi = np.bincount(qb_tokens.doc, minlength=n_q).astype(np.float64)
        # the last word of a query is usually the product type ("... drill")
        last_pos = np.searchsorted(q_terms.doc, np.arange(n_q), side="right") - 1
        has = (
            (last_pos >= 0) & (q_terms.doc[np.maximum(last_pos, 0)] == np.arange(n_q))
            if len(q_terms.doc)
            else np.zeros(n_q, bool)
        )
        last = np.full(n_q, -1, np.int64)
        if has.any():
            last[has] = self.vocab_.get_indexer(q_terms.tokens[last_pos[has]])
        qc = self.chars_.transform(q_text).tocsr()

        overlap = _rowdot(qt, self.titles_, q_idx, d_idx)
        # how much of the query's information the title covers, and the rarest word it misses
        qidf = (qt @ sp.diags(self.idf_)).tocsr()
        q_info = np.asarray(qidf.sum(axis=1)).ravel()
        idf_cover = _rowdot(qidf, self.titles_, q_idx, d_idx)
        missing = _max_missing(qidf, self.titles_, q_idx, d_idx)
        brand_in_query = pair_lookup(qt, q_idx, self.first_term_[d_idx])
        q_brand = np.asarray((qt @ self.brand_terms_.astype(np.float32)) > 0).ravel()
        num_overlap = _rowdot(qnum.tocsr(), self.titles_, q_idx, d_idx)
        bi_overlap = _rowdot(qb, self.title_bigrams_, q_idx, d_idx)
        ql, tl = q_len[q_idx], self.title_len_[d_idx]
        with np.errstate(invalid="ignore", divide="ignore"):
            return pd.DataFrame(
                {
                    "q_terms": ql,
                    "t_terms": tl,
                    "overlap": overlap,
                    "overlap_frac": np.where(ql > 0, overlap / ql, 0.0),
                    "idf_cover": np.where(q_info[q_idx] > 0, idf_cover / q_info[q_idx], 0.0),
                    "idf_missing_max": missing,
                    "brand_match": brand_in_query,
                    "brand_mismatch": (q_brand[q_idx] & (brand_in_query == 0)).astype(np.float64),
                    "jaccard": np.where(ql + tl - overlap > 0, overlap / (ql + tl - overlap), 0.0),
                    "bigram_frac": np.where(q_bi[q_idx] > 0, bi_overlap / q_bi[q_idx], np.nan),
                    "num_frac": np.where(q_num[q_idx] > 0, num_overlap / q_num[q_idx], np.nan),
                    "last_term": pair_lookup(self.titles_, d_idx, last[q_idx]),
                    "char3": _rowdot(qc, self.title_chars_, q_idx, d_idx),
                }
            )
