"""NeuMF (He et al., 2017): a generalised matrix factorisation (GMF) and an MLP over concatenated
user and item embeddings, fused by one output layer and trained with BCE on sampled negatives.

Kept honest: Rendle, Krichene, Zhang and Anderson (RecSys 2020, "Neural Collaborative Filtering
vs. Matrix Factorization Revisited") showed that a well-tuned dot product (here :class:`BPR`)
beats the learned MLP similarity; the benchmark reports both on the same split.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from shopml.core.errors import ValidationError
from shopml.recommend.base import Batch
from shopml.recommend.interactions import Interactions
from shopml.recommend.torch_utils import (
    PositiveSet,
    TorchRecommender,
    fold_in,
    minibatches,
    sample_negatives,
)

# Largest users × items × hidden block materialised when scoring all items at once.
_SCORE_BLOCK = 1 << 23


class NeuMFNet(nn.Module):
    """GMF and MLP towers with separate embeddings, fused by a linear output (NeuMF)."""

    def __init__(
        self, n_users: int, n_items: int, factors: int, layers: list[int], dropout: float
    ) -> None:
        super().__init__()
        half = layers[0] // 2
        self.gmf_user = nn.Embedding(n_users, factors)
        self.gmf_item = nn.Embedding(n_items, factors)
        self.mlp_user = nn.Embedding(n_users, half)
        self.mlp_item = nn.Embedding(n_items, half)
        for emb in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(emb.weight, std=0.01)
        self.first = nn.Linear(2 * half, layers[1])
        rest: list[nn.Module] = [nn.ReLU(), nn.Dropout(dropout)]
        for a, b in zip(layers[1:-1], layers[2:], strict=True):
            rest += [nn.Linear(a, b), nn.ReLU(), nn.Dropout(dropout)]
        self.rest = nn.Sequential(*rest)
        self.out = nn.Linear(factors + layers[-1], 1)

    def pair_scores(self, gu: torch.Tensor, mu: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits of (user vectors, item) pairs; ``gu``/``mu`` rows align with ``items``."""
        gmf = gu * self.gmf_item(items)
        mlp = self.rest(self.first(torch.cat([mu, self.mlp_item(items)], dim=-1)))
        return self.out(torch.cat([gmf, mlp], dim=-1)).squeeze(-1)

    def all_scores(self, gu: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
        """Logits of every item for each user row, ``(n_users, n_items)``.

        The first MLP layer is linear in the concatenation, so its user and item halves are
        computed once each and broadcast-added instead of re-running it for every pair.
        """
        half = mu.shape[1]
        w, b = self.first.weight, self.first.bias
        user_part = mu @ w[:, :half].T  # B × h
        item_part = self.mlp_item.weight @ w[:, half:].T + b  # n × h
        w_out = self.out.weight.squeeze(0)
        f = gu.shape[1]
        gmf = gu @ (self.gmf_item.weight * w_out[:f]).T  # B × n
        rows = max(1, _SCORE_BLOCK // max(1, item_part.numel()))
        mlp = torch.empty_like(gmf)
        for s in range(0, len(mu), rows):
            h = self.rest(user_part[s : s + rows, None, :] + item_part[None])
            mlp[s : s + rows] = h @ w_out[f:]
        return gmf + mlp + self.out.bias


class NeuMF(TorchRecommender):
    """Neural matrix factorisation with BCE loss and ``n_neg`` uniform negatives per positive.

    Parameters
    ----------
    embedding_dim : GMF embedding size.
    layers : MLP sizes; ``layers[0]`` is the concatenated input (user and item MLP embeddings
        have ``layers[0] // 2`` each), the last is the MLP output fused with the GMF vector.
    dropout : dropout after each MLP layer.
    epochs, lr, batch_size : training (Adam); a batch holds positives and their negatives.
    weight_decay : L2 penalty on the embeddings of each minibatch.
    n_neg : sampled negatives per positive (4 in the paper).
    fold_in_steps, fold_in_lr : Adam steps and learning rate that learn an unseen user's GMF
        and MLP vectors (a small rate: trained user vectors stay small, and a fold-in run to
        convergence overfits the history).
    seed, device, patience : see :class:`TorchRecommender`.

    Unseen users are folded in like in :class:`BPR`: their two embeddings are learned with the
    training loss (BCE against sampled negatives) on their history, the network frozen. A mean
    of item embeddings has no meaning here, since users and items enter the MLP separately.
    On 150 MovieLens-100k test users, NDCG@10 was 0.384 folded in against 0.407 with the trained
    vectors (0.352 with ``fold_in_lr=0.05``).

    Defaults were chosen on a validation split of MovieLens-100k (75/25 per user, carved from
    the training part); more epochs overfit. NDCG@10 on the test part: 0.435 (BPR: 0.462).
    """

    def __init__(
        self,
        embedding_dim: int = 32,
        layers: tuple[int, ...] = (64, 32, 16),
        dropout: float = 0.0,
        epochs: int = 10,
        lr: float = 0.001,
        weight_decay: float = 0.001,
        batch_size: int = 1024,
        n_neg: int = 4,
        fold_in_steps: int = 100,
        fold_in_lr: float = 0.005,
        seed: int = 0,
        device: str = "auto",
        patience: int | None = None,
    ) -> None:
        self.embedding_dim = embedding_dim
        self.layers = layers
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.n_neg = n_neg
        self.fold_in_steps = fold_in_steps
        self.fold_in_lr = fold_in_lr
        self.seed = seed
        self.device = device
        self.patience = patience

    def _layers(self) -> list[int]:
        layers = [int(x) for x in self.layers]
        if len(layers) < 2 or layers[0] < 2 or min(layers) < 1:
            raise ValidationError(
                f"NeuMF: layers={self.layers!r}; expected at least two positive sizes, the first >= 2"
            )
        return layers

    def _prepare(self, X: sp.csr_matrix, data: Interactions, rng: np.random.Generator) -> None:
        self._check_params(
            embedding_dim=(1, 1e5),
            epochs=(0, 1e6),
            lr=(0, 1e3),
            dropout=(0, 0.99),
            weight_decay=(0, 1e3),
            n_neg=(1, 1e4),
        )
        self._layers()
        coo = X.tocoo()
        self._pairs = (coo.row.astype(np.int64), coo.col.astype(np.int64))
        self._positives = PositiveSet(X)

    def _build_module(self) -> NeuMFNet:
        return NeuMFNet(
            len(self.users_),
            len(self.items_),
            int(self.embedding_dim),
            self._layers(),
            float(self.dropout),
        )

    def _train_epoch(self, epoch: int, rng: np.random.Generator) -> float:
        net, users, items = self.module_, *self._pairs
        n_neg = int(self.n_neg)
        # each batch: batch_size / (1 + n_neg) positives with their negatives
        per_batch = max(1, int(self.batch_size) // (1 + n_neg))
        total, n = 0.0, 0
        for b in minibatches(len(users), per_batch, rng):
            neg = sample_negatives(rng, users[b], len(self.items_), n_neg, self._positives)
            u = self._tensor(np.concatenate([users[b], np.repeat(users[b], n_neg)]))
            i = self._tensor(np.concatenate([items[b], neg.ravel()]))
            y = torch.cat([torch.ones(len(b)), torch.zeros(neg.size)]).to(self.device_)
            gu, mu = net.gmf_user(u), net.mlp_user(u)
            logits = net.pair_scores(gu, mu, i)
            loss = F.binary_cross_entropy_with_logits(logits, y)
            if self.weight_decay:
                reg = sum(
                    t.pow(2).sum(-1).mean() for t in (gu, mu, net.gmf_item(i), net.mlp_item(i))
                )
                loss = loss + self.weight_decay * reg
            self.optimizer_.zero_grad()
            loss.backward()
            self.optimizer_.step()
            total += float(loss.detach()) * len(y)
            n += len(y)
        return total / max(n, 1)

    def _user_vectors(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(GMF, MLP) vectors: trained for known users, folded in for unseen ones."""
        net = self.module_
        n = len(batch.user_idx)
        gu = torch.zeros((n, net.gmf_user.embedding_dim), device=self.device_)
        mu = torch.zeros((n, net.mlp_user.embedding_dim), device=self.device_)
        known = torch.as_tensor(batch.user_idx >= 0, device=self.device_)
        if known.any():
            idx = self._tensor(batch.user_idx[batch.user_idx >= 0])
            gu[known], mu[known] = net.gmf_user.weight[idx], net.mlp_user.weight[idx]
        if not known.all():
            rows = np.flatnonzero(batch.user_idx < 0)
            g, m = fold_in(
                [gu[rows], mu[rows]],
                lambda p, r, items: net.pair_scores(p[0][r], p[1][r], items),
                batch.histories[rows],
                loss="bce",
                steps=int(self.fold_in_steps),
                lr=float(self.fold_in_lr),
                l2=float(self.weight_decay),
                n_neg=max(4, int(self.n_neg)),
                seed=int(self.seed),
                frozen=net,
            )
            gu[rows], mu[rows] = g, m
        return gu, mu

    def _score(self, batch: Batch) -> np.ndarray:
        with torch.no_grad():
            gu, mu = self._user_vectors(batch)
            scores = self.module_.all_scores(gu, mu).cpu().numpy()
        return self._popularity_fallback(scores, batch)

    def _item_vectors(self) -> np.ndarray:
        net = self.module_
        return torch.cat([net.gmf_item.weight, net.mlp_item.weight], dim=1).detach().cpu().numpy()
