"""A small ResNet in plain ``torch.nn`` (torchvision does not import beside this torch).

Residual basic blocks with batch norm, trained with AdamW, label smoothing, a cosine learning
rate schedule after a short warm-up, and augmentation done on uint8 batches in NumPy / torch
(random crops, horizontal flips, colour jitter of brightness, contrast and saturation). The
network keeps the weights of the epoch with the best accuracy on the validation part carved
from the training images. ``max_time_s`` bounds training by wall clock: the schedule then
follows whichever of steps or time runs out first, so a benchmark can size training to a fixed
budget and still end on a fully decayed learning rate.

Weights are saved as ``weights.safetensors``; ``pretrained`` takes such a file (from an earlier
model, or any file whose tensor names and shapes match this network) to start from.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from shopml.core.errors import ValidationError
from shopml.core.persist import atomic_write_bytes
from shopml.core.progress import make_progress
from shopml.core.torch_common import resolve_device, seeded
from shopml.vision.base import ImageClassifier, stratified_holdout

WEIGHTS = "weights.safetensors"


class BasicBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus the (projected when the shape changes) input."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        # zero-init the last BN scale: each block starts as the identity (trains faster, deeper)
        nn.init.zeros_(self.bn2.weight)
        self.short: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.short = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)), inplace=True)
        return F.relu(self.bn2(self.conv2(out)) + self.short(x), inplace=True)


class ResNet(nn.Module):
    """Stem (3x3 conv, stride 2) then one stage per width, each halving the resolution after
    the first; global average pooling gives the embedding, a linear layer the class logits."""

    def __init__(self, n_classes: int, widths: tuple[int, ...], blocks: tuple[int, ...]) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, widths[0], 3, 2, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU()
        )
        layers: list[nn.Module] = []
        c = widths[0]
        for i, (w, b) in enumerate(zip(widths, blocks, strict=True)):
            for j in range(b):
                layers.append(BasicBlock(c, w, 2 if (i > 0 and j == 0) else 1))
                c = w
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(c, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(self.stem(x)).mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class CNNClassifier(ImageClassifier):
    """A small residual CNN trained from scratch (or from ``pretrained`` weights).

    Parameters
    ----------
    image_size
        Side of the square the network sees; images are decoded 1/8 larger and cropped
        (randomly in training, centred in prediction).
    widths, blocks
        Channels and residual blocks per stage; the embedding has ``widths[-1]`` dimensions.
    epochs, batch_size, lr, weight_decay
        AdamW training; the learning rate warms up for ``warmup_epochs`` then decays by a cosine.
    label_smoothing
        Cross-entropy label smoothing.
    augment, jitter
        Random crops and flips; colour jitter strength (0 turns it off).
    validation_fraction
        Share of each class carved from the training images to pick the best epoch.
    max_time_s
        Optional wall-clock budget for training (the schedule follows it; see the module doc).
    pretrained
        Optional path to a safetensors file to initialise the network from (the class head is
        re-initialised when the number of classes differs).
    """

    def __init__(
        self,
        image_size: int = 64,
        widths: tuple[int, ...] = (32, 64, 128),
        blocks: tuple[int, ...] = (1, 1, 1),
        epochs: int = 30,
        batch_size: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 0.05,
        warmup_epochs: float = 1.0,
        label_smoothing: float = 0.1,
        augment: bool = True,
        jitter: float = 0.2,
        validation_fraction: float = 0.15,
        max_time_s: float | None = None,
        pretrained: str | None = None,
        device: str = "cpu",
        seed: int = 0,
    ) -> None:
        self.image_size = image_size
        self.widths = widths
        self.blocks = blocks
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.label_smoothing = label_smoothing
        self.augment = augment
        self.jitter = jitter
        self.validation_fraction = validation_fraction
        self.max_time_s = max_time_s
        self.pretrained = pretrained
        self.device = device
        self.seed = seed

    # ----------------------------------------------------------------- checks
    def _check_params(self) -> None:
        if not isinstance(self.image_size, int) or self.image_size < 8:
            raise ValidationError(f"image_size must be an int >= 8, got {self.image_size!r}")
        if len(self.widths) != len(self.blocks) or not self.widths:
            raise ValidationError(
                f"widths {self.widths} and blocks {self.blocks} must be non-empty, same length"
            )
        if any(int(w) < 1 for w in self.widths) or any(int(b) < 1 for b in self.blocks):
            raise ValidationError("widths and blocks must be positive")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValidationError("epochs must be >= 1 and batch_size >= 2")
        if not 0 <= self.label_smoothing < 1:
            raise ValidationError(f"label_smoothing must be in [0, 1), got {self.label_smoothing}")
        if self.max_time_s is not None and not self.max_time_s > 0:
            raise ValidationError(f"max_time_s must be positive, got {self.max_time_s}")

    def _decode_size(self) -> int:
        return int(round(self.image_size * 1.125))

    @property
    def embedding_dim(self) -> int:
        """Dimensions of :meth:`embed` (the last stage's width)."""
        return int(self.widths[-1])

    def _build(self, n_classes: int) -> ResNet:
        return ResNet(
            n_classes, tuple(int(w) for w in self.widths), tuple(int(b) for b in self.blocks)
        )

    # ----------------------------------------------------------------- tensors
    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        """uint8 NHWC -> normalised float NCHW on the device."""
        t = torch.from_numpy(np.ascontiguousarray(X)).to(self.device_).permute(0, 3, 1, 2).float()
        return (t / 255.0 - self.mean_t_) / self.std_t_

    def _centre(self, X: np.ndarray) -> np.ndarray:
        o = (X.shape[1] - self.image_size) // 2
        return X[:, o : o + self.image_size, o : o + self.image_size]

    def _augment(self, X: np.ndarray, rng: np.random.Generator) -> torch.Tensor:
        """Random crop + flip (NumPy fancy indexing, no per-image loop) and colour jitter."""
        n, s = len(X), X.shape[1]
        size = self.image_size
        oy = rng.integers(0, s - size + 1, n)
        ox = rng.integers(0, s - size + 1, n)
        ar = np.arange(size)
        rows = (oy[:, None] + ar)[:, :, None]
        cols = ox[:, None] + ar
        flip = rng.random(n) < 0.5
        cols = np.where(flip[:, None], cols[:, ::-1], cols)[:, None, :]
        out = X[np.arange(n)[:, None, None], rows, cols]
        t = torch.from_numpy(out).to(self.device_).permute(0, 3, 1, 2).float() / 255.0
        if self.jitter > 0:
            j = float(self.jitter)
            g = torch.from_numpy(rng.uniform(1 - j, 1 + j, (3, n, 1, 1, 1)).astype(np.float32))
            g = g.to(self.device_)
            t = t * g[0]  # brightness
            mean = t.mean(dim=(1, 2, 3), keepdim=True)
            t = (t - mean) * g[1] + mean  # contrast
            gray = t.mean(dim=1, keepdim=True)
            t = (t - gray) * g[2] + gray  # saturation
            t = t.clamp(0.0, 1.0)
        return (t - self.mean_t_) / self.std_t_

    # ----------------------------------------------------------------- fit
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self._check_params()
        self.device_ = resolve_device(self.device)
        n_classes = len(self.classes_)
        tr, va = stratified_holdout(y, self.validation_fraction, self.seed)
        if len(va) and len(tr) < 2:
            raise ValidationError(f"{len(y)} images are too few to carve a validation part")
        mean = X[tr].reshape(-1, 3).mean(axis=0) / 255.0
        std = X[tr].reshape(-1, 3).std(axis=0) / 255.0 + 1e-3
        self.mean_ = mean.astype(np.float32)
        self.std_ = std.astype(np.float32)
        self._set_norm()
        with seeded(self.seed, self.device_) as rng:
            net = self._build(n_classes).to(self.device_)
            if self.pretrained:
                self.pretrained_loaded_ = _load_pretrained(net, self.pretrained)
            self.history_ = self._train(net, X, y, tr, va, rng)
        self.net_ = net.eval()

    def _set_norm(self) -> None:
        self.mean_t_ = torch.as_tensor(self.mean_).view(1, 3, 1, 1).to(self.device_)
        self.std_t_ = torch.as_tensor(self.std_).view(1, 3, 1, 1).to(self.device_)

    def _train(
        self,
        net: ResNet,
        X: np.ndarray,
        y: np.ndarray,
        tr: np.ndarray,
        va: np.ndarray,
        rng: np.random.Generator,
    ) -> list[dict[str, float]]:
        bs = min(int(self.batch_size), len(tr))
        steps_per_epoch = max(1, len(tr) // bs)  # drop the ragged last batch (BN on 1 image)
        total = steps_per_epoch * int(self.epochs)
        warm = max(1, int(round(self.warmup_epochs * steps_per_epoch)))
        decay, no_decay = [], []
        for p in net.parameters():
            (no_decay if p.ndim <= 1 else decay).append(p)  # no weight decay on BN and biases
        opt = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": self.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=self.lr,
        )
        loss_fn = nn.CrossEntropyLoss(label_smoothing=float(self.label_smoothing))
        yt = torch.from_numpy(y).to(self.device_)
        history: list[dict[str, float]] = []
        best = (-1.0, math.inf)
        best_state = None
        t0 = time.perf_counter()
        step = 0
        done = False
        with make_progress(transient=True) as bar:
            task = bar.add_task("training CNN", total=int(self.epochs))
            for epoch in range(int(self.epochs)):
                net.train()
                perm = rng.permutation(tr)
                loss_sum, seen = 0.0, 0
                for b in range(steps_per_epoch):
                    idx = np.sort(perm[b * bs : (b + 1) * bs])
                    xb = (
                        self._augment(X[idx], rng)
                        if self.augment
                        else self._to_tensor(self._centre(X[idx]))
                    )
                    progress = step / total
                    if self.max_time_s:
                        progress = max(progress, (time.perf_counter() - t0) / self.max_time_s)
                    lr = self.lr * (
                        (step + 1) / warm
                        if step < warm
                        else 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
                    )
                    for g in opt.param_groups:
                        g["lr"] = lr
                    loss = loss_fn(net(xb), yt[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    loss_sum += float(loss.detach()) * len(idx)
                    seen += len(idx)
                    step += 1
                    if progress >= 1.0:
                        done = True
                        break
                rec = {
                    "epoch": epoch + 1,
                    "seconds": round(time.perf_counter() - t0, 2),
                    "train_loss": loss_sum / max(seen, 1),
                    "lr": lr,
                }
                if len(va):
                    net.eval()
                    logits = self._logits(net, X[va])
                    vloss = float(F.cross_entropy(torch.from_numpy(logits), yt[va].cpu()))
                    vacc = float((logits.argmax(1) == y[va]).mean())
                    rec |= {"val_loss": vloss, "val_accuracy": vacc}
                    if (vacc, -vloss) > (best[0], -best[1]):
                        best = (vacc, vloss)
                        best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
                        rec["best"] = 1.0
                history.append(rec)
                bar.advance(task)
                if done:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        self.best_epoch_ = int(
            max((h["epoch"] for h in history if h.get("best")), default=len(history))
        )
        self.train_seconds_ = round(time.perf_counter() - t0, 2)
        return history

    @torch.no_grad()
    def _logits(self, net: ResNet, X: np.ndarray, what: str = "logits") -> np.ndarray:
        was = net.training
        net.eval()
        out = []
        for b in range(0, len(X), 256):
            xb = self._to_tensor(self._centre(X[b : b + 256]))
            out.append((net(xb) if what == "logits" else net.features(xb)).float().cpu().numpy())
        net.train(was)
        return np.concatenate(out) if out else np.zeros((0, 0), dtype=np.float32)

    # ----------------------------------------------------------------- verbs
    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        z = self._logits(self.net_, X).astype(np.float64)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def _embed(self, X: np.ndarray) -> np.ndarray:
        return self._logits(self.net_, X, what="features")

    # ----------------------------------------------------------------- persistence
    def _get_state(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean_, "std": self.std_}

    def _meta(self) -> dict[str, Any]:
        return {
            "history": getattr(self, "history_", []),
            "best_epoch": getattr(self, "best_epoch_", None),
            "train_seconds": getattr(self, "train_seconds_", None),
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.mean_ = np.asarray(arrays["mean"], dtype=np.float32)
        self.std_ = np.asarray(arrays["std"], dtype=np.float32)
        self.history_ = list(meta.get("history", []))
        self.best_epoch_ = meta.get("best_epoch")
        self.train_seconds_ = meta.get("train_seconds")

    def _save_files(self, folder: Path) -> None:
        from safetensors.torch import save

        state = {k: v.detach().cpu().contiguous() for k, v in self.net_.state_dict().items()}
        atomic_write_bytes(folder / WEIGHTS, save(state))

    def _load_files(self, folder: Path) -> None:
        from safetensors.torch import load_file

        self.device_ = resolve_device(self.device)
        self._set_norm()
        net = self._build(len(self.classes_))
        state = load_file(str(folder / WEIGHTS))
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise ValidationError(
                f"{folder / WEIGHTS} does not match this network: {exc}"
            ) from None
        self.net_ = net.to(self.device_).eval()


def _load_pretrained(net: ResNet, path: str) -> int:
    """Copy the tensors of a safetensors file whose names and shapes match ``net`` (a head of
    another size is skipped); returns how many were loaded."""
    from safetensors.torch import load_file

    p = Path(path)
    if not p.is_file():
        raise ValidationError(f"pretrained weights {p}: no such file")
    try:
        state = load_file(str(p))
    except Exception as exc:  # safetensors raises its own error types for a bad header
        raise ValidationError(f"pretrained weights {p}: not a safetensors file ({exc})") from None
    own = net.state_dict()
    match = {k: v for k, v in state.items() if k in own and tuple(v.shape) == tuple(own[k].shape)}
    # BN step counters are scalars every network shares: they prove nothing about a match
    body = [k for k in own if not k.startswith("head.") and own[k].ndim > 0]
    if not any(k in match for k in body):
        raise ValidationError(
            f"pretrained weights {p} share no tensor (name and shape) with this network "
            f"(widths/blocks must match the file's)"
        )
    net.load_state_dict(match, strict=False)
    return len(match)


__all__ = ["CNNClassifier", "ResNet"]
