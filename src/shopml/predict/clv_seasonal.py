"""BG/NBD with a calendar: purchase rates that follow the shop's seasons and weekdays.

BG/NBD assumes each customer buys at a constant rate while alive. A shop has weekdays (Online
Retail takes no orders on Saturdays) and seasons. :class:`SeasonalCLV` lets every customer's
rate follow one shared calendar intensity,

.. math::  \\lambda_i(d) = \\lambda_i \\, s(d), \\qquad
           \\log s(d) = \\sum_{k \\le K} (\\beta_k \\cos 2\\pi k y(d) + \\gamma_k \\sin 2\\pi k y(d))
                        + \\delta_{\\mathrm{dow}(d)},

with :math:`y(d)` the day's position in the year and :math:`\\delta` a weekday effect (Monday =
0). A Poisson process with rate :math:`\\lambda s(d)` is a homogeneous one in *operational time*
:math:`\\tau(d) = \\sum_{u \\le d} s(u)`, so the model is exactly BG/NBD on operational time:
the drop-out process (after each purchase) is unchanged, and the likelihood is BG/NBD's on the
warped recency and age plus :math:`\\sum_j \\log s(d_j)` over each customer's repeat purchase
days. All parameters (``r, alpha, a, b`` and the calendar's) are fitted jointly by maximum
likelihood (L-BFGS-B). This is the time-varying-covariate extension of BTYD models (Fader,
Hardie & Lee's "tracking plots" with calendar effects; Bemmaor & Glady 2012 for Pareto/NBD) in
its simplest form: covariates that are functions of the date only, so they are known for any
future day.

The number of yearly harmonics ``K`` is chosen on a validation period carved from the end of
the calibration orders (``validation_days``): each candidate is fitted on the orders before
it, predicts each customer's purchase days in it, and the lowest mean absolute error wins;
then the chosen form is refitted on everything up to ``end``. With less than a year of
history a yearly cycle is barely identified, and the validation step is what keeps a poorly
identified one out.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln
from threadpoolctl import threadpool_limits

from shopml.core.errors import DataError, ShopMLError, ValidationError
from shopml.predict.btyd import BGNBD, GammaGamma, _conditional_purchases, _p_alive
from shopml.predict.clv import CLVModel, discount_weights
from shopml.predict.rfm import daily_purchases

_YEAR = 365.25
_EPOCH = pd.Timestamp("2000-01-01")
# calendar coefficients stay within a factor e^4 of the mean intensity
_COEF_BOUND = 4.0
_LOG_BOUND = float(np.log(1e6))


def calendar_features(days: pd.DatetimeIndex, harmonics: int, weekly: bool) -> np.ndarray:
    """Design matrix of the calendar intensity: ``harmonics`` yearly (cos, sin) pairs, then
    six weekday indicators (Tuesday .. Sunday; Monday is the reference)."""
    y = (days - _EPOCH).days.to_numpy(dtype=float) / _YEAR
    cols = []
    for k in range(1, harmonics + 1):
        cols += [np.cos(2 * np.pi * k * y), np.sin(2 * np.pi * k * y)]
    if weekly:
        dow = days.dayofweek.to_numpy()
        cols += [(dow == j).astype(float) for j in range(1, 7)]
    return np.column_stack(cols) if cols else np.zeros((len(days), 0))


class SeasonalCLV(CLVModel):
    """BG/NBD in operational time with a yearly and weekly calendar, x Gamma-Gamma spend.

    Parameters
    ----------
    harmonics:
        yearly harmonics ``K`` (0 = no yearly cycle), or ``"auto"`` to choose among
        ``candidates`` on the validation period.
    weekly:
        fit a weekday effect.
    validation_days:
        length of the validation period carved from the end of the calibration orders (for
        ``harmonics="auto"``).
    max_harmonics:
        ``"auto"`` tries ``K = 0 .. max_harmonics``.
    step_days, spend, min_spenders:
        as :class:`~shopml.predict.clv.BTYDCLV`.
    """

    def __init__(
        self,
        harmonics: int | Literal["auto"] = "auto",
        weekly: bool = True,
        validation_days: int = 90,
        max_harmonics: int = 2,
        step_days: float = 30.0,
        spend: bool = True,
        min_spenders: int = 10,
    ) -> None:
        self.harmonics = harmonics
        self.weekly = weekly
        self.validation_days = validation_days
        self.max_harmonics = max_harmonics
        self.step_days = step_days
        self.spend = spend
        self.min_spenders = min_spenders

    def _check_params(self) -> None:
        if self.harmonics != "auto" and not (
            isinstance(self.harmonics, int | np.integer) and 0 <= self.harmonics <= 6
        ):
            raise ValidationError(f"harmonics must be 0..6 or 'auto', got {self.harmonics!r}")
        if not (isinstance(self.validation_days, int | np.integer) and self.validation_days >= 7):
            raise ValidationError(f"validation_days must be an int >= 7, got {self.validation_days!r}")
        if not (isinstance(self.max_harmonics, int | np.integer) and 0 <= self.max_harmonics <= 6):
            raise ValidationError(f"max_harmonics must be 0..6, got {self.max_harmonics!r}")
        if not self.step_days > 0:
            raise ValidationError(f"step_days must be > 0, got {self.step_days!r}")

    # ------------------------------------------------------------------ data
    @staticmethod
    def _history(orders: pd.DataFrame, end: pd.Timestamp) -> dict[str, Any]:
        daily = daily_purchases(orders, value_col="value")
        daily = daily[daily["day"] <= end]
        g = daily.groupby("customer", sort=True)
        first, last = g["day"].min(), g["day"].max()
        x = (g.size() - 1).to_numpy(dtype=float)
        repeat = daily[daily["day"] > daily.groupby("customer")["day"].transform("min")]
        value = g["value"].sum().to_numpy()
        first_value = g["value"].first().to_numpy()  # rows are day-sorted
        return {
            "customers": first.index,
            "first": first.to_numpy(),
            "last": last.to_numpy(),
            "x": x,
            "repeat_customer": first.index.get_indexer(repeat["customer"]),
            "repeat_day": repeat["day"].to_numpy(),
            "monetary": np.where(x > 0, (value - first_value) / np.maximum(x, 1), 0.0),
            "day_values": daily["value"].to_numpy(),
            "start": pd.Timestamp(first.min()),
            "end": end,
        }

    def _design(self, start: pd.Timestamp, stop: pd.Timestamp, harmonics: int) -> tuple:
        grid = pd.date_range(start, stop, freq="D")
        return grid, calendar_features(grid, harmonics, self.weekly)

    @staticmethod
    def _times(C: np.ndarray, grid0: pd.Timestamp, hist: dict[str, Any]):
        """Warped recency and age: operational time from the day after the first purchase to
        the last purchase day, and to the end day (inclusive)."""
        i0 = (pd.DatetimeIndex(hist["first"]) - grid0).days.to_numpy()
        il = (pd.DatetimeIndex(hist["last"]) - grid0).days.to_numpy()
        ie = (hist["end"] - grid0).days
        return C[il + 1] - C[i0 + 1], C[ie + 1] - C[i0 + 1]

    # ------------------------------------------------------------------ fit
    def _fit(self, orders: pd.DataFrame, end: pd.Timestamp) -> None:
        self._check_params()
        hist = self._history(orders, end)
        if (end - hist["start"]).days < 28:
            raise DataError(
                f"orders span {(end - hist['start']).days} days: a calendar needs at least 28"
            )
        self.validation_: dict[str, float] = {}
        k = self.harmonics
        if k == "auto":
            k = self._choose_harmonics(orders, end)
        self.harmonics_ = int(k)
        self._fit_history(hist, self.harmonics_)
        self._fit_spend(hist)
        self.n_customers_ = len(hist["customers"])

    def _choose_harmonics(self, orders: pd.DataFrame, end: pd.Timestamp) -> int:
        cut = end - pd.Timedelta(days=self.validation_days)
        train = orders[orders["ts"] < cut + pd.Timedelta(days=1)]
        hist = self._history(train, cut) if len(train) else None
        if hist is None or (cut - hist["start"]).days < 2 * self.validation_days:
            return 0  # too short to validate: the simplest form
        later = daily_purchases(orders[orders["ts"] >= cut + pd.Timedelta(days=1)])
        actual = (
            later[later["customer"].isin(hist["customers"])]
            .groupby("customer").size().reindex(hist["customers"], fill_value=0).to_numpy()
        )
        for cand in range(int(self.max_harmonics) + 1):
            try:
                self._fit_history(hist, cand)
            except DataError:
                continue
            pred = self._expected(hist, float(self.validation_days))
            self.validation_[str(cand)] = float(np.mean(np.abs(pred - actual)))
        if not self.validation_:
            raise DataError("no calendar form could be fitted on the validation split")
        return int(min(self.validation_, key=self.validation_.get))

    def _fit_history(self, hist: dict[str, Any], harmonics: int) -> None:
        grid, F = self._design(hist["start"], hist["end"], harmonics)
        grid0 = grid[0]
        Fj = np.zeros((len(hist["customers"]), F.shape[1]))
        np.add.at(Fj, hist["repeat_customer"], F[(pd.DatetimeIndex(hist["repeat_day"]) - grid0).days])
        x = hist["x"]
        # conditioning: operational time in units of the mean age, as BGNBD rescales
        i0 = (pd.DatetimeIndex(hist["first"]) - grid0).days.to_numpy()
        il = (pd.DatetimeIndex(hist["last"]) - grid0).days.to_numpy()
        ie = (hist["end"] - grid0).days
        scale = float(np.mean(ie - i0)) or 1.0
        n, nb = len(x), F.shape[1]
        rep = x > 0
        xm = np.where(rep, x, 1.0)

        def nll(theta: np.ndarray) -> float:
            r, alpha, a, b = np.exp(theta[:4])
            beta = theta[4:]
            s = np.exp(F @ beta) if nb else np.ones(len(grid))
            C = np.concatenate([[0.0], np.cumsum(s)]) / scale
            tx, age = C[il + 1] - C[i0 + 1], C[ie + 1] - C[i0 + 1]
            a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
            a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
            a3 = -(r + x) * np.log(alpha + age)
            a4 = np.where(rep, np.log(a) - np.log(b + xm - 1) - (r + x) * np.log(alpha + tx), -np.inf)
            ll = a1 + a2 + np.logaddexp(a3, a4) + (Fj @ beta if nb else 0.0)
            value = -float(np.sum(ll)) / n
            return value if np.isfinite(value) else 1e10

        mean_rate = float(x.sum() / max(np.sum(ie - i0) / scale, 1e-9))
        bounds = [(-_LOG_BOUND, _LOG_BOUND)] * 4 + [(-_COEF_BOUND, _COEF_BOUND)] * nb
        best = None
        with threadpool_limits(1, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            for r0, a0, b0 in ((0.5, 0.5, 2.0), (1.0, 2.0, 4.0)):
                theta0 = np.concatenate(
                    [np.log([r0, r0 / max(mean_rate, 1e-3), a0, b0]), np.zeros(nb)]
                )
                res = minimize(nll, theta0, method="L-BFGS-B", bounds=bounds,
                               options={"maxiter": 3000})
                if np.isfinite(res.fun) and (best is None or res.fun < best.fun):
                    best = res
        if best is None or best.fun >= 1e10:
            raise DataError("the seasonal BG/NBD likelihood could not be maximised")
        p = np.exp(best.x[:4])
        p[1] *= scale  # alpha back in operational days
        self.bgnbd_params_ = p
        self.calendar_coef_ = best.x[4:].copy()
        self.harmonics_ = harmonics
        self.log_likelihood_ = -float(best.fun) * n

    def _fit_spend(self, hist: dict[str, Any]) -> None:
        x, m = hist["x"], hist["monetary"]
        pos = (x > 0) & (m > 0)
        self.gamma_gamma_ = None
        if self.spend and pos.sum() >= self.min_spenders:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    gg = GammaGamma(penalizer=1e-3).fit(np.where(pos, x, 0), np.where(pos, m, 0))
                gg.conditional_expected_average_profit()
                self.gamma_gamma_ = gg
            except ShopMLError:
                # a spend model that cannot be fitted leaves the mean spend per day in charge
                self.gamma_gamma_ = None
        self.mean_spend_ = float(np.mean(hist["day_values"]))

    # ------------------------------------------------------------------ predict
    def _warp(self, hist: dict[str, Any], horizon_days: float, extra: np.ndarray | None = None):
        stop = hist["end"] + pd.Timedelta(days=int(np.ceil(horizon_days)) + 1)
        grid, F = self._design(min(hist["start"], hist["end"]), stop, self.harmonics_)
        s = np.exp(F @ self.calendar_coef_) if F.shape[1] else np.ones(len(grid))
        C = np.concatenate([[0.0], np.cumsum(s)])
        tx, age = self._times(C, grid[0], hist)
        ie = (hist["end"] - grid[0]).days

        def ahead(days: np.ndarray) -> np.ndarray:
            # operational time of (end, end + days], days fractional: linear within a day
            whole = np.floor(days).astype(int)
            frac = days - whole
            base = C[ie + 1 + whole] - C[ie + 1]
            return base + frac * (C[np.minimum(ie + 2 + whole, len(C) - 1)] - C[ie + 1 + whole])

        return tx, age, ahead

    def _expected(self, hist: dict[str, Any], horizon_days: float) -> np.ndarray:
        tx, age, ahead = self._warp(hist, horizon_days)
        r, alpha, a, b = self.bgnbd_params_
        t = ahead(np.array([horizon_days]))[0]
        return _conditional_purchases(r, alpha, a, b, t, hist["x"], tx, age)

    def _predict(self, orders, end, horizon_days, discount_rate) -> pd.DataFrame:
        hist = self._history(orders, end)
        tx, age, ahead = self._warp(hist, horizon_days)
        r, alpha, a, b = self.bgnbd_params_
        x = hist["x"]
        out = pd.DataFrame(index=pd.Index(hist["customers"], name="user_id"))
        out["p_alive"] = _p_alive(r, alpha, a, b, x, tx, age)
        out["expected_purchases"] = _conditional_purchases(
            r, alpha, a, b, ahead(np.array([horizon_days]))[0], x, tx, age
        )
        if self.gamma_gamma_ is not None:
            out["expected_spend"] = self.gamma_gamma_.conditional_expected_average_profit(
                x, hist["monetary"]
            )
        else:
            out["expected_spend"] = self.mean_spend_
        if discount_rate == 0:
            purchases = out["expected_purchases"].to_numpy()
        else:
            ends, w = discount_weights(horizon_days, self.step_days, discount_rate)
            cum = _conditional_purchases(
                r, alpha, a, b, ahead(ends)[:, None], x[None, :], tx[None, :], age[None, :]
            )
            purchases = w @ np.diff(cum, axis=0, prepend=np.zeros((1, len(x))))
        out["clv"] = out["expected_spend"].to_numpy() * purchases
        return out

    def seasonal_index(self, days: Any) -> pd.Series:
        """The fitted calendar intensity ``s(d)`` on ``days``, relative to its mean over a
        year of Mondays .. Sundays (1 = an average day)."""
        self._check_fitted()
        idx = pd.DatetimeIndex(pd.to_datetime(days))
        year = pd.date_range("2001-01-01", periods=365, freq="D")
        ref = np.exp(calendar_features(year, self.harmonics_, self.weekly) @ self.calendar_coef_)
        s = np.exp(calendar_features(idx, self.harmonics_, self.weekly) @ self.calendar_coef_)
        return pd.Series(s / ref.mean(), index=idx)

    # ------------------------------------------------------------------ persistence
    @property
    def params_(self) -> dict[str, Any]:
        """BG/NBD parameters (in operational days), calendar coefficients, Gamma-Gamma's."""
        self._check_fitted()
        out: dict[str, Any] = {
            "bgnbd": dict(zip(BGNBD.param_names, map(float, self.bgnbd_params_), strict=True)),
            "harmonics": self.harmonics_,
            "calendar": [float(c) for c in self.calendar_coef_],
        }
        if self.gamma_gamma_ is not None:
            out["gamma_gamma"] = self.gamma_gamma_.params_
        return out

    def _get_state(self) -> dict[str, np.ndarray]:
        state = {"bgnbd": self.bgnbd_params_, "calendar": self.calendar_coef_}
        if self.gamma_gamma_ is not None:
            state["gamma_gamma"] = self.gamma_gamma_._p()
        return state

    def _meta(self) -> dict[str, Any]:
        return {
            "end": self.end_,
            "harmonics": self.harmonics_,
            "mean_spend": self.mean_spend_,
            "n_customers": self.n_customers_,
            "validation": self.validation_,
            "log_likelihood": self.log_likelihood_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.bgnbd_params_ = np.asarray(arrays["bgnbd"], dtype=float)
        self.calendar_coef_ = np.asarray(arrays["calendar"], dtype=float)
        self.gamma_gamma_ = None
        if "gamma_gamma" in arrays:
            self.gamma_gamma_ = GammaGamma(penalizer=1e-3)
            self.gamma_gamma_._params = np.asarray(arrays["gamma_gamma"], dtype=float)
        self.end_ = meta["end"]
        self.harmonics_ = int(meta["harmonics"])
        self.mean_spend_ = float(meta["mean_spend"])
        self.n_customers_ = int(meta["n_customers"])
        self.validation_ = dict(meta.get("validation") or {})
        self.log_likelihood_ = float(meta.get("log_likelihood") or np.nan)


__all__ = ["SeasonalCLV", "calendar_features"]
