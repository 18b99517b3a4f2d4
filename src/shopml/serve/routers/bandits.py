"""Decisions that learn: ``POST /v1/decide`` chooses actions with their propensities, logs each
decision durably, and the served policy updates online from rewards sent to ``/v1/feedback``.

Durability: a decision is appended as one JSON line to this process's decision log under
``<workspace>.serve/decisions/`` (the feedback package's :class:`AppendLog`: one file per process,
``fdatasync`` before the answer, group commit), so an acknowledged decision survives ``kill -9``.

Closing the loop: a reward is a feedback event whose ``attributes`` carry the ``decision_id`` (and
``action`` for a slate; ``reward`` defaults to 1 for a click or purchase). :class:`Learner` follows
every process's decision and feedback logs from where it last read, joins rewards to their
decisions and calls the policy's ``update``; a decision without a reward after ``reward_window_s``
is learned as reward 0 (a shown action nobody clicked). Every process follows every log, so each
worker's copy of the policy learns from all the traffic. The decision log is also a ready-made
log for off-policy evaluation (context, action, propensity, then the joined reward).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from shopml.serve.auth import require_read_key, require_write_key
from shopml.serve.deps import get_snapshot, get_state, served_model
from shopml.serve.errors import ApiError
from shopml.serve.feedback import AppendLog, FeedbackLogError, log_files
from shopml.serve.schemas import errors

router = APIRouter(prefix="/v1", tags=["bandits"], responses=errors(401, 422, 503))

REWARD_EVENTS = {"click": 1.0, "add_to_cart": 1.0, "purchase": 1.0}


class DecideRequest(BaseModel):
    """A context (a JSON object of the features the policy was trained on) and the slate size."""

    context: dict[str, Any] = Field(default_factory=dict, description="Context features.")
    n: int = Field(1, ge=1, le=50, description="Actions to choose (positions of a slate).")
    model: str | None = Field(
        None, max_length=100, description="Policy (default: the default one)."
    )


class Decision(BaseModel):
    decision_id: str
    model: str
    version: str
    actions: list[str]
    propensities: list[float]
    durable: bool = True


class LearnReport(BaseModel):
    learned: int
    pending: int


def _read_new(path: Path, start: int) -> tuple[bytes, int]:
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read(8 << 20)
    except FileNotFoundError:
        return b"", start
    cut = data.rfind(b"\n")
    return (b"", start) if cut < 0 else (data[: cut + 1], start + cut + 1)


class Learner:
    """Joins rewards to decisions from the logs and updates the served policies (thread-safe)."""

    def __init__(
        self, decisions_dir: Path, feedback_dir: Path, reward_window_s: float = 600.0
    ) -> None:
        self.decisions_dir, self.feedback_dir = Path(decisions_dir), Path(feedback_dir)
        self.window = reward_window_s
        self.offsets: dict[str, int] = {}
        self.pending: dict[str, dict[str, Any]] = {}  # decision_id -> record
        self.rewards: dict[str, list[tuple[str, float]]] = {}  # decision_id -> [(action, reward)]
        self.lock = threading.Lock()
        self.last = 0.0

    def _follow(self, folder: Path) -> list[dict[str, Any]]:
        out = []
        for path in log_files(folder):
            data, end = _read_new(path, self.offsets.get(str(path), 0))
            self.offsets[str(path)] = end
            for line in data.splitlines():
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    out.append(rec)
        return out

    def pump(self, policies: dict[str, Any], now: float | None = None) -> tuple[int, int]:
        """Read new log lines, learn what is complete; returns (rows learned, decisions pending)."""
        now = time.time() if now is None else now
        with self.lock:
            for rec in self._follow(self.decisions_dir):
                if "decision_id" in rec:
                    self.pending.setdefault(rec["decision_id"], rec)
            for ev in self._follow(self.feedback_dir):
                attrs = ev.get("attributes")
                if isinstance(attrs, str):
                    try:
                        attrs = json.loads(attrs)
                    except ValueError:
                        attrs = None
                if not isinstance(attrs, dict) or "decision_id" not in attrs:
                    continue
                reward = attrs.get("reward", REWARD_EVENTS.get(ev.get("event_type"), None))
                if reward is None:
                    continue
                action = attrs.get("action") or ev.get("item_id")
                self.rewards.setdefault(str(attrs["decision_id"]), []).append(
                    (str(action), float(reward))
                )
            learned = 0
            done = []
            for did, d in self.pending.items():
                got = self.rewards.get(did)
                if got is None and now - d["at"] < self.window:
                    continue
                obj = policies.get(d["model"])
                done.append(did)
                if obj is None:
                    continue
                best = {}
                for a, r in got or []:
                    best[a] = max(best.get(a, 0.0), r)
                acts = d["actions"]
                rewards = [best.get(a, 0.0) for a in acts]
                try:
                    learned += obj.learn(
                        [d["context"]] * len(acts),
                        acts,
                        rewards,
                        d["propensities"],
                        list(range(1, len(acts) + 1)) if len(acts) > 1 else None,
                    )
                except Exception:  # noqa: BLE001 - a bad record must not stop learning from the rest
                    continue
            for did in done:
                self.pending.pop(did, None)
                self.rewards.pop(did, None)
            self.last = now
            return learned, len(self.pending)


_LOGS: dict[str, tuple[AppendLog, Learner]] = {}
_LOGS_LOCK = threading.Lock()


def _logs(state: Any) -> tuple[AppendLog, Learner]:
    """This process's decision log and learner (created on first use)."""
    runtime = Path(state.settings.runtime_dir)
    key = str(runtime)
    with _LOGS_LOCK:
        if key not in _LOGS:
            _LOGS[key] = (
                AppendLog(runtime / "decisions"),
                Learner(runtime / "decisions", state.settings.feedback_dir),
            )
        return _LOGS[key]


def _policies(snap: Any) -> dict[str, Any]:
    return {name: loaded.obj for name, loaded in (snap.served("bandits") or {}).items()}


@router.post(
    "/decide",
    response_model=Decision,
    summary="Choose actions for a context (logged durably)",
    dependencies=[Depends(require_read_key)],
)
def decide(body: DecideRequest, state=Depends(get_state), snap=Depends(get_snapshot)) -> Decision:
    """The policy's actions for the context with the probability each was chosen with, and a
    decision id; answered only once the decision is on disk. Send rewards to ``/v1/feedback``
    with ``attributes: {"decision_id": ..., "action": ...}``."""
    from shopml.core.errors import ShopMLError

    loaded = served_model(snap, "bandits", body.model)
    log, learner = _logs(state)
    if time.time() - learner.last > 1.0:
        learner.pump(_policies(snap))
    policy = loaded.obj
    if body.n > policy.arms.size:
        raise ApiError(
            422, "invalid_request", f"n={body.n} but the policy has {policy.arms.size} actions"
        )
    try:
        with learner.lock:  # the policy's state and random stream are shared by threads
            actions, prop = policy.decide([body.context], n=body.n)
    except ShopMLError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    did = f"dec-{uuid.uuid4().hex}"
    rec = {
        "decision_id": did,
        "at": time.time(),
        "ts": dt.datetime.now(dt.UTC).isoformat(),
        "model": loaded.name,
        "version": str(getattr(loaded.version, "version", loaded.version)),
        "context": body.context,
        "actions": actions[0].tolist(),
        "propensities": prop[0].tolist(),
    }
    try:
        log.append(json.dumps(rec, separators=(",", ":"), default=str).encode() + b"\n")
    except FeedbackLogError as exc:
        raise ApiError(503, "not_durable", f"{exc}; the decision was not logged, retry") from None
    return Decision(
        decision_id=did,
        model=loaded.name,
        version=rec["version"],
        actions=rec["actions"],
        propensities=rec["propensities"],
    )


@router.post(
    "/decide/learn",
    response_model=LearnReport,
    summary="Apply the rewards received so far",
    dependencies=[Depends(require_write_key)],
    responses=errors(403),
)
def learn(state=Depends(get_state), snap=Depends(get_snapshot)) -> LearnReport:
    """Join new feedback to decisions and update the served policies now (it also happens at
    most once a second on ``/v1/decide``)."""
    _, learner = _logs(state)
    n, pending = learner.pump(_policies(snap))
    return LearnReport(learned=n, pending=pending)


@router.get(
    "/campaigns/summary",
    summary="Traffic shares and realised reward per policy",
    dependencies=[Depends(require_read_key)],
)
def summary(state=Depends(get_state), snap=Depends(get_snapshot)) -> dict[str, Any]:
    """Per served policy: decisions, traffic share per action and reward rate so far (from its
    decision log), and its training metrics from the registry."""
    out: dict[str, Any] = {"policies": []}
    folder = Path(state.settings.runtime_dir) / "decisions"
    counts: dict[str, dict[str, int]] = {}
    for path in log_files(folder):
        data, _ = _read_new(path, 0)
        for line in data.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            c = counts.setdefault(rec.get("model", "?"), {})
            for a in rec.get("actions", [])[:1]:
                c[a] = c.get(a, 0) + 1
    for name, loaded in (snap.served("bandits") or {}).items():
        c = counts.get(name, {})
        total = sum(c.values())
        meta = getattr(loaded.version, "metrics", {}) or {}
        out["policies"].append(
            {
                "model": name,
                "decisions": total,
                "shares": {a: v / total for a, v in sorted(c.items(), key=lambda kv: -kv[1])[:20]}
                if total
                else {},
                "metrics": meta,
                "updates": int(getattr(loaded.obj.policy, "t_", 0)),
            }
        )
    return out


_SIM: dict[str, Any] = {}
_SIM_LOCK = threading.Lock()


def _simulation(rounds: int = 2000, impressions: int = 6000) -> dict[str, Any]:
    """A small live run on the simulator (computed once per process): regret per policy and a
    paced day of budgets. The reported benchmark numbers come from ``shopml bench bandits``."""
    from shopml.bandits.registry import default_policies
    from shopml.benchmarks.bandits import pacing_suite, simulate_policy
    from shopml.data.synth import SimConfig
    from shopml.data.synth.env import BanditEnv

    cfg = SimConfig(n_users=2_000, n_items=300, seed=7)
    curves = {}
    for name, pol in default_policies().items():
        if name == "neural_bootstrap":
            continue  # the slowest: left to the benchmark
        env = BanditEnv(cfg, n_arms=20, seed=7)
        pol.fit(env.n_arms, env.n_features)
        res = simulate_policy(env, pol, rounds)
        curves[name] = res["cum_regret"][:: max(1, rounds // 100)].round(3).tolist()
    pace = pacing_suite(impressions=impressions, seed=11)
    row = pace.rows[0]
    return {
        "rounds": rounds,
        "step": max(1, rounds // 100),
        "regret": curves,
        "pacing": {**row.metrics, **pace.extra},
    }


@router.get(
    "/campaigns/simulation",
    summary="Regret and budget pacing on the simulator",
    dependencies=[Depends(require_read_key)],
)
def simulation() -> dict[str, Any]:
    """Cumulative regret of each policy and spend against budget on a small simulated run."""
    with _SIM_LOCK:
        if "result" not in _SIM:
            _SIM["result"] = _simulation()
        return _SIM["result"]
