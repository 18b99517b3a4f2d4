"""The search-log simulator: shapes, user models and the documented generative model."""

import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.data.synth.search_logs import simulate_search_logs


def test_shapes_and_truth():
    logs = simulate_search_logs(n_queries=20, docs_per_query=8, slate_size=5, n_sessions=500)
    assert logs.docs.shape == logs.clicks.shape == (500, 5)
    assert logs.query.shape == (500,)
    # every shown item is one of the session's query candidates, none twice in a slate
    for s in range(0, 500, 37):
        assert set(logs.docs[s]) <= set(logs.candidates[logs.query[s]])
        assert len(set(logs.docs[s])) == 5
    t = logs.truth()
    assert len(t) == 20 * 8 and t["grade"].between(0, 4).all()
    assert (np.diff(t.groupby("grade")["attraction"].mean().to_numpy()) > 0).all()
    assert len(logs.to_frame()) == 500 * 5


def test_cascade_clicks_at_most_once_and_pbm_follows_examination():
    casc = simulate_search_logs(user_model="cascade", n_sessions=3000, seed=1)
    assert casc.clicks.sum(axis=1).max() == 1
    pbm = simulate_search_logs(user_model="pbm", n_sessions=20000, seed=1, ranker_error=0.0,
                               session_noise=100.0)
    # with the ranking nearly random, CTR by position follows the examination curve 1/r
    ctr = pbm.clicks.mean(axis=0)
    assert ctr[0] / ctr[4] == pytest.approx(5.0, rel=0.25)


def test_bad_config():
    with pytest.raises(ValidationError, match="user_model"):
        simulate_search_logs(user_model="ubm")
    with pytest.raises(ValidationError, match="slate_size"):
        simulate_search_logs(docs_per_query=5, slate_size=10)
