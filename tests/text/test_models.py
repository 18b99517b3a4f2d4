import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.text.embedding_head import MiniLMHead
from shopml.text.finetune import FineTunedMiniLM
from shopml.text.models import make_model
from shopml.text.tfidf_logistic import TfidfLogistic

from .conftest import corpus, has_nlp
from .contract import SentimentContract

needs_nlp = pytest.mark.skipif(not has_nlp(), reason="the nlp extra is not installed")


class TestTfidfLogistic(SentimentContract):
    def _get_model(self):
        return TfidfLogistic(C=4.0, class_weight=None, seed=0)


@needs_nlp
class TestMiniLMLinear(SentimentContract):
    def _get_model(self):
        return MiniLMHead(head="linear", C=4.0, class_weight=None, seed=0)


@needs_nlp
class TestMiniLMMLP(SentimentContract):
    def _get_model(self):
        return MiniLMHead(head="mlp", epochs=40, seed=0)


@needs_nlp
class TestFineTuned(SentimentContract):
    min_accuracy = 0.6  # one epoch over 180 short sentences: it must learn, not excel

    def _get_model(self):
        return FineTunedMiniLM(epochs=1, batch_size=16, max_length=12, lr=2e-4, seed=0)


def test_stars_and_scores():
    texts, stars, _ = corpus(300, seed=1)
    m = TfidfLogistic(seed=0).fit(texts[:240], stars[:240])
    assert m.kind_ == "classes" and m.classes_.tolist() == [1, 2, 3, 4, 5]
    pred = m.stars(texts[240:])
    assert set(np.unique(pred)) <= {1, 2, 3, 4, 5}
    assert np.mean(np.abs(pred - stars[240:])) < 0.8
    out = m.analyze(texts[240:])
    assert list(out.columns) == ["polarity", "score", "stars", "confidence"]
    # a continuous target is a regression: scores follow the stars
    y = (stars - 3).astype(float) * 1.3
    r = TfidfLogistic(seed=0).fit(texts[:240], y[:240])
    assert r.kind_ == "score"
    assert np.corrcoef(r.predict(texts[240:]), y[240:])[0, 1] > 0.8
    with pytest.raises(ValidationError, match="score"):
        r.predict_proba(texts[:3])


def test_non_sentiment_labels_only_predict():
    texts = ["refund please", "where is my parcel", "refund my money", "parcel not here"] * 10
    y = ["refund", "track", "refund", "track"] * 10
    m = TfidfLogistic(seed=0).fit(texts, y)
    assert m.predict(["I want a refund"])[0] == "refund"
    with pytest.raises(ValidationError, match="not sentiment labels"):
        m.polarity(["I want a refund"])


def test_make_model_names():
    assert make_model("minilm-mlp").head == "mlp"
    with pytest.raises(ValidationError, match="unknown text model"):
        make_model("bert-large")
