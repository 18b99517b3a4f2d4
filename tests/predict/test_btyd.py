"""BG/NBD and Gamma-Gamma: published CDNOW parameters, the lifetimes peer, stability, contract."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shopml.core.errors import ValidationError
from shopml.data.loaders import data_dir
from shopml.predict.btyd import BGNBD, GammaGamma, NotFittedError, bgnbd_log_likelihood

CDNOW = data_dir() / "cdnow"
needs_cdnow = pytest.mark.skipif(
    not (CDNOW / "cdnow_customers_summary.csv").exists(), reason="CDNOW not in the data directory"
)

# Fader, Hardie & Lee (2005), "Counting your customers the easy way", and Hardie's note 025
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
PUBLISHED_GG = {"p": 6.25, "q": 3.74, "v": 15.45}
CDNOW_PARAMS = np.array([0.243, 4.414, 0.793, 2.426])


@pytest.fixture(scope="module")
def summary():
    return pd.read_csv(CDNOW / "cdnow_customers_summary.csv")


@pytest.fixture(scope="module")
def spend():
    d = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    return d[d["x"] > 0]


@pytest.fixture(scope="module")
def bgnbd(summary):
    return BGNBD().fit(summary["frequency"], summary["recency"], summary["T"])


@pytest.fixture(scope="module")
def gg(spend):
    return GammaGamma().fit(spend["x"], spend["zbar"])


def fixed(params, cls=BGNBD):
    """A model with given parameters (as ``load`` builds one)."""
    m = cls()
    m._params = np.asarray(params, dtype=float)
    return m


# --------------------------------------------------------------------------- published values


@needs_cdnow
def test_bgnbd_matches_published_cdnow_parameters(bgnbd):
    for name, value in PUBLISHED_BGNBD.items():
        assert bgnbd.params_[name] == pytest.approx(value, rel=0.01), name
    assert bgnbd.log_likelihood_ == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.05)
    assert bgnbd.n_customers_ == 2357
    # every starting point reaches the same optimum
    assert bgnbd.optimizer_["agreeing_starts"] == bgnbd.optimizer_["starts"]


@needs_cdnow
def test_gamma_gamma_matches_published_cdnow_parameters(gg, spend):
    for name, value in PUBLISHED_GG.items():
        assert gg.params_[name] == pytest.approx(value, rel=0.01), name
    assert gg.n_customers_ == len(spend) == 946


@needs_cdnow
def test_gamma_gamma_skips_customers_without_repeat_purchases(gg):
    d = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv")
    all_rows = GammaGamma().fit(d["x"], d["zbar"])  # zbar is 0 where x is 0
    assert all_rows.params_ == pytest.approx(gg.params_, rel=1e-6)


# --------------------------------------------------------------------------- the lifetimes peer


@needs_cdnow
def test_bgnbd_log_likelihood_and_parameters_agree_with_lifetimes(bgnbd, summary):
    from lifetimes import BetaGeoFitter

    x, tx, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    peer = BetaGeoFitter().fit(x, tx, T)
    peer_params = peer.params_[["r", "alpha", "a", "b"]].to_numpy()
    # lifetimes reports a mean on rescaled times: evaluate its own function on the raw data
    nll = BetaGeoFitter._negative_log_likelihood(
        np.log(peer_params), x, tx, T, np.ones(len(x)), 0.0
    )
    peer_ll = -nll * len(x)
    assert bgnbd.log_likelihood_ == pytest.approx(peer_ll, rel=1e-4)
    assert bgnbd.log_likelihood_ >= peer_ll - 1e-6  # never a worse optimum than the peer
    assert list(bgnbd.params_.values()) == pytest.approx(peer_params, rel=1e-3)
    # same likelihood function, customer by customer, at the same parameters
    ours = bgnbd_log_likelihood(peer_params, x, tx, T).sum()
    assert ours == pytest.approx(peer_ll, rel=1e-12)


@needs_cdnow
def test_bgnbd_predictions_equal_lifetimes_at_the_same_parameters(summary):
    from lifetimes import BetaGeoFitter

    x, tx, T = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    peer = BetaGeoFitter()
    peer.params_ = pd.Series(CDNOW_PARAMS, index=["r", "alpha", "a", "b"])
    m = fixed(CDNOW_PARAMS)
    for t in (1.0, 39.0, 104.0):
        np.testing.assert_allclose(
            m.predict_purchases(t, x, tx, T),
            peer.conditional_expected_number_of_purchases_up_to_time(t, x, tx, T),
            rtol=1e-7,
        )
    np.testing.assert_allclose(
        m.p_alive(x, tx, T), peer.conditional_probability_alive(x, tx, T), rtol=1e-12
    )
    ts = np.array([1.0, 39.0, 78.0])
    np.testing.assert_allclose(
        m.expected_purchases(ts), peer.expected_number_of_purchases_up_to_time(ts), rtol=1e-7
    )


@needs_cdnow
def test_gamma_gamma_log_likelihood_spend_and_clv_agree_with_lifetimes(gg, spend, summary):
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    x, m = spend["x"].to_numpy(), spend["zbar"].to_numpy()
    peer = GammaGammaFitter().fit(x, m)
    peer_ll = -peer._negative_log_likelihood_ * len(x)  # no rescaling in this fitter
    assert gg.log_likelihood_ == pytest.approx(peer_ll, rel=1e-4)
    assert gg.log_likelihood_ >= peer_ll - 1e-6
    assert gg.log_likelihood(x, m).sum() == pytest.approx(gg.log_likelihood_, rel=1e-12)
    # at the same parameters: expected spend and a 12-month CLV discounted 1% a month
    peer.params_ = pd.Series(gg.params_)
    np.testing.assert_allclose(
        gg.conditional_expected_average_profit(x, m),
        peer.conditional_expected_average_profit(x, m),
        rtol=1e-12,
    )
    d = pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv").iloc[:300]
    bg_peer = BetaGeoFitter()
    bg_peer.params_ = pd.Series(CDNOW_PARAMS, index=["r", "alpha", "a", "b"])
    bg_peer.predict = bg_peer.conditional_expected_number_of_purchases_up_to_time  # as fit sets it
    want = peer.customer_lifetime_value(
        bg_peer, d["x"], d["t_x"], d["T"], d["zbar"], time=12, discount_rate=0.01, freq="W"
    )
    got = gg.clv(
        fixed(CDNOW_PARAMS),
        d["x"],
        d["t_x"],
        d["T"],
        d["zbar"],
        horizon=12 * 4.345,
        step=4.345,
        discount_rate=0.01,
    )
    np.testing.assert_allclose(got, want.to_numpy(), rtol=1e-7)


# --------------------------------------------------------------------------- numerics


def _mp_alive(mp, r, alpha, a, b, x, T, t):
    """Fader-Hardie-Lee eq. (10) without the P(alive) factor, in mpmath."""
    c = a + b + x - 1
    z = t / (alpha + T + t)
    return c / (a - 1) * (1 - (1 - z) ** (r + x) * mp.hyp2f1(r + x, b + x, c, z))


@pytest.mark.parametrize(
    "params",
    [
        CDNOW_PARAMS,
        # integer parameters: scipy's hyp2f1 returns inf / NaN at large frequencies here
        np.array([1.0, 1.0, 2.0, 1.0]),
        np.array([2.0, 4.0, 3.0, 0.5]),
        # a + b = 1: the closed form is 0/0 for customers without repeat purchases
        np.array([0.5, 2.0, 0.5, 0.5]),
    ],
)
def test_conditional_expectation_matches_high_precision_reference(params):
    """Against the published formula evaluated by mpmath at 50 digits, extreme histories included."""
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    r, alpha, a, b = (mp.mpf(float(v)) for v in params)
    cases = [(0, 0.0, 38.86, 39.0), (2, 30.43, 38.86, 39.0), (100, 1.0, 1.0, 19.0), (300, 38.0, 38.86, 39.0), (3000, 300.0, 300.0, 520.0), (5, 1.0, 500.0, 5000.0), (50, 10.0, 10.0, 0.01)]  # fmt: skip
    m = fixed(params)
    for x, tx, T, t in cases:
        got = float(m.predict_purchases(t, x, tx, T))
        X, TX, TT, tt = (mp.mpf(v) for v in (x, tx, T, t))
        if abs(a + b - 1) > 1e-9 or x > 0:
            ref = _mp_alive(mp, r, alpha, a, b, X, TT, tt)
        else:  # the limit, from both sides
            ref = sum(_mp_alive(mp, r, alpha, a, b + d, X, TT, tt) for d in (-1e-20, 1e-20)) / 2
        if x > 0:
            ref /= 1 + a / (b + X - 1) * ((alpha + TT) / (alpha + TX)) ** (r + X)
        assert got == pytest.approx(float(ref), rel=1e-8), (x, tx, T, t)


def test_a_equal_to_one_is_handled_without_loss():
    """The closed form is 0/0 at a = 1; the model evaluates it as the limit."""
    x, tx, T = np.array([0, 3, 30]), np.array([0.0, 20.0, 35.0]), np.full(3, 39.0)
    at_one = fixed([0.3, 5.0, 1.0, 2.5]).predict_purchases(39, x, tx, T)
    near = fixed([0.3, 5.0, 1.0 + 1e-4, 2.5]).predict_purchases(39, x, tx, T)
    assert np.isfinite(at_one).all()
    np.testing.assert_allclose(at_one, near, rtol=1e-3)


def test_extreme_inputs_stay_finite_and_ordered():
    m = fixed(CDNOW_PARAMS)
    x = np.array([0, 1, 30, 300, 3000, 300])
    tx = np.array([0.0, 0.5, 38.0, 38.8, 38.85, 0.01])
    T = np.full(6, 38.86)
    for t in (1e-6, 1.0, 39.0, 1e4):
        pred = m.predict_purchases(t, x, tx, T)
        assert np.isfinite(pred).all() and (pred >= 0).all()
    pa = m.p_alive(x, tx, T)
    assert np.isfinite(pa).all() and ((pa >= 0) & (pa <= 1)).all()
    # 300 purchases with the last one long ago: almost surely gone
    assert pa[-1] < 1e-10 and pa[3] > 0.9


params = st.tuples(
    st.floats(0.01, 20), st.floats(0.01, 500), st.floats(0.01, 20), st.floats(0.01, 50)
).filter(lambda p: abs(p[2] - 1) > 1e-3)


@settings(max_examples=60, deadline=None)
@given(params, st.floats(0.5, 500), st.floats(0.01, 500))
def test_more_purchases_at_the_same_recency_mean_more_future_purchases(p, T, t):
    m = fixed(p)
    x = np.arange(1, 301)
    pred = m.predict_purchases(t, x, T, T)  # recency = T: the last purchase is today
    assert np.isfinite(pred).all()
    assert (np.diff(pred) >= -1e-9 * pred[1:]).all()


@settings(max_examples=60, deadline=None)
@given(params, st.integers(0, 300), st.floats(0, 1), st.floats(0.1, 1000))
def test_p_alive_is_a_probability_and_prediction_grows_with_horizon(p, x, frac, T):
    m = fixed(p)
    tx = frac * T if x > 0 else 0.0
    pa = m.p_alive(x, tx, T)
    assert 0.0 <= float(pa) <= 1.0
    ts = np.array([0.0, 0.1, 1.0, 10.0, 100.0, 1000.0])
    pred = m.predict_purchases(ts, x, tx, T)
    assert np.isfinite(pred).all() and pred[0] == 0.0
    assert (np.diff(pred) >= -1e-9 * pred[1:]).all()


@settings(max_examples=40, deadline=None)
@given(params, st.integers(1, 300), st.floats(0.1, 100))
def test_an_older_last_purchase_means_less_chance_alive(p, x, T):
    m = fixed(p)
    pa = m.p_alive(x, np.linspace(0, T, 20), T)
    assert (np.diff(pa) >= -1e-12).all()


# --------------------------------------------------------------------------- fitting behaviour


@needs_cdnow
def test_fit_is_invariant_to_the_time_unit_and_to_collapsing_identical_customers(bgnbd, summary):
    days = BGNBD().fit(summary["frequency"], summary["recency"] * 7, summary["T"] * 7)
    for k in ("r", "a", "b"):
        assert days.params_[k] == pytest.approx(bgnbd.params_[k], rel=1e-4)
    assert days.params_["alpha"] == pytest.approx(7 * bgnbd.params_["alpha"], rel=1e-4)
    rows, counts = np.unique(
        summary[["frequency", "recency", "T"]].to_numpy(), axis=0, return_counts=True
    )
    weighted = BGNBD().fit(rows[:, 0], rows[:, 1], rows[:, 2], weights=counts)
    assert list(weighted.params_.values()) == pytest.approx(list(bgnbd.params_.values()), rel=1e-6)
    assert weighted.log_likelihood_ == pytest.approx(bgnbd.log_likelihood_, rel=1e-9)


def test_fit_recovers_simulated_parameters():
    """Data drawn from the BG/NBD process itself: the estimates land near the truth."""
    rng = np.random.default_rng(7)
    n, T = 20_000, 52.0
    r, alpha, a, b = 0.5, 5.0, 0.8, 3.0
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    # repeat purchase k (0-based) at the k-th cumulative exponential gap; after each purchase the
    # customer drops out with probability p, so purchases 0..(first drop) are the only ones made
    times = np.cumsum(rng.exponential(1 / lam[:, None], (n, 200)), axis=1)
    drop = rng.random((n, 200)) < p[:, None]
    last_possible = np.where(drop.any(axis=1), drop.argmax(axis=1), 200)
    made = (times <= T) & (np.arange(200)[None, :] <= last_possible[:, None])
    x = made.sum(axis=1)
    tx = np.where(
        x > 0, np.take_along_axis(times, np.maximum(x - 1, 0)[:, None], axis=1)[:, 0], 0.0
    )
    m = BGNBD().fit(x, tx, np.full(n, T))
    assert m.params_["r"] == pytest.approx(r, rel=0.15)
    assert m.params_["alpha"] == pytest.approx(alpha, rel=0.2)
    assert m.params_["a"] == pytest.approx(a, rel=0.25)
    assert m.params_["b"] == pytest.approx(b, rel=0.35)


# --------------------------------------------------------------------------- contract


def test_save_and_load_round_trip(tmp_path):
    m = fixed(CDNOW_PARAMS)
    m.log_likelihood_ = -1.0
    path = m.save(tmp_path / "bgnbd.json")
    back = BGNBD.load(path)
    assert back.params_ == m.params_ and back.log_likelihood_ == -1.0
    x, tx, T = [0, 2, 5], [0.0, 30.0, 10.0], [38.0, 38.0, 38.0]
    np.testing.assert_array_equal(
        back.predict_purchases(39, x, tx, T), m.predict_purchases(39, x, tx, T)
    )
    g = fixed([6.25, 3.74, 15.45], GammaGamma)
    gpath = g.save(tmp_path / "gg.json")
    assert GammaGamma.load(gpath).params_ == g.params_
    with pytest.raises(ValidationError, match="expected a saved BGNBD"):
        BGNBD.load(gpath)


def test_unfitted_model_says_so():
    with pytest.raises(NotFittedError, match="not fitted"):
        BGNBD().predict_purchases(1, [1], [1], [2])
    with pytest.raises(NotFittedError):
        GammaGamma().conditional_expected_average_profit()


@pytest.mark.parametrize(
    ("x", "tx", "T", "match"),
    [
        ([-1, 2], [0.0, 1.0], [5.0, 5.0], "frequency must be >= 0"),
        ([1.5, 2], [1.0, 1.0], [5.0, 5.0], "whole number"),
        ([1, 2], [6.0, 1.0], [5.0, 5.0], "recency must be <= T"),
        ([1, 2], [-1.0, 1.0], [5.0, 5.0], "recency must be >= 0"),
        ([0, 2], [3.0, 1.0], [5.0, 5.0], "recency must be 0 where frequency is 0"),
        ([1, 2], [1.0, np.nan], [5.0, 5.0], "non-finite"),
        ([1, 2, 3], [1.0, 1.0], [5.0, 5.0], "same length"),
        ([1, 2], [1.0, 1.0], [-5.0, 5.0], "T .* must be >= 0"),
    ],
)
def test_bad_inputs_are_named(x, tx, T, match):
    with pytest.raises(ValidationError, match=match):
        BGNBD().fit(x, tx, T)
    with pytest.raises(ValidationError, match=match):
        fixed(CDNOW_PARAMS).predict_purchases(1.0, x, tx, T)


def test_bad_horizon_and_spend_are_named():
    with pytest.raises(ValidationError, match="t .* must be >= 0"):
        fixed(CDNOW_PARAMS).predict_purchases(-1.0, [1], [1.0], [2.0])
    with pytest.raises(ValidationError, match="monetary_value must be > 0"):
        GammaGamma().fit([1, 2, 3], [10.0, -5.0, 3.0])
    with pytest.raises(ValidationError, match="needs customers with repeat purchases"):
        GammaGamma().fit([0, 0, 1], [0.0, 0.0, 3.0])


def test_expected_spend_shrinks_towards_the_population_mean():
    g = fixed([6.25, 3.74, 15.45], GammaGamma)
    pop = g.conditional_expected_average_profit()
    assert pop == pytest.approx(6.25 * 15.45 / 2.74)
    e = g.conditional_expected_average_profit([0, 1, 10, 1000], [0.0, 100.0, 100.0, 100.0])
    assert e[0] == pytest.approx(pop)
    # more repeat purchases: closer to the customer's own mean of 100
    assert pop < e[1] < e[2] < e[3] < 100 and e[3] == pytest.approx(100, rel=0.01)
