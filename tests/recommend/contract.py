"""The contract every recommender passes: subclass with ``_get_model()`` (the implicit idiom)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.recommend.base import NotFittedError, Recommender


def toy_interactions(n_users: int = 60, n_items: int = 40, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two taste groups: users of group g interact mostly with items of category g."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        g = u % 2
        pool = np.arange(n_items)[np.arange(n_items) % 2 == g]
        chosen = rng.choice(pool, size=8, replace=False)
        for t, i in enumerate(chosen):
            rows.append((f"u{u}", f"i{i}", pd.Timestamp("2024-01-01") + pd.Timedelta(hours=t + u)))
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "ts"])
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(n_items)], "category": [f"c{i % 2}" for i in range(n_items)], "title": [f"item {i}" for i in range(n_items)]})
    return df, items


class RecommenderContract:
    """Mixin of tests; a test class sets ``_get_model`` returning a fresh, unfitted model."""

    def _get_model(self) -> Recommender:  # pragma: no cover - overridden
        raise AssertionError("override _get_model")

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls):
        df, items = toy_interactions()
        return cls()._get_model().fit(df, items=items), df, items

    def test_unfitted_raises(self):
        with pytest.raises(NotFittedError):
            self._get_model().recommend(["u1"])

    def test_params_unchanged_by_fit(self, fitted):
        model, _, _ = fitted
        assert model.get_params() == self._get_model().get_params()

    def test_recommend_shape_and_order(self, fitted):
        model, _, _ = fitted
        rec = model.recommend(["u0", "u1"], k=5)
        assert list(rec.columns) == ["user_id", "item_id", "score", "rank"]
        assert rec.groupby("user_id").size().tolist() == [5, 5]
        for _, g in rec.groupby("user_id"):
            assert np.all(np.diff(g["score"].to_numpy()) <= 1e-6)
            assert g["rank"].tolist() == [1, 2, 3, 4, 5]

    def test_excludes_seen_by_default(self, fitted):
        model, df, _ = fitted
        seen = set(df.loc[df.user_id == "u0", "item_id"])
        rec = model.recommend(["u0"], k=10)
        assert not seen & set(rec.item_id)
        rec_all = model.recommend(["u0"], k=40, exclude_seen=False)
        assert len(rec_all) == 40

    def test_learns_taste_groups(self, fitted):
        """Users of group g should mostly get items of group g (the toy data's only signal)."""
        model, _, _ = fitted
        if getattr(self, "learns_personal_taste", True) is False:
            pytest.skip("non-personalised model")
        users = [f"u{u}" for u in range(20)]
        rec = model.recommend(users, k=5)
        group_u = rec.user_id.str[1:].astype(int) % 2
        group_i = rec.item_id.str[1:].astype(int) % 2
        assert (group_u == group_i).mean() > 0.7

    def test_category_and_item_filters(self, fitted):
        model, _, _ = fitted
        rec = model.recommend(["u0"], k=5, filters={"include_categories": ["c1"]})
        assert set(rec.item_id.str[1:].astype(int) % 2) == {1}
        allowed = ["i1", "i3", "i5"]
        rec = model.recommend(["u0"], k=5, exclude_seen=False, filters={"allowed_items": allowed})
        assert set(rec.item_id) <= set(allowed)
        with pytest.raises(ValidationError):
            model.recommend(["u0"], filters={"colour": ["red"]})

    def test_unknown_user(self, fitted):
        model, _, _ = fitted
        with pytest.raises(ValidationError, match="unknown user"):
            model.recommend(["nobody"])
        rec = model.recommend(["nobody"], k=3, unknown="popular")
        assert len(rec) == 3

    def test_recommend_for_history(self, fitted):
        model, _, _ = fitted
        hist = ["i0", "i2", "i4", "i6"]
        rec = model.recommend_for_history(hist, k=5)
        assert len(rec) == 5 and not set(hist) & set(rec.item_id)
        rec = model.recommend_for_history(["unknown-item"], k=3)
        assert len(rec) == 3

    def test_similar_items(self, fitted):
        model, _, _ = fitted
        sim = model.similar_items(["i0"], k=4)
        assert len(sim) == 4 and "i0" not in set(sim.similar_item_id)

    def test_bad_k(self, fitted):
        model, _, _ = fitted
        with pytest.raises(ValidationError):
            model.recommend(["u0"], k=0)

    def test_save_load_roundtrip(self, fitted, tmp_path):
        model, _, _ = fitted
        model.save(tmp_path / "m")
        again = type(model).load(tmp_path / "m")
        a = model.recommend(["u0", "u3"], k=5)
        b = again.recommend(["u0", "u3"], k=5)
        assert a.item_id.tolist() == b.item_id.tolist()
        np.testing.assert_allclose(a.score, b.score, rtol=1e-4, atol=1e-5)
        # sequences (time order), categories and titles come back too
        seqs = [list(x) for x in model._user_sequences_]
        assert [list(x) for x in again._user_sequences_] == seqs
        why_a = model.explain("u0", a.item_id.iloc[0])
        why_b = again.explain("u0", a.item_id.iloc[0])
        assert [w.get("title") for w in why_a] == [w.get("title") for w in why_b]
        assert again.recommend(["u0"], k=3, filters={"include_categories": ["c1"]}).shape[0] == 3

    def test_top_k_indices_matches_recommend(self, fitted):
        model, _, _ = fitted
        idx = model.users_.encode(["u0", "u1"])
        fast = model.top_k_indices(idx, 5)
        rec = model.recommend(["u0", "u1"], k=5)
        assert model.items_.decode(fast.ravel()).tolist() == rec.item_id.tolist()

    def test_top_k_for_sequences_matches_recommend_for_history(self, fitted):
        model, _, _ = fitted
        hists = [["i0", "i2", "i4"], ["i1", "i3"]]
        seqs = [model.items_.encode(h) for h in hists]
        # one at a time: models that fold unseen users in learn them per batch
        for h, seq in zip(hists, seqs, strict=True):
            fast = model.top_k_for_sequences([seq], 5, exclude_seen=True)[0]
            rec = model.recommend_for_history(h, k=5)
            assert model.items_.decode(fast).tolist() == rec.item_id.tolist()
        assert model.top_k_for_sequences(seqs, 5).shape == (2, 5)
        with pytest.raises(ValidationError):
            model.top_k_for_sequences([np.array([len(model.items_)])], 5)
