"""RFM / BTYD summaries: the CDNOW reference summary, cutoffs that never leak, day aggregation."""

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.data.loaders import data_dir
from shopml.predict.rfm import daily_purchases, rfm_features, rfm_summary

CDNOW = data_dir() / "cdnow"
needs_cdnow = pytest.mark.skipif(
    not (CDNOW / "CDNOW_sample.txt").exists(), reason="CDNOW not in the data directory"
)
CAL_END, OBS_END = "1997-09-30", "1998-06-30"  # 39 weeks from 1997-01-01, then 39 more


@pytest.fixture(scope="module")
def sample():
    tx = pd.read_csv(
        CDNOW / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "sample_id", "date", "cds", "dollars"],
        dtype={"date": str},
    )
    tx["ts"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx


@pytest.fixture(scope="module")
def reference():
    return pd.read_csv(CDNOW / "cdnow_customers_summary_with_transactions.csv").set_index("ID")


@needs_cdnow
def test_cdnow_sample_reproduces_the_published_summary(sample, reference):
    s = rfm_summary(sample, CAL_END, customer_col="sample_id", value_col="dollars", freq="W")
    assert len(s) == len(reference) == 2357
    ref = reference.loc[s.index]
    np.testing.assert_array_equal(s["frequency"], ref["x"])
    # the file rounds weeks (days / 7) and dollars to 2 decimals
    np.testing.assert_allclose(s["recency"], ref["t_x"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(s["T"], ref["T"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(s["monetary_value"], ref["zbar"], atol=0.005 + 1e-9)
    assert int(s["frequency"].sum()) == 2457  # Fader, Hardie & Lee's calibration repeat purchases


@needs_cdnow
def test_workspace_orders_give_the_same_summary(reference):
    """The cdnow-sample loader's orders (master ids) summarise like the raw file (sample ids)."""
    from shopml.data.workspace import Workspace

    with Workspace(":memory:") as ws:
        ws.ingest_dataset("cdnow-sample")
        tx = ws.sql(
            "SELECT user_id, ts, CAST(json_extract_string(attributes, '$.sample_id') AS INTEGER) AS sample_id, "
            "CAST(json_extract_string(attributes, '$.dollar_value') AS DOUBLE) AS value FROM orders"
        )
    s = rfm_summary(tx, CAL_END, value_col="value", freq="W")
    ids = tx.drop_duplicates("user_id").set_index("user_id")["sample_id"]
    ref = reference.loc[ids.loc[s.index]]
    np.testing.assert_array_equal(s["frequency"], ref["x"])
    np.testing.assert_allclose(s["T"], ref["T"], atol=0.005 + 1e-9)
    np.testing.assert_allclose(s["monetary_value"], ref["zbar"], atol=0.005 + 1e-9)


@needs_cdnow
def test_holdout_counts_only_purchases_after_the_cutoff(sample):
    s = rfm_summary(
        sample, CAL_END, OBS_END, customer_col="sample_id", value_col="dollars", freq="W"
    )
    assert s["duration_holdout"].iloc[0] == 39.0
    days = sample.drop_duplicates(["sample_id", "ts"])
    hold = days[(days["ts"] > CAL_END) & (days["ts"] <= OBS_END)]
    assert int(s["frequency_holdout"].sum()) == len(hold) == 1882
    # customer 1: purchases on 1997-01-01, 01-18, 08-02 (calibration) and 12-12 (holdout)
    assert s.loc[1, "frequency"] == 2 and s.loc[1, "frequency_holdout"] == 1
    assert s.loc[1, "monetary_value_holdout"] == pytest.approx(26.48)


@needs_cdnow
def test_no_calibration_column_sees_past_the_cutoff(sample):
    full = rfm_features(sample, CAL_END, customer_col="sample_id", value_col="dollars", freq="W")
    cut = rfm_features(
        sample[sample["ts"] <= CAL_END],
        CAL_END,
        customer_col="sample_id",
        value_col="dollars",
        freq="W",
    )
    pd.testing.assert_frame_equal(full, cut)
    # a new customer and a big purchase after the cutoff change nothing either
    late = pd.DataFrame(
        {
            "sample_id": [1, 99999],
            "ts": pd.to_datetime(["1997-10-01", "1998-01-05"]),
            "dollars": [1e6, 5.0],
        }
    )
    more = pd.concat([sample, late], ignore_index=True)
    pd.testing.assert_frame_equal(
        rfm_features(more, CAL_END, customer_col="sample_id", value_col="dollars", freq="W"), full
    )
    s = rfm_summary(more, CAL_END, OBS_END, customer_col="sample_id", value_col="dollars")
    assert 99999 not in s.index  # first seen in the holdout: not a calibration customer


def small():
    return pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "a", "b", "c"],
            "ts": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 17:00",
                    "2024-01-05",
                    "2024-01-15",
                    "2024-01-10",
                    "2024-01-20",
                ],
                format="ISO8601",
            ),
            "value": [10.0, 5.0, 20.0, 30.0, 7.0, 9.0],
        }
    )


def test_same_day_orders_are_one_purchase_and_units_scale():
    d = rfm_summary(small(), "2024-01-15", "2024-01-31", value_col="value")
    # a: days 01-01 (15.0 in two orders), 01-05, 01-15 -> 2 repeat purchases
    assert d.loc["a"].to_dict() == {
        "frequency": 2,
        "recency": 14.0,
        "T": 14.0,
        "monetary_value": 25.0,
        "frequency_holdout": 0,
        "monetary_value_holdout": 0.0,
        "duration_holdout": 16.0,
    }
    assert d.loc["b", "T"] == 5.0 and d.loc["b", "frequency"] == 0
    assert "c" not in d.index
    w = rfm_summary(small(), "2024-01-15", value_col="value", freq="W")
    np.testing.assert_allclose(w[["recency", "T"]], d[["recency", "T"]] / 7)
    daily = daily_purchases(small(), value_col="value")
    assert daily.loc[0, ["value", "n_transactions"]].tolist() == [15.0, 2]


def test_features_by_hand():
    f = rfm_features(small(), "2024-01-15", value_col="value")
    a = f.loc["a"]
    assert a["n_transactions"] == 4 and a["total_value"] == 65.0
    assert a["first_value"] == 15.0 and a["last_value"] == 30.0
    # gaps between purchase days 01-01, 01-05, 01-15: 4 and 10 days
    assert a["ipt_mean"] == 7.0 and a["ipt_last"] == 10.0
    assert a["ipt_std"] == pytest.approx(np.std([4, 10], ddof=1))
    assert a["time_since_last"] == 0.0
    assert np.isnan(f.loc["b", "ipt_mean"]) and f.loc["b", "time_since_last"] == 5.0


def test_timezones_count_in_utc_days():
    # 23:30 in New York on 2024-01-15 is 04:30 UTC on 2024-01-16: after a 2024-01-15 cutoff
    ts = pd.to_datetime(["2024-01-01 09:00", "2024-01-15 23:30"]).tz_localize("America/New_York")
    tx = pd.DataFrame({"user_id": ["a", "a"], "ts": ts, "value": [1.0, 3.0]})
    s = rfm_summary(tx, "2024-01-15", "2024-01-20", value_col="value")
    assert s.loc["a", "frequency"] == 0 and s.loc["a", "frequency_holdout"] == 1
    assert s.loc["a", "T"] == 14.0


@pytest.mark.parametrize(
    ("kwargs", "frame", "match"),
    [
        ({"value_col": "spend"}, small(), r"lack column\(s\) \['spend'\]"),
        ({"freq": "M"}, small(), "freq must be one of"),
        ({"observation_end": "2024-01-10"}, small(), "must be after calibration_end"),
        (
            {},
            small().assign(user_id=[None, "a", "a", "a", "b", "c"]),
            "1 transaction.* have no user_id",
        ),
        ({"calibration_end": "2023-12-31"}, small(), "no transactions on or before"),
        ({"calibration_end": "not a date"}, small(), "calibration_end must be a date"),
        ({"value_col": "value"}, small().assign(value=["x", 1, 2, 3, 4, 5]), "non-numeric value"),
    ],
)
def test_bad_inputs_are_named(kwargs, frame, match):
    kw = {"calibration_end": "2024-01-15", **kwargs}
    with pytest.raises(ValidationError, match=match):
        rfm_summary(frame, **kw)
