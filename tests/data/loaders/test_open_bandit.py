import json

import pandas as pd
import pytest

from shopml.core.errors import DataError
from shopml.data.loaders import get_loader

DATASET = "open-bandit"


def test_every_line_is_accounted_for_items_once(ingested):
    ws, reports = ingested
    got = [(r.source, r.table, r.rows_read, r.rows_accepted, r.rows_quarantined) for r in reports]
    assert got == [
        ("open-bandit:random/all/item_context.csv", "items", 80, 80, 0),
        ("open-bandit:random/all/all.csv", "impressions", 10000, 10000, 0),
        ("open-bandit:bts/all/all.csv", "impressions", 10000, 10000, 0),
    ]
    assert (ws.count("items"), ws.count("impressions"), ws.count("quarantine")) == (80, 20000, 0)


def test_policies_have_their_clicks_and_propensities(ingested):
    ws, _ = ingested
    stats = {
        r[0]: r[1:]
        for r in ws.con.execute(
            "SELECT policy, count(*), sum(reward), min(propensity), max(propensity), "
            "count(DISTINCT action), min(position), max(position), any_value(campaign) "
            "FROM impressions GROUP BY policy"
        ).fetchall()
    }
    # uniform random over 80 arms: every propensity is 1/80
    assert stats["random"] == (10000, 38.0, 0.0125, 0.0125, 80, 1, 3, "all")
    assert stats["bts"] == (10000, 42.0, 0.000045, 0.95424, 80, 1, 3, "all")
    lo, hi = ws.con.execute("SELECT min(ts), max(ts) FROM impressions").fetchone()
    assert (str(lo.date()), str(hi.date())) == ("2019-11-24", "2019-11-30")
    assert ws.con.execute("SELECT count(user_id) FROM impressions").fetchone()[0] == 0


def test_first_lines_map_onto_impressions_with_context(ingested):
    ws, _ = ingested
    rows = ws.df(
        "impressions", where="impression_id IN ('random/all/0', 'random/all/2', 'bts/all/312')"
    ).set_index("impression_id")
    first = rows.loc["random/all/0"]
    assert first.ts == pd.Timestamp("2019-11-24 00:00:34.762830", tz="UTC")
    assert (first.action, first.position, first.reward, first.propensity) == ("14", 3, 0.0, 0.0125)
    assert (first.policy, first.campaign) == ("random", "all")
    ctx = json.loads(first.context)
    assert [ctx[f"user_feature_{i}"] for i in range(4)] == [
        "81ce123cbb5bd8ce818f60fb3586bba5",
        "03a5648a76832f83c859d46bc06cb64a",
        "c2e4f76cdbabecd33b8c762aeef386b3",
        "f97571b9c14a786aab269f0b427d2a85",
    ]
    assert ctx["user_item_affinity"] == [0.0] * 80
    # row 2's first non-zero affinity is for arm 71: the list is indexed by arm
    affinity = json.loads(rows.loc["random/all/2"].context)["user_item_affinity"]
    assert len(affinity) == 80 and affinity.index(1.0) == 71 and not any(affinity[:71])
    clicked = rows.loc["bts/all/312"]  # the bts log's first click
    assert (clicked.action, clicked.position, clicked.reward) == ("60", 1, 1.0)
    assert clicked.propensity == pytest.approx(0.054305)
    last = ws.df("impressions", where="impression_id = 'random/all/9999'").iloc[0]
    assert (last.action, last.position) == ("47", 1)


def test_items_come_from_one_item_context(ingested):
    ws, _ = ingested
    item0 = json.loads(ws.df("items", where="item_id = '0'").iloc[0].attributes)
    # the random policy's copy: bts hashes the same categories to other strings
    assert item0 == {
        "campaign": "all",
        "item_feature_0": -0.49917162609493676,
        "item_feature_1": "aed790911d0344f149be2fb9470d6f0a",
        "item_feature_2": "67503f4af781d4037a8bac5e22549edd",
        "item_feature_3": "5c1e29f902c3ad66e0ff9f6020b1aa0b",
    }
    groups = ws.con.execute(
        "SELECT count(DISTINCT attributes->>'item_feature_1'), "
        "count(DISTINCT attributes->>'item_feature_2'), count(DISTINCT attributes->>'item_feature_3') "
        "FROM items"
    ).fetchone()
    assert groups == (12, 21, 7)
    # every logged action is an item of the catalogue
    orphans = ws.con.execute(
        "SELECT count(*) FROM impressions p ANTI JOIN items i ON i.item_id = p.action"
    ).fetchone()[0]
    assert orphans == 0


def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    reports = ws.ingest_dataset(DATASET)
    assert [r.skipped for r in reports] == [True, True, True]
    assert (ws.count("items"), ws.count("impressions")) == (80, 20000)


def _write_campaign(root, campaign: str, n_items: int) -> None:
    """A two-line log per policy in the public layout, with ``n_items`` affinity columns."""
    affinity = ",".join(f"user-item_affinity_{k}" for k in range(n_items))
    header = f",timestamp,item_id,position,click,propensity_score,{','.join(f'user_feature_{i}' for i in range(4))},{affinity}\n"
    # the logs differ (as real ones do): a file whose bytes were ingested before is skipped
    for policy, p in (("random", 0.5), ("bts", 0.25)):
        d = root / policy / campaign
        d.mkdir(parents=True)
        zeros = ",".join(["0.0"] * (n_items - 1))
        (d / f"{campaign}.csv").write_text(
            header
            + f"0,2019-11-24 00:00:01+00:00,2,1,0,0.5,a,b,c,d,1.0,{zeros}\n"
            + f"1,2019-11-24 00:00:02+00:00,0,2,1,{p},a,b,c,e,0.0,{zeros}\n"
        )
        (d / "item_context.csv").write_text(
            ",item_id,item_feature_0,item_feature_1,item_feature_2,item_feature_3\n"
            + "".join(f"{k},{k},0.{k},h{k},g,f\n" for k in range(n_items))
        )


def test_other_campaigns_use_the_same_code(tmp_path, workspace):
    _write_campaign(tmp_path, "men", 3)
    loader = get_loader("open-bandit-men")
    reports = workspace.ingest_dataset("open-bandit-men", path=tmp_path)
    assert [(r.source, r.rows_read, r.rows_accepted) for r in reports] == [
        ("open-bandit-men:random/men/item_context.csv", 3, 3),
        ("open-bandit-men:random/men/men.csv", 2, 2),
        ("open-bandit-men:bts/men/men.csv", 2, 2),
    ]
    row = workspace.df("impressions", where="impression_id = 'bts/men/1'").iloc[0]
    assert (row.action, row.position, row.reward, row.propensity) == ("0", 2, 1.0, 0.25)
    assert (row.policy, row.campaign) == ("bts", "men")
    assert json.loads(row.context) == {
        "user_feature_0": "a",
        "user_feature_1": "b",
        "user_feature_2": "c",
        "user_feature_3": "e",
        "user_item_affinity": [0.0, 0.0, 0.0],
    }
    assert (
        json.loads(workspace.df("items", where="item_id = '2'").iloc[0].attributes)["campaign"]
        == "men"
    )
    # the women campaign's files are not there
    with pytest.raises(DataError, match="women"):
        get_loader("open-bandit-women").locate(tmp_path)
    assert loader.campaign == "men"


def test_download_creates_the_policy_folders(tmp_path, monkeypatch):
    import io

    fetched = []

    def fake_urlopen(url, timeout):
        fetched.append(url)
        return io.BytesIO(b"x\n")

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    dest = get_loader(DATASET).download(tmp_path)
    assert (dest / "bts" / "all" / "all.csv").read_bytes() == b"x\n"
    assert sorted(u.rsplit("/obd/", 1)[1] for u in fetched) == [
        "bts/all/all.csv",
        "random/all/all.csv",
        "random/all/item_context.csv",
    ]
