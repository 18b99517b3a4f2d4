import numpy as np
import pytest
import torch

from shopml.core.errors import ValidationError
from shopml.recommend.neumf import NeuMF
from tests.recommend.contract import RecommenderContract, toy_interactions


def small(**kw):
    params = {
        "embedding_dim": 8,
        "layers": (16, 8),
        "epochs": 30,
        "lr": 0.01,
        "batch_size": 256,
        "seed": 0,
        "device": "cpu",
    }
    return NeuMF(**{**params, **kw})


class TestNeuMF(RecommenderContract):
    def _get_model(self):
        return small()


@pytest.fixture(scope="module")
def fitted():
    df, _ = toy_interactions()
    return small(layers=(16, 8, 4), dropout=0.1).fit(df), df


def test_loss_decreases(fitted):
    model, _ = fitted
    losses = [r["loss"] for r in model.loss_history_]
    assert losses[-1] < 0.7 * losses[0]


def test_all_item_scores_match_pairwise_scores(fitted):
    """The split first layer used to score every item equals running the network pair by pair."""
    model, _ = fitted
    net = model.module_
    users = torch.tensor([0, 5, 7])
    with torch.no_grad():
        full = net.all_scores(net.gmf_user(users), net.mlp_user(users))
        n = len(model.items_)
        u = users.repeat_interleave(n)
        i = torch.arange(n).repeat(len(users))
        pairs = net.pair_scores(net.gmf_user(u), net.mlp_user(u), i).view(len(users), n)
    torch.testing.assert_close(full, pairs, rtol=1e-5, atol=1e-5)


def test_reproducible(fitted):
    model, df = fitted
    again = small(layers=(16, 8, 4), dropout=0.1).fit(df)
    a, b = model.recommend(["u0", "u1"], k=5), again.recommend(["u0", "u1"], k=5)
    assert a.item_id.tolist() == b.item_id.tolist()
    np.testing.assert_allclose(a.score, b.score, rtol=1e-6)


def test_fold_in_follows_the_history_taste(fitted):
    model, _ = fitted
    for group in (0, 1):
        hist = [f"i{i}" for i in range(group, 16, 2)]
        rec = model.recommend_for_history(hist, k=5)
        assert (rec.item_id.str[1:].astype(int) % 2 == group).mean() >= 0.8


def test_bad_layers():
    df, _ = toy_interactions()
    with pytest.raises(ValidationError, match="layers"):
        small(layers=(16,)).fit(df)
