"""The CLV model contract (fit on orders, predict, explain, save/load) and its models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import NotFittedError, ValidationError
from shopml.core.estimator import load_model
from shopml.data.loaders import data_dir
from shopml.predict.clv import BTYDCLV, MODELS, OUTPUT_COLUMNS, CLVModel, model_class
from shopml.predict.clv_seasonal import SeasonalCLV

CDNOW_SAMPLE = data_dir() / "cdnow" / "CDNOW_sample.txt"
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


def simulated_orders(n: int = 400, days: int = 360, seed: int = 0) -> pd.DataFrame:
    """Orders from a BG/NBD world: gamma rates, geometric drop-out, gamma spend; weekday-heavy."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2023-01-01")
    lam = rng.gamma(1.0, 1 / 20.0, n)  # a purchase every ~20 days on average
    p = rng.beta(1.0, 6.0, n)
    spend = rng.gamma(4.0, 10.0, n)
    first = rng.integers(0, days // 2, n)
    rows = []
    # event-by-event simulation is fine for a few hundred test customers
    for i in range(n):
        t = float(first[i])
        rows.append((i, t))
        while True:
            t += rng.exponential(1 / lam[i])
            if t >= days:
                break
            rows.append((i, t))
            if rng.random() < p[i]:
                break
    arr = np.array(rows)
    users = arr[:, 0].astype(int)
    ts = start + pd.to_timedelta(arr[:, 1], unit="D")
    return pd.DataFrame(
        {"user_id": [f"u{u}" for u in users], "ts": ts,
         "value": rng.gamma(8.0, spend[users] / 8.0)}
    )


@pytest.fixture(scope="module")
def orders() -> pd.DataFrame:
    return simulated_orders()


class CLVContract:
    """Every CLV model: round trip, parameters, not-fitted, bad input, holdout sanity."""

    def _get_model(self) -> CLVModel:  # pragma: no cover - overridden
        raise AssertionError("override _get_model")

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, orders):
        return cls()._get_model().fit(orders, end="2023-10-31")

    def test_capability_and_output_columns(self, fitted, orders):
        assert fitted.capability == "clv"
        out = fitted.predict(orders, horizon_days=60, end="2023-10-31")
        assert list(out.columns) == list(OUTPUT_COLUMNS)
        assert out.index.name == "user_id"
        assert set(out.index) == set(orders.loc[orders["ts"] < "2023-11-01", "user_id"])
        assert ((out["p_alive"] >= 0) & (out["p_alive"] <= 1)).all()
        assert (out["expected_purchases"] >= 0).all() and (out["expected_spend"] > 0).all()
        np.testing.assert_allclose(out["clv"], out["expected_purchases"] * out["expected_spend"])

    def test_predictions_track_the_holdout(self, fitted, orders):
        out = fitted.predict(orders, horizon_days=59, end="2023-10-31")
        later = orders[orders["ts"] >= "2023-11-01"].assign(day=lambda d: d["ts"].dt.floor("D"))
        actual = later.groupby("user_id")["day"].nunique().reindex(out.index, fill_value=0)
        # the holdout total within 25%, and customers ranked better than chance
        assert out["expected_purchases"].sum() == pytest.approx(actual.sum(), rel=0.25)
        assert np.corrcoef(out["expected_purchases"], actual)[0, 1] > 0.3

    def test_longer_horizon_more_value_and_discounting_less(self, fitted, orders):
        short = fitted.predict(orders, horizon_days=30)
        long = fitted.predict(orders, horizon_days=365)
        disc = fitted.predict(orders, horizon_days=365, discount_rate=0.02)
        assert (long["expected_purchases"] >= short["expected_purchases"] - 1e-12).all()
        assert (disc["clv"] <= long["clv"] + 1e-9).all()
        assert (disc["clv"] < long["clv"]).any()

    def test_save_load_round_trip(self, fitted, orders, tmp_path):
        fitted.save(tmp_path / "m")
        back = load_model(tmp_path / "m")
        assert type(back) is type(fitted) and back.get_params() == fitted.get_params()
        a = fitted.predict(orders, horizon_days=90, discount_rate=0.01)
        b = back.predict(orders, horizon_days=90, discount_rate=0.01)
        pd.testing.assert_frame_equal(a, b)

    def test_params_round_trip(self):
        m = self._get_model()
        assert type(m)(**m.get_params()).get_params() == m.get_params()
        with pytest.raises(ValidationError, match="no parameter"):
            m.set_params(not_a_parameter=1)

    def test_not_fitted(self, orders):
        with pytest.raises(NotFittedError):
            self._get_model().predict(orders, horizon_days=30)

    @pytest.mark.parametrize(
        "change, match",
        [
            (lambda o: o.drop(columns="value"), "value"),
            (lambda o: o.assign(value="x"), "value"),
            (lambda o: o.assign(ts="not a date"), "ts"),
            (lambda o: o.assign(user_id=None), "user_id"),
            (lambda o: o.iloc[:0], "empty"),
        ],
    )
    def test_bad_orders_are_named(self, fitted, orders, change, match):
        with pytest.raises(ValidationError, match=match):
            fitted.predict(change(orders), horizon_days=30)
        with pytest.raises(ValidationError, match=match):
            self._get_model().fit(change(orders))

    @pytest.mark.parametrize("h, d", [(0, 0.0), (-5, 0.0), (30, -0.1), ("x", 0.0)])
    def test_bad_horizon_and_discount(self, fitted, orders, h, d):
        with pytest.raises(ValidationError):
            fitted.predict(orders, horizon_days=h, discount_rate=d)

    def test_nothing_after_end_is_read(self, fitted, orders):
        cut = orders[orders["ts"] < "2023-11-01"]
        a = fitted.predict(orders, horizon_days=60, end="2023-10-31")
        b = fitted.predict(cut, horizon_days=60, end="2023-10-31")
        pd.testing.assert_frame_equal(a, b)

    def test_explain_names_drivers(self, fitted, orders):
        e = fitted.explain(orders, horizon_days=60, end="2023-10-31")
        assert {"repeat_purchases", "days_since_last_purchase", "driver", "clv"} <= set(e.columns)
        assert e["driver"].str.len().gt(0).all()
        lapsed = e[e["p_alive"] < 0.3]
        if len(lapsed):
            assert lapsed["driver"].str.startswith("probably lapsed").all()
        assert e.loc[e["repeat_purchases"] == 0, "driver"].str.startswith("one purchase").all()


class TestBTYDCLV(CLVContract):
    def _get_model(self) -> CLVModel:
        return BTYDCLV()

    def test_summary_and_orders_agree(self, fitted, orders):
        from shopml.predict.rfm import rfm_summary

        summ = rfm_summary(orders.assign(user_id=orders["user_id"].astype(str)), "2023-10-31",
                           value_col="value")
        a = fitted.predict_summary(summ, horizon_days=45, discount_rate=0.01)
        b = fitted.predict(orders, horizon_days=45, discount_rate=0.01, end="2023-10-31")
        np.testing.assert_allclose(a.to_numpy(), b.loc[a.index].to_numpy())

    def test_unknown_spend_is_the_population_mean(self, fitted):
        summ = pd.DataFrame({"frequency": [0.0, 3.0], "recency": [0.0, 40.0], "T": [50.0, 60.0],
                             "monetary_value": [np.nan, np.nan]})
        out = fitted.predict_summary(summ, horizon_days=30)
        gg = fitted.gamma_gamma_
        assert out["expected_spend"].tolist() == pytest.approx(
            [gg.conditional_expected_average_profit()] * 2
        )

    def test_bad_time_unit(self, orders):
        with pytest.raises(ValidationError, match="time_unit"):
            BTYDCLV(time_unit="M").fit(orders)


class TestSeasonalCLV(CLVContract):
    def _get_model(self) -> CLVModel:
        return SeasonalCLV(harmonics=0, validation_days=60)

    def test_weekday_effect_is_learned(self):
        # a shop closed on Saturdays and Sundays: the calendar must find it
        o = simulated_orders(n=300, seed=3)
        o = o[o["ts"].dt.dayofweek < 5]
        m = SeasonalCLV(harmonics=0).fit(o)
        idx = m.seasonal_index(pd.date_range("2024-01-01", periods=7))  # Monday..Sunday
        assert idx.iloc[5] < 0.1 and idx.iloc[6] < 0.1 and idx.iloc[:5].min() > 1.0

    def test_auto_chooses_on_validation(self, orders):
        m = SeasonalCLV(harmonics="auto", max_harmonics=1, validation_days=60).fit(orders)
        assert set(m.validation_) == {"0", "1"}
        assert m.harmonics_ == int(min(m.validation_, key=m.validation_.get))

    def test_summaries_are_refused_with_a_reason(self, fitted):
        summ = pd.DataFrame({"frequency": [1.0], "recency": [5.0], "T": [9.0],
                             "monetary_value": [3.0]})
        with pytest.raises(ValidationError, match="dated orders"):
            fitted.predict_summary(summ, horizon_days=30)

    def test_bad_harmonics(self, orders):
        with pytest.raises(ValidationError, match="harmonics"):
            SeasonalCLV(harmonics=-1).fit(orders)


def test_models_registry():
    assert MODELS["btyd"] is BTYDCLV and MODELS["seasonal"] is SeasonalCLV
    assert model_class("btyd") is BTYDCLV
    with pytest.raises(ValidationError, match="unknown CLV model"):
        model_class("nope")


@pytest.mark.skipif(not CDNOW_SAMPLE.exists(), reason="CDNOW not in the data directory")
def test_cdnow_published_parameters_through_the_contract():
    raw = pd.read_csv(CDNOW_SAMPLE, sep=r"\s+", header=None,
                      names=["master", "id", "date", "cds", "dollars"], dtype={"date": str})
    orders = pd.DataFrame({"user_id": raw["id"].astype(str),
                           "ts": pd.to_datetime(raw["date"], format="%Y%m%d"),
                           "value": raw["dollars"]})
    m = BTYDCLV(time_unit="W").fit(orders, end="1997-09-30")
    for name, value in PUBLISHED_BGNBD.items():
        assert m.params_["bgnbd"][name] == pytest.approx(value, rel=0.01), name
    # parameters in days describe the same fit (alpha scales by 7, the rest unit-free)
    d = BTYDCLV(time_unit="D").fit(orders, end="1997-09-30")
    assert d.params_["bgnbd"]["alpha"] == pytest.approx(7 * m.params_["bgnbd"]["alpha"], rel=1e-3)
    a = m.predict(orders, horizon_days=273, end="1997-09-30")
    b = d.predict(orders, horizon_days=273, end="1997-09-30")
    np.testing.assert_allclose(a["expected_purchases"], b["expected_purchases"], rtol=1e-3)


def test_train_and_register(tmp_path, orders):
    from shopml.data import Workspace
    from shopml.predict.clv import load_clv_model, train_and_register
    from shopml.registry import Registry

    ws_path = tmp_path / "ws.duckdb"
    lines = orders.assign(order_id=[f"o{i}" for i in range(len(orders))], item_id="i1",
                          quantity=1, unit_price=orders["value"], status="completed")
    with Workspace(ws_path) as ws:
        ws.append("orders", lines.drop(columns="value"))
    reg = Registry(tmp_path / "reg")
    mv = train_and_register(ws_path, reg, "btyd", horizon_days=60)
    assert (mv.capability, mv.name) == ("clv", "btyd")
    assert mv.meta["config"]["data_until"] == str(orders["ts"].max().date())
    reg.verify(mv)
    model = load_clv_model(mv)
    assert isinstance(model, BTYDCLV)
    out = model.predict(orders, horizon_days=60)
    assert len(out) == orders["user_id"].nunique()
    with pytest.raises(ValidationError, match="unknown CLV model"):
        train_and_register(ws_path, reg, "nope")
