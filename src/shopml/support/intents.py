"""Intent classification with calibrated confidence and a hand-over threshold.

:class:`IntentClassifier` wraps one text model of :mod:`shopml.text` (TF-IDF + logistic
regression, MiniLM + a head, or fine-tuned MiniLM). It carves a stratified validation part from
the training messages, fits the text model on the rest, and on the validation part

- fits a temperature ``T`` (softmax(log p / T), by minimising the log loss) so that a confidence
  of 0.9 is right about 90% of the time;
- chooses the hand-over threshold: the lowest confidence at which the answered validation
  messages reach ``target_accuracy``, raised to the ``handover_quantile`` quantile of the
  confidences of correctly classified validation messages. The second part keeps room for
  out-of-scope questions, which training cannot show: a message less sure than the least sure
  few percent of in-scope ones goes to a person.

A question matching no intent thus gets a low confidence and is handed over instead of getting a
confident wrong answer; ``oos_score = 1 - confidence`` ranks how out-of-scope a message looks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator
from shopml.text.base import SentimentModel, check_texts, softmax, validation_split

INNER = "text_model"


def fit_temperature(proba: np.ndarray, y: np.ndarray) -> float:
    """The temperature minimising the log loss of softmax(log p / T) on (proba, y)."""
    from scipy.optimize import minimize_scalar

    logp = np.log(np.clip(proba, 1e-12, 1.0))

    def nll(log_t: float) -> float:
        p = softmax(logp / np.exp(log_t))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, 1.0))))

    # T >= 0.25: a validation part the model classifies perfectly would otherwise drive T to 0
    # and every confidence to 1, leaving no room to tell an out-of-scope question apart
    res = minimize_scalar(nll, bounds=(np.log(0.25), np.log(20.0)), method="bounded")
    return float(np.exp(res.x))


def choose_threshold(
    conf: np.ndarray, correct: np.ndarray, target_accuracy: float, handover_quantile: float
) -> float:
    """See the module docstring: accuracy target on answered messages, then the quantile floor."""
    order = np.argsort(-conf)
    acc = np.cumsum(correct[order]) / np.arange(1, len(conf) + 1)
    ok = np.flatnonzero(acc >= target_accuracy)
    # answering the k most confident keeps accuracy >= target; the threshold is the k-th confidence
    t_acc = float(conf[order][ok[-1]]) if len(ok) else 1.0
    t_q = float(np.quantile(conf[correct], handover_quantile)) if correct.any() else 1.0
    return max(t_acc, t_q)


class IntentClassifier(Estimator):
    """A calibrated intent classifier with a hand-over threshold (see the module docstring).

    Parameters
    ----------
    model : str
        A text model name of :func:`shopml.text.models.make_model` (``tfidf``,
        ``minilm-linear``, ``minilm-mlp``, ``minilm-finetune``).
    model_params : dict
        Its hyper-parameters.
    target_accuracy : float
        Accuracy the answered validation messages must reach.
    handover_quantile : float
        Share of correctly classified validation messages that may still be handed over.
    """

    capability = "support"

    def __init__(
        self,
        model: str = "tfidf",
        model_params: dict[str, Any] | None = None,
        validation_fraction: float = 0.15,
        target_accuracy: float = 0.98,
        handover_quantile: float = 0.05,
        seed: int = 0,
    ) -> None:
        self.model = model
        self.model_params = model_params
        self.validation_fraction = validation_fraction
        self.target_accuracy = target_accuracy
        self.handover_quantile = handover_quantile
        self.seed = seed

    def fit(self, texts: Any, intents: Any) -> IntentClassifier:
        """Learn intents from labelled messages (see the module docstring)."""
        from shopml.text.models import make_model

        texts = check_texts(texts, allow_empty=False)
        y = np.asarray(
            intents.tolist() if isinstance(intents, pd.Series) else list(intents), dtype=object
        )
        if len(y) != len(texts):
            raise ValidationError(
                f"intents must have one label per text ({len(texts)}), got {len(y)}"
            )
        if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in y):
            raise ValidationError("intents hold missing labels; drop those messages first")
        y = y.astype(str)
        if not 0 < self.target_accuracy <= 1 or not 0 <= self.handover_quantile < 1:
            raise ValidationError(
                "target_accuracy must be in (0, 1] and handover_quantile in [0, 1)"
            )
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValidationError("intents need at least two distinct labels")
        tr, va = validation_split(codes, self.validation_fraction, self.seed, "classes")
        inner = make_model(self.model, **{"seed": self.seed, **(self.model_params or {})})
        inner.set_params(target="classes")
        inner.fit([texts[i] for i in tr], y[tr])
        self.model_ = inner
        self.classes_ = inner.classes_.astype(str)
        # labels seen only in validation are unknown to the model: they count as errors
        pos = {c: j for j, c in enumerate(self.classes_.tolist())}
        yv = np.array([pos.get(v, -1) for v in y[va]])
        pv = inner.predict_proba([texts[i] for i in va])
        known = yv >= 0
        self.temperature_ = fit_temperature(pv[known], yv[known]) if known.sum() >= 10 else 1.0
        pc = softmax(np.log(np.clip(pv, 1e-12, 1.0)) / self.temperature_)
        conf = pc.max(axis=1)
        correct = pc.argmax(axis=1) == yv
        self.threshold_ = choose_threshold(
            conf, correct, self.target_accuracy, self.handover_quantile
        )
        answered = conf >= self.threshold_
        self.validation_ = {
            "rows": int(len(va)),
            "accuracy": float(correct.mean()),
            "answered_share": float(answered.mean()),
            "answered_accuracy": float(correct[answered].mean()) if answered.any() else None,
            "temperature": self.temperature_,
            "threshold": self.threshold_,
        }
        self.fitted_ = True
        return self

    def predict_proba(self, texts: Any) -> np.ndarray:
        """Calibrated intent probabilities ``(n, len(classes_))``."""
        self._check_fitted()
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, len(self.classes_)))
        p = self.model_.predict_proba(texts)
        return softmax(np.log(np.clip(p, 1e-12, 1.0)) / self.temperature_)

    def predict(self, texts: Any) -> pd.DataFrame:
        """``intent``, ``confidence`` and ``handover`` (confidence below the threshold) per text."""
        p = self.predict_proba(texts)
        conf = p.max(axis=1) if len(p) else np.zeros(0)
        return pd.DataFrame(
            {
                "intent": self.classes_[p.argmax(axis=1)] if len(p) else np.array([], str),
                "confidence": conf,
                "handover": conf < self.threshold_,
            }
        )

    def oos_score(self, texts: Any) -> np.ndarray:
        """How out-of-scope each message looks: 1 - calibrated confidence."""
        return 1.0 - self.predict_proba(texts).max(axis=1)

    # ------------------------------------------------------------------ persistence
    def _get_state(self) -> dict[str, np.ndarray]:
        return {"classes": self.classes_}

    def _meta(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature_,
            "threshold": self.threshold_,
            "validation": self.validation_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.classes_ = arrays["classes"].astype(str)
        self.temperature_ = float(meta["temperature"])
        self.threshold_ = float(meta["threshold"])
        self.validation_ = meta.get("validation", {})

    def _save_files(self, folder: Path) -> None:
        self.model_.save(folder / INNER)

    def _load_files(self, folder: Path) -> None:
        self.model_ = SentimentModel.load(folder / INNER)
