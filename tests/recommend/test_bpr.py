import numpy as np
import pytest
import scipy.sparse as sp
import torch

from shopml.core.errors import ValidationError
from shopml.recommend.bpr import BPR
from shopml.recommend.torch_utils import (
    PositiveSet,
    fold_in,
    minibatches,
    pad_sequences,
    resolve_device,
    sample_negatives,
    seeded,
    train_epochs,
)
from tests.recommend.contract import RecommenderContract, toy_interactions


def small(**kw):
    params = {
        "embedding_dim": 16,
        "epochs": 40,
        "lr": 0.02,
        "weight_decay": 1e-3,
        "batch_size": 64,
        "seed": 0,
        "device": "cpu",
    }
    return BPR(**{**params, **kw})


class TestBPR(RecommenderContract):
    def _get_model(self):
        return small()


@pytest.fixture(scope="module")
def toy():
    return toy_interactions()


def test_loss_decreases(toy):
    df, _ = toy
    model = small().fit(df)
    losses = [r["loss"] for r in model.loss_history_]
    assert len(losses) == 40
    assert losses[-1] < 0.5 * losses[0]


def test_same_seed_same_model_other_seed_other_model(toy):
    df, _ = toy
    a, b, c = small(seed=3).fit(df), small(seed=3).fit(df), small(seed=4).fit(df)
    np.testing.assert_array_equal(
        a.module_.item.weight.detach().numpy(), b.module_.item.weight.detach().numpy()
    )
    assert not np.allclose(
        a.module_.item.weight.detach().numpy(), c.module_.item.weight.detach().numpy()
    )


def test_fit_leaves_global_torch_rng_alone(toy):
    df, _ = toy
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    small(epochs=2).fit(df)
    torch.testing.assert_close(torch.rand(3), expected)


def test_fold_in_ranks_like_a_trained_user(toy):
    """An unseen visitor with a known user's history gets (nearly) that user's recommendations."""
    df, _ = toy
    model = small().fit(df)
    overlaps, same_group = [], []
    for u in range(10):
        hist = df.loc[df.user_id == f"u{u}"].sort_values("ts").item_id.tolist()
        known = set(model.recommend([f"u{u}"], k=5).item_id)
        folded = model.recommend_for_history(hist, k=5).item_id
        overlaps.append(len(known & set(folded)) / 5)
        same_group.append(np.mean(folded.str[1:].astype(int) % 2 == u % 2))
    assert np.mean(same_group) >= 0.9
    assert np.mean(overlaps) >= 0.6


def test_fold_in_is_deterministic(toy):
    df, _ = toy
    model = small().fit(df)
    a = model.recommend_for_history(["i0", "i2", "i4"], k=8)
    b = model.recommend_for_history(["i0", "i2", "i4"], k=8)
    assert a.item_id.tolist() == b.item_id.tolist()
    np.testing.assert_allclose(a.score, b.score)


def test_sgd_optimizer_and_bad_params(toy):
    df, _ = toy
    model = small(optimizer="sgd", lr=0.05).fit(df)
    assert model.loss_history_[-1]["loss"] < model.loss_history_[0]["loss"]
    with pytest.raises(ValidationError, match="optimizer"):
        small(optimizer="lbfgs").fit(df)
    with pytest.raises(ValidationError, match="embedding_dim"):
        small(embedding_dim=0).fit(df)


def test_early_stopping_restores_best_epoch(toy):
    df, _ = toy
    scores = [0.1, 0.5, 0.4, 0.3, 0.2, 0.1]
    seen = {}

    def callback(model, epoch):
        seen[epoch] = model.module_.item.weight.detach().clone()
        return scores[epoch]

    model = small(epochs=6, patience=2).set_epoch_callback(callback).fit(df)
    assert [r["epoch"] for r in model.loss_history_] == [0, 1, 2, 3]  # stopped after 2 stale epochs
    torch.testing.assert_close(model.module_.item.weight.detach(), seen[1])


# ------------------------------------------------------------------ torch_utils


def test_pad_sequences_right_aligns_and_truncates():
    out = pad_sequences(
        [np.array([5, 6, 7]), np.array([], dtype=np.int64), np.array([1])], max_len=2
    )
    np.testing.assert_array_equal(out, [[7, 8], [0, 0], [0, 2]])


def test_minibatches_cover_every_index_once():
    rng = np.random.default_rng(0)
    batches = list(minibatches(10, 3, rng))
    assert [len(b) for b in batches] == [3, 3, 3, 1]
    assert sorted(np.concatenate(batches).tolist()) == list(range(10))
    with pytest.raises(ValidationError):
        list(minibatches(10, 0))


def test_negatives_avoid_positives():
    X = sp.csr_matrix(
        np.array([[1, 1, 1, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 1, 1]], dtype=np.float32)
    )
    pos = PositiveSet(X)
    assert pos.contains(np.array([0, 0, 1]), np.array([2, 3, 7])).tolist() == [True, False, True]
    rows = np.repeat([0, 1], 500)
    neg = sample_negatives(np.random.default_rng(0), rows, 8, 4, pos)
    assert neg.shape == (1000, 4)
    assert not pos.contains(np.repeat(rows[:, None], 4, axis=1), neg).any()


def test_fold_in_fits_a_user_vector():
    """With items fixed, fold-in learns a vector that scores the history above the rest."""
    items = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9]])
    H = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=np.float32))
    (p,) = fold_in(
        [torch.zeros(2, 2)],
        lambda ps, r, i: (ps[0][r] * items[i]).sum(-1),
        H,
        "bpr",
        50,
        0.1,
        0.0,
        2,
        seed=0,
    )
    scores = p @ items.T
    assert (scores[0, :2].min() > scores[0, 2:].max()) and (
        scores[1, 2:].min() > scores[1, :2].max()
    )
    with pytest.raises(ValidationError, match="loss"):
        fold_in(
            [torch.zeros(2, 2)], lambda ps, r, i: ps[0][r].sum(-1), H, "mse", 1, 0.1, 0.0, 1, seed=0
        )


def test_train_epochs_without_callback_runs_all_epochs():
    module = torch.nn.Linear(1, 1)
    history = train_epochs(lambda e: 1.0 / (e + 1), 3, module)
    assert [r["loss"] for r in history] == [1.0, 0.5, pytest.approx(1 / 3)]
    assert not module.training


def test_seeded_and_device():
    with seeded(5) as rng:
        a, x = torch.rand(2), rng.random()
    with seeded(5) as rng:
        b, y = torch.rand(2), rng.random()
    torch.testing.assert_close(a, b)
    assert x == y
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ValidationError):
        resolve_device("not-a-device")
