"""Pipeline step ``bandits``: off-policy evaluation of candidate policies on the logged impressions.

Protocol: the first slot of each logged slate (where the logged propensity is the marginal
probability of the shown item, so importance weights are exact), time-ordered; the ``n_arms``
most often shown items form the action set of the candidates and every other item one pseudo-arm
that no candidate chooses. Candidates are trained on the earlier half of the rows (replayed
through ``update``) and evaluated on the later half with DM, IPS, SNIPS, DR, SNDR, Switch-DR and
DRos (SLOPE-tuned), bootstrap intervals from the run's ``evaluate`` settings (at most 200
resamples, to keep the step fast). Baselines: the logged policy's own mean reward on the later
half (on-policy, no estimate needed) and the uniform policy over the action set. The best
candidate by DR is registered as ``bandits/<model>`` under the run's register policy.
"""

from __future__ import annotations

import time

import numpy as np
from pydantic import Field

from shopml.pipeline.config import Strict
from shopml.pipeline.steps import (
    Leader,
    StepContext,
    StepResult,
    StepSkipped,
    register_step,
    version_ref,
)


class BanditsStep(Strict):
    """The ``train.bandits`` section."""

    models: list[str] = Field(default_factory=lambda: ["epsilon_greedy", "linear_ts"], min_length=1)
    n_arms: int = Field(30, ge=2, le=500)
    max_rows: int = Field(20_000, ge=100)


@register_step("bandits", BanditsStep, tables=("impressions",))
def bandits(ctx: StepContext, cfg: BanditsStep) -> StepResult:
    """Train candidate policies on the earlier logs, estimate their value on the later logs."""
    from shopml.bandits.logs import read_impressions
    from shopml.bandits.offline import restrict_arms, run_ope
    from shopml.bandits.registry import POLICIES
    from shopml.bandits.train import fit_from_logs
    from shopml.core.errors import DataError

    unknown = [m for m in cfg.models if m not in POLICIES]
    if unknown:
        raise StepSkipped(f"unknown bandit model(s) {unknown}; known: {sorted(POLICIES)}")
    try:
        df = read_impressions(ctx.workspace, "position IS NULL OR position = 1")
    except DataError as exc:
        raise StepSkipped(str(exc)) from None
    df = df.iloc[-cfg.max_rows :].reset_index(drop=True)
    if len(df) < 100 or df["reward"].nunique() < 2:
        raise StepSkipped(
            f"{len(df)} first-slot impressions with rewards of one kind: nothing to evaluate"
        )
    df, arms = restrict_arms(df, cfg.n_arms)
    df["position"] = 1
    top = arms[:-1]
    half = len(df) // 2
    first, later = df.iloc[:half].reset_index(drop=True), df.iloc[half:].reset_index(drop=True)
    boot = min(ctx.evaluate.bootstrap, 200)
    protocol = (
        f"first slot of {len(df)} logged slates (time order); candidates trained on the first "
        f"{half}, evaluated off-policy on the last {len(later)}; {top.size} most shown items "
        "as actions; "
        f"{int(100 * ctx.evaluate.level)}% bootstrap intervals ({boot} resamples)"
    )
    result = StepResult("bandits", protocol, "dr", True)
    logged = float(later["reward"].mean())
    result.leaderboard.append(
        Leader("logged policy (on-policy mean)", {"dr": round(logged, 6)}, baseline=True)
    )
    targets = {
        "uniform (baseline)": (
            np.append(np.full(top.size, 1.0 / top.size), 0.0)[:, None],
            None,
            0.0,
        )
    }
    for name in cfg.models:
        t0 = time.perf_counter()
        served = fit_from_logs(first, name, seed=ctx.evaluate.seed, arms=top)
        X = (
            served.encoder.transform(later)
            if served.policy.contextual
            else np.zeros((len(later), 0))
        )
        p = served.policy.probabilities(X, n=1)
        targets[name] = (
            np.concatenate([p, np.zeros((len(later), 1, 1))], axis=1),
            served,
            time.perf_counter() - t0,
        )
    best, best_dr = None, -np.inf
    for name, (pi, served, secs) in targets.items():
        res = run_ope(later, pi, arms, n_bootstrap=boot, seed=ctx.evaluate.seed).set_index(
            "estimator"
        )
        metrics = {e: round(float(res.loc[e, "value"]), 6) for e in res.index}
        ci = {
            e: [round(float(res.loc[e, "lower"]), 6), round(float(res.loc[e, "upper"]), 6)]
            for e in res.index
        }
        result.leaderboard.append(Leader(name, metrics, ci, served is None, round(secs, 3)))
        if served is not None and metrics["dr"] > best_dr:
            best, best_dr = (name, served, metrics), metrics["dr"]
    result.stats = {"rows": len(df), "arms": int(top.size), "logged_mean_reward_later": logged}
    if best is not None and ctx.wants(best[0], best[0]):
        name, served, metrics = best
        mv = ctx.register(
            "bandits",
            name,
            served.save,
            config={"model": name, "arms": int(top.size)},
            metrics=metrics,
        )
        result.registered.append({**version_ref(mv), "model": name, "test_metrics": metrics})
    return result
