import numpy as np
import pandas as pd
import pytest
import torch

from shopml.core.errors import ValidationError
from shopml.recommend.sasrec import SASRec
from tests.recommend.contract import RecommenderContract, toy_interactions


def small(**kw):
    params = {
        "embedding_dim": 16,
        "layers": 1,
        "max_len": 10,
        "epochs": 40,
        "lr": 0.01,
        "batch_size": 32,
        "num_negatives": 16,
        "dropout": 0.1,
        "seed": 0,
        "device": "cpu",
    }
    return SASRec(**{**params, **kw})


class TestSASRec(RecommenderContract):
    def _get_model(self):
        return small()


def cycle_sequences(
    n_users: int = 80, n_items: int = 20, length: int = 8, seed: int = 0
) -> pd.DataFrame:
    """Every user walks the cycle i0 -> i1 -> ... -> i19 -> i0 from a random start."""
    rng = np.random.default_rng(seed)
    start = rng.integers(0, n_items, n_users)
    steps = np.arange(length)
    items = (start[:, None] + steps[None, :]) % n_items
    return pd.DataFrame(
        {
            "user_id": np.repeat([f"u{u}" for u in range(n_users)], length),
            "item_id": [f"i{i}" for i in items.ravel()],
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(np.tile(steps, n_users), unit="h"),
        }
    )


@pytest.mark.parametrize("loss, negatives", [("gbce", 8), ("softmax", None)])
def test_learns_deterministic_next_item(loss, negatives):
    model = small(loss=loss, num_negatives=negatives, epochs=30).fit(cycle_sequences())
    firsts = []
    for start in range(0, 20, 3):
        hist = [f"i{(start + t) % 20}" for t in range(4)]
        firsts.append(
            model.recommend_for_history(hist, k=1).item_id.iloc[0] == f"i{(start + 4) % 20}"
        )
    assert np.mean(firsts) >= 0.85
    losses = [r["loss"] for r in model.loss_history_]
    assert losses[-1] < 0.5 * losses[0]


def test_order_matters():
    """The same items in another order predict another next item: the model reads the sequence."""
    model = small(num_negatives=8, epochs=30).fit(cycle_sequences())
    forward = model.recommend_for_history(["i3", "i4", "i5", "i6"], k=1).item_id.iloc[0]
    backward = model.recommend_for_history(
        ["i6", "i5", "i4", "i3"], k=1, exclude_seen=False
    ).item_id.iloc[0]
    assert forward == "i7" and backward != "i7"


def test_load_keeps_time_order(tmp_path):
    """Saved models keep each user's sequence in time order, not the matrix's column order."""
    df = cycle_sequences()
    model = small(num_negatives=8, epochs=10).fit(df)
    model.save(tmp_path / "m")
    again = SASRec.load(tmp_path / "m")
    for a, b in zip(model._user_sequences_, again._user_sequences_, strict=True):
        np.testing.assert_array_equal(a, b)


def test_reproducible_and_seed_sensitive():
    df, _ = toy_interactions()
    a, b, c = small(epochs=3).fit(df), small(epochs=3).fit(df), small(epochs=3, seed=1).fit(df)
    wa, wb, wc = (m.module_.item.weight.detach() for m in (a, b, c))
    torch.testing.assert_close(wa, wb)
    assert not torch.allclose(wa, wc)


def test_gbce_beta():
    """t=0 is plain BCE (beta=1); t=1 gives beta=alpha, the sampling rate."""
    model = small()
    pos, neg = torch.tensor([0.3]), torch.tensor([[0.1, -0.2]])
    hit = torch.zeros_like(neg, dtype=torch.bool)
    k, n = 2, 11  # alpha = 0.2
    import math

    import torch.nn.functional as F

    def expected(beta):
        shift = math.log(beta / k)
        return float(
            (beta * F.softplus(-(pos + shift)) + F.softplus(neg + shift).sum(-1)) / (k + 1)
        )

    model.gbce_t = 0.0
    assert float(model._gbce(pos, neg, hit, k, n)) == pytest.approx(expected(1.0))
    model.gbce_t = 1.0
    assert float(model._gbce(pos, neg, hit, k, n)) == pytest.approx(expected(0.2))
    # an accidental hit among the negatives does not count as a negative
    assert float(model._gbce(pos, neg, torch.tensor([[True, True]]), k, n)) < float(
        model._gbce(pos, neg, hit, k, n)
    )


def test_bad_params():
    df, _ = toy_interactions()
    with pytest.raises(ValidationError, match="divisible"):
        small(embedding_dim=10, heads=3).fit(df)
    with pytest.raises(ValidationError, match="loss"):
        small(loss="hinge").fit(df)
