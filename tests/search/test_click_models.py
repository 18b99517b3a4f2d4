"""Click models: EM fits recover the simulator's truth, beat raw CTR where the ranker is biased."""

import numpy as np
import pandas as pd
import pytest

from shopml.benchmarks.search_clicks import score_estimates
from shopml.core.errors import NotFittedError, ValidationError
from shopml.data.synth.search_logs import simulate_search_logs
from shopml.search.click_models import (
    CascadeModel,
    ClickModel,
    DynamicBayesianNetwork,
    PositionBasedModel,
    sessions_from_frame,
)
from shopml.search.ltr import click_labels


@pytest.fixture(scope="module")
def pbm_logs():
    return simulate_search_logs(user_model="pbm", n_queries=60, n_sessions=30000, seed=3)


@pytest.fixture(scope="module")
def pbm_model(pbm_logs):
    return PositionBasedModel().fit(pbm_logs.query, pbm_logs.docs, pbm_logs.clicks)


@pytest.fixture(scope="module")
def cascade_logs():
    return simulate_search_logs(user_model="cascade", n_queries=60, n_sessions=30000, seed=4)


@pytest.fixture(scope="module")
def dbn_logs():
    return simulate_search_logs(user_model="dbn", n_queries=40, n_sessions=20000, seed=5)


def test_pbm_recovers_position_bias_and_beats_ctr(pbm_logs, pbm_model):
    m = pbm_model
    true = pbm_logs.examination / pbm_logs.examination[0]
    assert np.abs(m.examination_ - true).max() < 0.06
    pairs = m.pair_frame()
    model = score_estimates(pbm_logs, pairs, "relevance")
    ctr = score_estimates(pbm_logs, pairs, "ctr")
    assert model["ndcg@5"] > ctr["ndcg@5"]
    # well-seen pairs: the attraction itself is recovered, on the truth's scale
    t = pbm_logs.truth().merge(pairs, on=["query", "item"])
    t["est"] = m.attraction_[np.searchsorted(m.pairs_, t["query"] * m._doc_base + t["item"])]
    big = t[t["impressions"] > 300]
    assert np.corrcoef(big["est"], big["attraction"])[0, 1] > 0.95
    assert np.abs(big["est"] - big["attraction"]).mean() < 0.05


def test_cascade_model_on_cascade_logs_beats_ctr(cascade_logs):
    m = CascadeModel().fit(cascade_logs.query, cascade_logs.docs, cascade_logs.clicks)
    pairs = m.pair_frame()
    assert score_estimates(cascade_logs, pairs, "relevance")["ndcg@5"] > score_estimates(
        cascade_logs, pairs, "ctr"
    )["ndcg@5"]


def test_dbn_recovers_attraction_and_perseverance(dbn_logs):
    m = DynamicBayesianNetwork().fit(dbn_logs.query, dbn_logs.docs, dbn_logs.clicks)
    assert m.gamma_ == pytest.approx(dbn_logs.config.continuation, abs=0.05)
    t = dbn_logs.truth().merge(m.pair_frame(), on=["query", "item"])
    est = m.attraction_[np.searchsorted(m.pairs_, t["query"] * m._doc_base + t["item"])]
    big = t["impressions"].to_numpy() > 200
    assert np.corrcoef(est[big], t["attraction"][big])[0, 1] > 0.95
    np.testing.assert_allclose(m.relevance_, m.attraction_ * m.satisfaction_)


def test_gamma_one_is_simplified_dbn():
    # no click: every position examined under gamma = 1, so attraction = shrunk clicks / views
    docs = np.array([[0, 1], [0, 1], [1, 0]])
    clicks = np.array([[0, 0], [1, 0], [0, 0]])
    m = DynamicBayesianNetwork(gamma=1.0, prior_strength=0.0).fit([0, 0, 0], docs, clicks)
    np.testing.assert_allclose(m.attraction_, [1 / 3, 0.0], atol=1e-6)


def test_relevance_lookup_ctr_and_persistence(tmp_path, pbm_logs):
    m = DynamicBayesianNetwork(n_iter=5).fit(pbm_logs.query, pbm_logs.docs, pbm_logs.clicks)
    f = m.pair_frame()
    q, d = f["query"].to_numpy()[:50], f["item"].to_numpy()[:50]
    np.testing.assert_allclose(m.relevance(q, d), f["relevance"].to_numpy()[:50])
    np.testing.assert_allclose(m.ctr(q, d), (f["clicks"] / f["impressions"]).to_numpy()[:50])
    unseen = m.relevance(np.array([10_000]), np.array([3]))
    assert unseen[0] == pytest.approx(m.prior_mean_ * m.prior_sat_)
    assert np.isnan(m.ctr(np.array([10_000]), np.array([3]))[0])
    back = ClickModel.load(m.save(tmp_path / "dbn"))
    assert isinstance(back, DynamicBayesianNetwork) and back.gamma_ == m.gamma_
    np.testing.assert_allclose(back.relevance(q, d), m.relevance(q, d))
    pbm = PositionBasedModel(n_iter=5).fit(pbm_logs.query, pbm_logs.docs, pbm_logs.clicks)
    back = ClickModel.load(pbm.save(tmp_path / "pbm"))
    np.testing.assert_allclose(back.examination_, pbm.examination_)
    p = back.click_probability(pbm_logs.query[:3], pbm_logs.docs[:3])
    assert p.shape == (3, pbm_logs.docs.shape[1]) and (p >= 0).all() and (p <= 1).all()


def test_padding_and_long_log():
    log = pd.DataFrame(
        {
            "session": [7, 7, 7, 9, 9],
            "query": [0, 0, 0, 1, 1],
            "item": [5, 6, 7, 5, 8],
            "position": [1, 2, 3, 1, 2],
            "click": [0, 1, 0, 1, 0],
        }
    )
    q, docs, clicks = sessions_from_frame(log)
    assert docs.tolist() == [[5, 6, 7], [5, 8, -1]]
    assert clicks.tolist() == [[0, 1, 0], [1, 0, 0]]
    for cls in (CascadeModel, PositionBasedModel, DynamicBayesianNetwork):
        m = cls(n_iter=10).fit(q, docs, clicks)
        assert len(m.pairs_) == 5 and m.impressions_.sum() == 5
        assert np.all((m.relevance_ > 0) & (m.relevance_ < 1))
    with pytest.raises(ValidationError, match="gaps"):
        sessions_from_frame(log.assign(position=[1, 2, 4, 1, 2]))


def test_bad_inputs():
    m = PositionBasedModel()
    with pytest.raises(ValidationError, match="shape"):
        m.fit([0], [[1, 2]], [[1, 0, 0]])
    with pytest.raises(ValidationError, match="0/1"):
        m.fit([0], [[1, 2]], [[2, 0]])
    with pytest.raises(ValidationError, match="padding"):
        m.fit([0], [[-1, 2]], [[0, 0]])
    with pytest.raises(ValidationError, match="integer"):
        m.fit(["a"], [[1, 2]], [[0, 0]])
    with pytest.raises(NotFittedError):
        m.relevance([0], [1])


def test_click_labels(pbm_logs, pbm_model):
    pairs = pbm_model.pair_frame()
    lab = click_labels(pairs, max_grade=4, min_impressions=20)
    assert set(lab["grade"]) == {0, 1, 2, 3, 4}
    assert len(lab) == (pairs["impressions"] >= 20).sum()
    # grades are ordered like the estimates
    assert lab.groupby("grade")["relevance"].min().is_monotonic_increasing
    assert score_estimates(pbm_logs, lab, "grade")["spearman"] > 0.5
    with pytest.raises(ValidationError, match="impressions"):
        click_labels(pairs, min_impressions=10**9)
