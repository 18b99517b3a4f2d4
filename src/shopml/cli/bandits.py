"""`shopml bandit simulate`, `shopml ope` and `shopml train bandits`."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table as RichTable

from shopml.cli.app import REGISTRY_OPT, app, console, fail, train_app
from shopml.core.errors import ShopMLError

bandit_app = typer.Typer(help="Bandit policies on the shop simulator.", no_args_is_help=True)
app.add_typer(bandit_app, name="bandit")


@bandit_app.command("simulate")
def simulate(
    policy: str = typer.Option(
        ...,
        "--policy",
        "-p",
        help="epsilon_greedy, ucb1, bernoulli_ts, linucb, linear_ts, neural_bootstrap.",
    ),
    rounds: int = typer.Option(20_000, help="Simulated visitors."),
    slots: int = typer.Option(
        1, help="Positions per decision (a slate under the position-based click model)."
    ),
    arms: int = typer.Option(20, help="Arms (campaign items)."),
    seed: int = typer.Option(0, help="Seed of the simulated shop and the visitor stream."),
    params: str | None = typer.Option(
        None, help="Policy parameters as JSON, e.g. '{\"alpha\": 0.5}'."
    ),
) -> None:
    """Run a policy against the simulator; prints its regret against the best slate."""
    from shopml.bandits.registry import make_policy
    from shopml.benchmarks.bandits import simulate_policy
    from shopml.data.synth import SimConfig
    from shopml.data.synth.env import BanditEnv

    try:
        env = BanditEnv(SimConfig(n_users=20_000, n_items=1_000, seed=seed), n_arms=arms, seed=seed)
        kw = json.loads(params) if params else {}
        if slots > 1:
            kw.setdefault("examination", tuple(float(e) for e in env.examination[:slots]))
        pol = make_policy(policy, **kw).fit(env.n_arms, env.n_features)
        res = simulate_policy(env, pol, rounds, slots=slots)
    except (ShopMLError, json.JSONDecodeError, TypeError) as exc:
        fail(exc)
    cr = res["cum_regret"]
    console.print(
        f"{policy}: {rounds} visitors x {slots} slot(s): clicks {res['clicks']:.0f} "
        f"({res['clicks'] / rounds:.4f} per visitor), cumulative regret {cr[-1]:.1f} "
        f"(first half {cr[len(cr) // 2 - 1]:.1f}), {res['seconds']:.1f} s"
    )


@app.command("ope")
def ope(
    policy: str = typer.Option(
        ...,
        "--policy",
        "-p",
        help="A logged policy's name, 'uniform', or a model (linear_ts, ...).",
    ),
    logs: Path | None = typer.Option(
        None,
        "--logs",
        help="CSV/Parquet logs: action, reward, propensity [, position, policy, context...].",
    ),
    workspace: Path | None = typer.Option(
        None, "--workspace", "-w", help="A workspace whose impressions table to use."
    ),
    bootstrap: int = typer.Option(200, help="Bootstrap resamples for the intervals."),
    seed: int = typer.Option(0),
    out: Path | None = typer.Option(None, help="Write the estimates as JSON here."),
) -> None:
    """Off-policy estimates (DM, IPS, SNIPS, DR, SNDR, Switch-DR, DRos) with 95% intervals."""
    from shopml.bandits.logs import read_impressions, read_logs_file
    from shopml.bandits.offline import evaluate_policy

    if (logs is None) == (workspace is None):
        fail(ValueError("give exactly one of --logs FILE or --workspace W"))
    try:
        if logs is not None:
            df = read_logs_file(logs)
        else:
            from shopml.data import Workspace

            if not workspace.exists():
                raise ShopMLError(f"no workspace {workspace}")
            with Workspace(str(workspace), read_only=True) as ws:
                df = read_impressions(ws)
        res, how = evaluate_policy(df, policy, n_bootstrap=bootstrap, seed=seed)
    except ShopMLError as exc:
        fail(exc)
    table = RichTable(title=f"off-policy value of {how}")
    for c in ("estimator", "value", "95% interval", "param"):
        table.add_column(c)
    for _, r in res.iterrows():
        table.add_row(
            r.estimator,
            f"{r.value:.5f}",
            f"[{r.lower:.5f}, {r.upper:.5f}]",
            "" if r.param is None or r.param != r.param else f"{r.param:g}",
        )
    console.print(table)
    console.print(f"logged mean reward {df['reward'].mean():.5f} over {len(df)} rows")
    if out is not None:
        from shopml.core.persist import atomic_write_json

        atomic_write_json(
            out,
            {"policy": policy, "how": how, "estimates": json.loads(res.to_json(orient="records"))},
        )


@train_app.command("bandits")
def train_bandits(
    model: str = typer.Option(
        "linear_ts", "--model", "-m", help="Policy to warm-start from the logs."
    ),
    workspace: Path = typer.Option(
        ..., "--workspace", "-w", help="Workspace with an impressions table."
    ),
    registry: Path = REGISTRY_OPT,
    campaign: str | None = typer.Option(None, help="Only this campaign's impressions."),
) -> None:
    """Replay the workspace's impressions into a policy and register it as bandits/<model>."""
    from shopml.bandits.train import train
    from shopml.registry import Registry

    try:
        mv = train(workspace, Registry(registry), model, campaign=campaign)
    except ShopMLError as exc:
        fail(exc)
    console.print(f"registered {mv}")
