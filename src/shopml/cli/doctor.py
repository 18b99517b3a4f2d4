"""`shopml doctor -w W`: which capabilities a workspace can run, and what each other one lacks."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table as RichTable

from shopml.cli.app import WORKSPACE_OPT, app, console, fail
from shopml.core.errors import ShopMLError


def load_specs() -> tuple[list, list[str]]:
    """(the registered capability specs, errors of the ones that cannot be loaded).

    One broken spec (a module not there yet, a missing optional extra) is reported rather than
    hiding every other capability's diagnosis.
    """
    from importlib.metadata import entry_points

    from shopml import capabilities
    from shopml.core.capability import Capability, resolve

    try:
        return list(capabilities.specs().values()), []
    except Exception:  # noqa: BLE001 - fall back to loading them one by one below
        pass
    specs, errors = [], []
    refs = list(capabilities.BUILTIN)
    refs += [ep.value for ep in entry_points(group=capabilities.ENTRY_POINT_GROUP)]
    for ref in refs:
        try:
            spec = resolve(ref)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            errors.append(f"{ref}: {type(exc).__name__}: {exc}")
            continue
        if isinstance(spec, Capability):
            specs.append(spec)
        else:
            errors.append(f"{ref}: not a Capability spec")
    return specs, errors


@app.command()
def doctor(
    workspace: Path = WORKSPACE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    strict: bool = typer.Option(
        False, help="Exit with status 1 when some capability cannot run."
    ),
) -> None:
    """Which capabilities this workspace can run; for each one that cannot, what data is missing."""
    from shopml.data import Workspace
    from shopml.data.doctor import doctor as check_all

    if not workspace.exists():
        fail(FileNotFoundError(f"no workspace at {workspace}"))
    specs, errors = load_specs()
    try:
        with Workspace(workspace, read_only=True) as ws:
            findings = check_all(ws, specs)
    except ShopMLError as exc:
        fail(exc)
    if as_json:
        body = {"workspace": str(workspace), "capabilities": [f.as_dict() for f in findings],
                "spec_errors": errors}
        sys.stdout.write(json.dumps(body, indent=2) + "\n")
    else:
        t = RichTable(title=f"what {workspace} can run", show_lines=True)
        t.add_column("capability")
        t.add_column("runs")
        t.add_column("what is missing")
        for f in findings:
            runs = "[green]yes[/]" if f.ok else "[red]no[/]"
            missing = "\n".join(m.replace("; or ", "\nor ") for m in f.missing)
            t.add_row(f.name, runs, f.error or missing or "-")
        console.print(t)
        for e in errors:
            console.print(f"[yellow]capability not loaded:[/] {e}")
    if strict and (errors or not all(f.ok for f in findings)):
        raise typer.Exit(code=1)
