"""`shopml train recommend` and `shopml recommend USER`."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table as RichTable

from shopml.cli.app import REGISTRY_OPT, WORKSPACE_OPT, app, console, fail, say, train_app
from shopml.core.errors import ShopMLError


@train_app.command("recommend")
def train_recommend(
    model: str = typer.Option("ease", "--model", "-m", help="Recommender: popularity, itemknn, userknn, als, ease, bpr, neumf, sasrec, two-tower."),
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    params: str | None = typer.Option(None, help="Hyper-parameters as k=v,... (e.g. l2=200)."),
    source: str = typer.Option("auto", help="Interactions: events, orders, or auto (events if any)."),
    engine: str = typer.Option("local", "--engine", help="local, or ray: search the model's space on Ray Tune, then fit the best."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster to join (default: start a local Ray)."),
    trials: int | None = typer.Option(None, "--trials", help="Configurations to try from the model's search space (default: 0 local, 8 ray); --params stay fixed."),
    workers: int = typer.Option(1, "--workers", help="Ray Train workers for data-parallel training (torch models with a training step, e.g. sasrec)."),
    ray_storage: Path | None = typer.Option(None, "--ray-storage", help="Where Ray Tune/Train keep trial results and checkpoints (shared storage on a multi-node cluster; default ~/ray_results)."),
) -> None:
    """Fit a recommender on the workspace's interactions and register it as recommend/<model>."""
    from shopml.recommend.train import parse_params, train_and_register

    try:
        n_trials = trials if trials is not None else (8 if engine == "ray" else 0)
        if engine != "local" or address is not None or n_trials > 0 or workers > 1:
            from shopml.distributed.recommend import tune_train_register

            mv, tuned = tune_train_register(
                workspace, registry, model, parse_params(params), source=source, trials=n_trials,
                engine=engine, address=address, workers=workers, storage_path=ray_storage,
            )
            if tuned is not None:
                say.print(
                    f"searched {len(tuned.trials)} configurations on {tuned.engine} in "
                    f"{tuned.seconds:.1f} s: best validation {tuned.metric} {tuned.best_score:.4f} "
                    f"with {tuned.best_params}"
                )
        else:
            with console.status(f"training {model}"):
                mv = train_and_register(workspace, registry, model, parse_params(params), source=source)
    except ShopMLError as exc:
        fail(exc)
    cfg = mv.meta.get("config", {})
    say.print(
        f"registered recommend/{model} {mv.version} at {mv.path}: {cfg.get('n_users')} users, "
        f"{cfg.get('n_items')} items, {cfg.get('n_interactions')} interactions from {cfg.get('source')} "
        f"(fit {mv.meta.get('metrics', {}).get('fit_seconds')} s)"
    )


@app.command("recommend")
def recommend_cmd(
    user_id: str = typer.Argument(..., help="The user to recommend for."),
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    k: int = typer.Option(10, "--k", "-k", help="How many items."),
    model: str | None = typer.Option(None, "--model", "-m", help="Registered recommender (default: the latest registered)."),
) -> None:
    """Print a user's top-k items from the registry's latest model, with titles and reasons."""
    from shopml.data import Workspace
    from shopml.recommend.base import Recommender
    from shopml.registry import Registry

    try:
        reg = Registry(registry)
        if model is None:
            recs = [m for m in reg.list() if m.capability == "recommend"]
            if not recs:
                raise ShopMLError(f"no recommender in registry {registry}; run `shopml train recommend` first")
            mv = max(recs, key=lambda m: m.created or "")
        else:
            mv = reg.latest("recommend", model)
        rec = Recommender.load(reg.verify(mv).path)
        if k < 1:
            raise ShopMLError(f"--k must be at least 1, got {k}")
        known = user_id in rec.users_
        frame = rec.recommend([user_id], k=k, unknown="popular")
        titles = {}
        if workspace.exists():
            with Workspace(workspace, read_only=True) as ws:
                items = ws.df("items", columns=["item_id", "title"])
            titles = dict(zip(items["item_id"], items["title"], strict=True))
    except ShopMLError as exc:
        fail(exc)
    t = RichTable(title=f"{user_id}: {mv.name} {mv.version}" + ("" if known else " (unknown user: most popular items)"))
    for c in ("rank", "item", "title", "score", "because of"):
        t.add_column(c, justify="right" if c in ("rank", "score") else "left")
    for row in frame.itertuples(index=False):
        reasons = rec.explain(user_id, row.item_id, n=2) if known else []
        because = "; ".join(f"{titles.get(r['because_of'], r['because_of'])} ({r['similarity']:.2f})" for r in reasons)
        t.add_row(str(row.rank), str(row.item_id), str(titles.get(row.item_id, "")), f"{row.score:.4g}", because)
    console.print(t)
