"""OPE on logged impressions: the Open Bandit protocol on a small copy of the real logs (laid
out as another campaign), logs files, candidate policies, training and serving from the logs."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopml.bandits.logs import read_impressions, read_logs_file
from shopml.bandits.offline import evaluate_policy, frequency_distribution
from shopml.bandits.train import ServedPolicy, fit_from_logs, train
from shopml.benchmarks.bandits import run
from shopml.core.errors import DataError, ValidationError
from shopml.data.loaders.base import data_dir

OBD = data_dir() / "open_bandit_dataset"
needs_obd = pytest.mark.skipif(
    not (OBD / "random/all/all.csv").is_file(), reason="Open Bandit data not present"
)


@pytest.fixture(scope="module")
def men_copy(tmp_path_factory):
    """The first 3,000 rows of each 'all' log, laid out as campaign 'men' in a temporary folder."""
    root = tmp_path_factory.mktemp("obd")
    for policy in ("random", "bts"):
        d = root / "open_bandit_dataset" / policy / "men"
        d.mkdir(parents=True)
        with open(OBD / policy / "all" / "all.csv") as src, open(d / "men.csv", "w") as dst:
            for i, line in enumerate(src):
                if i > 3000:
                    break
                dst.write(line)
    (root / "open_bandit_dataset/random/men/item_context.csv").write_text(
        (OBD / "random/all/item_context.csv").read_text()
    )
    return root


@needs_obd
def test_open_bandit_protocol_on_another_campaign(men_copy, tmp_path):
    res = run(
        dataset="open-bandit", campaign="men", data_dir=men_copy, n_runs=2, out=tmp_path / "r.json"
    )
    assert res.dataset == "open-bandit-men"
    rows = {r.model: r.metrics for r in res.rows}
    assert set(rows) == {"dm", "ips", "snips", "dr", "sndr", "switch_dr", "dros"}
    for m in rows.values():
        assert np.isfinite(m["relative_error_mean"]) and m["relative_error_mean"] >= 0
    assert (tmp_path / "r.json").is_file() and (tmp_path / "r.md").is_file()
    with pytest.raises(ValidationError, match="campaign"):
        run(dataset="open-bandit", campaign="kids", data_dir=men_copy)


@needs_obd
def test_frequency_distribution_sums_to_one_per_position(men_copy):
    from shopml.data import Workspace

    ws = Workspace(":memory:")
    ws.ingest_dataset("open-bandit-men", men_copy / "open_bandit_dataset")
    df = read_impressions(ws)
    assert "ctx.user_item_affinity@action" in df.columns and len(df) == 6000
    arms = np.array([str(i) for i in range(80)])
    pi = frequency_distribution(df[df.policy == "bts"], arms, 3)
    np.testing.assert_allclose(pi.sum(0), 1.0)


def _toy_logs(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    a = rng.integers(0, 3, n)
    p = np.where(a == (x > 0).astype(int), 0.3, 0.05)
    r = (rng.random(n) < p).astype(int)
    return pd.DataFrame(
        {
            "action": a,
            "reward": r,
            "propensity": 1 / 3,
            "x": x,
            "device": rng.choice(["ios", "web"], n),
        }
    )


def test_logs_file_and_candidate_policies(tmp_path):
    path = tmp_path / "logs.csv"
    _toy_logs().to_csv(path, index=False)
    df = read_logs_file(path)
    assert {"ctx.x", "ctx.device"} <= set(df.columns)
    res, how = evaluate_policy(df, "uniform", n_bootstrap=20)
    ips = res.set_index("estimator").loc["ips"]
    assert ips.value == pytest.approx(df.reward.mean(), abs=1e-9)  # uniform logging: IPS = the mean
    res, how = evaluate_policy(df, "linear_ts", n_bootstrap=20)
    assert "first 1500" in how
    dr = res.set_index("estimator").loc["dr"]
    assert dr.value > df.reward.mean() + 0.03  # the learned policy is better than the logging one
    with pytest.raises(ValidationError, match="neither"):
        evaluate_policy(df, "nope")
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"action": [1], "reward": [1]}).to_csv(bad, index=False)
    with pytest.raises(ValidationError, match="propensity"):
        read_logs_file(bad)
    with pytest.raises(DataError):
        read_logs_file(tmp_path / "missing.csv")


def test_train_register_load_and_serve(tmp_path):
    from shopml.data import Workspace
    from shopml.data.synth import SimConfig, simulate
    from shopml.registry import Registry

    ws_path = tmp_path / "shop.duckdb"
    with Workspace(str(ws_path)) as ws:
        simulate(SimConfig(n_users=300, n_items=60, n_categories=3, days=20, seed=1)).write(ws)
    reg = Registry(tmp_path / "artifacts")
    mv = train(ws_path, reg, "linucb")
    served = ServedPolicy.load(Path(mv.path))
    ctx = [{"device": "mobile", "hour": 12}, {}]
    arms, prop = served.decide(ctx, n=2)
    assert arms.shape == (2, 2) and set(arms.ravel()) <= set(served.arms)
    assert np.all((prop > 0) & (prop <= 1))
    t0 = served.policy.t_
    assert served.learn(ctx, arms[:, 0], [1.0, 0.0], prop[:, 0]) == 2 and served.policy.t_ == t0 + 2
    with pytest.raises(ValidationError):
        served.decide(["not a dict"])
    with pytest.raises(ValidationError):
        fit_from_logs(_toy_logs(50).assign(policy="x", position=1).pipe(lambda d: d), "nope")


def test_workspace_suite_on_one_logged_policy(tmp_path):
    from shopml.data import Workspace
    from shopml.data.synth import SimConfig, simulate

    ws_path = tmp_path / "sim.duckdb"
    with Workspace(str(ws_path)) as ws:
        simulate(SimConfig(n_users=600, n_items=60, n_categories=3, days=30, seed=3)).write(ws)
    res = run(workspace=ws_path, quick=True, n_arms=10)
    rows = {r.model: r.metrics for r in res.rows}
    assert {"logged:ips", "logged:dr", "uniform:snips"} <= set(rows)
    mean = float(res.notes[0].split()[-1])
    # the logged policy's own action frequencies, judged on its own logs: IPS covers its mean
    assert rows["logged:ips"]["lower"] <= mean * 1.5 and rows["logged:ips"]["upper"] >= mean / 1.5
