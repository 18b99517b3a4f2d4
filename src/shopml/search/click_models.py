"""Click models: relevance of (query, item) pairs learned from logged clicks, with position bias.

A search log is a set of sessions; each session shows one query's ranked slate and records which
positions were clicked. Raw click-through rate mixes an item's appeal with where it was shown
(top positions are seen more). The models here separate the two:

- :class:`CascadeModel` (Craswell et al. 2008): the user scans down and stops at the first click;
  closed-form maximum likelihood.
- :class:`PositionBasedModel` (PBM): a click needs the position examined (``gamma_r``) and the
  item attractive (``alpha_qd``), independently; fitted by EM.
- :class:`DynamicBayesianNetwork` (DBN, Chapelle & Zhang 2009): cascade with satisfaction
  (``s_qd``) and perseverance (``gamma``); fitted by EM with a forward-backward pass.

All fits are vectorised over sessions (NumPy ``bincount`` for the sufficient statistics); the only
Python loop is over the slate's positions, which the sequential models need by construction.
Estimates are shrunk towards a Beta prior of ``prior_strength`` pseudo-impressions at the
log-wide rate (or ``prior_mean``), so a pair seen twice gets neither 0 nor 1, and a pair the
ranker rarely showed is not mistaken for a good one (a fixed prior of 0.5 would do exactly that).

Inputs: ``query`` (sessions,) and ``docs`` (sessions, slate) integer codes (``-1`` pads a short
slate at its end; use :class:`shopml.core.vocab.Vocab` for string ids), ``clicks`` (sessions,
slate) of 0/1. :func:`sessions_from_frame` builds them from a long impression log.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator

_EPS = 1e-6


def sessions_from_frame(
    log: pd.DataFrame,
    session: str = "session",
    query: str = "query",
    item: str = "item",
    position: str = "position",
    click: str = "click",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(query, docs, clicks) session arrays from a long log with one row per impression.

    Positions are 1-based ranks; a session's slate is padded with ``-1`` up to the longest one.
    Query and item columns must hold integer codes.
    """
    need = [session, query, item, position, click]
    missing = [c for c in need if c not in log.columns]
    if missing:
        raise ValidationError(f"the click log lacks columns {missing}")
    if len(log) == 0:
        raise ValidationError("the click log is empty")
    pos = log[position].to_numpy(np.int64) - 1
    if pos.min() < 0:
        raise ValidationError(f"{position} must be 1-based ranks, got {pos.min() + 1}")
    sess, s_idx = np.unique(log[session].to_numpy(), return_inverse=True)
    k = int(pos.max()) + 1
    docs = np.full((len(sess), k), -1, np.int64)
    clicks = np.zeros((len(sess), k), np.int8)
    docs[s_idx, pos] = log[item].to_numpy(np.int64)
    clicks[s_idx, pos] = log[click].to_numpy(np.int8)
    q = np.full(len(sess), -1, np.int64)
    q[s_idx] = log[query].to_numpy(np.int64)
    # a slate with a hole (position 3 logged, 2 not) has no defined scan order
    shown = docs >= 0
    if (shown[:, 1:] & ~shown[:, :-1]).any():
        raise ValidationError("a session's positions have gaps: every slate must be 1..n")
    return q, docs, clicks


class ClickModel(Estimator, ABC):
    """Shared plumbing: input checks, the (query, item) pair index, relevance lookup.

    Subclasses implement ``_fit(pair, valid, clicks)`` over dense pair codes and set
    ``relevance_`` (one value per pair). Parameters, the fitted check and ``save``/``load``
    (``model.json`` + ``arrays.npz``) come from :class:`~shopml.core.estimator.Estimator`.
    """

    capability: ClassVar[str] = "search"
    name = "click model"

    def __init__(
        self,
        n_iter: int = 50,
        tol: float = 1e-5,
        prior_strength: float = 2.0,
        prior_mean: float | None = None,
    ) -> None:
        self.n_iter = n_iter
        self.tol = tol
        self.prior_strength = prior_strength
        self.prior_mean = prior_mean

    # ------------------------------------------------------------------ inputs
    @staticmethod
    def _check(query, docs, clicks=None) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        query = np.asarray(query)
        docs = np.asarray(docs)
        if docs.ndim != 2:
            raise ValidationError(f"docs must be (sessions, slate) item codes, got shape {docs.shape}")
        if query.shape != (docs.shape[0],):
            raise ValidationError(
                f"query must have one code per session ({docs.shape[0]}), got shape {query.shape}"
            )
        if not (np.issubdtype(query.dtype, np.integer) and np.issubdtype(docs.dtype, np.integer)):
            raise ValidationError("query and docs must be integer codes (map ids with Vocab)")
        if (query < 0).any():
            raise ValidationError("query codes must be non-negative")
        if clicks is not None:
            clicks = np.asarray(clicks)
            if clicks.shape != docs.shape:
                raise ValidationError(
                    f"clicks must have the shape of docs {docs.shape}, got {clicks.shape}"
                )
            if not np.isin(clicks, (0, 1)).all():
                raise ValidationError("clicks must be 0/1")
            if (clicks.astype(bool) & (docs < 0)).any():
                raise ValidationError("a click on a padded (-1) slot")
            clicks = clicks.astype(np.float64)
        shown = docs >= 0
        if (shown[:, 1:] & ~shown[:, :-1]).any():
            raise ValidationError("padding (-1) must come at the end of a slate")
        return query.astype(np.int64), docs.astype(np.int64), clicks

    def _pair_keys(self, query: np.ndarray, docs: np.ndarray) -> np.ndarray:
        return query[:, None] * self._doc_base + docs

    def fit(self, query, docs, clicks) -> ClickModel:
        """Learn the model from sessions (see the module docstring for the arrays)."""
        query, docs, clicks = self._check(query, docs, clicks)
        valid = docs >= 0
        if not valid.any():
            raise ValidationError("no impressions to learn from")
        self._doc_base = int(docs.max()) + 1
        keys = self._pair_keys(query, docs)
        self.pairs_, inv = np.unique(keys[valid], return_inverse=True)
        pair = np.full(docs.shape, -1, np.int64)
        pair[valid] = inv
        self.n_positions_ = docs.shape[1]
        self.impressions_ = np.bincount(inv, minlength=len(self.pairs_))
        self.clicks_ = np.bincount(inv, clicks[valid], minlength=len(self.pairs_))
        pos = np.broadcast_to(np.arange(docs.shape[1]), docs.shape)[valid]
        mean_pos = np.bincount(inv, pos, minlength=len(self.pairs_)) / self.impressions_
        self._bucket = np.rint(mean_pos).astype(np.int64)  # prior groups (see _shrunk)
        self._fit(pair, valid, clicks)
        self.fitted_ = True
        return self

    @abstractmethod
    def _fit(self, pair: np.ndarray, valid: np.ndarray, clicks: np.ndarray) -> None:
        """Learn the model's parameters from the sessions' pairs, shown mask and clicks."""

    def _prior_mean(self) -> float:
        return self.prior_mean_

    def _shrunk(self, num: np.ndarray, den: np.ndarray) -> np.ndarray:
        """Beta-posterior mean ``(num + k m) / (den + k)`` with ``k = prior_strength``.

        Without a fixed ``prior_mean``, ``m`` is empirical Bayes: the pooled rate of the pairs
        that the log showed at about the same average position. Where the shop's ranker put a
        pair is evidence about it (a rarely shown pair sits low for a reason); one log-wide
        prior would lift every barely seen pair to the middle of its query.
        """
        seen = den > 0
        overall = float(num[seen].sum() / den[seen].sum()) if seen.any() else 0.5
        self.prior_mean_ = float(np.clip(overall, _EPS, 1 - _EPS))  # for pairs never logged
        if self.prior_mean is not None:
            self.prior_mean_ = float(np.clip(self.prior_mean, _EPS, 1 - _EPS))
            m = np.full(len(num), self.prior_mean_)
        else:
            nb = int(self._bucket.max()) + 1
            pooled_num = np.bincount(self._bucket, num, minlength=nb)
            pooled_den = np.bincount(self._bucket, den, minlength=nb)
            with np.errstate(invalid="ignore", divide="ignore"):
                by_bucket = np.where(pooled_den > 0, pooled_num / pooled_den, overall)
            m = np.clip(by_bucket[self._bucket], _EPS, 1 - _EPS)
        with np.errstate(invalid="ignore", divide="ignore"):
            est = (num + self.prior_strength * m) / (den + self.prior_strength)
        return np.where(den + self.prior_strength > 0, est, m)

    # ------------------------------------------------------------------ outputs
    def _lookup(self, values: np.ndarray, query, doc, default: float) -> np.ndarray:
        self._check_fitted()
        query = np.asarray(query, np.int64)
        doc = np.asarray(doc, np.int64)
        if query.shape != doc.shape:
            raise ValidationError(f"query and doc differ in shape: {query.shape} vs {doc.shape}")
        ok = (doc >= 0) & (doc < self._doc_base) & (query >= 0)
        keys = np.where(ok, query * self._doc_base + np.where(ok, doc, 0), -1)
        at = np.searchsorted(self.pairs_, keys)
        at = np.minimum(at, len(self.pairs_) - 1)
        hit = ok & (self.pairs_[at] == keys)
        return np.where(hit, values[at], default)

    def relevance(self, query, doc) -> np.ndarray:
        """Estimated relevance of (query, doc) pairs; pairs never shown get the prior mean."""
        self._check_fitted()
        return self._lookup(self.relevance_, query, doc, self._prior_mean())

    def ctr(self, query, doc) -> np.ndarray:
        """Raw click-through rate of pairs (clicks / impressions; NaN where never shown)."""
        self._check_fitted()
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = self.clicks_ / self.impressions_
        return self._lookup(rate, query, doc, np.nan)

    def pair_frame(self) -> pd.DataFrame:
        """Every logged pair: query, item, impressions, clicks, ctr and estimated relevance."""
        self._check_fitted()
        return pd.DataFrame(
            {
                "query": self.pairs_ // self._doc_base,
                "item": self.pairs_ % self._doc_base,
                "impressions": self.impressions_,
                "clicks": self.clicks_,
                "ctr": self.clicks_ / self.impressions_,
                "relevance": self.relevance_,
            }
        )

    # ------------------------------------------------------------------ persistence
    def _arrays(self) -> dict[str, np.ndarray]:
        return {
            "pairs": self.pairs_,
            "impressions": self.impressions_,
            "clicks": self.clicks_,
            "relevance": self.relevance_,
        }

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.pairs_ = arrays["pairs"]
        self.impressions_ = arrays["impressions"]
        self.clicks_ = arrays["clicks"]
        self.relevance_ = arrays["relevance"]

    def _get_state(self) -> dict[str, np.ndarray]:
        return self._arrays()

    def _meta(self) -> dict[str, Any]:
        return {
            "doc_base": self._doc_base,
            "n_positions": self.n_positions_,
            "scalars": self._scalars(),
        }

    def _scalars(self) -> dict:
        return {"prior_mean_": self.prior_mean_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._set_arrays(arrays)
        self._doc_base = int(meta["doc_base"])
        self.n_positions_ = int(meta["n_positions"])
        for k, v in meta["scalars"].items():
            setattr(self, k, v)

    @classmethod
    def _contract_example(cls) -> tuple[ClickModel, dict, dict]:
        """Simulated sessions: 3 queries, 6 items, slates of 4, clicks falling with position."""
        rng = np.random.default_rng(0)
        n = 300
        query = rng.integers(0, 3, n)
        docs = np.argsort(rng.random((n, 6)), axis=1)[:, :4]
        appeal = (docs + query[:, None]) % 6 / 6.0
        clicks = (rng.random((n, 4)) < appeal / (1 + np.arange(4))).astype(np.int8)
        model = cls(n_iter=10).fit(query, docs, clicks)
        good = {"query": np.array([0, 1, 2]), "doc": np.array([0, 3, 5])}
        return model, good, {"query": np.array([0, 1]), "doc": np.array([0])}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"relevance": self.relevance(inputs["query"], inputs["doc"])}


class CascadeModel(ClickModel):
    """Cascade model: positions down to the first click are examined, nothing after it.

    Maximum likelihood is closed-form (clicks over examinations), so ``n_iter`` is unused.
    Clicks after the first one in a session are ignored, as the model cannot explain them.
    """

    name = "cascade"

    def _fit(self, pair, valid, clicks) -> None:
        k = pair.shape[1]
        any_click = clicks.any(axis=1)
        first = np.where(any_click, clicks.argmax(axis=1), k)
        pos = np.arange(k)
        examined = valid & (pos[None, :] <= first[:, None])
        clicked = examined & (pos[None, :] == first[:, None])
        n = len(self.pairs_)
        self.attraction_ = self._shrunk(
            np.bincount(pair[clicked], minlength=n), np.bincount(pair[examined], minlength=n)
        )
        self.relevance_ = self.attraction_
        self.n_iter_ = 0

    def _arrays(self):
        return super()._arrays() | {"attraction": self.attraction_}

    def _set_arrays(self, arrays):
        super()._set_arrays(arrays)
        self.attraction_ = arrays["attraction"]


class PositionBasedModel(ClickModel):
    """PBM: ``P(click at r) = gamma_r * alpha_qd``, fitted by EM.

    ``examination_`` is reported relative to position 1 (``gamma_r / gamma_1``: the model pins
    only the product ``gamma * alpha``); ``attraction_`` is on the matching scale.
    """

    name = "PBM"

    def _fit(self, pair, valid, clicks) -> None:
        n, k = len(self.pairs_), pair.shape[1]
        p_idx = pair[valid]
        c = clicks[valid]
        pos = np.broadcast_to(np.arange(k), pair.shape)[valid]
        views_pos = np.bincount(pos, minlength=k)
        alpha = np.full(n, 0.5)
        gamma = np.full(k, 0.5)
        prev = -np.inf
        n_done = 0
        for _ in range(self.n_iter):
            n_done += 1
            a, g = alpha[p_idx], gamma[pos]
            miss = np.clip(1.0 - a * g, _EPS, None)
            # posterior that the item attracted / the position was examined, given the outcome
            post_a = np.where(c > 0, 1.0, (1.0 - g) * a / miss)
            post_e = np.where(c > 0, 1.0, g * (1.0 - a) / miss)
            alpha = self._shrunk(np.bincount(p_idx, post_a, minlength=n), self.impressions_)
            gamma = np.bincount(pos, post_e, minlength=k) / np.maximum(views_pos, 1)
            p = np.clip(alpha[p_idx] * gamma[pos], _EPS, 1 - _EPS)
            ll = float(np.mean(c * np.log(p) + (1 - c) * np.log1p(-p)))
            if abs(ll - prev) < self.tol:
                break
            prev = ll
        self.n_iter_ = n_done
        self.log_likelihood_ = ll
        self._gamma, self._alpha = gamma, alpha
        g1 = gamma[0] if gamma[0] > 0 else 1.0
        self.examination_ = gamma / g1
        self.attraction_ = np.clip(alpha * g1, 0.0, None)
        self.relevance_ = alpha

    def click_probability(self, query, docs) -> np.ndarray:
        """Predicted click probability of each slot of slates ``docs`` for ``query``."""
        query, docs, _ = self._check(query, docs)
        if docs.shape[1] > self.n_positions_:
            raise ValidationError(
                f"slates have {docs.shape[1]} positions, the model knows {self.n_positions_}"
            )
        a = self._lookup(self._alpha, np.broadcast_to(query[:, None], docs.shape), docs, self._prior_mean())
        return np.where(docs >= 0, a * self._gamma[: docs.shape[1]], 0.0)

    def _arrays(self):
        return super()._arrays() | {"alpha": self._alpha, "gamma": self._gamma}

    def _set_arrays(self, arrays):
        super()._set_arrays(arrays)
        self._alpha, self._gamma = arrays["alpha"], arrays["gamma"]
        self.examination_ = self._gamma / (self._gamma[0] if self._gamma[0] > 0 else 1.0)
        self.attraction_ = self._alpha * (self._gamma[0] if self._gamma[0] > 0 else 1.0)


class DynamicBayesianNetwork(ClickModel):
    """DBN: cascade with attractiveness ``a_qd``, satisfaction ``s_qd`` and perseverance ``gamma``.

    Relevance is ``a * s`` (the probability that the item, once examined, satisfies the user).
    EM: a forward-backward pass over positions gives each position's examination posterior; the
    expected counts of attraction, satisfaction and continuation are the M-step.
    """

    name = "DBN"

    def __init__(
        self,
        n_iter: int = 50,
        tol: float = 1e-5,
        prior_strength: float = 2.0,
        prior_mean: float | None = None,
        gamma: float | None = None,
    ) -> None:
        super().__init__(n_iter, tol, prior_strength, prior_mean)
        self.gamma = gamma  # fixed perseverance; None learns it (gamma=1 is the simplified DBN)

    def _fit(self, pair, valid, clicks) -> None:
        n = len(self.pairs_)
        S, k = pair.shape
        p_safe = np.where(valid, pair, 0)
        c = clicks
        # a later click in the session: satisfaction after this click is then impossible
        later = np.zeros((S, k), bool)
        later[:, :-1] = np.flip(np.cumsum(np.flip(c[:, 1:], 1), 1), 1) > 0
        clicked = (c > 0) & valid
        n_clicked = np.bincount(pair[clicked], minlength=n)
        # start from the simplified DBN (gamma = 1: everything down to the last click was
        # examined, the last click satisfied), whose closed form is close to the answer; EM from
        # a flat start needs hundreds of iterations for the pairs shown low
        pos = np.arange(k)
        last = np.where(c.any(axis=1), k - 1 - np.argmax(np.flip(c, 1), axis=1), k - 1)
        exam0 = valid & (pos[None, :] <= last[:, None])
        a = self._shrunk(
            np.bincount(pair[clicked], minlength=n).astype(np.float64),
            np.bincount(pair[exam0], minlength=n).astype(np.float64),
        )
        s = np.full(n, 0.5)
        s_const = self.prior_mean
        gamma = 0.9 if self.gamma is None else float(self.gamma)
        prev = -np.inf
        n_done = 0
        for _ in range(self.n_iter):
            n_done += 1
            av = np.where(valid, np.clip(a[p_safe], _EPS, 1 - _EPS), 0.0)  # pads never attract
            sv = np.clip(s[p_safe], _EPS, 1 - _EPS)
            em1 = np.where(c > 0, av, 1.0 - av)  # P(C_i | E_i = 1)
            t11 = np.where(c > 0, gamma * (1.0 - sv), gamma)  # P(E_{i+1} = 1 | E_i = 1, C_i)
            beta1 = np.ones((S, k + 1))
            beta0 = np.ones((S, k + 1))
            for i in range(k - 1, -1, -1):
                beta1[:, i] = em1[:, i] * (t11[:, i] * beta1[:, i + 1] + (1 - t11[:, i]) * beta0[:, i + 1])
                beta0[:, i] = (1.0 - c[:, i]) * beta0[:, i + 1]
            alpha1 = np.zeros((S, k))
            alpha1[:, 0] = 1.0
            for i in range(k - 1):
                alpha1[:, i + 1] = alpha1[:, i] * em1[:, i] * t11[:, i]
            z = np.clip(beta1[:, 0], 1e-300, None)
            p_exam = alpha1 * beta1[:, :k] / z[:, None]
            # satisfaction posterior of a click with no later click
            tail = (1 - gamma) + gamma * beta1[:, 1:]
            p_sat = np.where(clicked & ~later, sv / (sv + (1 - sv) * tail), 0.0)
            post_a = np.where(c > 0, 1.0, (1.0 - p_exam) * av)
            a = self._shrunk(np.bincount(pair[valid], post_a[valid], minlength=n), self.impressions_)
            s = self._shrunk_flat(
                np.bincount(pair[clicked], p_sat[clicked], minlength=n), n_clicked, s_const
            )
            if self.gamma is None:
                nxt = valid[:, 1:]
                used = p_exam[:, :-1] * np.where(c[:, :-1] > 0, 1.0 - p_sat[:, :-1], 1.0)
                cont = alpha1[:, :-1] * em1[:, :-1] * t11[:, :-1] * beta1[:, 1:k] / z[:, None]
                gamma = float(np.clip(cont[nxt].sum() / max(used[nxt].sum(), _EPS), _EPS, 1.0))
            ll = float(np.mean(np.log(z)))
            if abs(ll - prev) < self.tol:
                break
            prev = ll
        self.n_iter_ = n_done
        self.log_likelihood_ = ll
        self.attraction_ = a
        self.satisfaction_ = s
        self.gamma_ = gamma
        self.relevance_ = a * s

    def _shrunk_flat(self, num: np.ndarray, den: np.ndarray, fixed: float | None) -> np.ndarray:
        # satisfaction is shrunk to one log-wide rate: a click's outcome does not depend on where
        # the ranker put the item the way being clicked at all does, and a position-grouped prior
        # here feeds back into the examination estimates
        m = fixed if fixed is not None else float(num.sum() / max(den.sum(), _EPS))
        self.prior_sat_ = float(np.clip(m, _EPS, 1 - _EPS))
        with np.errstate(invalid="ignore", divide="ignore"):
            s = (num + self.prior_strength * self.prior_sat_) / (den + self.prior_strength)
        return np.where(den + self.prior_strength > 0, s, self.prior_sat_)

    def _prior_mean(self) -> float:
        return self.prior_mean_ * self.prior_sat_  # relevance is attraction times satisfaction

    def _scalars(self) -> dict:
        return {"gamma_": self.gamma_, "prior_mean_": self.prior_mean_, "prior_sat_": self.prior_sat_}

    def _arrays(self):
        return super()._arrays() | {"attraction": self.attraction_, "satisfaction": self.satisfaction_}

    def _set_arrays(self, arrays):
        super()._set_arrays(arrays)
        self.attraction_ = arrays["attraction"]
        self.satisfaction_ = arrays["satisfaction"]


CLICK_MODELS = {"cascade": CascadeModel, "pbm": PositionBasedModel, "dbn": DynamicBayesianNetwork}
