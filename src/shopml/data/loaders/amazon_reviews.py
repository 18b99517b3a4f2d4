"""Amazon Review Data (2018, Ni, Li & McAuley), the All_Beauty 5-core: star ratings with text.

``All_Beauty_5.json.gz`` holds one JSON object per line; each line becomes a ``reviews`` row with
``user_id`` = ``reviewerID``, ``item_id`` = ``asin``, ``ts`` = ``unixReviewTime`` (Unix seconds),
``rating`` = ``overall`` (1-5 stars), ``title`` = ``summary``, ``text`` = ``reviewText`` and
``attributes`` = ``{verified, vote, style}`` (votes as integers, style keys and values trimmed,
e.g. ``{"Size": "7.0 oz"}``). The review id is ``reviewerID_asin_unixReviewTime``, stable across
exports; the file repeats 1,108 reviews under the same id (mostly byte-identical lines, a few
re-posts for another variant on the same day), which the engine quarantines as duplicate keys,
the first occurrence winning. A line that is not a JSON object yields no id and is quarantined
(``missing review_id``) with the raw line kept, instead of failing the whole file.
"""

from __future__ import annotations

from pathlib import Path

from shopml.data.ingest import Col, Mapping, Source, read_lines, sql_str
from shopml.data.loaders.base import Loader

FILE = "All_Beauty_5.json.gz"


def _field(path: str, as_text: bool = True) -> str:
    """SQL for a JSON path of ``line``, NULL (not an error) on a line that is not valid JSON."""
    fn = "json_extract_string" if as_text else "json_extract"
    # CASE evaluates the branch only for rows that pass, so garbage never reaches the parser
    return f"CASE WHEN coalesce(json_valid(line), false) THEN {fn}(line, {sql_str(path)}) END"


class AmazonReviews(Loader):
    name = "amazon-reviews"
    folder = "amazon_reviews_all_beauty_5core"
    files = (FILE,)
    description = (
        "Amazon reviews 2018, All_Beauty 5-core: 5,269 star-rated reviews with text (reviews)"
    )
    urls = {
        FILE: "https://raw.githubusercontent.com/sowrabharavishankar/"
        "Sentiment-Analysis-on-Amazon-Product-Reviews-/e0445cbc17002b8584c073f2eaeab5b95841af8e/"
        "All_Beauty_5.json.gz"
    }

    def sources(self, folder: Path) -> list[Source]:
        style = _field("$.style", as_text=False)
        # {"Size:": " 7.0 oz"} -> {"Size": "7.0 oz"}; an odd shape is kept as it came
        clean_style = (
            "to_json(map_from_entries(list_transform(map_entries("
            f"TRY_CAST({style} AS MAP(VARCHAR, VARCHAR))), "
            "lambda e: struct_pack(key := rtrim(trim(e.key), ':'), value := trim(e.value)))))"
        )
        reviews = Mapping(
            "reviews",
            {
                # || (not concat_ws) so that a missing part leaves the id missing
                "review_id": Col(
                    f"({_field('$.reviewerID')}) || '_' || ({_field('$.asin')}) || '_' || "
                    f"({_field('$.unixReviewTime')})"
                ),
                "user_id": Col(_field("$.reviewerID")),
                "item_id": Col(_field("$.asin")),
                "ts": Col(_field("$.unixReviewTime"), parse="epoch_s"),
                "rating": Col(_field("$.overall")),
                "title": Col(_field("$.summary")),
                "text": Col(_field("$.reviewText")),
                "attributes": Col(
                    "json_object("
                    f"'verified', TRY_CAST(({_field('$.verified')}) AS BOOLEAN), "
                    # "1,341" -> 1341
                    f"'vote', TRY_CAST(replace(({_field('$.vote')}), ',', '') AS INTEGER), "
                    f"'style', coalesce({clean_style}, {style}))"
                ),
            },
            # CASE, not AND: DuckDB evaluates both sides and json_type raises on bad JSON
            checks=(
                (
                    "malformed JSON line",
                    "CASE WHEN coalesce(json_valid(line), false) "
                    "THEN json_type(line) <> 'OBJECT' ELSE true END",
                ),
            ),
        )
        return [
            Source(
                name=f"{self.name}:{FILE}",
                path=folder / FILE,
                reader=read_lines(folder / FILE),
                mapping=reviews,
                loader=self.name,
            )
        ]
