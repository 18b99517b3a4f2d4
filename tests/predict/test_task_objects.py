"""Each prediction task is one object that knows its rows, models, options and costs."""

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.predict.decision import CostMatrix
from shopml.predict.tasks import (
    TASK_MODELS,
    TASK_OPTIONS,
    TASKS,
    Task,
    check_task,
    default_costs,
    get_task,
    make_model,
    task_options,
)


def test_every_task_is_a_task_object_with_a_consistent_description():
    assert set(TASKS) == {"churn", "fraud", "ctr", "conversion"}
    for name, task in TASKS.items():
        assert isinstance(task, Task) and task.name == name
        assert task.label and task.split and task.tables and task.entity.endswith("_id")
        assert TASK_OPTIONS[name] == dict(task.options) and TASK_MODELS[name] == task.models
        assert {"logistic", "lightgbm", "mlp"} <= set(task.models)
        for model in task.models:  # every declared model can be built for the task
            m = make_model(model, name, columns=list(task.categorical or ()))
            assert m.get_params()["categorical"] == (
                None if task.categorical is None else list(task.categorical)
            )


def test_costs_come_from_the_task_and_its_options():
    X = pd.DataFrame({"purchase_value": [10.0, 50.0]})
    assert default_costs("churn", X, task_options("churn")) is None
    fraud = default_costs("fraud", X, task_options("fraud", {"review_cost": 2.0}))
    assert isinstance(fraud, CostMatrix)
    np.testing.assert_allclose(fraud.fn, [25.0, 65.0])
    assert fraud.fp == 2.0
    ctr = default_costs("ctr", X, task_options("ctr", {"click_value": 2.0}))
    assert ctr.fp == 0.01 and ctr.tp == pytest.approx(0.01 - 2.0)


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValidationError, match="trainable tasks"):
        get_task("clv")
    with pytest.raises(ValidationError, match="trainable tasks"):
        check_task("nope")
    with pytest.raises(ValidationError, match="unknown option"):
        task_options("fraud", {"horizon": 3})
    with pytest.raises(ValidationError, match="gru is for tasks"):
        make_model("gru", "churn")
