"""GRU sequence classifier: the predictor contract (static features only), and order learning
on wide step columns with shared vocabularies, variable lengths, explain and save/load."""

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from shopml.core.errors import ValidationError
from shopml.predict.base import load_predictor
from shopml.predict.sequence import GRUClassifier, sequence_columns
from tests.predict.contract import PredictorContract

T = 4


class TestGRUStaticOnly(PredictorContract):
    explain_exact = False

    def _get_model(self):
        return GRUClassifier(
            hidden_size=8, head=(16,), epochs=25, batch_size=64, lr=5e-3, patience=5, seed=0
        )


def order_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Label 1 iff token ``a`` comes right before ``b``: the same bag of tokens in another order
    is negative, so only a model that reads the order can separate them."""
    rng = np.random.default_rng(seed)
    toks = np.array(list("abcde"), dtype=object)
    seq = toks[rng.integers(0, 5, (n, T))]
    hit = ((seq[:, :-1] == "a") & (seq[:, 1:] == "b")).any(axis=1)
    # plant the pattern or its reverse in half the rows, so positives and near-misses are common
    plant = rng.random(n) < 0.5
    pos = rng.integers(0, T - 1, n)
    rev = rng.random(n) < 0.5
    r = np.flatnonzero(plant)
    seq[r, pos[r]] = np.where(rev[r], "b", "a")
    seq[r, pos[r] + 1] = np.where(rev[r], "a", "b")
    hit = ((seq[:, :-1] == "a") & (seq[:, 1:] == "b")).any(axis=1)
    length = np.full(n, T)
    short = ~hit & (rng.random(n) < 0.3)  # some shorter sequences: padding must be ignored
    length[short] = T - 1
    seq = seq.astype(object)
    seq[short, T - 1] = None
    X = pd.DataFrame({f"tok_{t + 1}": seq[:, t] for t in range(T)})
    X["gap_1"] = 0.0
    for t in range(1, T):
        X[f"gap_{t + 1}"] = np.where(length > t, rng.exponential(1.0, n), np.nan)
    X["static_noise"] = rng.normal(size=n)
    return X, hit.astype(int)


@pytest.fixture(scope="module")
def fitted_order():
    X, y = order_frame(2000, 0)
    m = GRUClassifier(
        sequences=("tok", "gap"),
        embedding_dim=8,
        hidden_size=16,
        head=(16,),
        epochs=15,
        batch_size=64,
        lr=1e-2,
        patience=None,
        seed=0,
    )
    return m.fit(X, y)


def test_learns_the_order_of_events(fitted_order):
    Xt, yt = order_frame(1000, 1)
    assert roc_auc_score(yt, fitted_order.predict_proba(Xt)) > 0.9


def test_shared_vocabulary_and_layout(fitted_order):
    m = fitted_order
    assert m.steps_ == T and m.seq_cat_ == ["tok"] and m.seq_num_ == ["gap"]
    assert sorted(m.seq_vocabs_["tok"].ids) == list("abcde")  # one table for every step


def test_explain_names_the_steps_and_save_load(fitted_order, tmp_path):
    m = fitted_order
    Xt, _ = order_frame(50, 2)
    E = m.explain(Xt)
    assert list(E.columns) == [*m.feature_names_, "bias"] and "tok_1" in E.columns
    # the order tokens matter far more than the noise column
    assert (
        E[[f"tok_{t + 1}" for t in range(T)]].abs().mean().mean()
        > 3 * E["static_noise"].abs().mean()
    )
    m.save(tmp_path / "gru")
    again = load_predictor(tmp_path / "gru")
    np.testing.assert_allclose(again.predict_proba(Xt), m.predict_proba(Xt), rtol=1e-6, atol=1e-7)


def test_bad_layouts_are_named():
    X, y = order_frame(100, 0)
    with pytest.raises(ValidationError, match="'nope'"):
        GRUClassifier(sequences=("nope",), epochs=1).fit(X, y)
    with pytest.raises(ValidationError, match="1..2"):
        sequence_columns(["a_1", "a_3"], "a")
    bad = X.copy()
    bad.loc[0, "tok_1"] = None  # a hole before present steps
    with pytest.raises(ValidationError, match="left-aligned"):
        GRUClassifier(sequences=("tok",), epochs=1).fit(bad, y)
