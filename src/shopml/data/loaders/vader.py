"""VADER ground truth (Hutto & Gilbert, ICWSM 2014): 3,708 Amazon review sentences with human sentiment.

``amazonReviewSnippets_GroundTruth.txt`` (tab-separated, no header, no quoting: the text holds
bare ``"``) gives one ``reviews`` row per sentence: ``review_id`` = the snippet id
``<review>_<sentence>``, ``sentiment`` = the mean of 20 human ratings on -4 .. +4, ``text`` = the
lower-cased sentence. When ``amazonReviewSnippets_anonDataRatings.txt`` sits beside it (it starts
with a UTF-8 BOM, stripped), its standard deviation and the individual ratings are joined in by
id as ``attributes = {review, std, raw_ratings}``; ``review`` (the source review number) lets
splits keep the sentences of one review together. There is no star rating, user or item. A
re-ingest is decided by the ground-truth file's content alone.
"""

from __future__ import annotations

from pathlib import Path

from shopml.data.ingest import Col, Mapping, Source, read_csv, sql_str
from shopml.data.loaders.base import Loader

BASE = (
    "https://raw.githubusercontent.com/cjhutto/vaderSentiment/"
    "18c86513ea60b02fce8f3b1b598da43042d91b08/additional_resources/hutto_ICWSM_2014/"
)
TRUTH = "amazonReviewSnippets_GroundTruth.txt"
RATINGS = "amazonReviewSnippets_anonDataRatings.txt"


def _ratings_relation(path: Path) -> str:
    """The ratings file as text columns.

    Read without a rejects table (the ground truth's is the one the engine counts): a line
    DuckDB cannot read fails the ingest rather than vanish.
    """
    return (
        f"read_csv({sql_str(str(path))}, delim='\\t', header=false, quote='', escape='', "
        "columns={'r_id': 'VARCHAR', 'r_mean': 'VARCHAR', 'r_std': 'VARCHAR', 'r_raw': 'VARCHAR'}, "
        "auto_detect=false, all_varchar=true, strict_mode=true)"
    )


class VaderSnippets(Loader):
    name = "vader-snippets"
    folder = "vader_amazon_review_snippets"
    files = (TRUTH,)
    description = "VADER: 3,708 Amazon review sentences with mean human sentiment -4..4 (reviews)"
    urls = {TRUTH: BASE + TRUTH, RATINGS: BASE + RATINGS}

    def sources(self, folder: Path) -> list[Source]:
        truth = read_csv(
            folder / TRUTH, sep="\t", header=False, columns=["id", "mean", "text"], quote=None
        )
        attrs = "json_object('review', split_part(id, '_', 1)"
        if (folder / RATINGS).exists():
            # the explicit order keeps staged row numbers equal to ground-truth line numbers
            reader = (
                "(SELECT g.* EXCLUDE (_n), r.r_std AS std, r.r_raw AS raw_ratings "
                f"FROM (SELECT row_number() OVER () AS _n, * FROM {truth}) g "
                # one ratings row per id at most (a fixed one if an id repeats), so the join
                # never multiplies snippets
                "LEFT JOIN (SELECT ltrim(r_id, chr(65279)) AS r_id, r_std, r_raw "
                f"FROM {_ratings_relation(folder / RATINGS)} QUALIFY row_number() OVER "
                "(PARTITION BY ltrim(r_id, chr(65279)) ORDER BY r_std, r_raw) = 1) r "
                "ON r.r_id = g.id ORDER BY g._n)"
            )
            attrs += (
                ", 'std', TRY_CAST(std AS DOUBLE), 'raw_ratings', "
                "CASE WHEN json_valid(raw_ratings) THEN raw_ratings::JSON END"
            )
        else:
            reader = truth
        reviews = Mapping(
            "reviews",
            {
                "review_id": Col("id"),
                "sentiment": Col("mean"),
                "text": Col("text"),
                "attributes": Col(attrs + ")"),
            },
        )
        return [
            Source(
                name=f"{self.name}:{TRUTH}",
                path=folder / TRUTH,
                reader=reader,
                mapping=reviews,
                loader=self.name,
            )
        ]
