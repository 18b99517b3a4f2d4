"""User–item interactions as the recommenders see them: a sparse matrix plus vocabularies."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.core.vocab import Vocab


@dataclass
class Interactions:
    """Interactions of users with items.

    ``matrix`` is users × items (CSR, float32; the value is the interaction weight, e.g. the
    number of purchases or a rating; several interactions of a pair are summed).
    ``sequences`` keeps every interaction in time order (``user``, ``item``, ``ts`` as dense
    indices and int64 nanoseconds), for sequence-aware models.
    """

    matrix: sp.csr_matrix
    users: Vocab
    items: Vocab
    sequences: pd.DataFrame

    @property
    def n_users(self) -> int:
        return self.matrix.shape[0]

    @property
    def n_items(self) -> int:
        return self.matrix.shape[1]

    @classmethod
    def from_frame(
        cls,
        df: pd.DataFrame,
        user_col: str = "user_id",
        item_col: str = "item_id",
        time_col: str | None = "ts",
        weight_col: str | None = None,
        users: Vocab | None = None,
        items: Vocab | None = None,
    ) -> Interactions:
        """Build from a long frame; with ``users``/``items`` given, rows outside them are dropped."""
        missing = [c for c in (user_col, item_col) if c not in df.columns]
        if time_col is not None and time_col not in df.columns:
            time_col = None
        if weight_col is not None and weight_col not in df.columns:
            missing.append(weight_col)
        if missing:
            raise ValidationError(f"interactions lack column(s) {missing}; have {list(df.columns)}")
        if df[[user_col, item_col]].isna().any().any():
            raise ValidationError(f"interactions have missing {user_col} or {item_col}")
        users = users or Vocab(df[user_col])
        items = items or Vocab(df[item_col])
        u = users.encode(df[user_col], strict=False)
        i = items.encode(df[item_col], strict=False)
        keep = (u >= 0) & (i >= 0)
        u, i = u[keep], i[keep]
        w = (
            df[weight_col].to_numpy(dtype=np.float32)[keep]
            if weight_col is not None
            else np.ones(len(u), dtype=np.float32)
        )
        matrix = sp.csr_matrix((w, (u, i)), shape=(len(users), len(items)), dtype=np.float32)
        matrix.sum_duplicates()
        if time_col is not None:
            # in UTC, as naive nanoseconds (a tz-aware column has no numpy datetime64 form)
            t = pd.to_datetime(df[time_col], utc=True).dt.tz_localize(None)
            ts = t.to_numpy(dtype="datetime64[ns]")[keep].astype(np.int64)
        else:
            ts = np.arange(len(u), dtype=np.int64)
        seq = pd.DataFrame({"user": u, "item": i, "ts": ts})
        seq = seq.sort_values(["user", "ts"], kind="stable").reset_index(drop=True)
        return cls(matrix=matrix, users=users, items=items, sequences=seq)

    def histories(self, user_idx: np.ndarray) -> sp.csr_matrix:
        """Rows of the interaction matrix for the given dense user indices."""
        return self.matrix[np.asarray(user_idx)]
