"""MiniLM sentence embeddings (frozen) with a linear or a small MLP head.

The embeddings come from the shared service (:mod:`shopml.text.embeddings`), cached per text, so
training several heads on one corpus embeds it once. The linear head is logistic regression or
ridge chosen on validation; the MLP head (one hidden layer, dropout, AdamW) is trained in torch
with early stopping on a validation part. Both are saved as plain arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopml.core.errors import ValidationError
from shopml.text.base import SentimentModel, softmax, validation_split
from shopml.text.embeddings import SentenceEncoder
from shopml.text.linear import LinearHead, fit_linear


class MiniLMHead(SentimentModel):
    """Frozen all-MiniLM-L6-v2 embeddings and a ``linear`` or ``mlp`` head.

    Parameters
    ----------
    head : {"linear", "mlp"}
    hidden : int
        MLP hidden units.
    epochs : int
        MLP epochs at most (early stopping on validation decides).
    model_path : str, optional
        Another sentence-transformers folder (default: the offline MiniLM).
    """

    def __init__(
        self,
        head: str = "linear",
        hidden: int = 256,
        dropout: float = 0.2,
        epochs: int = 100,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        C: float | None = None,
        class_weight: str | None = "auto",
        validation_fraction: float = 0.15,
        model_path: str | None = None,
        target: str = "auto",
        seed: int = 0,
    ) -> None:
        self.head = head
        self.hidden = hidden
        self.dropout = dropout
        self.epochs = epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.C = C
        self.class_weight = class_weight
        self.validation_fraction = validation_fraction
        self.model_path = model_path
        self.target = target
        self.seed = seed

    def _encoder(self) -> SentenceEncoder:
        if getattr(self, "_enc", None) is None:
            self._enc = SentenceEncoder(model_path=self.model_path)
        return self._enc

    def embed(self, texts: list[str]) -> np.ndarray:
        """The frozen sentence embeddings this model reads (unit length, 384-d)."""
        return self._encoder().encode(texts)

    def _fit(self, texts: list[str], y: np.ndarray, sample_weight: np.ndarray | None) -> None:
        if self.head not in ("linear", "mlp"):
            raise ValidationError(f"head must be 'linear' or 'mlp', got {self.head!r}")
        X = self.embed(texts)
        if self.head == "linear":
            self.linear_ = fit_linear(
                X,
                y,
                self.kind_,
                len(self.classes_),
                sample_weight,
                self.seed,
                self.validation_fraction,
                self.C,
                self.class_weight,
            )
        else:
            self.mlp_ = train_mlp(
                X,
                y,
                self.kind_,
                len(self.classes_),
                self.hidden,
                self.dropout,
                self.epochs,
                self.lr,
                self.weight_decay,
                self.validation_fraction,
                self.seed,
                sample_weight,
            )

    def _raw(self, texts: list[str]) -> np.ndarray:
        X = self.embed(texts)
        if self.head == "linear":
            return self.linear_.raw(X)
        return mlp_forward(self.mlp_, X, self.kind_)

    def _get_state(self) -> dict[str, np.ndarray]:
        out = super()._get_state()
        if self.head == "linear":
            out["coef"], out["intercept"] = self.linear_.coef, self.linear_.intercept
        else:
            out.update({f"mlp_{k}": v for k, v in self.mlp_.items()})
        return out

    def _meta(self) -> dict[str, Any]:
        meta = super()._meta()
        if self.head == "linear":
            meta["head_params"] = self.linear_.params
        return meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        super()._set_state(arrays, meta)
        if self.head == "linear":
            self.linear_ = LinearHead(
                arrays["coef"], arrays["intercept"], self.kind_, meta.get("head_params", {})
            )
        else:
            self.mlp_ = {k[4:]: v for k, v in arrays.items() if k.startswith("mlp_")}


def mlp_forward(w: dict[str, np.ndarray], X: np.ndarray, kind: str) -> np.ndarray:
    """The MLP in numpy (serving needs no torch graph): probabilities or scores."""
    h = np.maximum(X @ w["w1"].T + w["b1"], 0.0)
    z = h @ w["w2"].T + w["b2"]
    if kind == "score":
        return z[:, 0] * float(w["y_std"][0]) + float(w["y_mean"][0])
    return softmax(z)


def train_mlp(
    X: np.ndarray,
    y: np.ndarray,
    kind: str,
    n_classes: int,
    hidden: int,
    dropout: float,
    epochs: int,
    lr: float,
    weight_decay: float,
    validation_fraction: float,
    seed: int,
    sample_weight: np.ndarray | None = None,
    batch_size: int = 256,
    patience: int = 8,
) -> dict[str, np.ndarray]:
    """One-hidden-layer MLP on fixed features, early-stopped on a validation part."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    tr, va = validation_split(y, validation_fraction, seed, kind)
    out_dim = 1 if kind == "score" else n_classes
    y_mean = float(y[tr].mean()) if kind == "score" else 0.0
    y_std = float(y[tr].std() or 1.0) if kind == "score" else 1.0
    Xt = torch.as_tensor(X, dtype=torch.float32)
    if kind == "score":
        yt = torch.as_tensor((y - y_mean) / y_std, dtype=torch.float32)
    else:
        yt = torch.as_tensor(y, dtype=torch.long)
    sw = torch.as_tensor(
        sample_weight if sample_weight is not None else np.ones(len(y)), dtype=torch.float32
    )
    net = nn.Sequential(
        nn.Linear(X.shape[1], hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, out_dim)
    )
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)

    def loss_of(idx: torch.Tensor) -> torch.Tensor:
        z = net(Xt[idx])
        if kind == "score":
            per = (z[:, 0] - yt[idx]) ** 2
        else:
            per = nn.functional.cross_entropy(z, yt[idx], reduction="none")
        w = sw[idx]
        return (per * w).sum() / w.sum().clamp_min(1e-9)

    gen = torch.Generator().manual_seed(seed)
    tr_t, va_t = torch.as_tensor(tr), torch.as_tensor(va)
    best, best_state, bad = np.inf, None, 0
    for _ in range(epochs):
        net.train()
        perm = tr_t[torch.randperm(len(tr_t), generator=gen)]
        for s in range(0, len(perm), batch_size):
            opt.zero_grad()
            loss_of(perm[s : s + batch_size]).backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            v = float(loss_of(va_t))
        if v < best - 1e-5:
            best, bad = v, 0
            best_state = {k: t.detach().clone() for k, t in net.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
    net.load_state_dict(best_state)
    sd = {k: t.numpy().astype(np.float32) for k, t in net.state_dict().items()}
    return {
        "w1": sd["0.weight"],
        "b1": sd["0.bias"],
        "w2": sd["3.weight"],
        "b2": sd["3.bias"],
        "y_mean": np.array([y_mean]),
        "y_std": np.array([y_std]),
    }
