"""How each capability's models sit in the registry, and how the server loads them.

- ``recommend/<name>``: a :class:`~shopml.recommend.base.Recommender` saved by its ``save``
  (``model.json`` + ``arrays.npz``); written by :func:`shopml.recommend.train.train_and_register`.
- ``predict/clv``: ``bgnbd.json`` (purchases) and optionally ``gamma_gamma.json`` (spend), saved
  by the models' ``save``; the version's config says the time unit (``freq``: ``D`` or ``W``),
  the default ``horizon`` (in that unit), the discounting ``step`` (default a month: 30 days or
  30/7 weeks) and the ``discount_rate`` per step. Written by :func:`register_clv`.

Every version is checked against the sha256 sums in its meta.json before it is loaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopml.core.errors import ValidationError
from shopml.predict.btyd import BGNBD, GammaGamma
from shopml.predict.rfm import UNIT_DAYS
from shopml.recommend.base import Recommender
from shopml.registry import ModelVersion, Registry

CLV_CAPABILITY, CLV_NAME = "predict", "clv"
BGNBD_FILE, GAMMA_GAMMA_FILE = "bgnbd.json", "gamma_gamma.json"


def load_recommender(registry: Registry, version: ModelVersion) -> Recommender:
    """A verified recommender version, loaded."""
    registry.verify(version)
    return Recommender.load(version.path)


def register_clv(
    registry: Registry,
    bgnbd: BGNBD,
    gamma_gamma: GammaGamma | None = None,
    *,
    freq: str = "D",
    horizon: float = 90.0,
    discount_rate: float = 0.0,
    step: float | None = None,
    config: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    data_fingerprint: Any = None,
) -> ModelVersion:
    """Store fitted BG/NBD (+ Gamma-Gamma) models as ``predict/clv`` for the server."""
    if freq not in UNIT_DAYS:
        raise ValidationError(f"freq must be one of {sorted(UNIT_DAYS)}, got {freq!r}")
    if horizon <= 0 or discount_rate < 0:
        raise ValidationError(
            f"horizon must be > 0 and discount_rate >= 0, got {horizon}, {discount_rate}"
        )
    # raise NotFittedError before anything is written
    _ = bgnbd.params_, gamma_gamma.params_ if gamma_gamma is not None else None

    def write(folder: Path) -> None:
        bgnbd.save(folder / BGNBD_FILE)
        if gamma_gamma is not None:
            gamma_gamma.save(folder / GAMMA_GAMMA_FILE)

    step = _default_step(freq) if step is None else step
    if step <= 0:
        raise ValidationError(f"step must be > 0, got {step}")
    cfg = {
        "task": "clv",
        "freq": freq,
        "horizon": horizon,
        "discount_rate": discount_rate,
        "step": step,
    }
    return registry.register(
        CLV_CAPABILITY,
        CLV_NAME,
        write,
        config={**(config or {}), **cfg},
        metrics=metrics,
        data_fingerprint=data_fingerprint,
    )


def load_clv(
    registry: Registry, version: ModelVersion
) -> tuple[BGNBD, GammaGamma | None, dict[str, Any]]:
    """The verified CLV models of a version and their config (freq, horizon, discount_rate)."""
    registry.verify(version)
    config = dict(version.meta.get("config") or {})
    freq = config.get("freq", "D")
    if freq not in UNIT_DAYS:
        raise ValidationError(
            f"{version.path}: config freq {freq!r} is not one of {sorted(UNIT_DAYS)}"
        )
    bgnbd = BGNBD.load(version.path / BGNBD_FILE)
    gg_path = version.path / GAMMA_GAMMA_FILE
    gg = GammaGamma.load(gg_path) if gg_path.exists() else None
    config.setdefault("horizon", 90.0)
    config.setdefault("discount_rate", 0.0)
    config.setdefault("step", _default_step(freq))
    config["freq"] = freq
    return bgnbd, gg, config


def _default_step(freq: str) -> float:
    """A month in the model's time unit (discounting is monthly by default, as in lifetimes)."""
    return 30.0 / UNIT_DAYS[freq]
