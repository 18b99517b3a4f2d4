"""`shopml ask "where is my order?" [--user U] -w W` and `shopml train support`."""

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


@train_app.command("support")
def train_support(
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Train from this file of labelled messages (not the workspace).",
    ),
    text_col: str = typer.Option("text", "--text-col", help="Text column of --data."),
    label_col: str = typer.Option("intent", "--label-col", help="Intent column of --data."),
    model: str = typer.Option(
        "tfidf", "--model", "-m", help="tfidf, minilm-linear, minilm-mlp or minilm-finetune."
    ),
    params: str | None = typer.Option(None, help="Text-model hyper-parameters as k=v,... or JSON."),
    kb: Path | None = typer.Option(
        None,
        "--kb",
        help="Knowledge base YAML (default: shopml's, for Bitext's e-commerce intents).",
    ),
    name: str = typer.Option("assistant", help="Registry name (support/<name>)."),
) -> None:
    """Fit the intent classifier (calibrated, with a hand-over threshold chosen on validation),
    assemble the assistant with the knowledge base and register it as support/<name>."""
    from shopml.support.train import train

    try:
        with console.status(f"training {model} intents"):
            mv = train(
                None if data else workspace,
                registry,
                model,
                name=name,
                params=parse_options(params, "params"),
                data=data,
                text_col=text_col,
                label_col=label_col,
                kb=kb,
            )
    except ShopMLError as exc:
        fail(exc)
    m = mv.metrics
    missing = mv.config.get("intents_without_answer") or []
    say.print(
        f"registered support/{mv.name} {mv.version} at {mv.path}: {m['intents']} intents, "
        f"validation accuracy {m['validation_accuracy']:.4f}, "
        f"hand-over below confidence {m['handover_threshold']:.3f} "
        f"({100 * (1 - m['validation_answered_share']):.1f}% of validation messages handed over)"
        + (
            f"; intents with no knowledge-base answer (always handed over): {missing}"
            if missing
            else ""
        )
    )


@app.command("ask")
def ask_cmd(
    text: str = typer.Argument(..., help="The customer's message."),
    user: str | None = typer.Option(
        None, "--user", "-u", help="The customer's user_id (fills their order)."
    ),
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    name: str = typer.Option("assistant", help="Registry name (support/<name>)."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole answer as JSON."),
) -> None:
    """Answer a customer message: intent, confidence, the drafted answer and hand-over."""
    import json

    from shopml.data.workspace import Workspace
    from shopml.registry import ModelNotFoundError, Registry
    from shopml.support.assistant import SupportAssistant

    try:
        reg = Registry(registry)
        try:
            assistant = SupportAssistant.load(reg.verify(reg.latest("support", name)).path)
            how = f"support/{name}"
        except ModelNotFoundError:
            # no trained intents yet: retrieval over the default knowledge base still answers
            assistant = SupportAssistant().fit()
            how = "knowledge-base retrieval (no support model registered: `shopml train support`)"
        if user and workspace.exists():
            with Workspace(workspace, read_only=True) as ws:
                ans = assistant.answer(text, user, ws.sql)
        else:
            ans = assistant.answer(text, user)
    except ShopMLError as exc:
        fail(exc)
    if as_json:
        say.print(json.dumps(ans.as_dict(), indent=2, default=str))
        return
    say.print(f"intent: {ans.intent} (confidence {ans.confidence:.3f}, by {how})")
    say.print(f"answer: {ans.answer}")
    if ans.slots_used:
        say.print(f"slots: {ans.slots_used}")
    flags = [k[:-5] for k, v in ans.frustration.items() if k.endswith("_flag") and v]
    if flags:
        say.print(f"frustration: {', '.join(flags)}")
    if ans.handover:
        say.print(f"hand over to a person: {ans.reason}")
