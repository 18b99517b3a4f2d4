import math

import numpy as np
import pytest
import scipy.sparse as sp

from shopml.core.errors import NotFittedError, ValidationError
from shopml.search.analyzer import Analyzer
from shopml.search.bm25 import BM25
from shopml.search.topk import pair_lookup, topk_dense, topk_sparse

PLAIN = Analyzer(stem=None, units=False, stopwords=())
TOY = ["red apple", "green apple apple", "red car"]

CATALOGUE = [
    "cordless drill 20 volt lithium battery",
    "hammer drill corded 7 amp",
    "claw hammer 16 oz steel handle",
    "ceiling fan with light kit",
    "led light bulb 60 watt soft white",
    "garden hose 50 ft heavy duty",
    "pvc pipe 3/4 in x 10 ft",
    "copper pipe 1/2 in x 10 ft type m",
    "toilet seat round white plastic",
    "exterior paint white satin 1 gal",
    "interior paint eggshell 1 gal",
    "drill bit set titanium 21 piece",
]
QUERIES = ["cordless drill", "white paint", "pipe 10 ft", "light bulb", "hammer", "drill bit"]


def test_scores_equal_hand_computation():
    m = BM25(k1=1.5, b=0.75, analyzer=PLAIN).fit(TOY)
    s = m.scores(["apple", "red apple"]).toarray()
    k1, b, n, avg = 1.5, 0.75, 3, 7 / 3
    idf = math.log(1 + (n - 2 + 0.5) / (2 + 0.5))  # "apple" and "red" are both in 2 of 3 docs

    def term(tf, length):
        return idf * tf / (tf + k1 * (1 - b + b * length / avg))

    np.testing.assert_allclose(s[0], [term(1, 2), term(2, 3), 0.0], rtol=1e-6)
    np.testing.assert_allclose(s[1], [2 * term(1, 2), term(2, 3), term(1, 2)], rtol=1e-6)


def test_field_weights_bm25f():
    docs = {"title": ["drill", "saw"], "description": ["saw", "drill"]}
    m = BM25(k1=1.2, b=0.0, field_weights={"title": 3.0}, analyzer=PLAIN).fit(docs)
    s = m.scores(["drill"]).toarray()[0]
    idf = math.log(1 + (2 - 2 + 0.5) / (2 + 0.5))
    # b = 0: tf~ is the weighted count; title match 3, description match 1
    np.testing.assert_allclose(s, [idf * 3 / (3 + 1.2), idf * 1 / (1 + 1.2)], rtol=1e-6)
    # per-field BM25 features see only their field
    q = m.query_matrix(["drill"])
    title = m.score_pairs(q, np.array([0, 0]), np.array([0, 1]), field="title")
    assert title[0] > 0 and title[1] == 0
    with pytest.raises(ValidationError, match="field_weights"):
        BM25(field_weights={"brand": 2.0}, analyzer=PLAIN).fit(docs)


def test_ranks_and_scores_like_bm25s():
    bm25s = pytest.importorskip("bm25s")
    a = Analyzer()
    m = BM25(k1=1.5, b=0.75, analyzer=a).fit(CATALOGUE)
    ours_idx, ours_val = m.search(QUERIES, k=5)
    peer = bm25s.BM25(k1=1.5, b=0.75, method="lucene")
    peer.index(a(CATALOGUE), show_progress=False)
    q_tokens = [[t for t in q if t in peer.vocab_dict] for q in a(QUERIES)]
    peer_scores = np.stack([peer.get_scores(q) for q in q_tokens])
    np.testing.assert_allclose(m.scores(QUERIES).toarray(), peer_scores, rtol=1e-5, atol=1e-6)
    peer_idx, peer_val = peer.retrieve(q_tokens, k=5, show_progress=False, n_threads=1)
    matched = ours_idx >= 0  # bm25s fills the list with zero-score documents; we pad with -1
    np.testing.assert_array_equal(ours_idx[:, 0], peer_idx[:, 0])
    np.testing.assert_allclose(ours_val[matched], peer_val[matched], rtol=1e-5)
    assert ours_idx[0, 0] == 0 and ours_idx[2, 0] in (6, 7)


def test_search_one_mask_and_batch_agree():
    m = BM25(analyzer=Analyzer()).fit(CATALOGUE)
    idx, val = m.search(QUERIES, k=4)
    for i, q in enumerate(QUERIES):
        i1, v1 = m.search_one(q, k=4)
        np.testing.assert_array_equal(i1, idx[i])
        np.testing.assert_allclose(v1, val[i], rtol=1e-5)
    mask = np.ones(len(CATALOGUE), bool)
    mask[0] = False
    idx_m, _ = m.search(["cordless drill"], k=3, mask=mask)
    assert 0 not in idx_m[0] and idx_m[0, 0] in (1, 11)
    with pytest.raises(ValidationError, match="mask"):
        m.search(["drill"], mask=np.ones(3, bool))
    # unknown words match nothing
    none, _ = m.search(["zzzz"], k=3)
    assert (none == -1).all()


def test_save_load_roundtrip(tmp_path):
    m = BM25(analyzer=Analyzer()).fit({"title": CATALOGUE, "brand": ["dewalt"] * 12})
    m.save(tmp_path / "bm25")
    back = BM25.load(tmp_path / "bm25")
    np.testing.assert_allclose(back.scores(QUERIES).toarray(), m.scores(QUERIES).toarray())
    assert back.fields_ == ["title", "brand"]


def test_topk_helpers():
    s = np.array([[0.1, 0.5, 0.0, 0.3], [0.0, 0.0, 0.0, 0.2]])
    idx, val = topk_dense(s, 3, min_score=0.0)
    np.testing.assert_array_equal(idx, [[1, 3, 0], [3, -1, -1]])
    idx2, val2 = topk_sparse(sp.csr_matrix(s), 3)
    np.testing.assert_array_equal(idx2, idx)
    np.testing.assert_allclose(val2[0], [0.5, 0.3, 0.1])
    got = pair_lookup(sp.csr_matrix(s), np.array([0, 1, 1, 0]), np.array([1, 3, 0, -1]), default=-1)
    np.testing.assert_allclose(got, [0.5, 0.2, -1, -1])


def test_not_fitted():
    with pytest.raises(NotFittedError):
        BM25().search(["x"])
