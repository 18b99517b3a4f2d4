"""``shopml bench bandits``: off-policy evaluation on logged data, and regret, pacing and the RL
agent on the simulator, where the true click rates are known.

``--dataset open-bandit`` (or ``open-bandit-men`` / ``-women``, or ``campaign=men``): the Open
Bandit Pipeline's protocol. Estimate the click rate of the Bernoulli-TS policy from the uniform
random policy's logs and compare with the click rate in Bernoulli-TS's own logs (relative error),
over ``n_runs`` bootstrap resamples of the random logs; the reward model (logistic regression,
``shopml.predict.linear``) is cross-fitted on each resample. The evaluation policy's action
distribution per position is its on-policy frequency in its own logs (its actions only, never its
clicks). Switch-DR's and DRos's parameters are chosen by SLOPE, without the ground truth.

``--workspace W``: the same protocol on any impressions table: with two logged policies the
behaviour policy is the one with the most uniform propensities (or ``behavior=NAME``) and the
target the other (``target=NAME``); with one, every estimator's value for the logged policy
itself (an on-policy consistency check: each should cover the logged mean) and for the uniform
policy, with bootstrap intervals.

``--dataset simulator`` (``task=regret|pacing|rl``, default all three): cumulative regret of every
policy (and Vowpal Wabbit's contextual bandit as the peer when installed); budget pacing against
the LP's ex-post optimum; the DQN session agent against myopic bandits.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.bandits.logs import read_impressions
from shopml.bandits.offline import arms_of, frequency_distribution, restrict_arms, run_ope
from shopml.bandits.ope import ESTIMATORS
from shopml.benchmarks.runner import BenchResult, Row, suite
from shopml.core.errors import DataError, ValidationError
from shopml.core.progress import track

OBP_PUBLISHED = {
    "dm": 0.157,
    "ips": 0.311,
    "snips": 0.312,
    "dr": 0.292,
    "sndr": 0.302,
    "switch_dr": 0.258,
    "dros": 0.160,
}
CAMPAIGN_LOADERS = {"all": "open-bandit", "men": "open-bandit-men", "women": "open-bandit-women"}


@suite("bandits")
def run(
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    workspace: Any = None,
    data: Any = None,
    out: str | Path | None = None,
    quick: bool = False,
    task: str | None = None,
    campaign: str | None = None,
    **options: Any,
) -> BenchResult:
    """Run the suite (see the module docstring); ``out`` writes JSON + Markdown."""
    if (dataset is None) == (workspace is None):
        raise ValidationError("give exactly one of dataset or workspace")
    if dataset == "simulator":
        result = simulator_suite(task or "all", quick=quick, **options)
    elif dataset is not None:
        if campaign:
            if dataset != "open-bandit" or campaign not in CAMPAIGN_LOADERS:
                raise ValidationError(
                    f"campaign must be one of {sorted(CAMPAIGN_LOADERS)} with open-bandit"
                )
            dataset = CAMPAIGN_LOADERS[campaign]
        if dataset not in CAMPAIGN_LOADERS.values():
            raise ValidationError(
                f"bandits suite datasets: open-bandit[-men|-women], simulator; got {dataset!r}"
            )
        from shopml.data import Workspace

        ws = Workspace(":memory:")
        folder = Path(data_dir) / "open_bandit_dataset" if data_dir else None
        ws.ingest_dataset(dataset, folder)
        result = ope_suite(ws, dataset, behavior="random", target="bts", quick=quick, **options)
    else:
        from shopml.data import Workspace

        ws = workspace if hasattr(workspace, "sql") else Workspace(str(workspace), read_only=True)
        result = ope_suite(
            ws, Path(str(getattr(ws, "path", workspace))).stem, quick=quick, **options
        )
    if out is not None:
        result.write(out)
    return result


# --------------------------------------------------------------------------- off-policy evaluation
def _subset(df: pd.DataFrame, mask: np.ndarray) -> pd.DataFrame:
    sub = df[mask].reset_index(drop=True)
    sub.attrs["lists"] = {k: v[mask] for k, v in df.attrs.get("lists", {}).items()}
    return sub


def _resample(df: pd.DataFrame, idx: np.ndarray) -> pd.DataFrame:
    sub = df.iloc[idx].reset_index(drop=True)
    sub.attrs["lists"] = {k: v[idx] for k, v in df.attrs.get("lists", {}).items()}
    return sub


def ope_suite(
    ws: Any,
    label: str,
    behavior: str | None = None,
    target: str | None = None,
    n_runs: int = 30,
    sample_size: int | None = None,
    quick: bool = False,
    seed: int = 12345,
    n_arms: int = 50,
    **_: Any,
) -> BenchResult:
    """Relative error of every estimator over bootstrap runs (two policies) or values (one)."""
    df = read_impressions(ws)
    policies = df["policy"].fillna("logged").astype(str)
    names = sorted(policies.unique())
    arms = arms_of(df)
    L = int(df["position"].max())
    n_runs = 3 if quick else int(n_runs)
    if len(names) >= 2:
        if behavior is None:  # the most uniform propensities: the lowest coefficient of variation
            cv = {
                p: df.propensity[policies == p].std() / df.propensity[policies == p].mean()
                for p in names
            }
            behavior = min(cv, key=cv.get)
        target = target or next(p for p in names if p != behavior)
        for p in (behavior, target):
            if p not in names:
                raise DataError(f"no logs of policy {p!r}; the workspace holds {names}")
        logs = _subset(df, (policies == behavior).to_numpy())
        tdf = df[policies == target]
        pi = frequency_distribution(tdf, arms, L)
        truth = float(tdf["reward"].mean())
        if truth <= 0:
            raise DataError(f"policy {target!r} has no rewards in its logs: no relative error")
        rng = np.random.default_rng(seed)
        n = sample_size or len(logs)
        errs, vals, fit_s = [], [], 0.0
        for r in track(range(n_runs), "OPE bootstrap runs"):
            t0 = time.perf_counter()
            res = run_ope(_resample(logs, rng.integers(0, len(logs), n)), pi, arms, seed=seed + r)
            fit_s += time.perf_counter() - t0
            vals.append(res.set_index("estimator")["value"])
            errs.append((res.set_index("estimator")["value"] - truth).abs() / truth)
        E, V = pd.concat(errs, axis=1), pd.concat(vals, axis=1)
        result = BenchResult(
            "bandits",
            label,
            f"OPE of {target!r} from {behavior!r} logs ({len(logs)} rows, {n_runs} bootstrap runs of "
            f"{n} rows), ground truth = {target!r}'s on-policy mean reward {truth:.5f} "
            f"({len(tdf)} rows); reward model: cross-fitted logistic regression (3 folds); "
            "target distribution: on-policy action frequency per position; Switch-DR/DRos tuned by SLOPE",
        )
        for est in ESTIMATORS:
            if est not in E.index:
                continue
            metrics = {
                "relative_error_mean": float(E.loc[est].mean()),
                "relative_error_sd": float(E.loc[est].std(ddof=1)),
                "estimate_mean": float(V.loc[est].mean()),
            }
            if label == "open-bandit" and est in OBP_PUBLISHED:
                metrics["obp_published"] = OBP_PUBLISHED[est]
            result.rows.append(Row(est, metrics, fit_seconds=fit_s / n_runs))
        best = E.mean(axis=1).idxmin()
        result.notes.append(
            f"best estimator: {best} ({E.loc[best].mean():.3f} ± {E.loc[best].std(ddof=1):.3f})"
        )
        result.notes.append(
            "obp_published: Open Bandit Pipeline's reported mean relative errors (same 10k-row samples)"
        )
        return result
    # one logged policy: estimates for itself (consistency) and for the uniform policy, on the
    # first slot (where a logged propensity is the marginal probability) and the most shown arms
    logs = _subset(df, (df["position"] == 1).to_numpy())
    logs, arms = restrict_arms(logs, n_arms)
    L = 1
    pi_self = frequency_distribution(logs, arms, L)
    pi_unif = np.append(np.full(arms.size - 1, 1.0 / (arms.size - 1)), 0.0)[:, None]
    result = BenchResult(
        "bandits",
        label,
        f"OPE on one logged policy (first slot: {len(logs)} rows; the {arms.size - 1} most shown "
        "actions, the rest as one arm no target chooses): its own action frequencies "
        "(consistency check against its mean reward) and the uniform policy over the shown "
        "actions; 95% bootstrap intervals",
    )
    mean = float(logs["reward"].mean())
    for tname, pi in (("logged", pi_self), ("uniform", pi_unif)):
        t0 = time.perf_counter()
        res = run_ope(logs, pi, arms, n_bootstrap=20 if quick else 200, seed=seed)
        secs = time.perf_counter() - t0
        for _, r in res.iterrows():
            result.rows.append(
                Row(
                    f"{tname}:{r.estimator}",
                    {"value": r.value, "lower": r.lower, "upper": r.upper},
                    fit_seconds=secs,
                    params={"param": r.param},
                )
            )
    result.notes.append(f"logged mean reward {mean:.5f}")
    return result


# --------------------------------------------------------------------------- simulator
def _policies(examination: tuple[float, ...] | None = None) -> dict[str, Any]:
    from shopml.bandits import registry

    return registry.default_policies(examination)


def simulate_policy(
    env: Any, policy: Any, rounds: int, batch: int = 100, slots: int = 1
) -> dict[str, Any]:
    """Run ``policy`` for ``rounds`` visitors in batches; regret from the true click rates."""
    regret = np.zeros(0)
    clicks = 0.0
    t0 = time.perf_counter()
    for _ in range(int(np.ceil(rounds / batch))):
        rnd = env.observe(batch)
        ch = policy.choose(rnd.context, n=slots)
        r = env.step(rnd, ch.actions)
        regret = np.r_[regret, env.regret(rnd, ch.actions)]
        clicks += r.sum()
        pos = np.broadcast_to(np.arange(1, slots + 1), r.shape).ravel()
        policy.update(
            np.repeat(rnd.context, slots, 0),
            ch.actions.ravel(),
            r.ravel(),
            ch.propensity.ravel(),
            pos,
        )
    return {
        "cum_regret": np.cumsum(regret[:rounds]),
        "clicks": clicks,
        "seconds": time.perf_counter() - t0,
    }


class _VWPeer:
    """Vowpal Wabbit's ``--cb_explore_adf --squarecb`` with context x arm interactions."""

    def __init__(self, n_arms: int, seed: int = 0) -> None:
        import vowpalwabbit

        self.vw = vowpalwabbit.Workspace(
            f"--cb_explore_adf --squarecb -q sa --quiet --random_seed {seed}"
        )
        self.n_arms = n_arms
        self.rng = np.random.default_rng(seed)

    def _ex(self, x: np.ndarray, label: tuple[int, float, float] | None = None) -> list[str]:
        shared = "shared |s " + " ".join(f"f{j}:{v:.4f}" for j, v in enumerate(x))
        lines = [shared]
        for a in range(self.n_arms):
            lab = f"0:{label[1]}:{label[2]} " if label is not None and label[0] == a else ""
            lines.append(f"{lab}|a arm{a}")
        return lines

    def choose(self, X: np.ndarray, n: int = 1):
        from shopml.bandits.base import Choice

        acts, props = [], []
        for x in X:  # VW's API takes one example at a time
            pmf = np.asarray(self.vw.predict(self._ex(x)), dtype=float)
            pmf /= pmf.sum()
            a = int(self.rng.choice(self.n_arms, p=pmf))
            acts.append(a)
            props.append(pmf[a])
        return Choice(np.array(acts)[:, None], np.array(props)[:, None])

    def update(self, X, a, r, p, pos=None):
        for x, ai, ri, pi in zip(X, a, r, p, strict=True):
            self.vw.learn(self._ex(x, (int(ai), -float(ri), float(pi))))


def regret_suite(
    rounds: int = 100_000, seed: int = 7, quick: bool = False, peer: bool = True
) -> BenchResult:
    """Cumulative regret of every policy over ``rounds`` simulated visitors."""
    from shopml.data.synth import SimConfig
    from shopml.data.synth.env import BanditEnv

    rounds = 10_000 if quick else int(rounds)
    cfg = SimConfig(n_users=20_000, n_items=1_000, seed=seed)
    result = BenchResult(
        "bandits",
        "simulator",
        f"cumulative regret over {rounds} visitors (batches of 100: a batch is chosen, then learned), "
        f"20 arms, context = noisy taste estimate + age band + device ({cfg.n_factors + 8} numbers); "
        "regret = best arm's true click rate minus the chosen one's",
    )
    pols = _policies()
    if peer:
        try:
            import vowpalwabbit  # noqa: F401

            pols["vowpalwabbit_squarecb"] = "vw"
        except ImportError as exc:
            result.notes.append(f"vowpalwabbit peer not run: {exc}")
    out = {}
    for name, pol in pols.items():
        env = BanditEnv(cfg, n_arms=20, seed=seed)  # same arms and visitor stream for every policy
        if pol == "vw":
            pol = _VWPeer(env.n_arms, seed)
        else:
            pol.fit(env.n_arms, env.n_features)
        res = simulate_policy(env, pol, rounds)
        out[name] = res
        cr = res["cum_regret"]
        result.rows.append(
            Row(
                name,
                {
                    "cum_regret": float(cr[-1]),
                    "cum_regret_half": float(cr[len(cr) // 2 - 1]),
                    "ctr": res["clicks"] / rounds,
                },
                peer=name.startswith("vowpalwabbit"),
                fit_seconds=res["seconds"],
                params=pol.get_params() if hasattr(pol, "get_params") else {},
            )
        )
    eg = out["epsilon_greedy"]["cum_regret"][-1]
    for name in ("linucb", "linear_ts", "neural_bootstrap"):
        if name in out:
            result.notes.append(
                f"{name} regret / epsilon-greedy regret = {out[name]['cum_regret'][-1] / eg:.3f}"
            )
    result.extra = {k: v["cum_regret"][:: max(1, rounds // 200)].tolist() for k, v in out.items()}  # type: ignore[attr-defined]
    return result


def pacing_suite(
    impressions: int = 100_000, n_campaigns: int = 8, seed: int = 11, quick: bool = False
) -> BenchResult:
    """A simulated day of impressions across campaigns with budgets; LP re-solved every hour."""
    from shopml.bandits.budget import BudgetPacer, solve_allocation
    from shopml.data.synth import SimConfig
    from shopml.data.synth.calendar import HOURS
    from shopml.data.synth.env import BanditEnv

    impressions = 20_000 if quick else int(impressions)
    env = BanditEnv(
        SimConfig(n_users=20_000, n_items=1_000, seed=seed), n_arms=n_campaigns, seed=seed
    )
    rng = np.random.default_rng(seed)
    # segment = the category the visitor's estimated taste prefers (the shop knows it from history)
    cat_f = env.cat.cat_factors
    S = cat_f.shape[0]
    k = env.config.n_factors

    def segment(users):
        return np.argmax(env._est[users][:, :k] @ cat_f.T, axis=1)

    cpc = np.round(rng.uniform(0.2, 1.0, n_campaigns), 2)
    # budgets: half of what the campaigns would spend if each got an equal share of all traffic
    probe = env.observe(20_000)
    spend_equal = impressions / n_campaigns * env.attraction(probe.users).mean(0) * cpc
    budgets = 0.5 * spend_equal.sum() * rng.dirichlet(np.full(n_campaigns, 5.0))
    pacer = BudgetPacer(tuple(budgets), tuple(cpc), seed=seed).fit(S)
    hour_share = HOURS / HOURS.sum()
    seg_share = np.full(S, 1.0 / S)
    seen_seg = np.zeros(S)
    true_ctr_sum = np.zeros((S, n_campaigns))
    n_seg = np.zeros(S)
    expected_clicks = 0.0
    t0 = time.perf_counter()
    per_hour = np.round(impressions * hour_share).astype(int)
    for h in range(24):
        left = per_hour[h:].sum()
        if seen_seg.sum() > 0:
            seg_share = (seen_seg + 1.0) / (seen_seg.sum() + S)
        pacer.replan(left * seg_share)
        for start in range(0, per_hour[h], 500):
            m = min(500, per_hour[h] - start)
            rnd = env.observe(m)
            s = segment(rnd.users)
            att = env.attraction(rnd.users)
            np.add.at(true_ctr_sum, s, att)
            np.add.at(n_seg, s, 1.0)
            seen_seg += np.bincount(s, minlength=S)
            j, _ = pacer.allocate(s)
            shown = j >= 0
            clicks = np.zeros(m)
            clicks[shown] = rng.random(int(shown.sum())) < att[shown, j[shown]]
            # hard cap: clicks of a campaign beyond its budget are not served (the ad is pulled)
            for c in np.unique(j[shown]):
                rows = np.flatnonzero(j == c)
                room = int(np.floor(pacer.budget_left[c] / cpc[c] + 1e-9))
                cum = np.cumsum(clicks[rows])
                over = rows[cum > room]
                j[over], clicks[over] = -1, 0.0
            shown = j >= 0
            expected_clicks += att[shown, j[shown]].sum()
            pacer.update(s, j, clicks)
    secs = time.perf_counter() - t0
    true_ctr = true_ctr_sum / np.maximum(n_seg, 1)[:, None]
    x_opt = solve_allocation(n_seg, true_ctr, cpc, budgets)
    opt_clicks = float((n_seg[:, None] * true_ctr * x_opt).sum())
    spend, total = pacer.spend_, budgets.sum()
    result = BenchResult(
        "bandits",
        "simulator",
        f"budget pacing over a simulated day: {per_hour.sum()} impressions, {n_campaigns} campaigns "
        f"(cost per click 0.2-1.0), {S} visitor segments; LP (HiGHS) re-solved every hour on "
        "shrunk click-rate estimates; ex-post optimum = the same LP on the true rates and realised traffic",
    )
    result.rows.append(
        Row(
            "lp_pacer",
            {
                "spend_over_budget": float(spend.sum() / total),
                "max_campaign_deviation": float(np.max(np.abs(spend - budgets) / budgets)),
                "clicks": float(pacer.clicks_.sum()),
                "expected_clicks": float(expected_clicks),
                "ex_post_lp_clicks": opt_clicks,
                "clicks_vs_optimum": float(pacer.clicks_.sum() / opt_clicks),
                "lp_solves": float(pacer.solves_),
            },
            fit_seconds=secs,
        )
    )
    result.notes.append(
        f"budgets {np.round(budgets, 2).tolist()}, spend {np.round(spend, 2).tolist()}"
    )
    result.extra = {"budgets": budgets.tolist(), "spend": spend.tolist()}  # type: ignore[attr-defined]
    return result


def rl_suite(
    train_sessions: int = 10_000, eval_sessions: int = 10_000, seed: int = 3, quick: bool = False
) -> BenchResult:
    """The DQN session agent against myopic bandits: purchases per session with 95% intervals."""
    from shopml.bandits.linear import LinearTS
    from shopml.bandits.rl import DQNAgent, run_sessions
    from shopml.data.synth import SimConfig
    from shopml.data.synth.env import BanditEnv, SessionEnv

    if quick:
        train_sessions, eval_sessions = 2_000, 2_000
    cfg = SimConfig(n_users=20_000, n_items=1_000, seed=seed)

    def make_env(s):
        return SessionEnv(BanditEnv(cfg, n_arms=20, seed=s))

    result = BenchResult(
        "bandits",
        "simulator",
        f"sessions (SessionEnv: up to 10 steps, stay 0.9 after a click / 0.6 otherwise, repeated "
        f"arms 0.3x as attractive): {train_sessions} training sessions per agent, then "
        f"{eval_sessions} evaluation sessions, purchases per session with 95% normal intervals",
    )

    def add(name, purchases, secs, params=None):
        m = purchases.mean()
        half = 1.96 * purchases.std(ddof=1) / np.sqrt(purchases.size)
        result.rows.append(
            Row(
                name,
                {
                    "purchases_per_session": float(m),
                    "ci_low": float(m - half),
                    "ci_high": float(m + half),
                },
                fit_seconds=secs,
                params=params or {},
            )
        )

    env = make_env(seed + 100)
    rng = np.random.default_rng(seed)
    add(
        "random",
        run_sessions(env, lambda s: rng.integers(0, env.n_actions, len(s)), eval_sessions),
        0.0,
    )
    # myopic bandits: linear Thompson sampling on the state, rewarded by the next click / purchase
    for reward in ("click", "purchase"):
        env = make_env(seed)
        pol = LinearTS(seed=seed).fit(env.n_actions, env.state_dim)
        t0 = time.perf_counter()

        def learn(s, a, r, c, active, pol=pol, reward=reward):
            if active.any():
                pol.update(s[active], a[active], (c if reward == "click" else r)[active])

        run_sessions(
            env,
            lambda s, pol=pol: pol.choose(s).actions[:, 0],
            train_sessions,
            parallel=500,
            learn=learn,
        )
        secs = time.perf_counter() - t0
        pol.set_params(v=0.0)  # evaluate greedily on the learned model
        add(
            f"myopic_linear_ts_{reward}",
            run_sessions(
                make_env(seed + 100), lambda s, pol=pol: pol.choose(s).actions[:, 0], eval_sessions
            ),
            secs,
        )
    env = make_env(seed)
    t0 = time.perf_counter()
    agent = DQNAgent(seed=seed).fit(env, n_sessions=train_sessions, parallel=256)
    add(
        "dqn",
        run_sessions(make_env(seed + 100), agent.act, eval_sessions),
        time.perf_counter() - t0,
        agent.get_params(),
    )
    return result


def simulator_suite(task: str = "all", quick: bool = False, **options: Any) -> BenchResult:
    """``regret``, ``pacing``, ``rl`` or ``all`` (rows of the three in one result)."""
    parts = {"regret": regret_suite, "pacing": pacing_suite, "rl": rl_suite}
    if task != "all" and task not in parts:
        raise ValidationError(f"task must be one of {sorted(parts)} or 'all', got {task!r}")
    chosen = list(parts) if task == "all" else [task]
    import inspect

    # each part takes the options its signature names (rounds, impressions, train_sessions, ...)
    results = [
        parts[t](
            quick=quick,
            **{k: v for k, v in options.items() if k in inspect.signature(parts[t]).parameters},
        )
        for t in chosen
    ]
    if len(results) == 1:
        return results[0]
    merged = BenchResult(
        "bandits",
        "simulator",
        " | ".join(f"{t}: {r.protocol}" for t, r in zip(chosen, results, strict=True)),
    )
    for t, r in zip(chosen, results, strict=True):
        for row in r.rows:
            row.model = f"{t}:{row.model}"
            merged.rows.append(row)
        merged.notes += [f"{t}: {n}" for n in r.notes]
    return merged


__all__ = ["ope_suite", "pacing_suite", "regret_suite", "rl_suite", "run", "simulate_policy"]
