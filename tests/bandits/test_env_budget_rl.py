"""The simulator environments, the budget pacer's LP and the DQN agent (small and fast)."""

import numpy as np
import pytest

from shopml.bandits.budget import BudgetPacer, solve_allocation
from shopml.bandits.rl import DQNAgent, run_sessions
from shopml.core.errors import ValidationError
from shopml.core.estimator import load_model
from shopml.data.synth import SimConfig, simulate
from shopml.data.synth.env import BanditEnv, SessionEnv

CFG = SimConfig(n_users=400, n_items=120, n_categories=4, days=10, seed=5)


@pytest.fixture(scope="module")
def env():
    return BanditEnv(CFG, n_arms=6, seed=2)


def test_env_reuses_the_simulated_world():
    res = simulate(CFG)
    e = BanditEnv(CFG, n_arms=6, seed=2)
    # the same catalogue as the simulated tables: the truth's item vectors are the environment's
    order = np.argsort(res.truth.item_id)
    np.testing.assert_allclose(res.truth.quality[order], e.cat.quality[np.argsort(e.cat.ids)])
    np.testing.assert_allclose(res.truth.item_factors[order], e.cat.factors[np.argsort(e.cat.ids)])
    assert e.cat.n == CFG.n_items and e.cust.n == CFG.n_users


def test_env_truth_regret_and_clicks(env):
    rnd = env.observe(3000)
    assert rnd.context.shape == (3000, env.n_features)
    att = env.attraction(rnd.users)
    best = att.argmax(1)
    assert np.allclose(env.regret(rnd, best), 0.0)
    worst = att.argmin(1)
    assert (env.regret(rnd, worst) >= 0).all() and env.regret(rnd, worst).mean() > 0
    # slates: expected clicks fall with the position's examination
    slate = np.argsort(-att, axis=1)[:, :3]
    exp = env.expected(rnd, slate)
    assert np.allclose(exp[:, 1], att[np.arange(3000), slate[:, 1]] * 2**-CFG.examination_decay)
    clicks = env.step(rnd, slate)
    assert abs(clicks.mean() - exp.mean()) < 0.02
    with pytest.raises(ValidationError):
        env.step(rnd, np.full(3000, env.n_arms))


def test_session_env_runs_and_ends(env):
    s_env = SessionEnv(env, horizon=5)
    purchases = run_sessions(s_env, lambda s: np.zeros(len(s), int), 300, parallel=100)
    assert purchases.shape == (300,) and (purchases >= 0).all()
    assert not s_env.active.any()


def test_lp_allocation_respects_budgets():
    n = np.array([1000.0, 1000.0])
    ctr = np.array([[0.10, 0.02], [0.05, 0.08]])
    cpc = np.array([1.0, 1.0])
    x = solve_allocation(n, ctr, cpc, np.array([50.0, 1000.0]))
    assert (x.sum(1) <= 1 + 1e-9).all()
    spend = (n[:, None] * ctr * x * cpc).sum(0)
    assert spend[0] <= 50 + 1e-6
    # the budget-limited campaign goes where its clicks are cheapest to buy: segment 0
    assert x[0, 0] == pytest.approx(0.5, abs=1e-6) and x[1, 1] == pytest.approx(1.0)


def test_pacer_allocates_within_budget_and_round_trips(tmp_path):
    pacer = BudgetPacer((5.0, 5.0), (0.5, 1.0), explore=0.1, seed=0).fit(3)
    pacer.replan(np.array([100.0, 100.0, 100.0]))
    seg = np.repeat([0, 1, 2], 50)
    j, p = pacer.allocate(seg)
    assert ((j >= -1) & (j < 2)).all() and ((p > 0) & (p <= 1)).all()
    pacer.update(seg, j, np.ones(seg.size))
    pacer.save(tmp_path / "p")
    back = load_model(tmp_path / "p")
    np.testing.assert_allclose(back.spend_, pacer.spend_)
    with pytest.raises(ValidationError):
        BudgetPacer((1.0,), (1.0, 2.0)).fit(2)


def test_dqn_trains_acts_and_round_trips(env, tmp_path):
    s_env = SessionEnv(env, horizon=3)
    agent = DQNAgent(hidden=16, batch_size=64, target_every=20, seed=0).fit(
        s_env, n_sessions=128, parallel=64
    )
    s = s_env.reset(10)
    a = agent.act(s)
    assert a.shape == (10,) and ((a >= 0) & (a < env.n_arms)).all()
    agent.save(tmp_path / "dqn")
    back = load_model(tmp_path / "dqn")
    np.testing.assert_allclose(back.q_values(s), agent.q_values(s), atol=1e-6)
    with pytest.raises(ValidationError):
        DQNAgent(gamma=1.5).fit(s_env, n_sessions=4)
