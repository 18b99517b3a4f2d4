"""`shopml train predict --task T` and `shopml predict --task T --out scores.parquet`."""

from __future__ import annotations

from pathlib import Path

import typer

from shopml.cli.app import (
    REGISTRY_OPT,
    WORKSPACE_OPT,
    app,
    console,
    fail,
    parse_options,
    say,
    train_app,
)
from shopml.core.errors import ShopMLError, ValidationError

TASK_OPT = typer.Option(..., "--task", "-t", help="Prediction task: churn (purchase propensity), fraud, ctr (impression clicks) or conversion (session purchase).")


_parse = parse_options


@train_app.command("predict")
def train_predict(
    task: str = TASK_OPT,
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    model: str = typer.Option("lightgbm", "--model", "-m", help="logistic, lightgbm or mlp; for ctr and conversion also deepfm, dcn; for conversion gru."),
    params: str | None = typer.Option(None, help="Model hyper-parameters as k=v,... (e.g. num_leaves=31)."),
    options: str | None = typer.Option(None, help="Task options as k=v,... (churn: horizon, step, n_train; fraud: validation_fraction, review_cost, chargeback_fee; "
                                 "ctr: validation_fraction, click_value, impression_cost; conversion: n, order_by, validation_fraction, "
                                 "conversion_value, action_cost)."),
    name: str | None = typer.Option(None, help="Registry name (default: the task's name)."),
    engine: str = typer.Option("local", "--engine", help="local, or ray: train a torch model (mlp, deepfm, dcn, gru) with Ray Train, all epochs, no early stopping."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster to join (e.g. ray://head:10001, head:6379, auto); default: start a local Ray."),
    workers: int = typer.Option(1, "--workers", help="Ray Train workers (data-parallel, DDP; needs --engine ray)."),
) -> None:
    """Fit a model for a task on the workspace, calibrate it on the validation rows and register
    it as predict/<task>."""
    from shopml.distributed.train import predictor_fit
    from shopml.predict.tasks import train_task

    try:
        fit = predictor_fit(engine, address, workers)
        with console.status(f"training {model} for {task}"):
            mv = train_task(workspace, registry, task, model, _parse(params, "params"), _parse(options, "options"), name, fit=fit)
    except ShopMLError as exc:
        fail(exc)
    m = mv.metrics
    say.print(
        f"registered predict/{mv.name} {mv.version} at {mv.path}: {model} on {m['train_rows']} rows, "
        f"validation ({m['validation_rows']} rows, {100 * m['validation_positive_rate']:.2f}% positive) "
        f"AUC {m['validation_auc']:.4f}, AUPRC {m['validation_auprc']:.4f}; fit {m['fit_seconds']:.1f} s"
    )


@app.command("predict")
def predict_cmd(
    task: str = TASK_OPT,
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    out: Path = typer.Option(..., "--out", "-o", help="Parquet file of scores (written atomically)."),
    name: str | None = typer.Option(None, help="Registry name (default: the task's name)."),
) -> None:
    """Score every row of a task with its latest registered model: customers (churn), orders
    (fraud), impressions (ctr) or sessions at their n-th event (conversion), with calibrated
    probabilities and, for fraud, ctr and conversion, the cost-based decision."""

    from shopml.core.errors import DataError
    from shopml.core.persist import atomic_write_parquet
    from shopml.data.workspace import Workspace
    from shopml.predict.tasks import check_task, load_task, score_task, scoring_data, task_options
    from shopml.registry import Registry

    try:
        check_task(task)
        if not workspace.exists():
            raise DataError(f"workspace {workspace} does not exist")
        reg = Registry(registry)
        loaded = load_task(reg, reg.latest("predict", name or task))
        if loaded.task != task:
            raise ValidationError(f"predict/{name or task} is a {loaded.task!r} model, not {task!r}")
        with Workspace(workspace, read_only=True) as ws:
            ids, X = scoring_data(task, ws, task_options(task, loaded.config.get("options")))
        scores = score_task(loaded, X)
        scores.insert(0, loaded.config.get("entity", "id"), ids)
        scores["model"] = f"predict/{loaded.version.name}/{loaded.version.version}"
        atomic_write_parquet(out, scores)
    except ShopMLError as exc:
        fail(exc)
    flagged = f", {int(scores['decision'].sum())} flagged" if "decision" in scores else ""
    say.print(
        f"wrote {len(scores)} scores to {out} (mean probability {scores['probability'].mean():.4f}{flagged}) "
        f"with predict/{loaded.version.name} {loaded.version.version}"
    )
