"""`shopml classify-image PATH...`, `shopml similar-images ITEM`, `shopml train vision`."""

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

NAME_OPT = typer.Option("classifier", "--name", help="Registry name (vision/<name>).")


@train_app.command("vision")
def train_vision(
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    data: Path | None = typer.Option(
        None,
        "--data",
        help="Train from this folder (one sub-folder per class) or CSV (path,label) instead of "
        "the workspace's items (image_path + category).",
    ),
    model: str = typer.Option("cnn", "--model", "-m", help="cnn or histogram-gbm."),
    params: str | None = typer.Option(
        None,
        help="Model parameters as k=v,... or JSON (e.g. image_size=64,max_time_s=600, "
        "widths=32/64/128, pretrained=weights.safetensors).",
    ),
    name: str = NAME_OPT,
) -> None:
    """Fit an image classifier and register it as vision/<name> (with catalogue embeddings)."""
    from shopml.vision.train import train

    try:
        with console.status(f"training {model}"):
            mv = train(
                None if data else workspace,
                registry,
                model,
                name=name,
                data=data,
                params=parse_options(params, "params"),
            )
    except ShopMLError as exc:
        fail(exc)
    shown = ", ".join(
        f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in mv.metrics.items()
    )
    say.print(f"registered vision/{mv.name} {mv.version} at {mv.path}: {shown}")
    for s in mv.config.get("skipped") or []:
        say.print(f"skipped {s['source']}: {s['reason']}")


def _service(registry: Path, name: str):
    from shopml.registry import Registry
    from shopml.vision.train import load

    reg = Registry(registry)
    return load(reg.verify(reg.latest("vision", name)))


@app.command("classify-image")
def classify_image(
    paths: list[Path] = typer.Argument(..., help="One or more image files."),
    registry: Path = REGISTRY_OPT,
    name: str = NAME_OPT,
    top: int = typer.Option(3, "--top", "-k", help="Classes shown per image."),
    similar: int = typer.Option(
        0, "--similar", help="Also list this many similar-looking catalogue items."
    ),
) -> None:
    """Predicted class (and runners-up) of each image with the registered classifier; an
    unreadable file is reported with its reason."""
    from shopml.vision.train import classify_paths

    try:
        service = _service(registry, name)
        results = classify_paths(service, list(paths), k=top)
    except ShopMLError as exc:
        fail(exc)
    for r in results:
        if "error" in r:
            say.print(f"{r['path']}: skipped ({r['error']})")
            continue
        others = ", ".join(f"{t['label']} {t['probability']:.2f}" for t in r["top"][1:])
        say.print(
            f"{r['path']}: {r['label']} ({r['confidence']:.2f})"
            + (f"; then {others}" if others else "")
        )
        if similar > 0:
            ids, scores = service.similar_to_image(r["path"], similar)
            say.print(
                "  similar: "
                + ", ".join(f"{i} ({s:.2f})" for i, s in zip(ids, scores, strict=True))
            )


@app.command("similar-images")
def similar_images(
    item: str = typer.Argument(..., help="A catalogue item id."),
    registry: Path = REGISTRY_OPT,
    name: str = NAME_OPT,
    k: int = typer.Option(10, "--k", "-k", help="How many items."),
) -> None:
    """The catalogue items that look most like ITEM (cosine of the image embeddings)."""
    try:
        service = _service(registry, name)
        ids, scores = service.similar(item, k)
    except KeyError:
        fail(ValueError(f"item {item!r} has no image embedding in vision/{name}"))
    except ShopMLError as exc:
        fail(exc)
    for i, s in zip(ids, scores, strict=True):
        say.print(f"{i}\t{s:.3f}")
