"""Open Bandit Dataset (ZOZOTOWN, Saito et al. 2020): logged recommendations of two policies.

The small public sample holds 10,000 logged impressions per policy (uniform ``random`` and
Bernoulli Thompson sampling ``bts``) and campaign (``all``; ``men`` and ``women`` have their own
loaders, same code). Each log line becomes an ``impressions`` row:

- ``impression_id`` = ``<policy>/<campaign>/<index>`` (the row index pandas wrote, from 0);
- ``ts`` = ``timestamp``; ``action`` = ``item_id`` (the arm, an index into the campaign's own
  item list); ``position`` 1-3 (left, centre, right); ``reward`` = ``click``;
  ``propensity`` = ``propensity_score``, the logging policy's probability of that arm at that
  position; ``policy`` and ``campaign``; ``user_id`` NULL (the data has none);
- ``context`` = ``{"user_feature_0": .., .., "user_feature_3": .., "user_item_affinity": [..]}``
  with the hashed user features as text and the user-item affinities as one list indexed by arm.

``item_context.csv`` becomes ``items`` (``attributes`` = ``campaign``, ``item_feature_0`` as a
number, ``item_feature_1..3`` as text). Each policy folder has its own copy, and they are *not*
byte-identical: the numeric feature is the same, but the hashed categorical features are
hashed differently per policy (same groups of items, other hash strings). Only the ``random``
policy's copy is ingested, so the catalogue holds one consistent set of labels. Arms index each
campaign's own list, so one workspace holds one campaign's catalogue: the items of a second
campaign collide with the first's ids and are quarantined as duplicate keys.
"""

from __future__ import annotations

import csv
from pathlib import Path

from shopml.core.errors import DataError
from shopml.data.ingest import Col, Mapping, Source, col, const, ident, read_csv, sql_str
from shopml.data.loaders.base import Loader, data_dir

POLICIES = ("random", "bts")
ITEM_CONTEXT = "item_context.csv"
_RAW = (
    "https://raw.githubusercontent.com/st-tech/zr-obp/8cbd5fa4558b7ad2ba4781546d6604e4cc3e07c4/obd/"
)


def _header(path: Path) -> list[str]:
    """Column names of a CSV file (its first line)."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            header = next(csv.reader(fh), [])
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the header of {path}: {exc}") from exc
    if not header:
        raise DataError(f"{path}: empty file, expected a header line")
    return header


def _context(header: list[str], path: Path) -> Col:
    """The impression's context: hashed user features and the user-item affinity list."""
    users = [c for c in header if c.startswith("user_feature_")]
    affinity = sorted(
        (c for c in header if c.startswith("user-item_affinity_")),
        key=lambda c: int(c.rsplit("_", 1)[1]),
    )
    if not users or not affinity:
        raise DataError(
            f"{path}: expected user_feature_* and user-item_affinity_* columns, found {header[:12]}"
        )
    pairs = [f"{sql_str(c)}, {ident(c)}" for c in users]
    values = ", ".join(f"TRY_CAST({ident(c)} AS DOUBLE)" for c in affinity)
    pairs.append(f"'user_item_affinity', [{values}]")
    return Col(f"json_object({', '.join(pairs)})")


class OpenBandit(Loader):
    name = "open-bandit"
    folder = "open_bandit_dataset"
    campaign = "all"
    files = ("random/all/all.csv", "bts/all/all.csv", "random/all/item_context.csv")
    description = (
        "Open Bandit Dataset (ZOZOTOWN), campaign 'all': 2 x 10,000 logged impressions of the "
        "random and Bernoulli-TS policies with propensities, 80 items (impressions, items)"
    )
    urls = {f: _RAW + f for f in files}

    def download(self, dest: str | Path | None = None, timeout: float = 30.0) -> Path:
        """Fetch the logs and item context from the zr-obp repository (files sit in sub-folders)."""
        target = Path(dest) if dest else data_dir() / self.folder
        for f in self.urls:
            (target / f).parent.mkdir(parents=True, exist_ok=True)
        return super().download(target, timeout)

    def sources(self, folder: Path) -> list[Source]:
        camp = self.campaign
        items = Mapping(
            "items",
            {
                "item_id": col("item_id"),
                "attributes": Col(
                    f"json_object('campaign', {sql_str(camp)}, "
                    "'item_feature_0', TRY_CAST(item_feature_0 AS DOUBLE), "
                    "'item_feature_1', item_feature_1, 'item_feature_2', item_feature_2, "
                    "'item_feature_3', item_feature_3)"
                ),
            },
        )
        ctx = folder / POLICIES[0] / camp / ITEM_CONTEXT
        out = [
            Source(
                f"{self.name}:{POLICIES[0]}/{camp}/{ITEM_CONTEXT}",
                ctx,
                read_csv(ctx),
                items,
                loader=self.name,
            )
        ]
        for policy in POLICIES:
            log = folder / policy / camp / f"{camp}.csv"
            # pandas wrote its row index as a first column without a name: call it "index"
            header = _header(log)
            names = [c or "index" for c in header]
            impressions = Mapping(
                "impressions",
                {
                    # || leaves the id missing (quarantined) where the index is missing
                    "impression_id": Col(f"{sql_str(f'{policy}/{camp}/')} || {ident(names[0])}"),
                    "ts": col("timestamp"),
                    "context": _context(header, log),
                    "action": col("item_id"),
                    "position": col("position"),
                    "reward": col("click"),
                    "propensity": col("propensity_score"),
                    "policy": const(policy),
                    "campaign": const(camp),
                },
            )
            out.append(
                Source(
                    f"{self.name}:{policy}/{camp}/{camp}.csv",
                    log,
                    read_csv(log, columns=names),
                    impressions,
                    loader=self.name,
                )
            )
        return out


class OpenBanditMen(OpenBandit):
    name = "open-bandit-men"
    campaign = "men"
    files = ("random/men/men.csv", "bts/men/men.csv", "random/men/item_context.csv")
    description = (
        "Open Bandit Dataset (ZOZOTOWN), campaign 'men': random and Bernoulli-TS logs, 34 items"
    )
    urls = {f: _RAW + f for f in files}


class OpenBanditWomen(OpenBandit):
    name = "open-bandit-women"
    campaign = "women"
    files = ("random/women/women.csv", "bts/women/women.csv", "random/women/item_context.csv")
    description = (
        "Open Bandit Dataset (ZOZOTOWN), campaign 'women': random and Bernoulli-TS logs, 46 items"
    )
    urls = {f: _RAW + f for f in files}
