import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.recommend.ease import EASE
from tests.recommend.contract import RecommenderContract, toy_interactions


class TestEASE(RecommenderContract):
    def _get_model(self):
        return EASE(l2=10.0)


def test_weights_solve_the_constrained_problem():
    df, _ = toy_interactions()
    model = EASE(l2=5.0).fit(df)
    B = model.weights_.astype(np.float64)
    X = model.train_.toarray().astype(np.float64)
    n = X.shape[1]
    assert np.all(np.diag(B) == 0)
    # stationarity of the Lagrangian: (G + l2 I) B - G = -diag(mu), i.e. off-diagonal residual zero
    G = X.T @ X
    resid = (G + 5.0 * np.eye(n)) @ B - G
    off = resid[~np.eye(n, dtype=bool)]
    np.testing.assert_allclose(off, 0.0, atol=1e-3)


def test_matches_unconstrained_ridge_as_l2_grows_small_effect():
    """Brute force on a tiny matrix: each column solves a ridge regression on the other items."""
    X = np.array(
        [[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 0, 1], [0, 0, 1, 1]], dtype=float
    )
    u, i = np.nonzero(X)
    df = pd.DataFrame({"user_id": [f"u{a}" for a in u], "item_id": [f"i{b}" for b in i]})
    model = EASE(l2=1.0).fit(df)
    order = model.items_.encode([f"i{j}" for j in range(4)])
    B = model.weights_[np.ix_(order, order)]
    for j in range(4):
        others = [c for c in range(4) if c != j]
        A = X[:, others]
        w = np.linalg.solve(A.T @ A + np.eye(3), A.T @ X[:, j])
        np.testing.assert_allclose(B[others, j], w, rtol=1e-4, atol=1e-6)


def test_explain_names_history_items_and_guards():
    df, _ = toy_interactions()
    model = EASE(l2=10.0).fit(df)
    rec = model.recommend(["u0"], k=1)
    why = model.explain("u0", rec.item_id.iloc[0])
    hist = set(df.loc[df.user_id == "u0", "item_id"])
    assert why and {w["because_of"] for w in why} <= hist
    with pytest.raises(ValidationError, match="max_items"):
        EASE(max_items=10).fit(df)
    with pytest.raises(ValidationError, match="l2"):
        EASE(l2=0).fit(df)
