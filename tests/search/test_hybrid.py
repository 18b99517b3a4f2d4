import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.search.hybrid import (
    LinearFusion,
    minmax_by_group,
    reciprocal_rank_fusion,
    rrf_pairs,
    rrf_scores,
)


def test_rrf_hand_computation():
    bm25 = np.array([[0, 1, 2], [3, -1, -1]])
    dense = np.array([[2, 0, 4], [1, 3, -1]])
    s = rrf_scores([bm25, dense], n_docs=5, k=60).toarray()
    expected0 = [1 / 61 + 1 / 62, 1 / 62, 1 / 63 + 1 / 61, 0, 1 / 63]
    expected1 = [0, 1 / 61, 0, 1 / 61 + 1 / 62, 0]
    np.testing.assert_allclose(s, [expected0, expected1])
    idx, val = reciprocal_rank_fusion([bm25, dense], n_docs=5, top=3, k=60)
    np.testing.assert_array_equal(idx, [[0, 2, 1], [3, 1, -1]])
    np.testing.assert_allclose(val[0], [1 / 61 + 1 / 62, 1 / 63 + 1 / 61, 1 / 62])
    # weights scale each list's contribution
    w = rrf_scores([bm25, dense], n_docs=5, k=60, weights=[2.0, 0.0]).toarray()
    np.testing.assert_allclose(w[0, :3], [2 / 61, 2 / 62, 2 / 63])


def test_rrf_pairs_matches_lists():
    ranks = np.array([[1, 2], [2, np.inf], [np.nan, 1]])
    np.testing.assert_allclose(rrf_pairs(ranks, k=60), [1 / 61 + 1 / 62, 1 / 62, 1 / 61])


def test_rrf_errors():
    with pytest.raises(ValidationError, match="at least one"):
        rrf_scores([], 3)
    with pytest.raises(ValidationError, match="weights"):
        rrf_scores([np.array([[0]])], 3, weights=[1, 2])
    with pytest.raises(ValidationError, match="different numbers of queries"):
        rrf_scores([np.array([[0]]), np.array([[0], [1]])], 3)


def test_minmax_by_group():
    x = np.array([[1.0, 5], [3, 5], [10, 1], [20, 3]])
    z = minmax_by_group(x, np.array([0, 0, 1, 1]))
    np.testing.assert_allclose(z, [[0, 0], [1, 0], [0, 0], [1, 1]])


def test_linear_fusion_learns_the_informative_retriever():
    rng = np.random.default_rng(0)
    n_q, per = 60, 10
    group = np.repeat(np.arange(n_q), per)
    gain = rng.integers(0, 3, n_q * per).astype(float)
    good = gain + rng.normal(0, 0.3, len(gain))  # carries the relevance
    noise = rng.normal(0, 1, len(gain))
    fusion = LinearFusion(step=0.1).fit(np.stack([noise, good], axis=1), group, gain)
    assert fusion.weights_[1] >= 0.8
    assert fusion.weights_.sum() == pytest.approx(1.0)
    fused = fusion.predict(np.stack([noise, good], axis=1), group)
    assert np.corrcoef(fused, gain)[0, 1] > 0.8
    with pytest.raises(ValidationError, match="scores"):
        fusion.predict(np.ones((3, 3)), np.zeros(3))
