"""Off-policy evaluation on logged impressions: reward models, target distributions, one run.

Used by ``shopml ope``, the ``bandits`` benchmark suite and the pipeline step, so the three run
one protocol. The reward model is any ``shopml.predict`` classifier, cross-fitted (each fold's
rewards are predicted by a model that did not see it), on the context columns, the action and the
position (as categories) and, where the context holds a per-arm list, that list's entry for the
action.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from shopml.bandits.logs import context_columns
from shopml.bandits.ope import ESTIMATORS, BanditLogs, evaluate
from shopml.core.errors import ValidationError


def arm_index(actions: pd.Series, arms: np.ndarray) -> np.ndarray:
    """Positions of ``actions`` in ``arms`` (every action must be one of them)."""
    idx = pd.Index(arms).get_indexer(actions.astype(str))
    if (idx < 0).any():
        raise ValidationError(
            f"action {actions.iloc[int(np.argmax(idx < 0))]!r} is not a known arm"
        )
    return idx


def arms_of(df: pd.DataFrame) -> np.ndarray:
    """The arms of a log, numeric ids in numeric order, else sorted as text."""
    a = pd.unique(df["action"].astype(str))
    num = pd.to_numeric(pd.Series(a), errors="coerce")
    if num.notna().all():
        return a[np.argsort(num.to_numpy())]
    return np.sort(a)


def frequency_distribution(df: pd.DataFrame, arms: np.ndarray, n_positions: int) -> np.ndarray:
    """``(arms, positions)``: how often a logged policy put each arm at each position.

    The on-policy frequencies are an unbiased estimate of a policy's action distribution averaged
    over the logging period (averaging the logged propensities instead over-weights the times an
    arm was likely, since those are the times it was logged).
    """
    a = arm_index(df["action"], arms)
    k = df["position"].to_numpy(np.int64) - 1
    counts = np.zeros((arms.size, n_positions))
    np.add.at(counts, (a, k), 1.0)
    total = counts.sum(axis=0, keepdims=True)
    return counts / np.where(total > 0, total, 1.0)


def _features(
    df: pd.DataFrame, actions: np.ndarray, positions: np.ndarray, rows: np.ndarray
) -> pd.DataFrame:
    """Reward-model features for (row, action, position) triples."""
    out = {}
    for c in context_columns(df):
        if c.endswith("@action"):
            mat = df.attrs.get("lists", {}).get(c[4:-7])
            if mat is None:
                continue
            arm_num = pd.to_numeric(pd.Series(actions), errors="coerce").to_numpy()
            out[c] = mat[rows, arm_num.astype(np.int64)]
        else:
            v = df[c].to_numpy()[rows]
            out[c] = (
                v if pd.api.types.is_numeric_dtype(df[c]) else pd.Series(v).astype(str).to_numpy()
            )
    out["action"] = np.asarray(actions).astype(str)
    out["position"] = np.asarray(positions).astype(str)
    return pd.DataFrame(out)


def reward_model_predictions(
    df: pd.DataFrame,
    arms: np.ndarray,
    n_positions: int,
    make_model: Callable[[], object] | None = None,
    n_folds: int = 3,
    seed: int = 0,
) -> np.ndarray:
    """Cross-fitted ``q(x_i, a, k_i)`` for every logged row and arm: ``(rows, arms, positions)``.

    Only each row's own position ``k_i`` is filled (the estimators never read another; the other
    entries are NaN): predicting rows x arms instead of rows x arms x positions is the cost here.
    """
    if make_model is None:
        from shopml.predict.linear import LogisticRegression

        def make_model():
            return LogisticRegression(C=1.0, max_iter=500)

    n, K, L = len(df), arms.size, n_positions
    y = df["reward"].to_numpy(float)
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValidationError("the reward model is a classifier: rewards must be 0/1 clicks")
    rng = np.random.default_rng(seed)
    fold = rng.permutation(np.arange(n) % max(1, n_folds)) if n_folds > 1 else np.zeros(n, int)
    rows_all = np.arange(n)
    pos = df["position"].to_numpy(np.int64)
    X_log = _features(df, df["action"].astype(str).to_numpy(), pos, rows_all)
    q = np.full((n, K, L), np.nan)
    for f in range(max(1, n_folds)):
        test = fold == f
        train = ~test if n_folds > 1 else test
        rows = rows_all[test]
        if y[train].min() == y[train].max():
            q[rows, :, pos[rows] - 1] = y[train].mean()  # one class only: a constant model
            continue
        model = make_model().fit(X_log[train].reset_index(drop=True), y[train])
        big = _features(df, np.tile(arms, rows.size), np.repeat(pos[rows], K), np.repeat(rows, K))
        q[rows, :, pos[rows] - 1] = model.predict_proba(big).reshape(rows.size, K)
    return q


def run_ope(
    logs_df: pd.DataFrame,
    target: np.ndarray,
    arms: np.ndarray,
    make_model: Callable[[], object] | None = None,
    estimators=ESTIMATORS,
    n_bootstrap: int = 0,
    n_folds: int = 3,
    seed: int = 0,
) -> pd.DataFrame:
    """Every estimator's value of ``target`` on ``logs_df``.

    ``target`` is ``(arms, positions)`` (the same distribution for every row) or
    ``(rows, arms, positions)``.
    """
    L = int(target.shape[-1])
    if logs_df["position"].max() > L:
        raise ValidationError(f"logs hold position {logs_df['position'].max()}; the target has {L}")
    n = len(logs_df)
    pi = np.broadcast_to(target, (n, *target.shape[-2:])) if target.ndim == 2 else target
    logs = BanditLogs(
        arm_index(logs_df["action"], arms),
        logs_df["reward"].to_numpy(float),
        logs_df["propensity"].to_numpy(float),
        logs_df["position"].to_numpy(np.int64),
    )
    need_q = any(e not in ("ips", "snips") for e in estimators)
    q = reward_model_predictions(logs_df, arms, L, make_model, n_folds, seed) if need_q else None
    return evaluate(logs, pi, q, estimators=estimators, n_bootstrap=n_bootstrap, seed=seed)


__all__ = [
    "arm_index",
    "arms_of",
    "evaluate_policy",
    "frequency_distribution",
    "reward_model_predictions",
    "run_ope",
]


def evaluate_policy(
    df: pd.DataFrame, policy: str, n_bootstrap: int = 200, seed: int = 0, estimators=ESTIMATORS
) -> tuple[pd.DataFrame, str]:
    """Estimate ``policy``'s value on logged impressions; returns (estimates, what was done).

    ``policy`` is a logged policy's name (its on-policy action frequencies, evaluated on the other
    policies' rows), ``uniform``, or a policy model (``linear_ts``, ...): trained on the earlier
    half of the logs (time order), evaluated on the later half with its own probabilities.
    """
    from shopml.bandits.registry import POLICIES
    from shopml.bandits.train import fit_from_logs

    arms = arms_of(df)
    L = int(df["position"].max())
    logged = df["policy"].fillna("logged").astype(str)
    if policy in set(logged):
        others = (logged != policy).to_numpy()
        rows = others if others.any() else np.ones(len(df), bool)
        sub = df[rows].reset_index(drop=True)
        sub.attrs["lists"] = {k: v[rows] for k, v in df.attrs.get("lists", {}).items()}
        target = frequency_distribution(df[logged == policy], arms, L)
        how = f"logged policy {policy!r}: its action frequencies, on {int(rows.sum())} rows"
    elif policy == "uniform":
        sub, target = df, np.full((arms.size, L), 1.0 / arms.size)
        how = f"uniform over {arms.size} arms on {len(df)} rows"
    elif policy.replace("-", "_") in POLICIES:
        half = len(df) // 2
        if half < 10:
            raise ValidationError("too few logged rows to train a candidate on half of them")
        first = df.iloc[:half].copy()
        first.attrs["lists"] = {k: v[:half] for k, v in df.attrs.get("lists", {}).items()}
        sub = df.iloc[half:].reset_index(drop=True)
        sub.attrs["lists"] = {k: v[half:] for k, v in df.attrs.get("lists", {}).items()}
        served = fit_from_logs(first, policy, seed=seed, arms=arms)
        X = served.encoder.transform(sub) if served.policy.contextual else np.zeros((len(sub), 0))
        target = served.policy.probabilities(X, n=min(L, arms.size))
        how = f"{policy} trained on the first {half} rows, evaluated on the last {len(sub)}"
    else:
        raise ValidationError(
            f"--policy {policy!r} is neither a logged policy ({sorted(set(logged))}), "
            f"'uniform', nor a model ({sorted(POLICIES)})"
        )
    res = run_ope(
        sub, np.asarray(target), arms, n_bootstrap=n_bootstrap, seed=seed, estimators=estimators
    )
    return res, how


OTHER = "__other__"


def restrict_arms(df: pd.DataFrame, n_arms: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The ``n_arms`` most logged actions, every other action folded into one pseudo-arm
    (:data:`OTHER`, last) that evaluated policies never choose: the reward model then predicts
    rows x ``n_arms + 1`` instead of rows x every item ever shown."""
    top = df["action"].astype(str).value_counts().index[:n_arms].to_numpy()
    out = df.copy()
    out.attrs = df.attrs
    out["action"] = np.where(out["action"].astype(str).isin(top), out["action"].astype(str), OTHER)
    return out, np.append(top, OTHER)
