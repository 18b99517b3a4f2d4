"""The estimator base every model of every capability shares (DESIGN.md §3).

The plumbing lives here once: constructor parameters (``get_params`` / ``set_params``, repr),
the not-fitted check, and ``save`` / ``load`` with a format tag, a version and an allow-list of
classes. A capability's own base class (``Forecaster``, ``Policy``, ``SentimentModel``, ...)
subclasses :class:`Estimator` and adds its verbs; a model implements private hooks only.

Saved layout (one folder)::

    model.json      {"format": "shopml.model/1", "class": "shopml.x.y.Z", "params": {...},
                     "shopml": "<version>", "state": {...JSON from _meta()}}
    arrays.npz      what _get_state() returns (numeric or unicode arrays; loaded with
                    allow_pickle=False)
    ...             any files _save_files() writes (a LightGBM text model, safetensors weights)

A capability's base class saves what all of its models share (vocabularies, a feature
encoder) through ``_base_state`` / ``_base_meta`` / ``_set_base_state`` (arrays under
``base.<name>``, JSON under ``"base"``), so a model's own hooks never call ``super()``;
``_saved_params`` may replace a parameter that is an object (a custom encoder) by a marker.
``_contract_example`` / ``_contract_outputs`` give ``tests/test_contract.py`` a tiny fitted
instance to check; a class without them fails that test.

``load`` imports only classes inside ``shopml`` (or a package listed in
:data:`ALLOWED_PREFIXES`) that subclass the class it is called on, and never executes code from
the files. One name for one thing across capabilities: ``seed``, ``embedding_dim``,
``sample_weight``; :class:`~shopml.core.errors.NotFittedError` before fit.
"""

from __future__ import annotations

import importlib
import inspect
import io
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import numpy as np

from shopml.core.errors import NotFittedError, ShopMLError, ValidationError
from shopml.core.persist import atomic_write_bytes, atomic_write_json, read_json

FORMAT = "shopml.model/1"
#: packages whose classes ``load`` may import; third-party capabilities append theirs
ALLOWED_PREFIXES: list[str] = ["shopml."]

E = TypeVar("E", bound="Estimator")


class Estimator:
    """Base of every model: parameters, repr, the fitted check and safe persistence.

    Subclasses take hyper-parameters only in ``__init__`` and store them unchanged under the same
    names; learned state ends in ``_``; ``fit`` ends with ``self.fitted_ = True`` (or the class
    overrides :meth:`_is_fitted`).
    """

    #: the capability a model belongs to (the spec's name); set by each capability's base class
    capability: ClassVar[str] = ""

    # ----------------------------------------------------------------- parameters
    def get_params(self) -> dict[str, Any]:
        """Constructor parameters, as given (scikit-learn style)."""
        sig = inspect.signature(type(self).__init__)
        return {
            p.name: getattr(self, p.name)
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        }

    def set_params(self: E, **params: Any) -> E:
        """Change constructor parameters; unknown names raise :class:`ValidationError`."""
        known = self.get_params()
        bad = sorted(set(params) - set(known))
        if bad:
            raise ValidationError(
                f"{type(self).__name__} has no parameter(s) {bad}; it takes {sorted(known)}"
            )
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # ----------------------------------------------------------------- fitted check
    def _is_fitted(self) -> bool:
        return bool(getattr(self, "fitted_", False))

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")

    # ----------------------------------------------------------------- persistence hooks
    def _get_state(self) -> dict[str, np.ndarray]:
        """Learned arrays to save (numeric or unicode; never object dtype)."""
        return {}

    def _meta(self) -> dict[str, Any]:
        """JSON-safe learned state that is not an array."""
        return {}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Restore learned state from :meth:`_get_state`'s arrays and :meth:`_meta`'s JSON."""
        return None

    def _save_files(self, folder: Path) -> None:
        """Write extra files into ``folder`` (atomically); e.g. a LightGBM text model."""
        return None

    def _load_files(self, folder: Path) -> None:
        """Read what :meth:`_save_files` wrote."""
        return None

    def _saved_params(self) -> dict[str, Any]:
        """The parameters written to ``model.json`` (JSON-safe); a model whose parameters may
        hold an object (a custom encoder) replaces it with a marker here and takes the object
        again in its ``load``."""
        return self.get_params()

    # ----------------------------------------------------------------- capability-base layer
    # A capability's base class (Recommender, Predictor) keeps the state all of its models share
    # (id vocabularies, the feature encoder) through these three, so that a model's own hooks
    # above never have to remember to call super(). Arrays are saved under "base.<name>".
    def _base_state(self) -> dict[str, np.ndarray]:
        """Arrays the capability base class saves for every one of its models."""
        return {}

    def _base_meta(self) -> dict[str, Any]:
        """JSON state the capability base class saves for every one of its models."""
        return {}

    def _set_base_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        """Restore :meth:`_base_state` / :meth:`_base_meta` (called before :meth:`_set_state`)."""
        return None

    # ----------------------------------------------------------------- contract test hooks
    @classmethod
    def _contract_example(cls: type[E]) -> tuple[E, dict[str, Any], dict[str, Any]]:
        """A tiny fitted instance, inputs its verbs accept and inputs they must reject with a
        :class:`ValidationError`: what ``tests/test_contract.py`` checks every registered model
        with. Each capability base implements it (a model overrides it to shrink its defaults);
        a model without one fails the contract test."""
        raise NotImplementedError(f"{cls.__name__} has no _contract_example()")

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """The model's verbs applied to ``inputs`` (from :meth:`_contract_example`), as arrays."""
        raise NotImplementedError(f"{type(self).__name__} has no _contract_outputs()")

    # ----------------------------------------------------------------- save / load
    def save(self, path: str | Path) -> Path:
        """Write the fitted model into folder ``path`` (created if needed; files atomic)."""
        from shopml import __version__

        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        arrays = {k: np.asarray(v) for k, v in self._get_state().items()}
        clash = [k for k in arrays if k.startswith("base.")]
        if clash:
            raise ShopMLError(f"state array names {clash} are reserved (prefix 'base.')")
        arrays.update({f"base.{k}": np.asarray(v) for k, v in self._base_state().items()})
        for k, v in arrays.items():
            if v.dtype == object:
                raise ShopMLError(f"state array {k!r} has dtype object; use str or numbers")
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        atomic_write_bytes(path / "arrays.npz", buf.getvalue())
        self._save_files(path)
        atomic_write_json(
            path / "model.json",
            {
                "format": FORMAT,
                "class": f"{type(self).__module__}.{type(self).__qualname__}",
                "params": self._saved_params(),
                "shopml": __version__,
                "state": self._meta(),
                "base": self._base_meta(),
            },
        )
        return path

    @classmethod
    def load(cls: type[E], path: str | Path) -> E:
        """Load a model written by :meth:`save`; only JSON, npz without pickle and the model's
        own files are read."""
        path = Path(path)
        spec = path / "model.json"
        if not spec.is_file():
            older = [f.name for f in (path / "meta.json", path / "engine.json") if f.is_file()]
            hint = f" (it has {older[0]}: saved by an older shopml; retrain it)" if older else ""
            raise ValidationError(f"{path} holds no model.json: not a saved shopml model{hint}")
        doc = read_json(spec)
        if doc.get("format") != FORMAT:
            found = "an untagged older format" if "format" not in doc else repr(doc["format"])
            raise ValidationError(
                f"{path} was saved in {found}, not {FORMAT!r}: "
                "retrain the model with this version of shopml (`shopml train ...`)"
            )
        klass = resolve_class(doc["class"], cls)
        model = klass(**_restore_tuples(klass, doc["params"]))
        with np.load(path / "arrays.npz", allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        base = {k[len("base.") :]: v for k, v in arrays.items() if k.startswith("base.")}
        own = {k: v for k, v in arrays.items() if not k.startswith("base.")}
        model._set_base_state(base, doc.get("base", {}))
        model._set_state(own, doc.get("state", {}))
        model._load_files(path)
        model.fitted_ = True
        return model


def _restore_tuples(klass: type, params: dict[str, Any]) -> dict[str, Any]:
    """JSON turns tuples into lists: give back a tuple where the constructor's default is one,
    so that a loaded model's ``get_params()`` equals the saved model's."""
    sig = inspect.signature(klass.__init__).parameters
    out = dict(params)
    for k, v in params.items():
        if isinstance(v, list) and k in sig and isinstance(sig[k].default, tuple):
            out[k] = tuple(v)
    return out


def resolve_class(qualname: str, base: type) -> type:
    """The class named ``qualname`` if it lies in an allowed package and subclasses ``base``."""
    module, _, name = qualname.rpartition(".")
    if not any(qualname.startswith(p) for p in ALLOWED_PREFIXES):
        raise ValidationError(
            f"refusing to load class {qualname!r} from outside {ALLOWED_PREFIXES}"
        )
    try:
        klass = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        raise ValidationError(f"class {qualname!r} no longer exists: retrain the model") from None
    if not (isinstance(klass, type) and issubclass(klass, base)):
        raise ValidationError(f"{qualname} is not a {base.__name__}")
    return klass


def load_model(path: str | Path) -> Estimator:
    """Load any saved :class:`Estimator`, whatever its class (read from its ``model.json``)."""
    return Estimator.load(path)
