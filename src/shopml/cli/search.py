"""`shopml search "query"`: search the workspace's catalogue and say why each item ranks."""

from __future__ import annotations

import typer
from rich.table import Table as RichTable

from shopml.cli.app import WORKSPACE_OPT, app, console, fail, say
from shopml.core.errors import ShopMLError

# the features shown per hit: what matched, how strongly, and where each retriever put it
_SHOWN = ("bm25", "dense", "overlap_frac", "idf_cover", "char3", "brand_match", "bm25_rank", "dense_rank")


@app.command("search")
def search_cmd(
    query: str = typer.Argument(..., help="What the shopper typed."),
    workspace: str = WORKSPACE_OPT,
    k: int = typer.Option(10, "--k", "-k", help="How many items."),
    method: str | None = typer.Option(None, help="bm25, dense, rrf, fusion or rerank (default: the best available)."),
    encoder: str | None = typer.Option(None, help="'minilm' adds semantic retrieval (the nlp extra); default lexical only."),
    rerank: bool = typer.Option(False, help="Learn the re-ranker from the workspace's relevance_judgements."),
    explain: bool = typer.Option(False, help="Show the re-ranker's largest feature contributions."),
    registry: str | None = typer.Option(None, "--registry", "-r", help="Model registry to take the engine from and register it in (default <workspace>.search; use the served registry to share it)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Fit afresh; do not read or register an engine."),
) -> None:
    """Print the best items for QUERY with their scores and the features that explain them."""
    from shopml.search.store import workspace_engine

    try:
        if k < 1:
            raise ShopMLError(f"--k must be at least 1, got {k}")
        with console.status("loading the search index"):
            engine, cached = workspace_engine(
                workspace, encoder=encoder, rerank=rerank, cache=not no_cache, registry=registry
            )
        res = engine.search(query, k=k, method=method, explain=explain and engine.reranker_ is not None)
    except ShopMLError as exc:
        fail(exc)
    used = method or engine.default_method()
    corrected = res.attrs.get("corrected_query")
    head = f"{query!r}: {len(res)} items by {used}" + (" (registered index)" if cached else "")
    if corrected and corrected != " ".join(query.lower().split()):
        head += f"; searched as {corrected!r}"
    shown = [c for c in _SHOWN if c in res.columns]
    t = RichTable(title=head)
    for c in ("rank", "item", "title", "score", *shown):
        t.add_column(c, justify="left" if c in ("item", "title") else "right")
    if explain and "contrib_bias" in res.columns:
        t.add_column("because of", justify="left")
    contrib = [c for c in res.columns if c.startswith("contrib_") and c != "contrib_bias"]
    for _, row in res.iterrows():
        cells = [str(row["rank"]), str(row["item_id"]), str(row["title"]), f"{row['score']:.4g}"]
        cells += [f"{row[c]:.3g}" for c in shown]
        if explain and contrib:
            top = sorted(contrib, key=lambda c: -abs(row[c]))[:3]
            cells.append(", ".join(f"{c[8:]} {row[c]:+.2f}" for c in top))
        t.add_row(*cells)
    console.print(t)
    if res.empty:
        say.print("no item matched")
