import numpy as np
import pytest

from shopml.core.errors import NotFittedError, ValidationError
from shopml.support.intents import IntentClassifier, choose_threshold, fit_temperature
from shopml.text.base import softmax

from .conftest import messages


def test_classifies_and_hands_over_out_of_scope(intent_model):
    texts, y = messages(seed=5)
    pred = intent_model.predict(texts)
    assert np.mean(pred["intent"] == y) > 0.9
    assert 0 < intent_model.threshold_ < 1
    oos = intent_model.predict(["what is the capital of france", "do you sell bicycles for dogs"])
    # a question matching no intent is not answered confidently
    assert oos["handover"].all()
    assert (
        intent_model.oos_score(["what is the capital of france"])[0]
        > intent_model.oos_score(["where is my order"])[0]
    )


def test_save_load_identical(intent_model, tmp_path):
    intent_model.save(tmp_path / "m")
    back = IntentClassifier.load(tmp_path / "m")
    texts, _ = messages(seed=3)
    np.testing.assert_allclose(
        back.predict_proba(texts), intent_model.predict_proba(texts), rtol=1e-5
    )
    assert back.threshold_ == intent_model.threshold_
    assert back.get_params() == intent_model.get_params()


def test_errors():
    with pytest.raises(NotFittedError):
        IntentClassifier().predict(["hi"])
    with pytest.raises(ValidationError, match="one label per text"):
        IntentClassifier().fit(["a", "b"], ["x"])
    with pytest.raises(ValidationError, match="missing"):
        IntentClassifier().fit(["a", "b"], ["x", None])


def test_temperature_and_threshold():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 2000)
    logits = rng.normal(size=(2000, 3))
    logits[np.arange(2000), y] += 1.0
    over = softmax(logits * 4)  # overconfident probabilities
    t = fit_temperature(over, y)
    assert 3 < t < 5  # undoes the factor 4
    conf = np.array([0.99, 0.95, 0.9, 0.8, 0.6, 0.5])
    correct = np.array([True, True, True, False, True, False])
    assert choose_threshold(conf, correct, 1.0, 0.0) == 0.9
    assert choose_threshold(conf, correct, 0.5, 0.5) >= np.quantile(conf[correct], 0.5)
