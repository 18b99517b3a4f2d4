"""TF-IDF (word 1-2 and character 2-5 grams) with a logistic-regression or ridge head: the floor.

Saved as arrays: each vectoriser's terms and idf weights, and the head's coefficients, so loading
rebuilds the vectorisers with a fixed vocabulary and predicts with one sparse matrix product.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from shopml.text.base import SentimentModel
from shopml.text.linear import LinearHead, fit_linear


def _vectorizer(analyzer: str, max_features: int | None, vocabulary: dict | None = None):
    from sklearn.feature_extraction.text import TfidfVectorizer

    if analyzer == "word":
        return TfidfVectorizer(
            ngram_range=(1, 2),
            sublinear_tf=True,
            min_df=1,
            max_features=max_features,
            token_pattern=r"(?u)\b\w+\b|[!?]",
            strip_accents="unicode",
            vocabulary=vocabulary,
        )
    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        sublinear_tf=True,
        min_df=2,
        max_features=max_features,
        strip_accents="unicode",
        vocabulary=vocabulary,
    )


class TfidfLogistic(SentimentModel):
    """TF-IDF features and a linear head (logistic regression for classes, ridge for a score).

    Parameters
    ----------
    C : float, optional
        Inverse regularisation; ``None`` chooses it on a validation part of the training data.
    class_weight : {"auto", "balanced", None}
        ``auto`` lets validation choose between none and balanced (classes only).
    max_features : int
        Vocabulary size per analyser (words, characters).
    char_ngrams : bool
        Add character 2-5 grams (robust to typos and word forms).
    """

    def __init__(
        self,
        C: float | None = None,
        class_weight: str | None = "auto",
        max_features: int = 50_000,
        char_ngrams: bool = True,
        validation_fraction: float = 0.15,
        target: str = "auto",
        seed: int = 0,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.max_features = max_features
        self.char_ngrams = char_ngrams
        self.validation_fraction = validation_fraction
        self.target = target
        self.seed = seed

    def _features(self, texts: list[str]):
        mats = [v.transform(texts) for v in self.vectorizers_]
        return sp.hstack(mats, format="csr") if len(mats) > 1 else mats[0].tocsr()

    def _fit(self, texts: list[str], y: np.ndarray, sample_weight: np.ndarray | None) -> None:
        analyzers = ["word", "char"] if self.char_ngrams else ["word"]
        self.vectorizers_ = [_vectorizer(a, self.max_features).fit(texts) for a in analyzers]
        X = self._features(texts)
        self.head_ = fit_linear(
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

    def _raw(self, texts: list[str]) -> np.ndarray:
        return self.head_.raw(self._features(texts))

    @property
    def chosen_params_(self) -> dict[str, Any]:
        """What validation chose (C or alpha, class weighting) and its validation score."""
        self._check_fitted()
        return dict(self.head_.params)

    def _get_state(self) -> dict[str, np.ndarray]:
        out = super()._get_state()
        for i, v in enumerate(self.vectorizers_):
            terms = np.empty(len(v.vocabulary_), dtype=object)
            for t, j in v.vocabulary_.items():
                terms[j] = t
            out[f"terms_{i}"] = terms.astype(str)
            out[f"idf_{i}"] = np.asarray(v.idf_)
        out["coef"], out["intercept"] = self.head_.coef, self.head_.intercept
        return out

    def _meta(self) -> dict[str, Any]:
        return {
            **super()._meta(),
            "n_vectorizers": len(self.vectorizers_),
            "head_params": self.head_.params,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        super()._set_state(arrays, meta)
        analyzers = ["word", "char"][: int(meta["n_vectorizers"])]
        self.vectorizers_ = []
        for i, a in enumerate(analyzers):
            vocab = {str(t): j for j, t in enumerate(arrays[f"terms_{i}"].tolist())}
            v = _vectorizer(a, None, vocabulary=vocab)
            v.idf_ = arrays[f"idf_{i}"]
            self.vectorizers_.append(v)
        self.head_ = LinearHead(
            arrays["coef"], arrays["intercept"], self.kind_, meta.get("head_params", {})
        )
