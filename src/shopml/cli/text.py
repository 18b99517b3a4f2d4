"""`shopml sentiment "text"`, `shopml train sentiment`, `shopml aspects ITEM`."""

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
from shopml.core.errors import ShopMLError


@train_app.command("sentiment")
def train_sentiment(
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Train from this file (CSV, TSV, JSON lines, Parquet), not the workspace.",
    ),
    text_col: str = typer.Option("text", "--text-col", help="Text column of --data."),
    label_col: str | None = typer.Option(
        None,
        "--label-col",
        help="Label column of --data (negative/neutral/positive or any labels).",
    ),
    rating_col: str | None = typer.Option(
        None, "--rating-col", help="Numeric rating column of --data (stars or a score)."
    ),
    model: str = typer.Option(
        "tfidf", "--model", "-m", help="tfidf, minilm-linear, minilm-mlp or minilm-finetune."
    ),
    params: str | None = typer.Option(None, help="Model hyper-parameters as k=v,... or JSON."),
    name: str = typer.Option("sentiment", help="Registry name (text/<name>)."),
) -> None:
    """Fit a sentiment model on reviews (or a file) and register it as text/<name>."""
    from shopml.text.train import train

    if label_col and rating_col:
        fail(ValueError("give one of --label-col and --rating-col"))
    try:
        with console.status(f"training {model}"):
            mv = train(
                None if data else workspace,
                registry,
                model,
                name=name,
                params=parse_options(params, "params"),
                data=data,
                text_col=text_col,
                label_col=label_col,
                rating_col=rating_col,
            )
    except ShopMLError as exc:
        fail(exc)
    shown = ", ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in mv.metrics.items()
    )
    skipped = mv.config.get("skipped") or {}
    say.print(
        f"registered text/{mv.name} {mv.version} at {mv.path}: {shown}"
        + (f"; skipped rows: {skipped}" if skipped else "")
    )


@app.command("sentiment")
def sentiment_cmd(
    texts: list[str] = typer.Argument(..., help="One or more texts."),
    registry: Path = REGISTRY_OPT,
    name: str = typer.Option("sentiment", help="Registry name (text/<name>)."),
) -> None:
    """Polarity, score, stars and frustration flags of each text, with the registered model."""
    from shopml.registry import Registry
    from shopml.text.frustration import frustration_flags
    from shopml.text.train import load

    try:
        reg = Registry(registry)
        mv = reg.verify(reg.latest("text", name))
        model = load(mv)
        res = model.analyze(texts)
        flags = frustration_flags(texts, res["score"].to_numpy())
    except ShopMLError as exc:
        fail(exc)
    for i, t in enumerate(texts):
        raised = [f for f in ("anger", "disappointment", "urgency") if flags[f"{f}_flag"].iat[i]]
        say.print(
            f"{res['polarity'].iat[i]} (score {res['score'].iat[i]:+.3f}, "
            f"{int(res['stars'].iat[i])} stars"
            + (f", flags: {', '.join(raised)}" if raised else "")
            + f"): {t}"
        )


@app.command("aspects")
def aspects_cmd(
    item: str = typer.Argument(..., help="The item (product) id."),
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    name: str = typer.Option("sentiment", help="Registry name (text/<name>)."),
    top: int = typer.Option(5, help="Aspects per side."),
) -> None:
    """What customers praise and complain about for one product (aspects with counts)."""
    from shopml.data.workspace import Workspace
    from shopml.registry import Registry
    from shopml.text.aspects import product_aspects
    from shopml.text.train import load

    try:
        reg = Registry(registry)
        model = load(reg.verify(reg.latest("text", name)))
        with Workspace(workspace, read_only=True) as ws:
            reviews = ws.sql("SELECT item_id, rating, text FROM reviews WHERE item_id = ?", [item])
        table = product_aspects(reviews, model, top=top)
    except ShopMLError as exc:
        fail(exc)
    if table.empty:
        say.print(f"no aspects for {item} ({len(reviews)} reviews)")
        return
    for side in ("praise", "complaint"):
        for r in table[table["side"] == side].itertuples():
            say.print(
                f"{side}: {r.aspect} ({r.count} sentences, {r.share:.0%}) e.g. {r.examples[0]!r}"
            )
