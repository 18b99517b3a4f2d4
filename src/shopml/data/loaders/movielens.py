"""MovieLens 100K (GroupLens): 100,000 star ratings of 1,682 movies by 943 users, 1997-09 .. 1998-04.

Three sources, catalogue first:

- ``u.item`` (pipe-separated, latin-1) -> ``items``: ``item_id`` = movie id, ``title`` as given
  (``Toy Story (1995)``), ``category`` = the movie's genres joined by ``|`` in u.genre's order
  (``Animation|Children's|Comedy``), ``attributes`` = ``{release_date (ISO), imdb_url, genres}``.
- ``u.user`` -> ``users``: ``attributes`` = ``{age, gender, occupation, zip}``.
- ``u.data`` (tab-separated) -> ``events`` with ``event_type = 'rating'``, ``ts`` from Unix
  seconds, ``event_id`` = ``rating:<user>:<item>`` (a user rates a movie once) and the stars in
  ``attributes`` as ``{"rating": 4}``. The events table has no numeric value column for stars
  (``quantity`` and ``price`` mean other things), so a recommender reads them with
  ``CAST(attributes->>'rating' AS DOUBLE)``, which DuckDB does for all 100,000 rows at once.

GroupLens ships the files in ``ml-100k.zip``; :meth:`MovieLens100K.download` unpacks them.
The licence allows research use only (no redistribution, no commercial use).
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from shopml.core.errors import DataError
from shopml.data.ingest import Col, Mapping, Source, col, const, read_csv, sql_str
from shopml.data.loaders.base import Loader

ITEMS, USERS, RATINGS = "u.item", "u.user", "u.data"
ZIP = "ml-100k.zip"
# the 19 genre flags of u.item, in the order of u.genre (index 0 = "unknown")
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
_GENRE_COLS = [f"genre_{i}" for i in range(len(GENRES))]
ITEM_COLUMNS = ["movie_id", "title", "release_date", "video_release_date", "imdb_url", *_GENRE_COLS]
USER_COLUMNS = ["user_id", "age", "gender", "occupation", "zip_code"]
RATING_COLUMNS = ["user_id", "item_id", "rating", "timestamp"]
# the files unpacked from the zip (README and the small code tables document the others)
_MEMBERS = (ITEMS, USERS, RATINGS, "u.genre", "u.occupation", "u.info", "README")


class MovieLens100K(Loader):
    name = "movielens-100k"
    folder = "movielens_100k"
    files = (ITEMS, USERS, RATINGS)
    description = "MovieLens 100K: 100,000 ratings (1-5 stars) of 1,682 movies by 943 users (events, items, users)"
    urls = {ZIP: "https://files.grouplens.org/datasets/movielens/ml-100k.zip"}

    def download(self, dest: str | Path | None = None, timeout: float = 30.0) -> Path:
        """Fetch ``ml-100k.zip`` from GroupLens and unpack its data files into the folder."""
        target = super().download(dest, timeout)
        try:
            with zipfile.ZipFile(target / ZIP) as zf:
                for info in zf.infolist():
                    # members are written by their base name only, so a crafted path inside the
                    # archive ("../x") cannot land outside the folder
                    base = Path(info.filename).name
                    if base in _MEMBERS and not info.is_dir():
                        (target / base).write_bytes(zf.read(info))
        except zipfile.BadZipFile as exc:
            raise DataError(
                f"{self.name}: {target / ZIP} is not a zip archive ({exc}); delete it and retry"
            ) from exc
        missing = [f for f in self.files if not (target / f).exists()]
        if missing:
            raise DataError(f"{self.name}: {target / ZIP} lacks {missing}")
        return target

    def sources(self, folder: Path) -> list[Source]:
        flags = [
            f"CASE WHEN {c} = '1' THEN {sql_str(g)} END"
            for c, g in zip(_GENRE_COLS, GENRES, strict=True)
        ]
        # list_filter drops the NULLs of the genres a movie does not have
        genres = f"list_filter([{', '.join(flags)}], lambda g: g IS NOT NULL)"
        items = Mapping(
            "items",
            {
                "item_id": col("movie_id"),
                "title": col("title"),
                "category": Col(f"array_to_string({genres}, '|')"),
                "attributes": Col(
                    "json_object('release_date', "
                    "strftime(try_strptime(release_date, '%d-%b-%Y'), '%Y-%m-%d'), "
                    f"'imdb_url', imdb_url, 'genres', {genres})"
                ),
            },
        )
        users = Mapping(
            "users",
            {
                "user_id": col("user_id"),
                "attributes": Col(
                    "json_object('age', TRY_CAST(age AS INTEGER), 'gender', gender, "
                    "'occupation', occupation, 'zip', zip_code)"
                ),
            },
        )
        ratings = Mapping(
            "events",
            {
                "event_id": Col("'rating:' || user_id || ':' || item_id"),
                "user_id": col("user_id"),
                "item_id": col("item_id"),
                "ts": col("timestamp", parse="epoch_s"),
                "event_type": const("rating"),
                "attributes": Col("json_object('rating', TRY_CAST(rating AS INTEGER))"),
            },
        )

        def src(fname: str, sep: str, columns: list[str], mapping: Mapping) -> Source:
            # no quoting in these files: a '"' in a title is text; latin-1 is ASCII-safe
            reader = read_csv(
                folder / fname,
                sep=sep,
                header=False,
                columns=columns,
                quote=None,
                encoding="latin-1",
            )
            return Source(f"{self.name}:{fname}", folder / fname, reader, mapping, loader=self.name)

        return [
            src(ITEMS, "|", ITEM_COLUMNS, items),
            src(USERS, "|", USER_COLUMNS, users),
            src(RATINGS, "\t", RATING_COLUMNS, ratings),
        ]
