import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import NotFittedError, ValidationError
from shopml.search.ltr import LambdaMARTReranker, RelevanceRegressor
from shopml.search.metrics import ndcg_grouped


def _toy(n_q: int, per: int, seed: int):
    rng = np.random.default_rng(seed)
    group = np.repeat(np.arange(n_q), per)
    grade = rng.integers(0, 4, len(group))
    X = pd.DataFrame(
        {
            "weak": 0.3 * grade + rng.normal(0, 1, len(group)),  # what a lexical score sees
            "signal": grade + rng.normal(0, 0.4, len(group)),  # the feature that knows
            "noise": rng.normal(0, 1, len(group)),
        }
    )
    return X, grade, group


@pytest.fixture(scope="module")
def data():
    return _toy(150, 15, 0), _toy(60, 15, 1)


def test_lambdamart_beats_the_weak_ranking_on_held_out_queries(data):
    (X, y, g), (Xt, yt, gt) = data
    model = LambdaMARTReranker(n_estimators=60, min_child_samples=20, max_label=3).fit(X, y, g)
    ltr = np.nanmean(ndcg_grouped(gt, model.predict(Xt), yt, 10))
    weak = np.nanmean(ndcg_grouped(gt, Xt["weak"].to_numpy(), yt, 10))
    oracle = np.nanmean(ndcg_grouped(gt, Xt["signal"].to_numpy(), yt, 10))
    assert ltr > weak + 0.1
    assert ltr > oracle - 0.03  # it found the feature that carries the signal
    assert model.feature_importance().index[0] == "signal"


def test_rows_in_any_order_and_save_load(data, tmp_path):
    (X, y, g), (Xt, _, _) = data
    # interleave the queries (each keeps its own row order): LightGBM needs them contiguous, the
    # reranker must regroup them itself
    pos = np.arange(len(g)) - np.searchsorted(g, g)
    perm = np.lexsort((g, pos))
    assert not np.all(np.diff(g[perm]) >= 0)
    a = LambdaMARTReranker(n_estimators=20, max_label=3).fit(X, y, g)
    b = LambdaMARTReranker(n_estimators=20, max_label=3).fit(X.iloc[perm], y[perm], g[perm])
    np.testing.assert_allclose(a.predict(Xt), b.predict(Xt), rtol=1e-6)
    a.save(tmp_path / "m")
    back = LambdaMARTReranker.load(tmp_path / "m")
    np.testing.assert_allclose(back.predict(Xt), a.predict(Xt))
    assert back.max_label == 3


def test_regressor_predicts_relevance(data):
    (X, y, _), (Xt, yt, _) = data
    reg = RelevanceRegressor(n_estimators=50).fit(X, y.astype(float))
    pred = reg.predict(Xt)
    assert pred.min() >= 0 and pred.max() <= 3
    assert np.sqrt(np.mean((pred - yt) ** 2)) < 0.6 < np.std(yt)


def test_errors(data):
    (X, y, g), _ = data
    with pytest.raises(ValidationError, match="grades"):
        LambdaMARTReranker(max_label=2).fit(X, y, g)
    with pytest.raises(ValidationError, match="differ in length"):
        LambdaMARTReranker().fit(X, y[:-1], g)
    with pytest.raises(ValidationError, match="DataFrame"):
        LambdaMARTReranker().fit(X.to_numpy(), y, g)
    with pytest.raises(NotFittedError):
        LambdaMARTReranker().predict(X)
    model = LambdaMARTReranker(n_estimators=5, max_label=3).fit(X, y, g)
    with pytest.raises(ValidationError, match="lack columns"):
        model.predict(X.drop(columns="signal"))
