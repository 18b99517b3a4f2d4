import json
import zipfile

import pandas as pd

from shopml.data.loaders import get_loader
from shopml.data.loaders.movielens import ITEMS, RATINGS, USERS

DATASET = "movielens-100k"
LOADER = get_loader(DATASET)


def test_every_line_is_accounted_for_catalogue_first(ingested):
    ws, reports = ingested
    got = [(r.source, r.table, r.rows_read, r.rows_accepted, r.rows_quarantined) for r in reports]
    assert got == [
        ("movielens-100k:u.item", "items", 1682, 1682, 0),
        ("movielens-100k:u.user", "users", 943, 943, 0),
        ("movielens-100k:u.data", "events", 100000, 100000, 0),
    ]
    assert (ws.count("items"), ws.count("users"), ws.count("events")) == (1682, 943, 100000)
    assert ws.count("quarantine") == 0


def test_items_carry_genres_release_date_and_imdb_url(ingested):
    ws, _ = ingested
    items = ws.df("items", where="item_id IN ('1', '2', '267', '1682')").set_index("item_id")
    assert items.loc["1", "title"] == "Toy Story (1995)"
    assert items.loc["1", "category"] == "Animation|Children's|Comedy"
    assert json.loads(items.loc["1", "attributes"]) == {
        "release_date": "1995-01-01",
        "imdb_url": "http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)",
        "genres": ["Animation", "Children's", "Comedy"],
    }
    assert items.loc["2", "category"] == "Action|Adventure|Thriller"
    # line 267 is the placeholder movie: no date, no URL, genre "unknown"
    assert items.loc["267", "title"] == "unknown"
    assert json.loads(items.loc["267", "attributes"]) == {
        "release_date": None,
        "imdb_url": None,
        "genres": ["unknown"],
    }
    assert items.loc["1682", "title"] == "Scream of Stone (Schrei aus Stein) (1991)"
    assert json.loads(items.loc["1682", "attributes"])["release_date"] == "1996-03-08"
    # every movie has at least one genre flag set
    assert ws.con.execute("SELECT count(*) FROM items WHERE category IS NULL").fetchone()[0] == 0


def test_users_carry_demographics(ingested):
    ws, _ = ingested
    users = ws.df("users", where="user_id IN ('1', '2')").set_index("user_id")
    assert json.loads(users.loc["1", "attributes"]) == {
        "age": 24,
        "gender": "M",
        "occupation": "technician",
        "zip": "85711",
    }
    assert json.loads(users.loc["2", "attributes"])["gender"] == "F"
    occupations = ws.con.execute(
        "SELECT count(DISTINCT attributes->>'occupation') FROM users"
    ).fetchone()[0]
    assert occupations == 21  # the lines of u.occupation


def test_ratings_are_rating_events_with_stars_in_attributes(ingested):
    ws, _ = ingested
    first = ws.df("events", where="event_id = 'rating:196:242'").iloc[0]
    assert (first.user_id, first.item_id, first.event_type) == ("196", "242", "rating")
    assert first.ts == pd.Timestamp(881250949, unit="s", tz="UTC")
    assert json.loads(first.attributes) == {"rating": 3}
    n, stars, lo, hi, min_per_user = ws.con.execute(
        "SELECT count(*), sum(CAST(attributes->>'rating' AS INTEGER)), min(ts), max(ts), "
        "(SELECT min(n) FROM (SELECT count(*) AS n FROM events GROUP BY user_id)) FROM events"
    ).fetchone()
    assert (n, stars) == (100000, 352986)  # mean 3.52986, the published ML-100K mean
    assert (lo.date().isoformat(), hi.date().isoformat()) == ("1997-09-20", "1998-04-22")
    assert min_per_user == 20  # README: every user rated at least 20 movies
    histogram = dict(
        ws.con.execute(
            "SELECT CAST(attributes->>'rating' AS INTEGER), count(*) FROM events GROUP BY 1"
        ).fetchall()
    )
    assert histogram == {1: 6110, 2: 11370, 3: 27145, 4: 34174, 5: 21201}


def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    reports = ws.ingest_dataset(DATASET)
    assert [r.skipped for r in reports] == [True, True, True]
    assert (ws.count("items"), ws.count("users"), ws.count("events")) == (1682, 943, 100000)


def test_latin1_titles_and_bad_lines_are_quarantined(tmp_path, workspace):
    flags = "|".join(["0"] * 8 + ["1"] + ["0"] * 10)  # Drama
    (tmp_path / ITEMS).write_bytes(
        b"1|Mis\xe9rables, Les (1995)|01-Jan-1995||http://x|" + flags.encode() + b"\n"
    )
    (tmp_path / USERS).write_text("1|24|M|technician|85711\n")
    (tmp_path / RATINGS).write_text("1\t1\t5\t881250949\n1\t2\t4\tyesterday\n1\t3\t4\n")
    reports = workspace.ingest_dataset(DATASET, path=tmp_path)
    assert [(r.rows_read, r.rows_accepted, r.rows_quarantined) for r in reports] == [
        (1, 1, 0),
        (1, 1, 0),
        (3, 1, 2),
    ]
    title, category = workspace.con.execute("SELECT title, category FROM items").fetchone()
    assert (title, category) == ("Misérables, Les (1995)", "Drama")
    reasons = sorted(workspace.sql("SELECT reason FROM quarantine").reason)
    assert reasons[0].startswith("unparsable ts: yesterday")
    assert reasons[1].startswith("unreadable line")


def test_download_unpacks_the_grouplens_zip(tmp_path, monkeypatch):
    # what files.grouplens.org serves: the files under an ml-100k/ folder, plus a hostile name
    archive = tmp_path / "src.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in (ITEMS, USERS, RATINGS, "u.genre"):
            zf.writestr(f"ml-100k/{name}", f"content of {name}\n")
        zf.writestr("ml-100k/../../evil.txt", "x")
    monkeypatch.setattr("urllib.request.urlopen", lambda url, timeout: open(archive, "rb"))
    dest = tmp_path / "data"
    assert LOADER.download(dest) == dest
    assert (dest / RATINGS).read_text() == "content of u.data\n"
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        ["ml-100k.zip", ITEMS, USERS, RATINGS, "u.genre"]
    )
    assert not (tmp_path / "evil.txt").exists()
