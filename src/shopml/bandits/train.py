"""Train (warm-start from logged impressions) and register a policy; load it for serving.

A served policy is the policy plus what turns a request's context JSON into its numbers
(:class:`~shopml.bandits.logs.ContextEncoder`) and the arms' ids. ``train`` replays the workspace's
impressions (time order) through ``update``, so the policy starts from what the logs teach; online
updates from feedback continue from there (:meth:`ServedPolicy.learn`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.bandits.base import Choice, Policy
from shopml.bandits.logs import ContextEncoder, read_impressions
from shopml.bandits.offline import arm_index, arms_of
from shopml.bandits.registry import make_policy
from shopml.core.errors import ValidationError
from shopml.core.estimator import load_model
from shopml.core.persist import atomic_write_json, read_json


class ServedPolicy:
    """A policy with its context encoder and arm ids: JSON contexts in, arm ids out."""

    def __init__(
        self, policy: Policy, encoder: ContextEncoder, arms: np.ndarray, name: str = ""
    ) -> None:
        self.policy, self.encoder, self.arms, self.name = (
            policy,
            encoder,
            np.asarray(arms).astype(str),
            name,
        )

    def features(self, contexts: list[dict[str, Any]]) -> np.ndarray:
        """Numbers for context dicts (missing keys: the mean / no level)."""
        if not isinstance(contexts, list) or not all(isinstance(c, dict) for c in contexts):
            raise ValidationError("context must be a JSON object (or a list of them)")
        cols = {}
        for c in self.encoder.numeric:
            cols[c] = [
                float(x.get(c[4:], np.nan))
                if isinstance(x.get(c[4:], np.nan), int | float)
                else np.nan
                for x in contexts
            ]
        for c in self.encoder.levels:
            cols[c] = [str(x.get(c[4:], "")) for x in contexts]
        frame = pd.DataFrame(cols, index=range(len(contexts)))
        if self.encoder.numeric:
            frame[self.encoder.numeric] = frame[self.encoder.numeric].fillna(
                pd.Series(self.encoder.mean, index=self.encoder.numeric)
            )
        return (
            self.encoder.transform(frame)
            if self.encoder.n_features
            else np.zeros((len(contexts), 0))
        )

    def decide(self, contexts: list[dict[str, Any]], n: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """Arm ids ``(rows, n)`` and their propensities."""
        ch: Choice = self.policy.choose(self._X(contexts), n=n)
        return self.arms[ch.actions], ch.propensity

    def _X(self, contexts: list[dict[str, Any]]) -> np.ndarray:
        X = self.features(contexts)
        return X if self.policy.contextual else np.zeros((len(contexts), 0))

    def learn(self, contexts, actions, rewards, propensities=None, positions=None) -> int:
        """Online update from joined decisions and rewards; returns the rows learned."""
        idx = arm_index(pd.Series(actions).astype(str), self.arms)
        self.policy.update(self._X(list(contexts)), idx, rewards, propensities, positions)
        return len(idx)

    def save(self, folder: Path) -> None:
        self.policy.save(folder / "policy")
        atomic_write_json(
            folder / "serving.json",
            {
                "arms": self.arms.tolist(),
                "name": self.name,
                "encoder": {
                    "numeric": self.encoder.numeric,
                    "mean": self.encoder.mean.tolist(),
                    "std": self.encoder.std.tolist(),
                    "levels": self.encoder.levels,
                },
            },
        )

    @classmethod
    def load(cls, folder: Path) -> ServedPolicy:
        doc = read_json(folder / "serving.json")
        e = doc["encoder"]
        enc = ContextEncoder(
            e["numeric"], np.asarray(e["mean"], float), np.asarray(e["std"], float), e["levels"]
        )
        policy = load_model(folder / "policy")
        if not isinstance(policy, Policy):
            raise ValidationError(f"{folder} does not hold a bandit policy")
        return cls(policy, enc, np.asarray(doc["arms"]), doc.get("name", ""))


def fit_from_logs(
    df: pd.DataFrame,
    model: str,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    arms: np.ndarray | None = None,
) -> ServedPolicy:
    """A policy warm-started by replaying logged impressions (in time order).

    ``arms`` fixes the action set (default: every logged action); rows with other actions are
    not replayed.
    """
    if arms is None:
        arms = arms_of(df)
    else:
        arms = np.asarray(arms).astype(str)
        keep = df["action"].astype(str).isin(arms).to_numpy()
        lists = {k: v[keep] for k, v in df.attrs.get("lists", {}).items()}
        df = df[keep].reset_index(drop=True)
        df.attrs["lists"] = lists
    enc = ContextEncoder.fit(df)
    policy = make_policy(model, **(params or {}))
    if "seed" in policy.get_params():
        policy.set_params(seed=seed)
    policy.fit(arms.size, enc.n_features if policy.contextual else 0)
    X = enc.transform(df) if policy.contextual else np.zeros((len(df), 0))
    a = arm_index(df["action"], arms)
    pos = (
        df["position"].to_numpy(np.int64)
        if getattr(policy, "examination", None) is not None
        else None
    )
    for s in range(0, len(df), 5000):  # bounded memory for the neural policy's steps
        sl = slice(s, s + 5000)
        policy.update(
            X[sl],
            a[sl],
            df["reward"].to_numpy(float)[sl],
            df["propensity"].to_numpy(float)[sl],
            None if pos is None else pos[sl],
        )
    return ServedPolicy(policy, enc, arms, model)


def train(workspace: Any, registry: Any, model: str = "linear_ts", **options: Any):
    """Fit ``model`` on the workspace's impressions and register it as ``bandits/<model>``."""
    from shopml.data import Workspace

    ws = workspace if hasattr(workspace, "sql") else Workspace(str(workspace), read_only=True)
    where = ""
    params = []
    if options.get("campaign"):
        where, params = "campaign = ?", [options["campaign"]]
    df = read_impressions(ws, where, params)
    served = fit_from_logs(df, model, options.get("params"), int(options.get("seed", 0)))
    metrics: dict[str, Any] = {"logged_mean_reward": float(df["reward"].mean())}
    if options.get("evaluate", True):
        metrics.update(_holdout_value(df, model, int(options.get("seed", 0))))
    return registry.register(
        "bandits",
        model.replace("-", "_"),
        served.save,
        config={
            "model": model,
            "params": served.policy.get_params(),
            "arms": int(served.arms.size),
            "rows": len(df),
            "campaign": options.get("campaign"),
        },
        metrics=metrics,
        data_fingerprint=ws.fingerprint("impressions") if hasattr(ws, "fingerprint") else None,
    )


def _holdout_value(df: pd.DataFrame, model: str, seed: int, max_arms: int = 200) -> dict[str, Any]:
    """Off-policy value of ``model`` trained on the earlier half, estimated on the later half."""
    from shopml.bandits.offline import evaluate_policy

    if arms_of(df).size > max_arms or len(df) < 60 or df["reward"].nunique() < 2:
        return {}
    try:
        res, how = evaluate_policy(
            df, model, n_bootstrap=100, seed=seed, estimators=("ips", "snips", "dm", "dr")
        )
    except ValidationError as exc:  # e.g. rewards that are not clicks: no classifier reward model
        return {"ope_skipped": str(exc)}
    out: dict[str, Any] = {"ope_protocol": how}
    for _, r in res.iterrows():
        out[f"ope_{r.estimator}"] = float(r.value)
        out[f"ope_{r.estimator}_ci"] = [float(r.lower), float(r.upper)]
    return out


def load(version: Any, ctx: Any = None) -> ServedPolicy:
    """The served object of a registered version (no refitting)."""
    return ServedPolicy.load(Path(version.path))


__all__ = ["ServedPolicy", "fit_from_logs", "load", "train"]
