"""Simulated search logs with known relevance and position bias, for click models.

Generative model (documented, so a click model's estimates can be checked against the truth):

- ``n_queries`` queries with Zipf popularity; each has ``docs_per_query`` candidate items with a
  true grade ``g`` in ``0..max_grade`` (skewed towards low grades, as real result sets are).
- Attractiveness ``a = sigmoid(logit(a_min + (a_max - a_min) (2^g - 1) / (2^G - 1)) + 0.3 N(0, 1))``:
  better items attract more clicks, with per-pair noise so that no two items tie exactly.
  Satisfaction (DBN) ``s = s_min + (s_max - s_min) g / G``.
- The logging ranker (the shop's production search) shows the top ``slate_size`` items by
  ``g + ranker_error * e_qd + session_noise * N(0, 1)``: ``e_qd ~ N(0, 1)`` is its lasting mistake
  about a pair, the session noise (personalisation, freshness, A/B tests) varies what is shown.
  Raw click-through rates inherit the ranker's mistakes: an item it puts too high is examined
  more and clicked more, whatever its appeal. A click model that accounts for the examination of
  each position undoes that.
- Clicks follow one of three user models:
  ``pbm``: each position ``r`` is examined with probability ``1 / r^eta``, independently;
  ``cascade``: the user scans down and stops at the first click;
  ``dbn``: the user scans down, clicks an examined item with probability ``a``, is satisfied
  after a click with probability ``s`` (and stops), otherwise goes on with probability ``continuation``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from shopml.core.errors import ValidationError

USER_MODELS = ("pbm", "cascade", "dbn")


@dataclass(frozen=True)
class SearchLogConfig:
    """Parameters of :func:`simulate_search_logs` (see the module docstring)."""

    n_queries: int = 200
    docs_per_query: int = 15
    slate_size: int = 10
    n_sessions: int = 100_000
    user_model: str = "dbn"
    max_grade: int = 4
    grade_probs: tuple[float, ...] = (0.35, 0.25, 0.2, 0.12, 0.08)
    a_min: float = 0.02
    a_max: float = 0.85
    s_min: float = 0.1
    s_max: float = 0.8
    eta: float = 1.0
    continuation: float = 0.9
    # a mediocre production ranker (its lasting error is two grade steps): the situation click
    # models are for; with a near-perfect ranker raw CTR already orders items well (see bench)
    ranker_error: float = 2.0
    session_noise: float = 0.7
    query_zipf: float = 1.0
    seed: int = 0

    def validate(self) -> None:
        if self.user_model not in USER_MODELS:
            raise ValidationError(
                f"user_model must be one of {USER_MODELS}, got {self.user_model!r}"
            )
        if self.slate_size > self.docs_per_query:
            raise ValidationError(
                f"slate_size {self.slate_size} exceeds docs_per_query {self.docs_per_query}"
            )
        if min(self.n_queries, self.n_sessions, self.slate_size) < 1:
            raise ValidationError("n_queries, n_sessions and slate_size must be at least 1")
        if len(self.grade_probs) != self.max_grade + 1:
            raise ValidationError(
                f"grade_probs needs max_grade + 1 = {self.max_grade + 1} entries, "
                f"got {len(self.grade_probs)}"
            )
        if not 0 < self.continuation <= 1:
            raise ValidationError(f"continuation must be in (0, 1], got {self.continuation}")


@dataclass(frozen=True)
class SearchLogs:
    """Sessions of one query and one ranked slate each, with the truth beside them."""

    query: np.ndarray  # (sessions,) query code
    docs: np.ndarray  # (sessions, slate_size) item ids, best-ranked first
    clicks: np.ndarray  # (sessions, slate_size) bool
    candidates: np.ndarray  # (queries, docs_per_query) item ids
    grade: np.ndarray  # (queries, docs_per_query) true grade
    attraction: np.ndarray  # (queries, docs_per_query) true P(click | examined)
    satisfaction: np.ndarray  # (queries, docs_per_query) true P(satisfied | click) (DBN)
    examination: np.ndarray  # (slate_size,) PBM examination probability per position
    config: SearchLogConfig

    def truth(self) -> pd.DataFrame:
        """One row per (query, item): grade, attraction and satisfaction."""
        n_q, n_d = self.candidates.shape
        return pd.DataFrame(
            {
                "query": np.repeat(np.arange(n_q), n_d),
                "item": self.candidates.ravel(),
                "grade": self.grade.ravel(),
                "attraction": self.attraction.ravel(),
                "satisfaction": self.satisfaction.ravel(),
            }
        )

    def to_frame(self) -> pd.DataFrame:
        """The log in long form: one row per impression (session, query, item, position, click)."""
        s, k = self.docs.shape
        return pd.DataFrame(
            {
                "session": np.repeat(np.arange(s), k),
                "query": np.repeat(self.query, k),
                "item": self.docs.ravel(),
                "position": np.tile(np.arange(1, k + 1), s),
                "click": self.clicks.ravel(),
            }
        )


def simulate_search_logs(config: SearchLogConfig | None = None, **overrides) -> SearchLogs:
    """Draw search sessions from the generative model of the module docstring."""
    cfg = config or SearchLogConfig()
    if overrides:
        cfg = SearchLogConfig(**{**cfg.__dict__, **overrides})
    cfg.validate()
    rng = np.random.default_rng(cfg.seed)
    n_q, n_d, k, G = cfg.n_queries, cfg.docs_per_query, cfg.slate_size, cfg.max_grade

    candidates = rng.permutation(n_q * n_d).reshape(n_q, n_d)
    p = np.asarray(cfg.grade_probs, np.float64)
    grade = rng.choice(G + 1, size=(n_q, n_d), p=p / p.sum())
    base = cfg.a_min + (cfg.a_max - cfg.a_min) * (2.0**grade - 1) / (2.0**G - 1)
    attraction = expit(logit(base) + 0.3 * rng.standard_normal((n_q, n_d)))
    satisfaction = cfg.s_min + (cfg.s_max - cfg.s_min) * grade / G
    examination = 1.0 / np.arange(1, k + 1) ** cfg.eta

    popularity = 1.0 / np.arange(1, n_q + 1) ** cfg.query_zipf
    query = rng.choice(n_q, size=cfg.n_sessions, p=popularity / popularity.sum())
    production = grade + cfg.ranker_error * rng.standard_normal((n_q, n_d))
    noisy = production[query] + cfg.session_noise * rng.standard_normal((cfg.n_sessions, n_d))
    shown = np.argsort(-noisy, axis=1)[:, :k]  # candidate slots, best first
    docs = np.take_along_axis(candidates[query], shown, axis=1)
    a = np.take_along_axis(attraction[query], shown, axis=1)
    s = np.take_along_axis(satisfaction[query], shown, axis=1)

    u = rng.random((cfg.n_sessions, k, 3))
    if cfg.user_model == "pbm":
        clicks = u[..., 0] < examination * a
    else:
        clicks = np.zeros((cfg.n_sessions, k), bool)
        alive = np.ones(cfg.n_sessions, bool)
        # positions in order, every session at once: the scan is sequential by nature
        for r in range(k):
            clicks[:, r] = alive & (u[:, r, 0] < a[:, r])
            if cfg.user_model == "cascade":
                alive &= ~clicks[:, r]
            else:
                satisfied = clicks[:, r] & (u[:, r, 1] < s[:, r])
                alive &= ~satisfied & (u[:, r, 2] < cfg.continuation)
    return SearchLogs(
        query=query,
        docs=docs,
        clicks=clicks,
        candidates=candidates,
        grade=grade,
        attraction=attraction,
        satisfaction=satisfaction,
        examination=examination,
        config=cfg,
    )
