"""Home Depot Product Search Relevance (Kaggle 2016): real queries, products and human relevance.

Each line of ``train_dev.csv.gz`` (a 70% subset of the competition's ``train.csv``, the rest kept
aside for evaluation) is one judged (query, product) pair and becomes a ``relevance_judgements`` row:
``judgement_id`` = ``id``, ``query`` = ``search_term``, ``item_id`` = ``product_uid`` and
``relevance`` = the mean of at least three human ratings on 1 (not relevant) .. 3 (highly
relevant). The catalogue (``items``) is derived from the accepted pairs, one row per product with
``title`` = ``product_title``; the file gives a few products two slightly different titles, and
the first one in file order is kept. Titles carry HTML entities (``&amp;``, ``&#39;``,
``&quot;``), which are decoded. The competition data sits behind a Kaggle login (no public
URL); a copy of ``train.csv.zip`` is on GitHub at MohammedFCIS/Home-Depot-Product-Search-Relevance.
"""

from __future__ import annotations

from pathlib import Path

from shopml.data.ingest import Mapping, Source, col, read_csv
from shopml.data.loaders.base import Loader

FILE = "train_dev.csv.gz"


class HomeDepot(Loader):
    name = "homedepot"
    folder = "homedepot_search_relevance"
    files = (FILE,)
    description = (
        "Home Depot search relevance: 51,845 judged (query, product) pairs "
        "(relevance_judgements, items)"
    )
    urls: dict[str, str] = {}

    def sources(self, folder: Path) -> list[Source]:
        judgements = Mapping(
            "relevance_judgements",
            {
                "judgement_id": col("id"),
                "query": col("search_term"),
                "item_id": col("product_uid"),
                "relevance": col("relevance"),
            },
        )
        # the export HTML-escapes titles; &amp; goes last so "&amp;quot;" decodes to "&quot;"
        title = (
            "replace(replace(replace(arg_min(s.product_title, s._row), '&quot;', '\"'), "
            "'&#39;', ''''), '&amp;', '&')"
        )
        items = Mapping(
            "items",
            {},
            select=(
                f"SELECT a.item_id, {title} AS title, "
                "NULL AS description, NULL AS category, NULL AS brand, NULL AS price, "
                "NULL AS currency, NULL AS attributes, NULL AS image_path "
                "FROM _accepted a JOIN _stage s USING (_row) GROUP BY a.item_id"
            ),
        )
        return [
            Source(
                name=f"{self.name}:{FILE}",
                path=folder / FILE,
                reader=read_csv(folder / FILE),
                mapping=judgements,
                derived=(items,),
                loader=self.name,
            )
        ]
