"""DeepFM: the predictor contract, the FM identity, and learning a pure feature cross."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from shopml.core.errors import ValidationError
from shopml.predict.deepfm import DeepFMClassifier, DeepFMNet
from tests.predict.contract import PredictorContract


class TestDeepFM(PredictorContract):
    explain_exact = False

    def _get_model(self):
        return DeepFMClassifier(
            embedding_dim=4, hidden=(16,), epochs=25, batch_size=64, lr=5e-3, patience=5, seed=0
        )


def cross_frame(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Click iff user group and item group match: no main effect, only the pairwise cross."""
    rng = np.random.default_rng(seed)
    user = rng.integers(0, 6, n)
    item = rng.integers(0, 6, n)
    logit = np.where(user == item, 2.0, -2.0)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"user": [f"u{u}" for u in user], "item": [f"i{i}" for i in item]})
    return X, y


def test_fm_term_is_the_sum_of_pairwise_dot_products():
    torch.manual_seed(0)
    net = DeepFMNet([5, 7, 3], 2, embedding_dim=4, hidden=(8,), dropout=0.0).eval()
    num = torch.randn(6, 2)
    cat = torch.stack([torch.randint(0, c, (6,)) for c in (5, 7, 3)], dim=1)
    e = net.embedding(num, cat)
    pairwise = sum((e[:, i] * e[:, j]).sum(-1) for i in range(5) for j in range(i + 1, 5))
    deep = net.dnn_out(net.dnn(e.flatten(1))).squeeze(-1)
    expected = net.linear(num, cat) + pairwise + deep
    torch.testing.assert_close(net(num, cat), expected, atol=1e-5, rtol=1e-5)


def test_learns_a_feature_cross_that_a_main_effects_model_cannot():
    X, y = cross_frame(2000, 0)
    Xt, yt = cross_frame(1000, 1)
    m = DeepFMClassifier(
        embedding_dim=4, hidden=(16,), epochs=12, batch_size=128, lr=2e-2, patience=None, seed=0
    )
    auc = roc_auc_score(yt, m.fit(X, y).predict_proba(Xt))
    # the Bayes-optimal AUC here is about 0.785 (the match indicator); main effects alone give 0.5
    assert auc > 0.72


def test_bad_hyper_parameters_are_named():
    X, y = cross_frame(100, 0)
    with pytest.raises(ValidationError, match="dropout"):
        DeepFMClassifier(dropout=1.0, epochs=1).fit(X, y)
    with pytest.raises(ValidationError, match="embedding dim"):
        DeepFMClassifier(embedding_dim=0, epochs=1).fit(X, y)
