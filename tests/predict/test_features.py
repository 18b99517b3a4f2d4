"""Feature builders: right numbers, and nothing after the cutoff ever changes a feature."""

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.predict.features import (
    category_mix,
    entity_sharing,
    purchase_features,
    purchase_label,
    session_features,
)

CUT = "2024-03-31"


def _orders(seed=0, n=400):
    rng = np.random.default_rng(seed)
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 150, n), unit="D")
    return pd.DataFrame(
        {
            "user_id": rng.choice([f"u{i}" for i in range(40)], n),
            "ts": days + pd.to_timedelta(rng.integers(0, 86400, n), unit="s"),
            "value": rng.gamma(2.0, 10.0, n),
            "category": rng.choice(["a", "b", "c", None], n),
        }
    )


def _scramble_future(orders, cut=CUT):
    """Change everything after the cutoff: values, customers, and add new rows."""
    future = orders["ts"] >= pd.Timestamp(cut) + pd.Timedelta(days=1)
    out = orders.copy()
    out.loc[future, "value"] *= 7
    out.loc[future, "category"] = "z"
    extra = orders[future].assign(user_id="u0")
    return pd.concat([out, extra], ignore_index=True)


def test_purchase_features_ignore_the_future():
    o = _orders()
    a = purchase_features(o, CUT)
    b = purchase_features(_scramble_future(o), CUT)
    pd.testing.assert_frame_equal(a, b)
    assert (a["days_30"] <= a["days_90"]).all() and (a["days_90"] <= a["frequency"] + 1).all()


def test_windows_count_the_right_days():
    o = pd.DataFrame(
        {"user_id": ["x"] * 3, "ts": pd.to_datetime(["2024-01-01 00:00", "2024-03-10 00:00", "2024-03-31 23:00"]), "value": [1.0, 2.0, 4.0]}
    )
    f = purchase_features(o, CUT).loc["x"]
    assert f["days_30"] == 2 and f["spend_30"] == 6.0  # 03-10 is 21 days before the cutoff
    # 01-01 is exactly 90 days back: outside the last 90 days, inside the last 180
    assert f["days_90"] == 2 and f["days_180"] == 3 and f["spend_180"] == 7.0


def test_label_looks_only_at_the_horizon():
    o = _orders()
    f = purchase_features(o, CUT)
    y = purchase_label(o, f.index, CUT, 30)
    day = o["ts"].dt.floor("D")
    inside = o[(day > CUT) & (day <= pd.Timestamp(CUT) + pd.Timedelta(days=30))]
    assert set(y[y == 1].index) == set(inside["user_id"]) & set(f.index)
    with pytest.raises(ValidationError, match="horizon_days"):
        purchase_label(o, f.index, CUT, 0)


def test_category_mix_shares_sum_to_one_and_ignore_future():
    o = _orders()
    m = category_mix(o, CUT, top=2)
    shares = m.filter(like="cat_share_")
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    assert shares.shape[1] == 3  # two leaders and other
    pd.testing.assert_frame_equal(m, category_mix(_scramble_future(o), CUT, top=2))


def test_session_features_first_n_and_cutoff():
    ev = pd.DataFrame(
        {
            "session_id": ["s1"] * 4 + ["s2"] * 2,
            "ts": pd.to_datetime(
                ["2024-01-01 10:00:00", "2024-01-01 10:00:30", "2024-01-01 10:02:00", "2024-01-01 10:05:00", "2024-01-01 11:00:00", "2024-01-02 09:00:00"]
            ),
            "item_id": ["a", "b", "a", "c", "a", "b"],
            "event_type": ["view", "view", "add_to_cart", "purchase", "view", "view"],
        }
    )
    f = session_features(ev, first_n=3)
    s1 = f.loc["s1"]
    assert s1["n_events"] == 3 and s1["duration_s"] == 120 and s1["n_items"] == 2
    assert s1["n_carts"] == 1 and s1["n_views"] == 2 and s1["mean_dwell_s"] == 60
    g = session_features(ev, cutoff="2024-01-01 12:00")
    assert g.loc["s2", "n_events"] == 1 and g.loc["s1", "n_events"] == 4


def test_entity_sharing_counts_only_the_past():
    t = pd.to_datetime(["2024-01-01 10:00", "2024-01-01 11:00", "2024-01-01 11:00", "2024-01-02 00:00", "2024-01-03 00:00", "2024-01-01 00:00"])
    f = pd.DataFrame({"user_id": ["a", "b", "c", "a", "d", "e"], "device": ["D", "D", "D", "D", "D", None], "ts": t})
    s = entity_sharing(f, "device")
    # row 0 first; rows 1, 2 at the same instant see only row 0; row 3 (a again) sees 3 rows and 2 other accounts
    assert s["device_prior_rows"].tolist() == [0, 1, 1, 3, 4, 0]
    assert s["device_prior_accounts"].tolist() == [0, 1, 1, 2, 3, 0]
    # with a cutoff, rows after it are counted from history up to the cutoff only
    c = entity_sharing(f, "device", cutoff="2024-01-01 12:00")
    assert c["device_prior_rows"].tolist() == [0, 1, 1, 3, 3, 0]
    # appending later rows never changes earlier rows' features
    later = pd.concat([f, pd.DataFrame({"user_id": ["z"], "device": ["D"], "ts": [pd.Timestamp("2024-02-01")]})], ignore_index=True)
    pd.testing.assert_frame_equal(entity_sharing(later, "device").iloc[: len(f)], s)
