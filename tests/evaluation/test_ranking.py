import numpy as np
import pytest
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.evaluation import hits_matrix, ranking_metrics


def _csr(rows: list[list[int]], n_cols: int) -> sp.csr_matrix:
    r = np.repeat(np.arange(len(rows)), [len(x) for x in rows])
    c = (
        np.concatenate([np.asarray(x, dtype=np.int64) for x in rows])
        if rows
        else np.array([], np.int64)
    )
    return sp.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(rows), n_cols))


# user 0: hits at ranks 2 and 5, three relevant items of which item 7 is test-only (outside the
# catalogue 0..5); user 1: a padded list with its one relevant item first; user 2: nothing relevant
TOP = np.array([[3, 1, 4, 0, 2], [0, 5, -1, -1, -1], [1, 2, 3, 4, 5]])
REL = _csr([[1, 2, 7], [0], []], n_cols=8)
POP = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])


def test_hits_matrix():
    expected = [[0, 1, 0, 0, 1], [1, 0, 0, 0, 0], [0, 0, 0, 0, 0]]
    np.testing.assert_array_equal(hits_matrix(TOP, REL), np.array(expected, dtype=bool))


def test_hand_computed_values_at_5_and_2():
    rep = ranking_metrics(TOP, REL, ks=(5, 2), n_items=6, item_popularity=POP)
    np.testing.assert_array_equal(rep.users, [0, 1])  # user 2 has nothing relevant
    pu = rep.per_user
    l3, l6 = np.log2(3), np.log2(6)
    np.testing.assert_allclose(pu["precision@5"], [2 / 5, 1 / 5])
    np.testing.assert_allclose(pu["recall@5"], [2 / 3, 1.0])
    np.testing.assert_allclose(pu["hit_rate@5"], [1.0, 1.0])
    np.testing.assert_allclose(pu["ndcg@5"], [(1 / l3 + 1 / l6) / (1 + 1 / l3 + 1 / 2), 1.0])
    np.testing.assert_allclose(pu["mrr@5"], [1 / 2, 1.0])
    # AP sum for user 0 = P@2 + P@5 = 1/2 + 2/5
    np.testing.assert_allclose(pu["map@5"], [0.9 / 3, 1.0])
    np.testing.assert_allclose(pu["map_min@5"], [0.9 / 3, 1.0])
    np.testing.assert_allclose(pu["pop_bias@5"], [0.2, 0.25])
    # at K=2 the two MAP conventions differ: /|rel| = /3 versus /min(3, 2)
    np.testing.assert_allclose(pu["map@2"], [0.5 / 3, 1.0])
    np.testing.assert_allclose(pu["map_min@2"], [0.5 / 2, 1.0])
    np.testing.assert_allclose(pu["ndcg@2"], [(1 / l3) / (1 + 1 / l3), 1.0])
    np.testing.assert_allclose(pu["precision@2"], [1 / 2, 1 / 2])
    np.testing.assert_allclose(pu["recall@2"], [1 / 3, 1.0])
    # coverage counts every list shown: items {0..5} at 5, {0,1,2,3,5} at 2, of a catalogue of 6
    assert rep.catalogue == {"coverage@5": 1.0, "coverage@2": 5 / 6}
    means = rep.means()
    assert means["precision@5"] == pytest.approx(0.3)
    assert means["coverage@2"] == pytest.approx(5 / 6)


def _reference(top: np.ndarray, rel_sets: list[set], k: int) -> dict[str, list[float]]:
    """Straightforward per-user loops, the textbook definitions."""
    out: dict[str, list[float]] = {
        m: [] for m in ("precision", "recall", "ndcg", "mrr", "map", "map_min")
    }
    for row, rel in zip(top, rel_sets, strict=True):
        if not rel:
            continue
        hits = [int(i in rel) for i in row[:k]]
        dcg = sum(h / np.log2(r + 2) for r, h in enumerate(hits))
        idcg = sum(1 / np.log2(r + 2) for r in range(min(len(rel), k)))
        ap = sum(sum(hits[: r + 1]) / (r + 1) for r, h in enumerate(hits) if h)
        out["precision"].append(sum(hits) / k)
        out["recall"].append(sum(hits) / len(rel))
        out["ndcg"].append(dcg / idcg)
        out["mrr"].append(next((1 / (r + 1) for r, h in enumerate(hits) if h), 0.0))
        out["map"].append(ap / len(rel))
        out["map_min"].append(ap / min(len(rel), k))
    return out


def test_matches_per_user_reference_on_random_lists():
    rng = np.random.default_rng(3)
    n_users, n_items = 200, 50
    top = np.stack([rng.choice(n_items, size=20, replace=False) for _ in range(n_users)])
    rel_sets = [
        set(rng.choice(n_items + 10, size=rng.integers(0, 15), replace=False).tolist())
        for _ in range(n_users)
    ]
    rel = _csr([sorted(s) for s in rel_sets], n_cols=n_items + 10)
    rep = ranking_metrics(top, rel, ks=(10, 20))
    for k in (10, 20):
        ref = _reference(top, rel_sets, k)
        for name, values in ref.items():
            np.testing.assert_allclose(rep.per_user[f"{name}@{k}"], values, err_msg=f"{name}@{k}")
    assert rep.n_users == sum(bool(s) for s in rel_sets)


def test_relevance_is_binary_and_duplicates_in_relevant_are_merged():
    rel = sp.csr_matrix(
        (np.array([5.0, 2.0, 1.0]), (np.array([0, 0, 0]), np.array([1, 1, 2]))), shape=(1, 4)
    )
    rep = ranking_metrics(np.array([[1, 0, 2]]), rel, ks=3)
    assert rep.per_user["recall@3"][0] == pytest.approx(1.0)
    assert rep.per_user["precision@3"][0] == pytest.approx(2 / 3)


def test_confidence_intervals_bracket_the_mean():
    rng = np.random.default_rng(0)
    top = np.stack([rng.choice(30, size=10, replace=False) for _ in range(300)])
    rel = _csr([rng.choice(30, size=5, replace=False).tolist() for _ in range(300)], n_cols=30)
    rep = ranking_metrics(top, rel, ks=10)
    ci = rep.confidence_intervals(n=500, seed=1)["ndcg@10"]
    assert ci.low < ci.mean < ci.high
    assert ci.mean == pytest.approx(rep.means()["ndcg@10"])


@pytest.mark.parametrize(
    "top, rel, match",
    [
        (np.array([[1, 1, 2]]), _csr([[1]], 4), "twice"),
        (np.array([[1, 9]]), _csr([[1]], 4), "columns"),
        (np.array([[0.5, 1.0]]), _csr([[1]], 4), "integer"),
        (np.array([[1, 2], [0, 3]]), _csr([[1]], 4), "rows"),
        (np.array([[1, -2]]), _csr([[1]], 4), "negative"),
    ],
)
def test_bad_inputs_are_named(top, rel, match):
    with pytest.raises(ValidationError, match=match):
        ranking_metrics(top, rel, ks=2)


def test_bad_cutoff_and_metric():
    with pytest.raises(ValidationError, match="ks"):
        ranking_metrics(TOP, REL, ks=6)
    with pytest.raises(ValidationError, match="unknown metric"):
        ranking_metrics(TOP, REL, ks=5, metrics=["auc"])


def _ranx_inputs(top: np.ndarray, rel: sp.csr_matrix, gains: sp.csr_matrix | None = None):
    """The same lists and judgements as ranx's Qrels and Run (scores falling with rank)."""
    from ranx import Qrels, Run

    g = (rel if gains is None else gains).tocsr()
    qrels = {}
    for u in range(g.shape[0]):
        row = slice(g.indptr[u], g.indptr[u + 1])
        if g.indptr[u + 1] > g.indptr[u]:
            qrels[f"q{u:05d}"] = {
                f"d{d}": int(v) for d, v in zip(g.indices[row], g.data[row], strict=True)
            }
    run = {
        f"q{u:05d}": {f"d{d}": float(top.shape[1] - r) for r, d in enumerate(top[u]) if d >= 0}
        or {"d-none": 0.0}
        for u in range(top.shape[0])
        if f"q{u:05d}" in qrels
    }
    return Qrels(qrels), Run(run)


def test_metrics_agree_with_ranx():
    """Every per-user metric equals ranx's (a maintained IR evaluation library) on random lists
    with padding, test-only relevant items and users without any relevant item."""
    ranx = pytest.importorskip("ranx")
    rng = np.random.default_rng(7)
    n_users, n_items, k = 60, 40, 10
    top = np.stack([rng.permutation(n_items)[:k] for _ in range(n_users)])
    top[rng.random((n_users, k)) < 0.1] = -1
    top = np.sort(np.where(top < 0, n_items + 100, top), axis=1)  # padding to the end
    top = np.stack([rng.permutation(r[r < n_items]).tolist() + [-1] * (r >= n_items).sum()
                    for r in top])
    rel_rows = [rng.choice(n_items + 5, size=rng.integers(0, 8), replace=False).tolist()
                for _ in range(n_users)]
    rel = _csr(rel_rows, n_cols=n_items + 5)  # 5 items exist only in the test period
    ks = (1, 5, 10)
    ours = ranking_metrics(top, rel, ks=ks, metrics=("precision", "recall", "hit_rate", "ndcg",
                                                      "mrr", "map"))
    qrels, run = _ranx_inputs(top, rel)
    names = {"precision": "precision", "recall": "recall", "hit_rate": "hit_rate",
             "ndcg": "ndcg", "mrr": "mrr", "map": "map"}
    for ours_name, ranx_name in names.items():
        for cut in ks:
            theirs = ranx.evaluate(qrels, run, f"{ranx_name}@{cut}", return_mean=False)
            np.testing.assert_allclose(ours.per_user[f"{ours_name}@{cut}"], theirs, atol=1e-9,
                                       err_msg=f"{ours_name}@{cut}")


def test_search_graded_ndcg_agrees_with_ranx():
    """Search's graded NDCG (linear gains, ideal from all judgements) equals ranx's ``ndcg``."""
    ranx = pytest.importorskip("ranx")
    from shopml.search.metrics import ndcg_lists

    rng = np.random.default_rng(3)
    n_q, n_docs, k = 40, 30, 10
    top = np.stack([rng.permutation(n_docs)[:k] for _ in range(n_q)])
    dense = np.where(rng.random((n_q, n_docs)) < 0.3, rng.integers(1, 4, (n_q, n_docs)), 0)
    dense[0] = 0  # a query without relevant documents: NaN here, left out by ranx
    gains = sp.csr_matrix(dense.astype(np.float64))
    ours = ndcg_lists(top, gains, k=k)
    qrels, run = _ranx_inputs(top, gains > 0, gains)
    theirs = ranx.evaluate(qrels, run, f"ndcg@{k}", return_mean=False)
    np.testing.assert_allclose(ours[~np.isnan(ours)], theirs, atol=1e-9)
    assert np.isnan(ours[0])
