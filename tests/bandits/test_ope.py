"""Each estimator against values computed by hand on a three-row log."""

import numpy as np
import pytest

from shopml.bandits.ope import BanditLogs, bootstrap_ci, estimate, evaluate, slope
from shopml.core.errors import ValidationError

# three rows, two actions, one position
LOGS = BanditLogs(
    action=np.array([0, 1, 0]),
    reward=np.array([1.0, 0.0, 1.0]),
    propensity=np.array([0.5, 0.5, 0.25]),
)
PI = np.array([[0.8, 0.2], [0.8, 0.2], [0.5, 0.5]])[:, :, None]
Q = np.array([[0.6, 0.2], [0.6, 0.2], [0.4, 0.4]])[:, :, None]
# by hand: w = (1.6, 0.4, 2.0); q_pi = (0.52, 0.52, 0.40); r - q(a) = (0.4, -0.2, 0.6)


@pytest.mark.parametrize(
    "name, param, expected",
    [
        ("ips", None, (1.6 + 2.0) / 3),
        ("snips", None, 3.6 / 4.0),
        ("dm", None, 1.44 / 3),
        ("dr", None, 0.48 + (0.64 - 0.08 + 1.2) / 3),
        ("sndr", None, 0.48 + 1.76 / 4.0),
        ("switch_dr", 1.5, 0.48 - 0.08 / 3),  # only the row with w = 0.4 keeps its correction
        ("switch_dr", np.inf, 0.48 + 1.76 / 3),  # = DR
        ("dros", 1.0, 0.48 + (1.6 / 3.56 * 0.4 + 0.4 / 1.16 * -0.2 + 2.0 / 5.0 * 0.6) / 3),
        ("dros", np.inf, 0.48 + 1.76 / 3),  # = DR
        ("dros", 0.0, 0.48),  # = DM
    ],
)
def test_estimators_match_hand_computed_values(name, param, expected):
    assert estimate(name, LOGS, PI, Q, param) == pytest.approx(expected, abs=1e-12)


def test_positions_index_the_target_per_row():
    logs = BanditLogs(
        np.array([1, 0]), np.array([1.0, 1.0]), np.array([0.5, 0.5]), position=np.array([2, 1])
    )
    pi = np.zeros((2, 2, 2))
    pi[:, 1, 1] = 1.0  # action 1 always at position 2
    pi[:, 0, 0] = 1.0  # action 0 always at position 1
    assert estimate("ips", logs, pi) == pytest.approx(2.0)


def test_dm_needs_a_reward_model_and_shapes_are_checked():
    with pytest.raises(ValidationError, match="estimated_rewards"):
        estimate("dm", LOGS, PI)
    with pytest.raises(ValidationError, match="action_dist"):
        estimate("ips", LOGS, PI[:2])
    with pytest.raises(ValidationError, match="propensity"):
        BanditLogs(np.array([0]), np.array([1.0]), np.array([0.0]))
    with pytest.raises(ValidationError, match="unknown estimator"):
        estimate("magic", LOGS, PI, Q)


def test_unbiased_on_a_synthetic_log():
    rng = np.random.default_rng(0)
    n, K = 20_000, 4
    p_true = np.array([0.1, 0.3, 0.2, 0.5])
    a = rng.integers(0, K, n)
    r = (rng.random(n) < p_true[a]).astype(float)
    logs = BanditLogs(a, r, np.full(n, 1 / K))
    pi = np.broadcast_to(np.array([0.0, 0.2, 0.0, 0.8])[None, :, None], (n, K, 1))
    truth = 0.2 * 0.3 + 0.8 * 0.5
    q = np.broadcast_to(np.full(K, 0.3)[None, :, None], (n, K, 1))  # a wrong reward model
    for name in ("ips", "snips", "dr", "sndr"):
        assert estimate(name, logs, pi, q) == pytest.approx(truth, abs=0.02), name
    assert abs(estimate("dm", logs, pi, q) - truth) > 0.1  # DM inherits the model's bias


def test_slope_prefers_low_variance_when_consistent_and_evaluate_gives_intervals():
    lam = slope("dros", LOGS, PI, Q, [1.0, 10.0, np.inf])
    assert lam in (1.0, 10.0, np.inf)
    table = evaluate(LOGS, PI, Q, n_bootstrap=50)
    assert list(table.estimator) == ["dm", "ips", "snips", "dr", "sndr", "switch_dr", "dros"]
    assert (table.lower <= table.value + 1e-12).all() and (table.value <= table.upper + 1e-12).all()
    lo, hi = bootstrap_ci(lambda idx: float(np.mean(np.arange(10)[idx])), 10, 100)
    assert lo < 4.5 < hi
