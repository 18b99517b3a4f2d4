import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import NotFittedError, ValidationError
from shopml.search import SearchEngine


@pytest.fixture(scope="module")
def engine(catalogue, encoder) -> SearchEngine:
    return SearchEngine(encoder=encoder, depth=12).fit(catalogue)


def _judgements(catalogue: pd.DataFrame) -> pd.DataFrame:
    """Queries made of title words: the item itself is highly relevant, a random other is not."""
    rng = np.random.default_rng(0)
    rows = []
    for i, title in enumerate(catalogue["title"]):
        words = [w for w in title.lower().split() if w.isalpha() and len(w) > 2]
        for n in (1, 2, 3):
            q = " ".join(words[:n])
            rows.append((q, catalogue["item_id"][i], 3.0))
            other = (i + 1 + rng.integers(0, 10)) % len(catalogue)
            rows.append((q, catalogue["item_id"][other], 1.0))
    return pd.DataFrame(rows, columns=["query", "item_id", "relevance"])


def test_search_returns_ranked_items_with_features(engine):
    res = engine.search("cordless drill", k=5)
    assert list(res.columns[:5]) == ["rank", "item_id", "title", "score", "bm25"]
    assert {"dense", "rrf", "overlap_frac", "char3", "bm25_title", "bm25_brand"} <= set(res.columns)
    assert res["item_id"].iloc[0] == "i0"
    assert list(res["rank"]) == list(range(1, len(res) + 1))
    assert res["score"].is_monotonic_decreasing
    assert len(res) <= 5
    assert res.attrs["corrected_query"] == "cordless drill"


def test_typos_are_corrected_before_retrieval(engine):
    res = engine.search("cordles dril", k=3)
    assert res.attrs["corrected_query"] == "cordless drill"
    assert res["item_id"].iloc[0] == "i0"
    assert res["corrected"].iloc[0] == 1.0


def test_units_match_across_spellings(engine):
    res = engine.search('3/4" pvc pipe 10 feet', k=2, method="bm25")
    assert res["item_id"].iloc[0] == "i6"


def test_filters(engine, catalogue):
    price = catalogue.set_index("item_id")["price"]
    res = engine.search("drill", k=10, filters={"price": (None, 100)})
    assert len(res) and (price[res["item_id"]] <= 100).all()
    res = engine.search("drill", k=10, filters={"price": (None, 100)}, method="bm25")
    assert list(res["item_id"]) == ["i1", "i11"] or list(res["item_id"]) == ["i11", "i1"]
    res = engine.search("white", k=10, filters={"category": ["paint", "bath"]}, method="bm25")
    assert set(res["item_id"]) == {"i8", "i9"}
    res = engine.search(
        "paint", k=10, filters={"brand": "Behr", "price": (36, None)}, method="bm25"
    )
    assert list(res["item_id"]) == ["i9"]
    with pytest.raises(ValidationError, match="unknown column 'colour'"):
        engine.search("paint", filters={"colour": "red"})
    with pytest.raises(ValidationError, match="low, high"):
        engine.search("paint", filters={"price": (1, 2, 3)})


def test_methods_and_batch(engine):
    bm = engine.search_batch(["hammer", "garden hose"], k=3, method="bm25")
    assert set(bm["query_idx"]) == {0, 1}
    assert bm.groupby("query_idx")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    assert bm.loc[bm["query_idx"] == 1, "item_id"].iloc[0] == "i5"
    dense = engine.search("bulb light", k=2, method="dense")
    assert dense["item_id"].iloc[0] == "i4"
    with pytest.raises(ValidationError, match="fit_ranker"):
        engine.search("hammer", method="rerank")
    with pytest.raises(ValidationError, match="method"):
        engine.search("hammer", method="magic")


def test_learned_ranker_and_explanations(catalogue, encoder):
    j = _judgements(catalogue)
    eng = SearchEngine(
        encoder=encoder, depth=12, ranker_params={"n_estimators": 30, "min_child_samples": 5}
    ).fit(catalogue, judgements=j)
    assert eng.default_method() == "rerank"
    assert eng.fusion_.weights_.sum() == pytest.approx(1.0)
    res = eng.search("claw hammer", k=4, explain=True)
    assert res["item_id"].iloc[0] == "i2"
    contrib = res.filter(like="contrib_")
    # SHAP contributions add up to the re-ranker's score
    np.testing.assert_allclose(contrib.sum(axis=1), res["score"], rtol=1e-5, atol=1e-6)
    fused = eng.search("claw hammer", k=4, method="fusion")
    assert fused["item_id"].iloc[0] == "i2"


def test_lexical_only_and_item_features(catalogue):
    events = pd.DataFrame(
        {
            "item_id": ["i0", "i0", "i0", "i2", "i0"],
            "event_type": ["view", "view", "click", "view", "purchase"],
        }
    )
    eng = SearchEngine(encoder=None).fit(catalogue, events=events)
    res = eng.search("drill", k=3)
    assert "dense" not in res.columns
    assert eng.default_method() == "bm25"
    assert {"price", "popularity", "ctr"} <= set(res.columns)
    row = res.set_index("item_id").loc["i0"]
    assert row["popularity"] == pytest.approx(np.log1p(4))
    assert row["price"] == pytest.approx(np.log1p(129.0))


def test_input_errors(catalogue, encoder):
    with pytest.raises(NotFittedError):
        SearchEngine().search("x")
    with pytest.raises(ValidationError, match="item_id"):
        SearchEngine().fit(pd.DataFrame({"title": ["a"]}))
    with pytest.raises(ValidationError, match="duplicate item_id"):
        SearchEngine(encoder=None).fit(pd.DataFrame({"item_id": ["a", "a"], "title": ["x", "y"]}))
    with pytest.raises(ValidationError, match="no text"):
        SearchEngine(encoder=None).fit(pd.DataFrame({"item_id": ["a"], "price": [1.0]}))
    eng = SearchEngine(encoder=None).fit(catalogue)
    with pytest.raises(ValidationError, match="non-empty string"):
        eng.search("  ")
    with pytest.raises(ValidationError, match="judgements must"):
        eng.fit_ranker(pd.DataFrame({"query": ["x"]}))


def test_save_load_roundtrip(catalogue, encoder, tmp_path):
    eng = SearchEngine(
        encoder=encoder, depth=12, ranker_params={"n_estimators": 20, "min_child_samples": 5}
    ).fit(catalogue, judgements=_judgements(catalogue))
    eng.save(tmp_path / "engine")
    with pytest.raises(ValidationError, match="custom encoder"):
        SearchEngine.load(tmp_path / "engine")
    back = SearchEngine.load(tmp_path / "engine", encoder=encoder)
    for method in ("rerank", "fusion", "rrf"):
        a = eng.search("cordles drill", k=5, method=method)
        b = back.search("cordles drill", k=5, method=method)
        pd.testing.assert_frame_equal(a, b)
    # the relevance regressor comes back too
    X = eng.search("hammer", k=3)
    np.testing.assert_allclose(
        back.regressor_.predict(X[back.regressor_.feature_names_]),
        eng.regressor_.predict(X[eng.regressor_.feature_names_]),
    )
