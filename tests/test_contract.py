"""The one contract every model of every registered capability passes (``check_estimator``-style).

Parametrised over ``shopml.capabilities.specs()`` -> ``spec.model_classes()`` (plus the component
estimators the capabilities are built from: calibrators, rankers, click models), so a new
capability's models are checked as soon as the capability is registered. Each model class builds
its own tiny fitted example through the classmethod ``_contract_example()`` (its capability's
base class implements it; :class:`~shopml.core.estimator.Estimator`'s raises), which returns
``(fitted model, good inputs, bad inputs)``; ``model._contract_outputs(inputs)`` applies the
model's verbs. A model without them fails here.

Checks: it is an :class:`Estimator`; parameters round trip (``get_params`` -> constructor ->
``get_params``, ``set_params``, repr, an unknown parameter is a ``ValidationError``); the verbs
before ``fit`` raise ``NotFittedError``; bad input raises a ``ValidationError`` (a clear error,
never a bare ``KeyError``/``IndexError``); ``save``/``load`` gives identical outputs and
parameters, in the ``shopml.model/1`` format.
"""

from __future__ import annotations

import inspect
import json
from importlib import import_module

import numpy as np
import pytest

from shopml.capabilities import specs
from shopml.core.errors import NotFittedError, ValidationError
from shopml.core.estimator import FORMAT, Estimator, load_model

#: estimators the capabilities' models are built from, checked like the models themselves
COMPONENTS = {
    "predict": [
        "shopml.predict.gbm:LightGBMRegressor",
        "shopml.predict.calibration:PlattCalibrator",
        "shopml.predict.calibration:IsotonicCalibrator",
    ],
    "search": [
        "shopml.search.ltr:LambdaMARTReranker",
        "shopml.search.ltr:RelevanceRegressor",
        "shopml.search.click_models:CascadeModel",
        "shopml.search.click_models:PositionBasedModel",
        "shopml.search.click_models:DynamicBayesianNetwork",
    ],
}


def _cases() -> list:
    cases = []
    for cap, spec in specs().items():
        try:
            models = dict(spec.model_classes())
        except ImportError as e:  # an optional extra that is not installed here
            cases.append(pytest.param(cap, "<models>", None, marks=pytest.mark.skip(str(e))))
            continue
        for ref in COMPONENTS.get(cap, []):
            module, _, name = ref.partition(":")
            models[name] = getattr(import_module(module), name)
        for name, klass in models.items():
            cases.append(pytest.param(cap, name, klass, id=f"{cap}-{name}"))
    return cases


#: capabilities (or ``capability-model``) whose models do not pass the contract yet, marked
#: xfail so that the gap stays visible: text and support lack _contract_example /
#: _contract_outputs; inventory's policies are not Estimators yet; the forecast Ensemble cannot
#: be saved on its own (the registry stores its forecasts). Remove an entry once it passes.
KNOWN_GAPS = {"text", "support", "inventory", "forecast-ensemble"}


def _mark_gaps(cases: list) -> list:
    out = []
    for c in cases:
        if c.values[0] in KNOWN_GAPS or c.id in KNOWN_GAPS:
            gap = pytest.mark.xfail(reason=f"{c.id}: contract not met yet", strict=False)
            c = pytest.param(*c.values, id=c.id, marks=[*c.marks, gap])
        out.append(c)
    return out


CASES = _mark_gaps(_cases())


def test_every_capability_has_models():
    """A registered capability with no model to check would pass this suite vacuously."""
    caps = {c.values[0] for c in CASES}
    assert caps == set(specs())


@pytest.fixture(scope="module")
def examples() -> dict:
    """Fitted examples, built once per class (some fit a small network)."""
    return {}


_MISSING = (
    "{name} has no contract example ({error}): implement the classmethod _contract_example() "
    "-> (fitted model, good inputs, bad inputs) and _contract_outputs(inputs) -> dict of arrays "
    "on its capability's base class (see Recommender, Predictor, SearchEngine)"
)


def _example(examples: dict, klass: type):
    """The class's fitted example; the other checks skip a class without one (it fails once,
    in ``test_has_a_contract_example``)."""
    if klass not in examples:
        if not hasattr(klass, "_contract_example"):  # not an Estimator: its own test fails
            examples[klass] = NotImplementedError("not an Estimator")
        else:
            try:
                examples[klass] = klass._contract_example()
            except NotImplementedError as e:
                examples[klass] = e
    found = examples[klass]
    if isinstance(found, NotImplementedError):
        pytest.skip(_MISSING.format(name=klass.__qualname__, error=found))
    return found


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.shape == y.shape, k
        if x.dtype.kind in "fc":
            np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-9, err_msg=k)
        else:
            assert (x == y).all(), k


@pytest.mark.parametrize(("capability", "name", "klass"), CASES)
class TestContract:
    def test_is_an_estimator(self, capability, name, klass):
        assert inspect.isclass(klass) and issubclass(klass, Estimator)
        assert klass.capability == capability or klass.capability in specs()

    def test_has_a_contract_example(self, capability, name, klass, examples):
        try:
            _example(examples, klass)
        except pytest.skip.Exception as e:
            pytest.fail(str(e.msg), pytrace=False)
        model, good, bad = examples[klass]
        assert isinstance(model, klass) and model._is_fitted()
        assert isinstance(good, dict) and isinstance(bad, dict)

    def test_params_round_trip(self, capability, name, klass, examples):
        model, _, _ = _example(examples, klass)
        params = model.get_params()
        again = klass(**params)
        assert again.get_params() == params
        assert repr(again) == repr(model)
        json.dumps(model._saved_params())  # what save writes must be JSON
        first = next(iter(params), None)
        if first is not None:
            assert again.set_params(**{first: params[first]}) is again
        with pytest.raises(ValidationError, match="no parameter"):
            again.set_params(no_such_parameter=1)

    def test_not_fitted(self, capability, name, klass, examples, tmp_path):
        model, good, _ = _example(examples, klass)
        fresh = klass(**model.get_params())
        with pytest.raises(NotFittedError):
            fresh._contract_outputs(good)
        with pytest.raises(NotFittedError):
            fresh.save(tmp_path / "never-written")
        assert not (tmp_path / "never-written").exists()

    def test_bad_input_is_a_validation_error(self, capability, name, klass, examples):
        model, _, bad = _example(examples, klass)
        with pytest.raises(ValidationError):
            model._contract_outputs(bad)

    def test_save_load_round_trip(self, capability, name, klass, examples, tmp_path):
        model, good, _ = _example(examples, klass)
        before = model._contract_outputs(good)
        model.save(tmp_path / "m")
        doc = json.loads((tmp_path / "m" / "model.json").read_text())
        assert doc["format"] == FORMAT
        back = klass.load(tmp_path / "m")
        assert type(back) is type(model)
        assert back.get_params() == model.get_params()
        _assert_same(before, back._contract_outputs(good))
        # any estimator loads through the generic loader too (the class is read from the file)
        if klass.load.__func__ is Estimator.load.__func__:
            _assert_same(before, load_model(tmp_path / "m")._contract_outputs(good))


@pytest.mark.parametrize(
    ("loader", "files"),
    [
        # recommenders before the estimator base: model.json without a format tag
        (
            "shopml.recommend.base:Recommender",
            {"model.json": {"class": "shopml.recommend.ease.EASE", "params": {}, "users": []}},
        ),
        # predictors: their own format tag and safetensors weights
        ("shopml.predict.base:Predictor", {"model.json": {
            "format": "shopml.predictor/1", "class": "shopml.predict.linear.LogisticRegression",
            "params": {}}}),
        # click models wrote meta.json (which collided with the registry's meta.json)
        ("shopml.search.click_models:ClickModel", {"meta.json": {"class": "CascadeModel"}}),
        # the search engine wrote engine.json
        ("shopml.search.engine:SearchEngine", {"engine.json": {"params": {}}}),
    ],
    ids=["recommender", "predictor", "click-model", "search-engine"],
)
def test_old_formats_fail_with_a_message_to_retrain(loader, files, tmp_path):
    module, _, name = loader.partition(":")
    klass = getattr(import_module(module), name)
    for fname, doc in files.items():
        (tmp_path / fname).write_text(json.dumps(doc))
    with pytest.raises(ValidationError, match="retrain"):
        klass.load(tmp_path)
