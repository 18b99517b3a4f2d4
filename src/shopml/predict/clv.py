"""Customer lifetime value as a model: the contract every CLV model follows, and BG/NBD on it.

The contract (:class:`CLVModel`, capability ``clv``)::

    model.fit(orders, end=None)                       # orders: user_id, ts, value (completed)
    model.predict(orders, horizon_days=90, discount_rate=0.0, end=None)
        -> DataFrame indexed by user_id: p_alive, expected_purchases, expected_spend, clv
    model.explain(orders, horizon_days=90, end=None)  # what drives each customer's value
    model.save(path); CLVModel.load(path)

``orders`` has one row per order or order line (several on one day are one purchase, the
buy-till-you-die convention of :mod:`shopml.predict.rfm`); ``end`` is the last day of the
history the model may see (inclusive, default the newest order), and nothing after it is read.
A *purchase* is a customer's distinct purchase day; ``expected_purchases`` counts purchase days
in ``(end, end + horizon_days]``; ``expected_spend`` is the expected spend per purchase day;
``clv`` is the value of those purchases, discounted by ``discount_rate`` per step of
``step_days`` (default a month: purchases expected in step ``k`` are worth
``1 / (1 + discount_rate) ** k``, as ``lifetimes``' ``customer_lifetime_value``).

Models (:data:`MODELS`):

- ``btyd`` (:class:`BTYDCLV`): BG/NBD purchases (Fader, Hardie & Lee 2005) x Gamma-Gamma spend
  (population mean spend for customers without a repeat purchase);
- ``seasonal`` (:class:`shopml.predict.clv_seasonal.SeasonalCLV`): BG/NBD in calendar time
  warped by the shop's seasonal and weekly purchase intensity (time-varying covariates).

:func:`train_and_register` fits one on a workspace's completed orders and registers it under
``clv/<model>``.
"""

from __future__ import annotations

import math
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ShopMLError, ValidationError
from shopml.core.estimator import Estimator
from shopml.predict.btyd import BGNBD, GammaGamma
from shopml.predict.rfm import UNIT_DAYS, rfm_summary

#: the columns :meth:`CLVModel.predict` returns, in order
OUTPUT_COLUMNS = ("p_alive", "expected_purchases", "expected_spend", "clv")

#: completed orders of known customers, one row per line with its value (CDNOW keeps the
#: line's dollar value in attributes because lines with 0 CDs have no unit price)
ORDERS_SQL = """
SELECT user_id, ts,
       coalesce(TRY_CAST(json_extract_string(attributes, '$.dollar_value') AS DOUBLE),
                quantity * unit_price, 0.0) AS value
FROM orders WHERE status = 'completed' AND user_id IS NOT NULL AND ts IS NOT NULL
"""


def _naive_utc(ts: pd.Series) -> pd.Series:
    ts = pd.to_datetime(ts)
    return ts.dt.tz_convert("UTC").dt.tz_localize(None) if ts.dt.tz is not None else ts


def check_orders(orders: Any, name: str = "orders") -> pd.DataFrame:
    """Validate ``orders`` (``user_id, ts, value``); returns ``user_id`` as str, ``ts`` naive UTC
    and ``value`` float. Raises :class:`ValidationError` naming the bad column or rows."""
    if not isinstance(orders, pd.DataFrame):
        raise ValidationError(f"{name} must be a pandas DataFrame, got {type(orders).__name__}")
    missing = [c for c in ("user_id", "ts", "value") if c not in orders.columns]
    if missing:
        raise ValidationError(
            f"{name} lack column(s) {missing}; expected user_id, ts, value "
            f"(have {list(orders.columns)})"
        )
    if orders.empty:
        raise ValidationError(f"{name} is empty: a CLV model needs at least one order")
    if orders["user_id"].isna().any():
        raise ValidationError(
            f"{name}: {int(orders['user_id'].isna().sum())} row(s) have no user_id; "
            "anonymous orders cannot be followed over time: filter them out first"
        )
    try:
        ts = _naive_utc(orders["ts"])
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name}.ts must hold dates or timestamps: {exc}") from None
    if ts.isna().any():
        raise ValidationError(f"{name}: {int(ts.isna().sum())} row(s) have no ts")
    value = pd.to_numeric(orders["value"], errors="coerce")
    bad = value.isna() | ~np.isfinite(value.to_numpy(dtype=float, na_value=np.nan))
    if bad.any():
        first = orders.index[np.flatnonzero(bad.to_numpy())[0]]
        raise ValidationError(
            f"{name}.value: {int(bad.sum())} row(s) missing, non-numeric or infinite "
            f"(first at index {first!r}: {orders['value'].loc[first]!r})"
        )
    return pd.DataFrame(
        {"user_id": orders["user_id"].astype(str).to_numpy(), "ts": ts.to_numpy(),
         "value": value.to_numpy(dtype=np.float64)}
    )


def _end_day(orders: pd.DataFrame, end: Any) -> pd.Timestamp:
    if end is None:
        return pd.Timestamp(orders["ts"].max()).floor("D")
    try:
        ts = pd.Timestamp(end)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"end must be a date, got {end!r}: {exc}") from None
    if ts is pd.NaT:
        raise ValidationError(f"end must be a date, got {end!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.floor("D")


def _check_horizon(horizon_days: Any, discount_rate: Any) -> tuple[float, float]:
    try:
        h, d = float(horizon_days), float(discount_rate)
    except (TypeError, ValueError):
        raise ValidationError(
            f"horizon_days and discount_rate must be numbers, got {horizon_days!r}, "
            f"{discount_rate!r}"
        ) from None
    if not (math.isfinite(h) and h > 0):
        raise ValidationError(f"horizon_days must be > 0, got {horizon_days!r}")
    if not (math.isfinite(d) and d >= 0):
        raise ValidationError(f"discount_rate must be >= 0, got {discount_rate!r}")
    return h, d


def discount_weights(horizon: float, step: float, discount_rate: float) -> tuple[np.ndarray, ...]:
    """Step ends ``min(k step, horizon)`` and their weights ``(1 + d)^-k``, k = 1, 2, ...

    Purchases expected in step ``k`` are worth ``1 / (1 + d)^k`` (lifetimes' convention); the
    horizon need not be a multiple of ``step``."""
    k = np.arange(1, math.ceil(horizon / step - 1e-9) + 1)
    return np.minimum(k * step, horizon), (1.0 + discount_rate) ** -k.astype(float)


class CLVModel(Estimator, ABC):
    """The CLV contract: ``fit(orders)``, ``predict(orders, horizon_days)``, ``explain``, save/load.

    Subclasses implement ``_fit(orders, end)`` and ``_predict(orders, end, horizon_days,
    discount_rate)`` on validated orders (``user_id`` str, ``ts`` naive UTC, ``value`` float, no
    row after ``end``), and may extend ``_explain``.
    """

    capability: ClassVar[str] = "clv"

    def fit(self, orders: pd.DataFrame, *, end: Any = None) -> CLVModel:
        """Learn from completed ``orders`` (``user_id, ts, value``) up to ``end`` (inclusive)."""
        frame = check_orders(orders)
        end_day = _end_day(frame, end)
        frame = frame[frame["ts"] < end_day + pd.Timedelta(days=1)]
        if frame.empty:
            raise ValidationError(f"no order on or before end {end_day.date()}")
        self._fit(frame, end_day)
        self.end_ = str(end_day.date())
        self.fitted_ = True
        return self

    def predict(
        self,
        orders: pd.DataFrame,
        *,
        horizon_days: float,
        discount_rate: float = 0.0,
        end: Any = None,
    ) -> pd.DataFrame:
        """Per customer seen in ``orders`` up to ``end``: ``p_alive, expected_purchases,
        expected_spend, clv`` over ``(end, end + horizon_days]`` (index ``user_id``)."""
        self._check_fitted()
        h, d = _check_horizon(horizon_days, discount_rate)
        frame = check_orders(orders)
        end_day = _end_day(frame, end)
        frame = frame[frame["ts"] < end_day + pd.Timedelta(days=1)]
        if frame.empty:
            raise ValidationError(f"no order on or before end {end_day.date()}")
        out = self._predict(frame, end_day, h, d)
        out.index.name = "user_id"
        return out[list(OUTPUT_COLUMNS)]

    def explain(
        self, orders: pd.DataFrame, *, horizon_days: float = 90.0, end: Any = None
    ) -> pd.DataFrame:
        """What drives each customer's value: their history (repeat purchases, days since the
        last purchase, age in days, observed spend per repeat purchase), the predictions, and
        ``driver``, a sentence naming the strongest reason."""
        pred = self.predict(orders, horizon_days=horizon_days, end=end)
        frame = check_orders(orders)
        end_day = _end_day(frame, end)
        summ = rfm_summary(frame, end_day, value_col="value", freq="D")
        out = pd.DataFrame(
            {
                "repeat_purchases": summ["frequency"],
                "days_since_last_purchase": summ["T"] - summ["recency"],
                "age_days": summ["T"],
                "observed_spend": summ["monetary_value"].where(summ["frequency"] > 0),
            }
        ).reindex(pred.index)
        out = out.join(pred)
        out["driver"] = _drivers(out)
        return out

    def predict_summary(
        self, summary: pd.DataFrame, *, horizon_days: float, discount_rate: float = 0.0
    ) -> pd.DataFrame:
        """The numbers for customers given as a BTYD summary instead of orders; only models
        that need nothing but the summary (:class:`BTYDCLV`) can answer."""
        raise ValidationError(
            f"{type(self).__name__} needs each customer's dated orders (it reads the calendar); "
            "it cannot answer from a frequency/recency/T summary: pass orders to predict()"
        )

    # contract test
    @classmethod
    def _contract_example(cls) -> tuple[CLVModel, dict, dict]:
        """A model fitted on simulated repeat buyers, good inputs (their orders) and bad ones
        (orders without a value), for the generic contract test."""
        rng = np.random.default_rng(0)
        n, days = 400, 540
        rate = rng.gamma(1.0, 0.02, n)  # purchases per day
        counts = rng.poisson(rate * days) + 1
        users = np.repeat([f"u{i}" for i in range(n)], counts)
        day = rng.integers(0, days, counts.sum())
        orders = pd.DataFrame(
            {
                "user_id": users,
                "ts": pd.Timestamp("2023-01-01") + pd.to_timedelta(day, unit="D"),
                "value": rng.gamma(2.0, 20.0, counts.sum()),
            }
        )
        model = cls().fit(orders)
        return model, {"orders": orders}, {"orders": orders.drop(columns=["value"])}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"predict": self.predict(inputs["orders"], horizon_days=90.0).to_numpy()}

    # hooks
    @abstractmethod
    def _fit(self, orders: pd.DataFrame, end: pd.Timestamp) -> None: ...

    @abstractmethod
    def _predict(
        self, orders: pd.DataFrame, end: pd.Timestamp, horizon_days: float, discount_rate: float
    ) -> pd.DataFrame: ...


def _drivers(e: pd.DataFrame) -> np.ndarray:
    """One sentence per customer naming the strongest driver of their value (vectorised)."""
    mean_spend = float(np.nanmean(e["expected_spend"])) if e["expected_spend"].notna().any() else 0
    x = e["repeat_purchases"].to_numpy(dtype=float)
    gap = e["days_since_last_purchase"].to_numpy(dtype=float)
    age = e["age_days"].to_numpy(dtype=float)
    alive = e["p_alive"].to_numpy(dtype=float)
    spend = e["expected_spend"].to_numpy(dtype=float)
    # the usual gap between purchases: the age over the number of gaps seen
    usual = np.where(x > 0, (age - gap) / np.maximum(x, 1), np.nan)
    conditions = [
        alive < 0.3,
        x == 0,
        spend > 1.5 * mean_spend,
        x >= 5,
    ]
    choices = [
        "probably lapsed: no purchase for " + pd.Series(gap).round().astype(int).astype(str)
        + " days after buying every " + pd.Series(np.nan_to_num(usual)).round().astype(int)
        .astype(str) + " days",
        pd.Series(["one purchase so far: valued at the shop's average rates"] * len(x)),
        pd.Series(["spends much more per purchase than the average customer"] * len(x)),
        "frequent buyer: " + pd.Series(x.astype(int)).astype(str) + " repeat purchases",
    ]
    default = "regular buyer: " + pd.Series(x.astype(int)).astype(str) + " repeat purchases"
    return np.select(conditions, [c.to_numpy() for c in choices], default.to_numpy())


class BTYDCLV(CLVModel):
    """BG/NBD purchases x Gamma-Gamma spend per purchase (buy-till-you-die).

    Parameters
    ----------
    penalizer:
        L2 penalty on both models' parameters; ``None`` fits without one and retries once with
        ``1e-3`` when unpenalised parameters give non-finite predictions (a shop where almost
        nobody drops out).
    time_unit:
        ``"D"`` or ``"W"``: the unit the parameters are reported in (CDNOW's published ones are
        in weeks). Predictions do not depend on it.
    step_days:
        the discounting step in days (a month by default).
    spend:
        fit Gamma-Gamma; without it (or with fewer than ``min_spenders`` customers with a
        repeat purchase of positive value) the expected spend is the mean spend per purchase
        day over all customers.
    """

    def __init__(
        self,
        penalizer: float | None = None,
        time_unit: Literal["D", "W"] = "D",
        step_days: float = 30.0,
        spend: bool = True,
        min_spenders: int = 10,
    ) -> None:
        self.penalizer = penalizer
        self.time_unit = time_unit
        self.step_days = step_days
        self.spend = spend
        self.min_spenders = min_spenders

    def _check_params(self) -> None:
        if self.time_unit not in UNIT_DAYS:
            raise ValidationError(
                f"time_unit must be one of {sorted(UNIT_DAYS)}, got {self.time_unit!r}"
            )
        if self.penalizer is not None and not self.penalizer >= 0:
            raise ValidationError(f"penalizer must be >= 0 or None, got {self.penalizer!r}")
        if not self.step_days > 0:
            raise ValidationError(f"step_days must be > 0, got {self.step_days!r}")

    # ------------------------------------------------------------------ fit
    def _summary(self, orders: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
        return rfm_summary(orders, end, value_col="value", freq=self.time_unit)

    def _fit(self, orders: pd.DataFrame, end: pd.Timestamp) -> None:
        self._check_params()
        summ = self._summary(orders, end)
        x, tx, age = (summ[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        if age.max() <= 0:
            raise ValidationError(
                f"every customer's first purchase is on the last day ({end.date()}): "
                "nothing to learn a purchase rate from"
            )
        self.bgnbd_, self.penalizer_ = self._fit_bgnbd(x, tx, age)
        self.gamma_gamma_ = None
        m = summ["monetary_value"].to_numpy(dtype=float)
        pos = (x > 0) & (m > 0)
        if self.spend and pos.sum() >= self.min_spenders:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    gg = GammaGamma(penalizer=self.penalizer_).fit(
                        np.where(pos, x, 0.0), np.where(pos, m, 0.0)
                    )
                gg.conditional_expected_average_profit()  # the population mean must be finite
                self.gamma_gamma_ = gg
            except ShopMLError as exc:
                self.spend_note_ = f"Gamma-Gamma not fitted ({exc}); mean spend used"
        # the fallback spend: mean spend per purchase day over all customers' days
        days = orders.assign(day=orders["ts"].dt.floor("D")).groupby(["user_id", "day"])["value"]
        self.mean_spend_ = float(days.sum().mean())
        self.n_customers_ = len(summ)

    def _fit_bgnbd(self, x, tx, age) -> tuple[BGNBD, float]:
        tries = [self.penalizer] if self.penalizer is not None else [0.0, 1e-3]
        last: Exception | None = None
        for pen in tries:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    bg = BGNBD(penalizer=pen).fit(x, tx, age)
                    # a fit whose predictions are not finite is unusable: refit with a penalty
                    bg.predict_purchases(365.0 / UNIT_DAYS[self.time_unit], x, tx, age)
                return bg, pen
            except ShopMLError as exc:
                last = exc
        raise DataError(f"BG/NBD cannot be fitted to these orders: {last}")

    # ------------------------------------------------------------------ predict
    def _predict(self, orders, end, horizon_days, discount_rate) -> pd.DataFrame:
        return self.predict_summary(
            self._summary(orders, end), horizon_days=horizon_days, discount_rate=discount_rate
        )

    def predict_summary(
        self, summary: pd.DataFrame, *, horizon_days: float, discount_rate: float = 0.0
    ) -> pd.DataFrame:
        """The same numbers from a BTYD summary (``frequency, recency, T`` in the model's
        ``time_unit``, ``monetary_value`` the mean spend per repeat purchase day, NaN where
        unknown): what the service uses for a customer given as numbers, not orders."""
        self._check_fitted()
        h, d = _check_horizon(horizon_days, discount_rate)
        need = ["frequency", "recency", "T", "monetary_value"]
        missing = [c for c in need if c not in summary.columns]
        if missing:
            raise ValidationError(f"summary lacks column(s) {missing}; expected {need}")
        unit = UNIT_DAYS[self.time_unit]
        x, tx, age = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        m = summary["monetary_value"].to_numpy(dtype=float)
        horizon = h / unit
        out = pd.DataFrame(index=summary.index)
        out["p_alive"] = self.bgnbd_.p_alive(x, tx, age)
        out["expected_purchases"] = self.bgnbd_.predict_purchases(horizon, x, tx, age)
        # spend is known from repeat purchases with an amount; otherwise the population mean
        known = (x > 0) & np.isfinite(m)
        if self.gamma_gamma_ is not None:
            out["expected_spend"] = self.gamma_gamma_.conditional_expected_average_profit(
                np.where(known, x, 0.0), np.where(known, m, 0.0)
            )
        else:
            out["expected_spend"] = self.mean_spend_
        if d == 0:
            purchases = out["expected_purchases"].to_numpy()
        else:
            ends, w = discount_weights(horizon, self.step_days / unit, d)
            cum = self.bgnbd_.predict_purchases(ends[:, None], x[None, :], tx[None, :], age[None, :])
            per_step = np.diff(cum, axis=0, prepend=np.zeros((1, len(x))))
            purchases = w @ per_step
        out["clv"] = out["expected_spend"].to_numpy() * purchases
        return out

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> dict[str, np.ndarray]:
        state = {"bgnbd": self.bgnbd_._p()}
        if self.gamma_gamma_ is not None:
            state["gamma_gamma"] = self.gamma_gamma_._p()
        return state

    def _meta(self) -> dict[str, Any]:
        return {
            "end": self.end_,
            "penalizer": self.penalizer_,
            "mean_spend": self.mean_spend_,
            "n_customers": self.n_customers_,
            "bgnbd_log_likelihood": getattr(self.bgnbd_, "log_likelihood_", None),
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.penalizer_ = float(meta["penalizer"])
        self.bgnbd_ = BGNBD(penalizer=self.penalizer_)
        self.bgnbd_._params = np.asarray(arrays["bgnbd"], dtype=float)
        if meta.get("bgnbd_log_likelihood") is not None:
            self.bgnbd_.log_likelihood_ = float(meta["bgnbd_log_likelihood"])
        self.gamma_gamma_ = None
        if "gamma_gamma" in arrays:
            self.gamma_gamma_ = GammaGamma(penalizer=self.penalizer_)
            self.gamma_gamma_._params = np.asarray(arrays["gamma_gamma"], dtype=float)
        self.end_ = meta["end"]
        self.mean_spend_ = float(meta["mean_spend"])
        self.n_customers_ = int(meta["n_customers"])

    @property
    def params_(self) -> dict[str, Any]:
        """The fitted BG/NBD (and Gamma-Gamma) parameters, in the model's ``time_unit``."""
        self._check_fitted()
        out: dict[str, Any] = {"bgnbd": self.bgnbd_.params_}
        if self.gamma_gamma_ is not None:
            out["gamma_gamma"] = self.gamma_gamma_.params_
        return out


def __getattr__(name: str) -> Any:
    # MODELS is built on first use: the seasonal model's module imports this one
    if name == "MODELS":
        from shopml.predict.clv_seasonal import SeasonalCLV

        models = {"btyd": BTYDCLV, "seasonal": SeasonalCLV}
        globals()["MODELS"] = models
        return models
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def model_class(name: str) -> type[CLVModel]:
    """The CLV model class registered as ``name``; the error lists the choices."""
    models = __getattr__("MODELS") if "MODELS" not in globals() else globals()["MODELS"]
    if name not in models:
        raise ValidationError(f"unknown CLV model {name!r}; choose one of {sorted(models)}")
    return models[name]


def workspace_orders(workspace: Any) -> pd.DataFrame:
    """Completed orders of known customers (``user_id, ts, value``) of a workspace (an open
    :class:`~shopml.data.workspace.Workspace` or a path to one)."""
    from shopml.data.workspace import Workspace

    if isinstance(workspace, Workspace):
        return workspace.sql(ORDERS_SQL)
    path = Path(workspace)
    if not path.exists():
        raise DataError(f"workspace {path} does not exist")
    with Workspace(path, read_only=True) as ws:
        return ws.sql(ORDERS_SQL)


def train_and_register(
    workspace: Any,
    registry: Any,
    model: str = "btyd",
    *,
    horizon_days: float = 90.0,
    discount_rate: float = 0.0,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    data_fingerprint: Any = None,
    **options: Any,
) -> Any:
    """Fit CLV model ``model`` (``options`` are its parameters) on all of the workspace's
    completed orders and register it as ``clv/<model>``; returns the ``ModelVersion``.

    The version's config records the serving defaults (``horizon_days``, ``discount_rate``)
    and ``data_until``, the last order day the model saw.
    """
    from shopml.registry import Registry

    _check_horizon(horizon_days, discount_rate)
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    orders = workspace_orders(workspace)
    if orders.empty:
        raise DataError("the workspace has no completed orders of known customers")
    fitted = model_class(model)(**options).fit(orders)
    cfg = {
        **(config or {}),
        "task": "clv",
        "model": model,
        "params": fitted.get_params(),
        "horizon_days": float(horizon_days),
        "discount_rate": float(discount_rate),
        "data_until": fitted.end_,
        "customers": int(orders["user_id"].nunique()),
    }
    return reg.register(
        "clv", model, fitted.save, config=cfg, metrics=metrics, data_fingerprint=data_fingerprint
    )


def load_clv_model(version: Any) -> CLVModel:
    """A registered CLV model (``clv/<name>/<version>``), loaded (verify it with the registry
    first)."""
    return CLVModel.load(Path(version.path))


__all__ = [
    "BTYDCLV",
    "CLVModel",
    "OUTPUT_COLUMNS",
    "check_orders",
    "load_clv_model",
    "model_class",
    "train_and_register",
    "workspace_orders",
]
