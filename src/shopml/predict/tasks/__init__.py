"""The shop's prediction tasks on a workspace, one :class:`Task` object per task.

Each task (:mod:`.churn`, :mod:`.fraud`, :mod:`.ctr`, :mod:`.conversion`) knows what a row is,
its features, its label, its split, the models it trains and the costs of its decision; the
module docstrings describe them. :data:`TASKS` holds them by name.

:func:`train_task` fits a model, calibrates it on the validation rows (isotonic), and registers
``predict/<task>`` (the predictor's files, ``calibrator/``, config and validation metrics);
:func:`load_task` and :func:`score_task` serve it (CLI ``shopml predict``, the service).
Adding a task: a module here defining a :class:`Task`, and one entry in
:data:`~shopml.predict.tasks.registry.TASKS`.
"""

from shopml.predict.tasks.base import (
    CALIBRATOR_FILE,
    CAPABILITY,
    TABULAR_MODELS,
    Task,
    sequence_groups,
    value_costs,
)
from shopml.predict.tasks.churn import churn_cutoffs, churn_frame, churn_orders
from shopml.predict.tasks.conversion import conversion_rows
from shopml.predict.tasks.ctr import ctr_rows
from shopml.predict.tasks.fraud import (
    FRAUD_CATEGORICAL,
    FRAUD_LABELS,
    fraud_costs,
    fraud_features,
    fraud_orders,
)
from shopml.predict.tasks.models import make_model
from shopml.predict.tasks.registry import (
    TASK_CATEGORICAL,
    TASK_ENTITY,
    TASK_MODELS,
    TASK_OPTIONS,
    TASK_TABLES,
    TASKS,
    check_task,
    default_costs,
    get_task,
    scoring_data,
    task_options,
    training_data,
)
from shopml.predict.tasks.train import LoadedTask, load_task, score_task, train_task

__all__ = [
    "CALIBRATOR_FILE",
    "CAPABILITY",
    "FRAUD_CATEGORICAL",
    "FRAUD_LABELS",
    "TABULAR_MODELS",
    "TASKS",
    "TASK_CATEGORICAL",
    "TASK_ENTITY",
    "TASK_MODELS",
    "TASK_OPTIONS",
    "TASK_TABLES",
    "LoadedTask",
    "Task",
    "check_task",
    "churn_cutoffs",
    "churn_frame",
    "churn_orders",
    "conversion_rows",
    "ctr_rows",
    "default_costs",
    "fraud_costs",
    "fraud_features",
    "fraud_orders",
    "get_task",
    "load_task",
    "make_model",
    "score_task",
    "scoring_data",
    "sequence_groups",
    "task_options",
    "train_task",
    "training_data",
    "value_costs",
]
