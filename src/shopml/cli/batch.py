"""`shopml batch CAPABILITY`: score every user / customer / row into one Parquet file.

``recommend`` and ``predict`` have their own commands (with their options); every other
registered capability with a batch job (``spec.batch``) gets a generic command.
"""

from __future__ import annotations

from pathlib import Path

import typer

from shopml.cli.app import (
    REGISTRY_OPT,
    WORKSPACE_OPT,
    add_spec_commands,
    app,
    fail,
    parse_options,
    say,
)
from shopml.core.errors import ShopMLError

batch_app = typer.Typer(
    help="Batch inference over all users or rows, written to Parquet (--engine local or ray).",
    no_args_is_help=True,
)
app.add_typer(batch_app, name="batch")

OUT_OPT = typer.Option(..., "--out", "-o", help="Output Parquet file (written atomically).")
ENGINE_OPT = typer.Option("local", "--engine", help="local (one process) or ray (Ray Data).")
ADDRESS_OPT = typer.Option(
    None,
    "--address",
    help="Ray cluster to join (e.g. ray://head:10001, head:6379, auto); default: start a local Ray.",
)
CONCURRENCY_OPT = typer.Option(
    None, "--concurrency", help="Ray actors scoring in parallel (default: the cluster's CPUs)."
)


@batch_app.command("recommend")
def batch_recommend_cmd(
    out: Path = OUT_OPT,
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    model: str | None = typer.Option(
        None, "--model", "-m", help="Registered recommender (default: the latest registered)."
    ),
    version: str = typer.Option("latest", help="Model version (3, v0003 or latest)."),
    k: int = typer.Option(10, "--k", "-k", help="Items per user."),
    users: str = typer.Option(
        "model",
        help="Whose lists: 'model' (every user the model was trained on) or 'workspace' "
        "(every user in the workspace; users the model has not seen get its cold-start answer).",
    ),
    include_seen: bool = typer.Option(False, help="Allow items the user already interacted with."),
    engine: str = ENGINE_OPT,
    address: str | None = ADDRESS_OPT,
    batch_size: int | None = typer.Option(None, help="Users per batch (default: the model's)."),
    concurrency: int | None = CONCURRENCY_OPT,
) -> None:
    """Top-k recommendations for every user: user_id, item_id, score, rank."""
    from shopml.distributed.recommend import batch_recommend

    try:
        ids = None
        if users == "workspace":
            ids = _workspace_users(workspace)
        elif users != "model":
            raise ShopMLError(f"--users must be 'model' or 'workspace', got {users!r}")
        result, mv = batch_recommend(
            registry,
            out,
            model_name=model,
            version=version,
            k=k,
            exclude_seen=not include_seen,
            users=ids,
            engine=engine,
            address=address,
            batch_size=batch_size,
            concurrency=concurrency,
            unknown="popular" if ids is not None else "error",
        )
    except ShopMLError as exc:
        fail(exc)
    say.print(
        f"recommend/{mv.name} {mv.version}: {result.rows_out} rows for {result.rows_in} users "
        f"in {result.batches} batches on {result.engine} in {result.seconds:.2f} s -> {result.path}"
    )


@batch_app.command("predict")
def batch_predict_cmd(
    out: Path = OUT_OPT,
    model: str = typer.Option(
        ..., "--model", "-m", help="Registered predict model: churn, fraud, or any predictor's name."
    ),
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    input: Path | None = typer.Option(
        None, "--input", "-i", help="Rows to score: a Parquet file or folder with the model's feature columns (churn and fraud default to the workspace's rows)."
    ),
    version: str = typer.Option("latest", help="Model version (3, v0003 or latest)."),
    engine: str = ENGINE_OPT,
    address: str | None = ADDRESS_OPT,
    batch_size: int = typer.Option(8192, help="Rows per batch."),
    concurrency: int | None = CONCURRENCY_OPT,
) -> None:
    """Predictions for every row: of --input, or of the workspace (churn: every customer; fraud: every order). CLV: `shopml batch clv`."""
    from shopml.distributed.predict import batch_predict

    try:
        result, mv = batch_predict(
            registry,
            out,
            model,
            version=version,
            workspace=workspace,
            rows=input,
            engine=engine,
            address=address,
            batch_size=batch_size,
            concurrency=concurrency,
        )
    except ShopMLError as exc:
        fail(exc)
    say.print(
        f"predict/{mv.name} {mv.version}: {result.rows_out} rows in {result.batches} batches "
        f"on {result.engine} in {result.seconds:.2f} s -> {result.path}"
    )


def _workspace_users(workspace: Path) -> list[str]:
    from shopml.data.workspace import Workspace

    if not workspace.exists():
        raise ShopMLError(f"no workspace at {workspace}")
    with Workspace(workspace, read_only=True) as ws:
        frame = ws.sql(
            "SELECT DISTINCT user_id FROM users WHERE user_id IS NOT NULL ORDER BY user_id"
        )
    if not len(frame):
        raise ShopMLError(f"workspace {workspace} has no users")
    return frame["user_id"].astype(str).tolist()


def _generic(name: str):
    def command(
        out: Path = OUT_OPT,
        workspace: Path = WORKSPACE_OPT,
        registry: Path = REGISTRY_OPT,
        model: str | None = typer.Option(None, "--model", "-m", help="Registered model name."),
        engine: str = ENGINE_OPT,
        options: str | None = typer.Option(None, help="Job options as k=v,... (numbers parsed)."),
    ) -> None:
        from shopml import capabilities
        try:
            job = capabilities.get(name).part("batch")
            path = job(registry, workspace, out, engine, model, **parse_options(options, "options"))
        except ShopMLError as exc:
            fail(exc)
        say.print(f"{name}: wrote {path}")

    command.__doc__ = f"Batch job of the {name} capability, written to Parquet."
    return command


add_spec_commands(batch_app, "batch", _generic)
