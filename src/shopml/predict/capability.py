"""The predict capability (churn, fraud, click and conversion probabilities with decisions)
and the customer-lifetime-value capability."""

from shopml.core.capability import AnyOf, Capability, Monitor, Requirement

_ORDERS_WITH_USERS = Requirement(
    "orders", ("user_id", "ts"), min_rows=200, min_days=180, where="status = 'completed'",
    why="completed orders with user ids",
)

SPEC = Capability(
    name="predict",
    summary="Calibrated probabilities and cost-based decisions: churn, fraud, CTR, conversion.",
    models="shopml.predict.models:model_classes",
    train="shopml.predict.serving:train",
    load="shopml.predict.serving:load_task_for_serving",
    bench="shopml.benchmarks.predict:run",
    steps=("shopml.pipeline.churn",),
    router="shopml.serve.routers.predict:router",
    batch="shopml.distributed.predict:batch_job",
    cli="shopml.cli.predict",
    requires=(
        AnyOf(
            (
                _ORDERS_WITH_USERS,
                Requirement("orders", ("order_id", "ts"), min_rows=200,
                            where="attributes LIKE '%fraud%'",
                            why="orders labelled for fraud"),
                Requirement("impressions", ("action", "reward"), min_rows=1000,
                            why="logged impressions with clicks"),
                Requirement("events", ("session_id", "event_type"), min_rows=1000,
                            why="sessions of events"),
            )
        ),
    ),
    monitors=(
        Monitor("input_drift", "population stability of each feature against training"),
        Monitor("score_drift", "distribution of the served probabilities"),
        Monitor("quality", "AUC of served probabilities as outcomes arrive", "auc"),
        Monitor("cost", "realised decision cost against acting on nobody"),
    ),
)

CLV = Capability(
    name="clv",
    summary="Customer lifetime value: purchases, spend and value over a horizon per customer.",
    models="shopml.predict.clv:MODELS",
    train="shopml.predict.clv:train_and_register",
    load="shopml.predict.serving:load_clv_for_serving",
    bench="shopml.benchmarks.predict_clv:run",
    steps=("shopml.pipeline.clv",),
    router="shopml.serve.routers.clv:router",
    batch="shopml.distributed.predict:clv_batch_job",
    requires=(_ORDERS_WITH_USERS,),
    monitors=(
        Monitor("quality", "purchases realised against predicted over the horizon", "mae"),
        Monitor("score_drift", "distribution of predicted CLV"),
    ),
    # versions registered before CLV became its own capability live under predict/clv
    legacy=("predict/clv",),
)
