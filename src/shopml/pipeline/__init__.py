"""Declarative end-to-end runs: one YAML file from data to registered, evaluated models.

>>> from shopml.pipeline import load_pipeline, run_pipeline
>>> record = run_pipeline(load_pipeline("examples/pipelines/online-retail.yaml"))
>>> record["run_id"]                      # 'online-retail/v0001', stored in the registry

See :mod:`shopml.pipeline.config` for the file format, :mod:`shopml.pipeline.steps` for adding a
capability, :mod:`shopml.pipeline.runner` for caching and run records.
"""

from shopml.pipeline.config import (
    PipelineConfig,
    PipelineConfigError,
    load_pipeline,
    parse_pipeline,
)
from shopml.pipeline.runner import load_run, run_pipeline
from shopml.pipeline.steps import (
    StepContext,
    StepResult,
    StepSkipped,
    register_step,
    registered_steps,
)

__all__ = [
    "PipelineConfig",
    "PipelineConfigError",
    "StepContext",
    "StepResult",
    "StepSkipped",
    "load_pipeline",
    "load_run",
    "parse_pipeline",
    "register_step",
    "registered_steps",
    "run_pipeline",
]
