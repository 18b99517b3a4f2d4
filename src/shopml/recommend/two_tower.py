"""Two-tower retrieval whose item tower reads content, so items nobody has bought can be ranked.

Item tower: hashed bag of words of the item's text (title, brand, ...; the hashing trick, so
words never seen in training need no vocabulary), a category embedding, a price-bucket
embedding and, optionally, an id embedding. The id embedding is dropped at random during
training (``id_dropout``), so the content part alone must carry the item: a new item, whose id
slot is the shared "unknown" row, lands near the items that read like it.
User tower: the mean of the item-tower vectors of the user's history, through a small MLP; a
visitor the model has never seen is served from their history without fold-in.
Training: in-batch sampled softmax over (history without the target, target) pairs with the
logQ correction of Yi et al. (RecSys 2019), since in-batch negatives are drawn by popularity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from sklearn.feature_extraction.text import HashingVectorizer
from torch import nn

from shopml.core.errors import ValidationError
from shopml.recommend.base import Batch
from shopml.recommend.interactions import Interactions
from shopml.recommend.torch_utils import TorchRecommender, minibatches


class ItemFeatures:
    """Content features of a list of items: hashed text (CSR), category and price-bucket codes."""

    def __init__(self, text: sp.csr_matrix, category: np.ndarray, price: np.ndarray) -> None:
        self.text, self.category, self.price = (
            text.tocsr(),
            category.astype(np.int64),
            price.astype(np.int64),
        )

    def __len__(self) -> int:
        return len(self.category)


class TwoTowerNet(nn.Module):
    """Content + id item tower and a pooled-history user tower."""

    def __init__(
        self,
        n_items: int,
        buckets: int,
        n_categories: int,
        n_prices: int,
        dim: int,
        use_item_id: bool,
    ) -> None:
        super().__init__()
        self.text = nn.EmbeddingBag(buckets, dim, mode="mean")
        self.category = nn.Embedding(n_categories + 1, dim)  # 0: unknown category
        self.price = nn.Embedding(n_prices + 1, dim)  # 0: no price
        self.ids = nn.Embedding(n_items + 1, dim) if use_item_id else None  # 0: a new item
        for emb in (self.text, self.category, self.price, self.ids):
            if emb is not None:
                nn.init.normal_(emb.weight, std=0.05)
        self.item_mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))
        self.user_mlp = nn.Sequential(nn.Linear(dim, dim), nn.GELU(), nn.Linear(dim, dim))

    def items(
        self,
        text: torch.Tensor,
        offsets: torch.Tensor,
        category: torch.Tensor,
        price: torch.Tensor,
        ids: torch.Tensor | None,
    ) -> torch.Tensor:
        """L2-normalised item vectors."""
        e = self.text(text, offsets) + self.category(category) + self.price(price)
        if self.ids is not None and ids is not None:
            e = e + self.ids(ids)
        return F.normalize(e + self.item_mlp(e), dim=-1)

    def users(self, pooled: torch.Tensor) -> torch.Tensor:
        """L2-normalised user vectors from pooled history item vectors."""
        return F.normalize(pooled + self.user_mlp(pooled), dim=-1)


class TwoTower(TorchRecommender):
    """Content-aware two-tower model; see the module docstring.

    Parameters
    ----------
    embedding_dim : embedding size of both towers.
    text_columns : item columns whose words feed the text bag (missing ones are skipped).
    hash_buckets : size of the hashed word vocabulary.
    price_buckets : number of price quantile buckets (fitted on the training items).
    use_item_id : add a learned id embedding to the content (known items only).
    id_dropout : probability of replacing an item's id by the "new item" id in training.
    temperature : softmax temperature of the cosine scores.
    epochs, lr, batch_size, weight_decay : training (AdamW; ``batch_size`` pairs per step,
        which are also each other's negatives).
    seed, device, patience : see :class:`TorchRecommender`.

    ``fit(..., items=frame)`` supplies the content (``item_id`` plus any of the text columns,
    ``category``, ``price``); without it the model is an id-only two-tower model and cannot
    embed new items.

    On MovieLens-100k (titles with genres as text, first genre as category; defaults chosen on a
    validation split carved from train) NDCG@10 was 0.438 (BPR: 0.462). With 200 items hidden
    from training and ranked by content alone, a user's top 10 of them held items the user had
    rated at 2.6 times the chance rate (precision@10 0.28 against 0.11).
    """

    def __init__(
        self,
        embedding_dim: int = 64,
        text_columns: tuple[str, ...] = ("title", "brand"),
        hash_buckets: int = 1 << 15,
        price_buckets: int = 10,
        use_item_id: bool = True,
        id_dropout: float = 0.5,
        temperature: float = 0.05,
        epochs: int = 10,
        lr: float = 0.003,
        batch_size: int = 512,
        weight_decay: float = 0.0,
        seed: int = 0,
        device: str = "auto",
        patience: int | None = None,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.text_columns = text_columns
        self.hash_buckets = hash_buckets
        self.price_buckets = price_buckets
        self.use_item_id = use_item_id
        self.id_dropout = id_dropout
        self.temperature = temperature
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.seed = seed
        self.device = device
        self.patience = patience

    # ------------------------------------------------------------------ features
    def _hasher(self) -> HashingVectorizer:
        # single-character tokens kept: sizes and model numbers ("3", "xl") are content too
        return HashingVectorizer(
            n_features=int(self.hash_buckets),
            token_pattern=r"(?u)\b\w+\b",
            alternate_sign=False,
            norm=None,
            binary=True,
        )

    def _features(self, meta: dict[str, np.ndarray] | pd.DataFrame | None, n: int) -> ItemFeatures:
        """Features of ``n`` items from aligned metadata columns (``None``: no content)."""
        cols = (
            {}
            if meta is None
            else {
                c: np.asarray(meta[c], dtype=object)
                for c in (meta.keys() if isinstance(meta, dict) else meta.columns)
            }
        )
        present = [c for c in self.text_columns if c in cols]
        if present:
            text = pd.Series([""] * n, dtype=object)
            for c in present:
                text = text + " " + pd.Series(cols[c]).fillna("").astype(str)
            bags = self._hasher().transform(text.to_numpy())
        else:
            bags = sp.csr_matrix((n, int(self.hash_buckets)), dtype=np.float32)
        category = np.zeros(n, np.int64)
        if "category" in cols:
            codes = pd.Index(self.categories_).get_indexer(pd.Series(cols["category"]).astype(str))
            category = np.where(pd.isna(cols["category"]), -1, codes) + 1
        price = np.zeros(n, np.int64)
        if "price" in cols:
            values = pd.to_numeric(pd.Series(cols["price"]), errors="coerce").to_numpy(dtype=float)
            price = np.where(np.isfinite(values), np.searchsorted(self.price_edges_, values) + 1, 0)
        return ItemFeatures(bags, category, price)

    def _fit_feature_vocabularies(self) -> None:
        meta = self.item_metadata_ or {}
        cats = meta.get("category")
        self.categories_ = (
            np.asarray(pd.unique(pd.Series(cats).dropna().astype(str)), dtype=str)
            if cats is not None
            else np.empty(0, str)
        )
        prices = pd.to_numeric(pd.Series(meta.get("price", [])), errors="coerce").to_numpy(
            dtype=float
        )
        prices = prices[np.isfinite(prices)]
        qs = np.linspace(0, 1, int(self.price_buckets) + 1)[1:-1]
        self.price_edges_ = np.unique(np.quantile(prices, qs)) if len(prices) else np.empty(0)

    def _item_tensors(self, f: ItemFeatures, ids: np.ndarray | None) -> tuple[torch.Tensor, ...]:
        t = self._tensor
        id_t = t(ids) if ids is not None else None
        return t(f.text.indices), t(f.text.indptr[:-1]), t(f.category), t(f.price), id_t

    # ------------------------------------------------------------------ training
    def _prepare(self, X: sp.csr_matrix, data: Interactions, rng: np.random.Generator) -> None:
        self._check_params(
            embedding_dim=(1, 1e5),
            hash_buckets=(1, 1 << 26),
            price_buckets=(1, 1e4),
            id_dropout=(0, 1),
            temperature=(1e-4, 1e3),
            epochs=(0, 1e6),
            lr=(0, 1e3),
        )
        if self.item_metadata_ is None and not self.use_item_id:
            raise ValidationError(
                "TwoTower with use_item_id=False needs item content: fit(..., items=frame)"
            )
        self._fit_feature_vocabularies()
        self.features_ = self._features(self.item_metadata_, len(self.items_))
        coo = X.tocoo()
        self._pairs = (coo.row.astype(np.int64), coo.col.astype(np.int64))
        self._binary = X.copy()
        self._binary.data[:] = 1.0
        freq = np.asarray(self._binary.sum(axis=0)).ravel()
        self._log_q = self._tensor(np.log(freq / freq.sum() + 1e-12), torch.float32)

    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None:
        super()._fit(X, data)
        # hash buckets no training item uses were never trained: zero them, so that an unseen
        # word of a new item adds nothing instead of its random initial vector
        used = np.zeros(int(self.hash_buckets), dtype=bool)
        used[self.features_.text.indices] = True
        with torch.no_grad():
            self.module_.text.weight[self._tensor(np.flatnonzero(~used))] = 0.0

    def _build_module(self) -> TwoTowerNet:
        return TwoTowerNet(
            len(self.items_),
            int(self.hash_buckets),
            len(self.categories_),
            len(self.price_edges_) + 1,
            int(self.embedding_dim),
            bool(self.use_item_id),
        )

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(
            self.module_.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )

    def _train_epoch(self, epoch: int, rng: np.random.Generator) -> float:
        net, (users, targets) = self.module_, self._pairs
        n_items = len(self.items_)
        total, count = 0.0, 0
        for b in minibatches(len(users), int(self.batch_size), rng):
            ids = np.arange(1, n_items + 1)
            ids[rng.random(n_items) < self.id_dropout] = 0
            items = net.items(
                *self._item_tensors(self.features_, ids)
            )  # all items, this step's ids
            # history of each pair without its target: the target must be predicted, not copied
            target_entries = sp.csr_matrix(
                (np.ones(len(b), np.float32), (np.arange(len(b)), targets[b])),
                shape=(len(b), n_items),
            )
            hist = self._binary[users[b]] - target_entries
            hist.eliminate_zeros()
            u = net.users(self._pool(hist, items))
            t = self._tensor(targets[b])
            logits = (u @ items[t].T) / self.temperature - self._log_q[t][None, :]
            same = t[:, None] == t[None, :]  # the same item twice in a batch is no negative
            logits = logits.masked_fill(
                same & ~torch.eye(len(b), dtype=torch.bool, device=t.device), -torch.inf
            )
            loss = F.cross_entropy(logits, torch.arange(len(b), device=t.device))
            self.optimizer_.zero_grad()
            loss.backward()
            self.optimizer_.step()
            total += float(loss.detach()) * len(b)
            count += len(b)
        return total / max(count, 1)

    def _pool(self, hist: sp.csr_matrix, items: torch.Tensor) -> torch.Tensor:
        """Mean of the item vectors of each history row (zeros for an empty one)."""
        counts = np.maximum(np.diff(hist.indptr), 1).astype(np.float32)
        coo = hist.tocoo()
        w = torch.sparse_coo_tensor(
            self._tensor(np.vstack([coo.row, coo.col])),
            self._tensor(coo.data / counts[coo.row], torch.float32),
            size=hist.shape,
            check_invariants=False,  # built from a valid scipy matrix
        )
        return torch.sparse.mm(w, items)

    # ------------------------------------------------------------------ scoring
    def _all_items(self) -> torch.Tensor:
        if "items" not in self._cache_:
            with torch.no_grad():
                ids = np.arange(1, len(self.items_) + 1)
                self._cache_["items"] = self.module_.items(*self._item_tensors(self.features_, ids))
        return self._cache_["items"]

    def _user_vectors(self, histories: sp.csr_matrix) -> torch.Tensor:
        hist = histories.tocsr().copy()
        hist.data[:] = 1.0
        with torch.no_grad():
            return self.module_.users(self._pool(hist, self._all_items()))

    def _score(self, batch: Batch) -> np.ndarray:
        with torch.no_grad():
            scores = (
                (self._user_vectors(batch.histories) @ self._all_items().T / self.temperature)
                .cpu()
                .numpy()
            )
        return self._popularity_fallback(scores, batch)

    def _item_vectors(self) -> np.ndarray:
        return self._all_items().cpu().numpy()

    # ------------------------------------------------------------------ new items
    def embed_items(self, items: pd.DataFrame) -> np.ndarray:
        """Item-tower vectors ``(len(items), dim)`` from content alone (text, category, price).

        Items the model knows get their id embedding too when their ``item_id`` is given and
        known; any other row is embedded as a new item.
        """
        self._check_fitted()
        if not isinstance(items, pd.DataFrame):
            raise ValidationError(
                f"embed_items expects a DataFrame of items, got {type(items).__name__}"
            )
        feats = self._features(items, len(items))
        ids = np.zeros(len(items), np.int64)
        if "item_id" in items.columns:
            ids = (
                self.items_.encode(items["item_id"].astype(str), strict=False).astype(np.int64) + 1
            )
        with torch.no_grad():
            return self.module_.items(*self._item_tensors(feats, ids)).cpu().numpy()

    def recommend_new_items(
        self, user_ids: list | np.ndarray | str, items: pd.DataFrame, k: int = 10
    ) -> pd.DataFrame:
        """Rank items given by content only (e.g. just added to the catalogue) for known users.

        ``items`` needs ``item_id`` and the content columns used in training. Returns a frame
        ``user_id, item_id, score, rank`` like :meth:`recommend`.
        """
        self._check_fitted()
        if "item_id" not in items.columns:
            raise ValidationError(f"items frame needs an item_id column; has {list(items.columns)}")
        ids = np.atleast_1d(np.asarray(user_ids, dtype=object)).astype(str)
        users = self.users_.encode(ids)
        k = min(self._check_k(k), len(items))
        with torch.no_grad():
            v = torch.as_tensor(self.embed_items(items), device=self.device_)
            scores = (self._user_vectors(self.train_[users]) @ v.T / self.temperature).cpu().numpy()
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        return pd.DataFrame(
            {
                "user_id": np.repeat(ids, k),
                "item_id": items["item_id"].astype(str).to_numpy()[order].ravel(),
                "score": np.take_along_axis(scores, order, axis=1).ravel(),
                "rank": np.tile(np.arange(1, k + 1), len(ids)),
            }
        )

    # ------------------------------------------------------------------ persistence
    def _extra_state(self) -> dict[str, np.ndarray]:
        f = self.features_
        return {
            "text_indptr": f.text.indptr.astype(np.int64),
            "text_indices": f.text.indices.astype(np.int64),
            "category": f.category,
            "price": f.price,
            "categories": self.categories_.astype(str),
            "price_edges": self.price_edges_.astype(float),
        }

    def _load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.categories_ = arrays["categories"]
        self.price_edges_ = arrays["price_edges"]
        indices = arrays["text_indices"]
        text = sp.csr_matrix(
            (np.ones(len(indices), np.float32), indices, arrays["text_indptr"]),
            shape=(len(self.items_), int(self.hash_buckets)),
        )
        self.features_ = ItemFeatures(text, arrays["category"], arrays["price"])
