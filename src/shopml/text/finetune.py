"""All-MiniLM-L6-v2 fine-tuned end to end in torch, with a classification or regression head.

The transformer (6 layers, 22 M parameters) is read from the offline MiniLM folder, mean-pooled
like sentence-transformers, and trained with AdamW, a linear warm-up and decay, and gradient
clipping. The epoch with the best validation loss (a validation part carved from the training
rows) is kept. On a 2-core CPU a few thousand sentences per epoch is minutes, so training stops
after ``max_seconds`` as well as after ``epochs``. Saved as ``finetuned.safetensors`` (the whole
network plus the head; loading rebuilds the architecture from the offline config, never from
code in the file).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from shopml.core.errors import ShopMLError
from shopml.core.persist import atomic_write_bytes
from shopml.text.base import SentimentModel, softmax, validation_split
from shopml.text.embeddings import NLP_HINT, _quiet_transformers, minilm_path

WEIGHTS = "finetuned.safetensors"


def _build(model_path: str | None, out_dim: int):
    """(tokenizer, encoder, head) with the offline MiniLM's architecture."""
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from torch import nn
        from transformers import AutoModel, AutoTokenizer
    except ImportError as e:  # pragma: no cover - transformers comes with sentence-transformers
        raise ShopMLError(f"fine-tuning needs the nlp extra: {NLP_HINT}") from e
    path = minilm_path(model_path)
    _quiet_transformers()
    tok = AutoTokenizer.from_pretrained(path)
    enc = AutoModel.from_pretrained(path)
    head = nn.Linear(enc.config.hidden_size, out_dim)
    return tok, enc, head


def _pool(enc, batch) -> Any:
    out = enc(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(out.dtype)
    return (out * mask).sum(1) / mask.sum(1).clamp_min(1e-9)


class FineTunedMiniLM(SentimentModel):
    """MiniLM fine-tuned end to end (see the module docstring).

    Parameters
    ----------
    epochs : int
        Passes over the training part at most.
    max_seconds : float
        Wall-clock budget for training; the best epoch so far is kept when it runs out.
    max_length : int
        Tokens per text (longer texts are cut).
    """

    def __init__(
        self,
        epochs: int = 3,
        lr: float = 5e-5,
        head_lr: float = 2e-3,
        batch_size: int = 32,
        max_length: int = 64,
        max_seconds: float = 900.0,
        weight_decay: float = 0.01,
        validation_fraction: float = 0.1,
        model_path: str | None = None,
        target: str = "auto",
        seed: int = 0,
    ) -> None:
        self.epochs = epochs
        self.lr = lr
        self.head_lr = head_lr
        self.batch_size = batch_size
        self.max_length = max_length
        self.max_seconds = max_seconds
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.model_path = model_path
        self.target = target
        self.seed = seed

    def _out_dim(self) -> int:
        return 1 if self.kind_ == "score" else len(self.classes_)

    def _tokens(self, texts: list[str]):
        return self.tok_(
            texts, padding=True, truncation=True, max_length=self.max_length, return_tensors="pt"
        )

    def _fit(self, texts: list[str], y: np.ndarray, sample_weight: np.ndarray | None) -> None:
        import torch
        from torch import nn

        torch.manual_seed(self.seed)
        self.tok_, self.enc_, self.head_ = _build(self.model_path, self._out_dim())
        tr, va = validation_split(y, self.validation_fraction, self.seed, self.kind_)
        if self.kind_ == "score":
            self.y_mean_, self.y_std_ = float(y[tr].mean()), float(y[tr].std() or 1.0)
            yt = torch.as_tensor((y - self.y_mean_) / self.y_std_, dtype=torch.float32)
        else:
            self.y_mean_, self.y_std_ = 0.0, 1.0
            yt = torch.as_tensor(y, dtype=torch.long)
        sw = torch.as_tensor(
            sample_weight if sample_weight is not None else np.ones(len(y)), dtype=torch.float32
        )
        # sort each batch's texts by length is not needed at max_length 64; keep it simple
        params = [
            {"params": self.enc_.parameters(), "lr": self.lr},
            {"params": self.head_.parameters(), "lr": self.head_lr},
        ]
        opt = torch.optim.AdamW(params, weight_decay=self.weight_decay)
        steps = max(1, self.epochs * int(np.ceil(len(tr) / self.batch_size)))
        warm = max(1, steps // 10)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / max(steps - warm, 1))
        )

        def loss_of(idx: np.ndarray, train: bool) -> torch.Tensor:
            batch = self._tokens([texts[i] for i in idx])
            z = self.head_(_pool(self.enc_, batch))
            t = yt[idx]
            if self.kind_ == "score":
                per = (z[:, 0] - t) ** 2
            else:
                per = nn.functional.cross_entropy(z, t, reduction="none")
            w = sw[idx]
            return (per * w).sum() / w.sum().clamp_min(1e-9)

        def val_loss() -> float:
            self.enc_.eval()
            total, n = 0.0, 0
            with torch.no_grad():
                for s in range(0, len(va), 128):
                    idx = va[s : s + 128]
                    total += float(loss_of(idx, False)) * len(idx)
                    n += len(idx)
            return total / max(n, 1)

        rng = np.random.default_rng(self.seed)
        start = time.perf_counter()
        best, best_state = np.inf, None
        self.history_: list[dict[str, float]] = []
        out_of_time = False
        for epoch in range(self.epochs):
            self.enc_.train()
            perm = rng.permutation(tr)
            for s in range(0, len(perm), self.batch_size):
                opt.zero_grad()
                loss = loss_of(perm[s : s + self.batch_size], True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(
                    list(self.enc_.parameters()) + list(self.head_.parameters()), 1.0
                )
                opt.step()
                sched.step()
                if time.perf_counter() - start > self.max_seconds:
                    out_of_time = True
                    break
            v = val_loss()
            self.history_.append(
                {
                    "epoch": epoch + 1,
                    "validation_loss": round(v, 5),
                    "seconds": round(time.perf_counter() - start, 1),
                }
            )
            if v < best:
                best = v
                best_state = self._state_tensors()
            if out_of_time:
                break
        self._load_tensors(best_state)
        self.enc_.eval()

    def _state_tensors(self) -> dict[str, Any]:
        sd = {
            f"enc.{k}": t.detach().clone().contiguous() for k, t in self.enc_.state_dict().items()
        }
        sd.update(
            {
                f"head.{k}": t.detach().clone().contiguous()
                for k, t in self.head_.state_dict().items()
            }
        )
        return sd

    def _load_tensors(self, sd: dict[str, Any]) -> None:
        self.enc_.load_state_dict({k[4:]: v for k, v in sd.items() if k.startswith("enc.")})
        self.head_.load_state_dict({k[5:]: v for k, v in sd.items() if k.startswith("head.")})

    def _raw(self, texts: list[str]) -> np.ndarray:
        import torch

        outs = []
        self.enc_.eval()
        with torch.no_grad():
            for s in range(0, len(texts), 128):
                z = self.head_(_pool(self.enc_, self._tokens(texts[s : s + 128]))).numpy()
                outs.append(z)
        z = np.vstack(outs).astype(np.float64)
        if self.kind_ == "score":
            return z[:, 0] * self.y_std_ + self.y_mean_
        return softmax(z)

    def _meta(self) -> dict[str, Any]:
        return {
            **super()._meta(),
            "y_mean": self.y_mean_,
            "y_std": self.y_std_,
            "history": self.history_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        super()._set_state(arrays, meta)
        self.y_mean_, self.y_std_ = float(meta["y_mean"]), float(meta["y_std"])
        self.history_ = meta.get("history", [])

    def _save_files(self, folder: Path) -> None:
        from safetensors.torch import save

        atomic_write_bytes(folder / WEIGHTS, save(self._state_tensors()))

    def _load_files(self, folder: Path) -> None:
        from safetensors.torch import load

        self.tok_, self.enc_, self.head_ = _build(self.model_path, self._out_dim())
        self._load_tensors(load((folder / WEIGHTS).read_bytes()))
        self.enc_.eval()
