"""Buy-till-you-die models of customer lifetime value: BG/NBD purchases and Gamma-Gamma spend.

- :class:`BGNBD` (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while
  alive a customer buys at rate ``lambda ~ Gamma(r, alpha)``; after each purchase they drop out
  with probability ``p ~ Beta(a, b)``. Inputs per customer are the repeat-purchase count
  ``frequency`` (x), the time of the last purchase since the first ``recency`` (t_x) and the age
  ``T``, in one time unit (see :mod:`shopml.predict.rfm`).
- :class:`GammaGamma` (Fader, Hardie & Lee 2005, "RFM and CLV"; Hardie note 025): the average
  spend per repeat transaction, independent of the purchase process.

Maximum likelihood runs L-BFGS-B on the log-parameters (so every parameter stays positive) with
the analytic gradient, from several starting points, in log space throughout (``gammaln``,
``logaddexp``). Times and money are rescaled inside the fit only to condition the problem;
parameters and log-likelihoods are reported in the caller's units.

The conditional expectation needs the Gaussian hypergeometric function. The published form
``2F1(r+x, b+x; a+b+x-1; z)`` overflows and loses precision for large x (the ``lifetimes``
tracker's NaN reports); we evaluate its Euler transform ``(1-z)^(a-1) 2F1(a+b-1-r, a-1;
a+b+x-1; z)``, algebraically identical, whose power series converges the faster the larger x.
It is summed directly where it converges within a few thousand terms, and handed to scipy's
``hyp2f1`` elsewhere (scipy alone returns inf/NaN for integer-valued parameters and large x).
The removable singularities (a = 1; x = 0 with a + b = 1) are evaluated as limits. Checked
against mpmath at 30-50 digits on ~4,000 parameter/history combinations: relative error < 1e-8.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize
from scipy.special import digamma, expit, gammaln, hyp2f1
from threadpoolctl import threadpool_limits

from shopml import __version__
from shopml.core.errors import NotFittedError, ShopMLError, ValidationError
from shopml.core.persist import atomic_write_json, read_json

ArrayLike = Any

# log-parameter bounds: wide enough for any real data set once times/money are rescaled
_LOG_BOUND = math.log(1e6)




class ConvergenceError(ShopMLError):
    """Maximum likelihood did not converge from any starting point."""


# --------------------------------------------------------------------------- input checks


def _array(name: str, values: ArrayLike) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"{name} must be numeric, got {type(values).__name__}: {exc}"
        ) from None
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValidationError(f"{name} has {int(bad.sum())} non-finite value(s) (NaN or inf)")
    return arr


def _first_bad(mask: np.ndarray, values: np.ndarray) -> str:
    idx = np.flatnonzero(mask.ravel())
    return f"{idx.size} row(s), first at position {idx[0]} ({values.ravel()[idx[0]]!r})"


def check_rfm(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> tuple[np.ndarray, ...]:
    """Validate and broadcast a BTYD summary; returns float arrays ``(x, t_x, T)``.

    Raises
    ------
    ValidationError
        Negative or non-integer frequency, negative recency or age, recency greater than the
        age, or a recency other than 0 for a customer without repeat purchases (usually
        "days since the last purchase" passed where time of the last purchase is expected).
    """
    x, tx, age = _array("frequency", frequency), _array("recency", recency), _array("T", T)
    try:
        x, tx, age = np.broadcast_arrays(x, tx, age)
    except ValueError:
        raise ValidationError(
            f"frequency, recency and T must have the same length; got shapes {np.shape(frequency)}, "
            f"{np.shape(recency)}, {np.shape(T)}"
        ) from None
    if (x < 0).any():
        raise ValidationError(f"frequency must be >= 0 (repeat purchases): {_first_bad(x < 0, x)}")
    if (x != np.round(x)).any():
        raise ValidationError(
            f"frequency must be a whole number of repeat purchases: {_first_bad(x != np.round(x), x)}"
        )
    if (tx < 0).any():
        raise ValidationError(f"recency must be >= 0: {_first_bad(tx < 0, tx)}")
    if (age < 0).any():
        raise ValidationError(f"T (customer age) must be >= 0: {_first_bad(age < 0, age)}")
    # summaries rounded to 2 decimals (the CDNOW file) may put recency a hair above T
    over = tx > age * (1 + 1e-9) + 1e-9
    if over.any():
        raise ValidationError(
            f"recency must be <= T (the last purchase cannot be after the end of the period): "
            f"{_first_bad(over, tx)}"
        )
    stray = (x == 0) & (tx != 0)
    if stray.any():
        raise ValidationError(
            "recency must be 0 where frequency is 0 (recency is the time of the last purchase "
            f"since the first, not the time since the last purchase): {_first_bad(stray, tx)}"
        )
    return x, tx, age


def _check_t(t: ArrayLike) -> np.ndarray:
    arr = _array("t", t)
    if (arr < 0).any():
        raise ValidationError(f"t (prediction horizon) must be >= 0: {_first_bad(arr < 0, arr)}")
    return arr


# --------------------------------------------------------------------------- shared fitting


class _BTYDModel:
    """Shared plumbing: multi-start L-BFGS-B on log-parameters, params_, save/load."""

    param_names: ClassVar[tuple[str, ...]] = ()

    def __init__(self, penalizer: float = 0.0, tol: float = 1e-10, max_iter: int = 5000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    # -- state
    @property
    def params_(self) -> dict[str, float]:
        """Fitted parameters by name."""
        if not hasattr(self, "_params"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() or load() first")
        return dict(zip(self.param_names, (float(v) for v in self._params), strict=True))

    def _p(self) -> np.ndarray:
        return np.asarray(list(self.params_.values()))

    def _check_params(self) -> None:
        if self.penalizer < 0:
            raise ValidationError(f"penalizer must be >= 0, got {self.penalizer}")
        if self.tol <= 0 or self.max_iter < 1:
            raise ValidationError(
                f"tol must be > 0 and max_iter >= 1, got {self.tol}, {self.max_iter}"
            )

    def _optimise(self, nll_grad, starts: np.ndarray) -> np.ndarray:
        """Minimise ``nll_grad(theta) -> (value, grad)`` from each start; best converged theta."""
        bounds = [(-_LOG_BOUND, _LOG_BOUND)] * starts.shape[1]
        # L-BFGS-B's tiny BLAS calls are 20x slower with a multi-threaded BLAS on a busy machine
        with threadpool_limits(1, user_api="blas"):
            results = [self._minimise_once(nll_grad, theta0, bounds) for theta0 in starts]
        converged = [r for r, ok in results if ok and np.isfinite(r.fun)]
        if not converged:
            msgs = sorted({str(r.message) for r, _ in results})
            raise ConvergenceError(
                f"{type(self).__name__}: maximum likelihood did not converge from any of "
                f"{len(starts)} starting points ({'; '.join(msgs)}); check the inputs' units"
            )
        best = min(converged, key=lambda r: r.fun)
        funs = np.array([r.fun for r in converged])
        self.optimizer_ = {
            "starts": len(starts),
            "converged": len(converged),
            # how many converged starts agree with the best: a multi-modal surface shows here
            "agreeing_starts": int(np.sum(funs - best.fun < 1e-7 * max(1.0, abs(best.fun)))),
            "iterations": int(best.nit),
            "message": str(best.message),
        }
        at_bound = np.abs(best.x) > _LOG_BOUND - 1e-6
        if at_bound.any():
            names = [n for n, b in zip(self.param_names, at_bound, strict=True) if b]
            warnings.warn(
                f"{type(self).__name__}: parameter(s) {names} at the bound of the search "
                "(the data do not identify them); predictions stay usable",
                RuntimeWarning,
                stacklevel=3,
            )
        return best.x

    def _minimise_once(self, nll_grad, theta0: np.ndarray, bounds) -> tuple[Any, bool]:
        res = minimize(
            nll_grad,
            theta0,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-8},
        )
        # a line-search stop at the optimum (flat objective) is still convergence
        ok = bool(res.success) or float(np.max(np.abs(res.jac))) < 1e-5
        return res, ok

    # -- persistence
    def save(self, path: str | Path) -> Path:
        """Write the fitted parameters as JSON."""
        payload = {
            "model": type(self).__name__,
            "params": self.params_,
            "hyperparameters": {
                "penalizer": self.penalizer,
                "tol": self.tol,
                "max_iter": self.max_iter,
            },
            "log_likelihood": getattr(self, "log_likelihood_", None),
            "n_customers": getattr(self, "n_customers_", None),
            "shopml_version": __version__,
        }
        return atomic_write_json(path, payload)

    @classmethod
    def load(cls, path: str | Path):
        """A fitted model from :meth:`save`'s JSON."""
        data = read_json(path)
        if not isinstance(data, dict) or data.get("model") != cls.__name__:
            found = data.get("model") if isinstance(data, dict) else type(data).__name__
            raise ValidationError(f"{path}: expected a saved {cls.__name__}, found {found!r}")
        params = data.get("params", {})
        if sorted(params) != sorted(cls.param_names):
            raise ValidationError(
                f"{path}: params {sorted(params)}, expected {sorted(cls.param_names)}"
            )
        values = np.array([float(params[n]) for n in cls.param_names])
        if not (np.isfinite(values).all() and (values > 0).all()):
            raise ValidationError(f"{path}: parameters must be positive and finite, got {params}")
        model = cls(**data.get("hyperparameters", {}))
        model._params = values
        if data.get("log_likelihood") is not None:
            model.log_likelihood_ = float(data["log_likelihood"])
        if data.get("n_customers") is not None:
            model.n_customers_ = int(data["n_customers"])
        return model

    def __repr__(self) -> str:
        if hasattr(self, "_params"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        else:
            inner = f"penalizer={self.penalizer}, not fitted"
        return f"{type(self).__name__}({inner})"


def _collapse(
    *columns: np.ndarray, weights: np.ndarray | None
) -> tuple[list[np.ndarray], np.ndarray]:
    """Identical customers share one likelihood term: unique rows and their total weight."""
    stacked = np.column_stack(columns)
    uniq, inverse = np.unique(stacked, axis=0, return_inverse=True)
    w = np.ones(len(stacked)) if weights is None else weights
    counts = np.bincount(inverse.ravel(), weights=w, minlength=len(uniq))
    return [uniq[:, i] for i in range(uniq.shape[1])], counts


def _check_weights(weights: ArrayLike | None, n: int) -> np.ndarray | None:
    if weights is None:
        return None
    w = _array("weights", weights).ravel()
    if w.shape != (n,):
        raise ValidationError(f"weights must have one value per customer ({n}), got {w.shape}")
    if (w < 0).any() or w.sum() <= 0:
        raise ValidationError("weights must be >= 0 with a positive sum")
    return w


# --------------------------------------------------------------------------- BG/NBD


def bgnbd_log_likelihood(
    params: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood at ``params = (r, alpha, a, b)``."""
    r, alpha, a, b = np.asarray(params, dtype=np.float64)
    x, tx, age = check_rfm(frequency, recency, T)
    return _bgnbd_ll_grad(r, alpha, a, b, x, tx, age, grad=False)[0]


def _bgnbd_ll_grad(r, alpha, a, b, x, tx, age, grad=True):
    """Per-row log-likelihood and its gradient w.r.t. (r, alpha, a, b)."""
    rep = x > 0
    xm = np.where(rep, x, 1.0)  # b + x - 1 only enters where x > 0
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + age)
    a4 = np.where(rep, np.log(a) - np.log(b + xm - 1) - (r + x) * np.log(alpha + tx), -np.inf)
    mix = np.logaddexp(a3, a4)
    ll = a1 + a2 + mix
    if not grad:
        return ll, None
    w4 = np.exp(a4 - mix)  # posterior weight of "dropped out after the last purchase"
    w3 = 1.0 - w4
    d_r = (
        digamma(r + x)
        - digamma(r)
        + np.log(alpha)
        - w3 * np.log(alpha + age)
        - w4 * np.log(alpha + tx)
    )
    d_alpha = r / alpha - (r + x) * (w3 / (alpha + age) + w4 / (alpha + tx))
    psi_ab, psi_abx = digamma(a + b), digamma(a + b + x)
    d_a = psi_ab - psi_abx + w4 / a
    d_b = psi_ab + digamma(b + x) - digamma(b) - psi_abx - w4 / (b + xm - 1)
    return ll, np.stack([d_r, d_alpha, d_a, d_b])


class BGNBD(_BTYDModel):
    """Beta-geometric / negative binomial distribution model of repeat purchases.

    Parameters
    ----------
    penalizer:
        L2 penalty on the parameters (``lifetimes``' ``penalizer_coef``); 0 is plain maximum
        likelihood.
    tol, max_iter:
        L-BFGS-B relative tolerance on the objective and iteration cap per start.

    Examples
    --------
    >>> m = BGNBD().fit(summary.frequency, summary.recency, summary.T)  # doctest: +SKIP
    >>> m.predict_purchases(39, summary.frequency, summary.recency, summary.T)  # doctest: +SKIP
    """

    param_names = ("r", "alpha", "a", "b")

    def fit(
        self,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        weights: ArrayLike | None = None,
    ) -> BGNBD:
        """Maximum-likelihood fit; ``weights`` counts customers sharing one (x, t_x, T) row."""
        self._check_params()
        x, tx, age = (a.ravel() for a in check_rfm(frequency, recency, T))
        if x.size == 0:
            raise ValidationError("fit needs at least one customer; got empty inputs")
        w = _check_weights(weights, x.size)
        if age.max() <= 0:
            raise ValidationError(
                "T is 0 for every customer: nothing to learn a purchase rate from"
            )
        self._fit(x, tx, age, w)
        return self

    def _fit(self, x, tx, age, w) -> None:
        (x, tx, age), cnt = _collapse(x, tx, age, weights=w)
        # rescale time so alpha is of order 1; alpha scales back exactly, r, a, b are unit-free
        scale = float(np.mean(age[age > 0]))
        txs, ages = tx / scale, age / scale
        total = cnt.sum()
        pen = self.penalizer

        def nll_grad(theta):
            p = np.exp(theta)
            ll, g = _bgnbd_ll_grad(*p, x, txs, ages)
            value = -(cnt @ ll) / total + pen * np.sum(p**2)
            grad = -(g @ cnt) / total * p + pen * 2 * p**2
            if not np.isfinite(value):
                return np.inf, np.zeros_like(theta)
            return value, grad

        mean_rate = float(np.sum(cnt * x) / np.sum(cnt * ages))
        starts = np.log(
            [
                [r, r / max(mean_rate, 1e-3), a, b]
                for r in (0.25, 1.0)
                for a in (0.5, 2.0)
                for b in (1.0, 4.0)
            ]
        )
        theta = self._optimise(nll_grad, starts)
        p = np.exp(theta)
        p[1] *= scale
        self._params = p
        self.log_likelihood_ = float(cnt @ _bgnbd_ll_grad(*p, x, tx, age, grad=False)[0])
        self.n_customers_ = int(round(total))

    # -- predictions
    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Per-customer log-likelihood under the fitted parameters."""
        return bgnbd_log_likelihood(self._p(), frequency, recency, T)

    def p_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> np.ndarray:
        """Probability that each customer is still alive at the end of their observation (T)."""
        r, alpha, a, b = self._p()
        x, tx, age = check_rfm(frequency, recency, T)
        return _p_alive(r, alpha, a, b, x, tx, age)

    def predict_purchases(
        self, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
    ) -> np.ndarray:
        """Expected number of purchases in the next ``t`` time units, given each customer's history.

        Equation (10) of Fader, Hardie & Lee (2005); ``t`` broadcasts against the customers.
        """
        r, alpha, a, b = self._p()
        tt = _check_t(t)
        x, tx, age = check_rfm(frequency, recency, T)
        return _conditional_purchases(r, alpha, a, b, tt, x, tx, age)

    def expected_purchases(self, t: ArrayLike) -> np.ndarray:
        """Expected repeat purchases in ``(0, t]`` of a new customer from the population (eq. 9)."""
        r, alpha, a, b = self._p()
        tt = _check_t(t)
        zero = np.zeros_like(tt)
        return _conditional_purchases(r, alpha, a, b, tt, zero, zero, zero)


def _p_alive(r, alpha, a, b, x, tx, age) -> np.ndarray:
    rep = x > 0
    # log of the odds "dropped out after the last purchase" : "alive"
    log_odds = (
        np.log(a)
        - np.log(b + np.where(rep, x, 1.0) - 1)
        + (r + x) * (np.log(alpha + age) - np.log(alpha + tx))
    )
    return np.where(rep, expit(-log_odds), 1.0)


def _conditional_purchases(r, alpha, a, b, t, x, tx, age) -> np.ndarray:
    """E[X(T, T + t) | x, t_x, T] = P(alive) * E[purchases in t | alive]."""
    t, x, tx, age = (np.array(v, dtype=np.float64) for v in np.broadcast_arrays(t, x, tx, age))
    alive_part = _alive_purchases(r, alpha, a, b, t, x, age)
    out = _p_alive(r, alpha, a, b, x, tx, age) * alive_part
    if not np.isfinite(out).all():  # pragma: no cover - every known failure is guarded above
        bad = np.flatnonzero(~np.isfinite(out).ravel())[0]
        raise ShopMLError(
            "BG/NBD conditional expectation is not finite at "
            f"t={t.ravel()[bad]}, frequency={x.ravel()[bad]}, recency={tx.ravel()[bad]}, "
            f"T={age.ravel()[bad]} (r={r}, alpha={alpha}, a={a}, b={b}); please report it"
        )
    return out


_SINGULAR = 1e-6  # distance to a singular parameter value where the closed form is 0/0


def _alive_purchases(r, alpha, a, b, t, x, age) -> np.ndarray:
    """E[purchases in (T, T+t] | alive at T] = (c / (a-1)) (1 - (1-z)^(a-1) 2F1(A, a-1; c; z)).

    ``c = a+b+x-1``, ``A = a+b-1-r``, ``z = t / (alpha+T+t)``. The expectation is smooth in the
    parameters, but the closed form is 0/0 at ``a = 1`` and where ``c`` is a non-positive
    integer (x = 0 and a + b = 1): there it is the mean of both sides (second-order accurate).
    """
    if abs(a - 1.0) < _SINGULAR:
        lo = _alive_c_safe(r, alpha, 1.0 - _SINGULAR, b, t, x, age)
        hi = _alive_c_safe(r, alpha, 1.0 + _SINGULAR, b, t, x, age)
        return 0.5 * (lo + hi)
    return _alive_c_safe(r, alpha, a, b, t, x, age)


def _alive_c_safe(r, alpha, a, b, t, x, age) -> np.ndarray:
    c = a + b + x - 1
    singular = (c < 0.5) & (np.abs(c - np.round(c)) < _SINGULAR)
    if not singular.any():
        return _alive_core(r, alpha, a, b, t, x, age)
    h = 2 * _SINGULAR  # lands both sides at least _SINGULAR away from the singular point
    out = np.empty_like(c)
    ok = ~singular
    out[ok] = _alive_core(r, alpha, a, b, t[ok], x[ok], age[ok])
    args = (t[singular], x[singular], age[singular])
    hi = _alive_core(r, alpha, a, b + h, *args)
    # b below 2e-6 leaves one side only (first order)
    out[singular] = 0.5 * (_alive_core(r, alpha, a, b - h, *args) + hi) if b > 2 * h else hi
    return out


def _alive_core(r, alpha, a, b, t, x, age) -> np.ndarray:
    c = a + b + x - 1
    z = t / (alpha + age + t)
    f = _hyp2f1(a + b - 1 - r, a - 1, c, z)
    log_g = (a - 1) * np.log1p(-z)
    with np.errstate(invalid="ignore", divide="ignore"):
        # -expm1 keeps 1 - (1-z)^(a-1) F exact for small t; F <= 0 only when c < 0
        exact = -np.expm1(log_g + np.log(f))
    plain = 1.0 - np.exp(log_g) * f
    return c / (a - 1) * np.where(f > 0, exact, plain)


def _hyp2f1(A: float, B: float, c: np.ndarray, z: np.ndarray, max_terms: int = 2000) -> np.ndarray:
    """Gauss 2F1(A, B; c; z) for 0 <= z < 1: its power series where that converges fast, else scipy.

    scipy's ``hyp2f1`` returns inf/NaN when ``c - A - B`` is an integer, ``c`` is large and
    ``z`` near 1 (e.g. A = B = 1, c = 102, z = 0.9) - large frequencies with integer-valued
    parameters. The series converges fastest exactly there (terms fall like (A)_n (B)_n / (c)_n),
    so it is summed first, vectorised over the customers, one term at a time; entries not
    converged after ``max_terms`` terms (small c, z near 1) go to scipy, which is reliable there.
    """
    c, z = np.broadcast_arrays(np.asarray(c, dtype=np.float64), np.asarray(z, dtype=np.float64))
    shape = c.shape
    c, z = c.ravel(), z.ravel()
    total = np.ones_like(c)
    term = np.ones_like(c)
    active = np.arange(c.size)
    done = np.zeros(c.size, dtype=bool)
    n_min = abs(A) + abs(B)  # beyond this the terms keep one sign and shrink
    tail = 1e-17 / np.maximum(1.0 - z, 1e-300)  # geometric tail bound |term| z^k, k >= 1
    for n in range(max_terms):  # a loop over series terms, vectorised over customers
        ca, za = c[active], z[active]
        term[active] *= (A + n) * (B + n) / ((ca + n) * (n + 1.0)) * za
        total[active] += term[active]
        if n >= n_min:
            conv = np.abs(term[active]) <= tail[active] * np.abs(total[active])
            done[active[conv]] = True
            active = active[~conv]
            if active.size == 0:
                break
    rest = ~done
    if rest.any():
        total[rest] = hyp2f1(A, B, c[rest], z[rest])
        bad = np.flatnonzero(rest & ~np.isfinite(total))
        # mpmath costs milliseconds a point: worth it for a few stray points, not for a fit whose
        # parameters put thousands of customers there (those stay NaN and are reported)
        if 0 < bad.size <= 64:
            # scipy also fails where c - A - B is an integer with z near 1 and c small
            # (A=3, B=-0.99, c=3.01, z=0.998 gives NaN); these points are rare, so mpmath
            # (arbitrary precision, installed with torch's sympy) evaluates them one by one.
            import mpmath

            total[bad] = [_mp_hyp2f1(mpmath, A, B, c[i], z[i]) for i in bad]
    return total.reshape(shape)


def _mp_hyp2f1(mpmath, A: float, B: float, c: float, z: float) -> float:
    """mpmath's 2F1, or NaN where even it does not converge (the caller reports non-finite values)."""
    try:
        return float(mpmath.hyp2f1(A, B, c, z))
    except mpmath.libmp.NoConvergence:
        return float("nan")


# --------------------------------------------------------------------------- Gamma-Gamma


def _check_spend(frequency: ArrayLike, monetary_value: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    x, m = _array("frequency", frequency), _array("monetary_value", monetary_value)
    try:
        x, m = np.broadcast_arrays(x, m)
    except ValueError:
        raise ValidationError(
            f"frequency and monetary_value must have the same length; got {np.shape(frequency)}, "
            f"{np.shape(monetary_value)}"
        ) from None
    if (x < 0).any() or (x != np.round(x)).any():
        bad = (x < 0) | (x != np.round(x))
        raise ValidationError(f"frequency must be a whole number >= 0: {_first_bad(bad, x)}")
    bad = (x > 0) & (m <= 0)
    if bad.any():
        raise ValidationError(
            "monetary_value must be > 0 for customers with repeat purchases (Gamma-Gamma models "
            f"positive spend; drop returns-only customers first): {_first_bad(bad, m)}"
        )
    return x, m


def _gg_ll_grad(p, q, v, x, m, grad=True):
    px = p * x
    ll = (
        gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(x * m + v)
    )  # fmt: skip
    if not grad:
        return ll, None
    psi = digamma(px + q)
    d_p = x * (psi - digamma(px) + np.log(m) + np.log(x) - np.log(x * m + v))
    d_q = psi - digamma(q) + np.log(v) - np.log(x * m + v)
    d_v = q / v - (px + q) / (x * m + v)
    return ll, np.stack([d_p, d_q, d_v])


class GammaGamma(_BTYDModel):
    """Gamma-Gamma model of the average spend per repeat transaction.

    Spend per transaction of a customer is ``Gamma(p, nu)`` with ``nu ~ Gamma(q, v)`` across
    customers. Fits on customers with at least one repeat purchase (the monetary value is
    the mean of repeat transactions; customers with frequency 0 carry no information and are
    skipped, as in Fader & Hardie). Assumes spend independent of purchase frequency: check the
    correlation before trusting a CLV built on it.
    """

    param_names = ("p", "q", "v")

    def fit(
        self, frequency: ArrayLike, monetary_value: ArrayLike, weights: ArrayLike | None = None
    ) -> GammaGamma:
        """Maximum-likelihood fit on the customers with ``frequency > 0``."""
        self._check_params()
        x, m = (a.ravel() for a in _check_spend(frequency, monetary_value))
        w = _check_weights(weights, x.size)
        keep = x > 0
        if keep.sum() < 2:
            raise ValidationError(
                f"Gamma-Gamma needs customers with repeat purchases; {int(keep.sum())} of {x.size} have any"
            )
        self._fit(x[keep], m[keep], None if w is None else w[keep])
        return self

    def _fit(self, x, m, w) -> None:
        (x, m), cnt = _collapse(x, m, weights=w)
        scale = float(np.average(m, weights=cnt))  # money of order 1 inside the optimiser
        ms = m / scale
        total = cnt.sum()
        pen = self.penalizer

        def nll_grad(theta):
            prm = np.exp(theta)
            ll, g = _gg_ll_grad(*prm, x, ms)
            value = -(cnt @ ll) / total + pen * np.sum(prm**2)
            grad = -(g @ cnt) / total * prm + pen * 2 * prm**2
            if not np.isfinite(value):
                return np.inf, np.zeros_like(theta)
            return value, grad

        starts = np.log([[p, q, q] for p in (1.0, 5.0) for q in (2.0, 5.0, 20.0)])
        theta = self._optimise(nll_grad, starts)
        prm = np.exp(theta)
        prm[2] *= scale
        self._params = prm
        self.log_likelihood_ = float(cnt @ _gg_ll_grad(*prm, x, m, grad=False)[0])
        self.n_customers_ = int(round(total))

    def log_likelihood(self, frequency: ArrayLike, monetary_value: ArrayLike) -> np.ndarray:
        """Per-customer log-likelihood (customers with frequency > 0)."""
        x, m = _check_spend(frequency, monetary_value)
        if (x == 0).any():
            raise ValidationError("log_likelihood is defined for frequency > 0 only")
        return _gg_ll_grad(*self._p(), x, m, grad=False)[0]

    def conditional_expected_average_profit(
        self, frequency: ArrayLike | None = None, monetary_value: ArrayLike | None = None
    ) -> np.ndarray | float:
        """Expected spend per transaction given each customer's history (population mean if none).

        A weighted average of the population mean ``p v / (q - 1)`` and the customer's own mean,
        weighted by their number of repeat purchases.
        """
        p, q, v = self._p()
        if frequency is None and monetary_value is None:
            if q <= 1:
                raise ShopMLError(f"population mean spend is infinite for q <= 1 (q={q:.4g})")
            return p * v / (q - 1)
        if frequency is None or monetary_value is None:
            raise ValidationError("give both frequency and monetary_value, or neither")
        x, m = _check_spend(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)  # frequency 0: only the population part applies
        denom = p * x + q - 1
        if (denom <= 0).any():
            raise ShopMLError(
                f"expected spend is infinite where p*frequency + q <= 1 (q={q:.4g}); "
                "the fitted spend distribution has no mean for customers without repeat purchases"
            )
        return p * (v + x * m) / denom

    def clv(
        self,
        purchases: BGNBD,
        frequency: ArrayLike,
        recency: ArrayLike,
        T: ArrayLike,
        monetary_value: ArrayLike,
        horizon: float,
        step: float = 1.0,
        discount_rate: float = 0.0,
    ) -> np.ndarray:
        """Discounted expected value of each customer's purchases over ``horizon`` time units.

        The horizon is cut into steps of ``step`` units (e.g. ``step=4.345`` weeks for months);
        purchases expected in step ``k`` are worth ``spend / (1 + discount_rate) ** k``, as
        ``lifetimes``' ``customer_lifetime_value``. ``horizon`` need not be a multiple of ``step``.
        """
        if horizon <= 0 or step <= 0:
            raise ValidationError(f"horizon and step must be > 0, got {horizon}, {step}")
        if discount_rate < 0:
            raise ValidationError(f"discount_rate must be >= 0, got {discount_rate}")
        x, tx, age = check_rfm(frequency, recency, T)
        spend = self.conditional_expected_average_profit(x, monetary_value)
        k = np.arange(1, math.ceil(horizon / step - 1e-9) + 1)
        ends = np.minimum(k * step, horizon).reshape((-1,) + (1,) * x.ndim)
        cum = purchases.predict_purchases(ends, x, tx, age)
        per_step = np.diff(cum, axis=0, prepend=np.zeros((1, *cum.shape[1:])))
        disc = (1.0 + discount_rate) ** -k.reshape(ends.shape)
        return spend * np.sum(per_step * disc, axis=0)


__all__ = [
    "BGNBD",
    "ConvergenceError",
    "GammaGamma",
    "NotFittedError",
    "bgnbd_log_likelihood",
    "check_rfm",
]
