"""The bandits capability: policies that choose with known propensities, off-policy evaluation,
budget pacing and a session RL agent, run against the simulator's environment."""

from shopml.core.capability import Capability, Monitor, Page, Requirement

SPEC = Capability(
    name="bandits",
    summary="Traffic allocation that learns while it earns: bandit policies with propensities, "
    "off-policy evaluation, budget pacing and a session RL agent.",
    models="shopml.bandits.registry:models",
    train="shopml.bandits.train:train",
    load="shopml.bandits.train:load",
    bench="shopml.benchmarks.bandits:run",
    steps=("shopml.pipeline.bandits",),
    router="shopml.serve.routers.bandits:router",
    cli="shopml.cli.bandits",
    page=Page("campaigns", "Campaigns", "campaigns.html", order=60),
    requires=(
        Requirement(
            "impressions",
            ("action", "reward", "propensity"),
            min_rows=100,
            why="logged decisions with rewards and propensities",
        ),
    ),
    monitors=(
        Monitor("quality", "realised reward rate of served decisions", "ctr"),
        Monitor("score_drift", "share of traffic per action"),
    ),
)
