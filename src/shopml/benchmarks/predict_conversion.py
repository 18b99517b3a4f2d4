"""``shopml bench predict --task conversion --dataset diginetica``: will a session end in a
purchase, from its first ``n`` events?

Protocol: examples from :func:`shopml.predict.session_prefix.session_prefixes` (sessions with at
least ``n`` browsing events, not yet converted at the ``n``-th; label = the session has a
purchase; features = the first ``n`` events (item, category, log gap) and session/user
features known then). DIGINETICA orders a session's events by its ``timeframe`` clock (views
and purchases share only the day in ``ts``). Temporal split: sessions ordered by their first
event; the earliest 70% train, the latest 30% test. Every model reads the same wide frame; the
GRU reads the step columns as a sequence (shared item and category vocabularies). Torch
models and LightGBM stop early on the last 10% of the training sessions; AUC and AUPRC come
with stratified bootstrap 95% intervals and a paired bootstrap against the logistic-regression
floor; torch models run with 3 seeds (``auc_seed_sd``). The benchmark reports the main table
at ``n`` (default 2) and, in the notes, the best model per ``n`` in ``sweep`` (default 1, 3, 5;
seed 0 only).

Items are a sparse signal here (the DIGINETICA view sample has 2,986 sessions over 7,139
items; most test items were never seen in training), so the categorical columns keep values
seen at least twice (``min_frequency=2``); rarer ones share the unseen code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopml.benchmarks.classify import add_paired_tests, best_vs_floor_note, fit_and_score
from shopml.benchmarks.runner import BenchResult
from shopml.benchmarks.workspace import open_workspace
from shopml.core.errors import DataError

FLOOR = "logistic regression"
# DIGINETICA's within-session clock (ms since the session began); ts orders views and
# purchases by day only (see shopml.data.loaders.diginetica)
ORDER_BY = {"diginetica": "TRY_CAST(json_extract(attributes, '$.timeframe') AS BIGINT)"}


def conversion_models(
    quick: bool, sequences: list[str], seeds: tuple[int, ...] | None = None
) -> list[tuple[str, Any, bool, tuple[int, ...]]]:
    """(name, factory(seed) -> model, peer, seeds) for the conversion comparison."""
    from shopml.predict.dcn import DCNv2Classifier
    from shopml.predict.deepfm import DeepFMClassifier
    from shopml.predict.gbm import LightGBMClassifier
    from shopml.predict.linear import LogisticRegression
    from shopml.predict.mlp import MLPClassifier
    from shopml.predict.sequence import GRUClassifier

    seeds = seeds if seeds is not None else ((0,) if quick else (0, 1, 2))
    kw = {
        "epochs": 3 if quick else 40,
        "batch_size": 64,
        "lr": 1e-3,
        "patience": 5,
        "validation_fraction": 0.15,
        "min_frequency": 2,
    }
    return [
        (FLOOR, lambda s: LogisticRegression(C=0.1, min_frequency=2), False, (0,)),
        (
            "LightGBM",
            lambda s: LightGBMClassifier(
                n_estimators=30 if quick else 500,
                learning_rate=0.03,
                num_leaves=7,
                min_child_samples=20,
                subsample=0.8,
                colsample_bytree=0.8,
                reg_lambda=1.0,
                early_stopping_rounds=30,
                validation_fraction=0.15,
                min_frequency=2,
                seed=s,
            ),
            False,
            (0,),
        ),
        (
            "MLP",
            lambda s: MLPClassifier(hidden=(32, 16), dropout=0.3, weight_decay=1e-4, seed=s, **kw),
            False,
            seeds,
        ),
        (
            "DeepFM",
            lambda s: DeepFMClassifier(
                embedding_dim=4, hidden=(32, 16), dropout=0.3, weight_decay=1e-4, seed=s, **kw
            ),
            False,
            seeds,
        ),
        (
            "DCN-v2",
            lambda s: DCNv2Classifier(
                embedding_dim=4,
                cross_layers=2,
                hidden=(32, 16),
                dropout=0.3,
                weight_decay=1e-4,
                seed=s,
                **kw,
            ),
            False,
            seeds,
        ),
        (
            "GRU",
            lambda s: GRUClassifier(
                sequences=sequences,
                embedding_dim=8,
                hidden_size=16,
                head=(16,),
                dropout=0.3,
                weight_decay=1e-4,
                seed=s,
                **kw,
            ),
            False,
            seeds,
        ),
    ]


def _compare(
    data, quick: bool, test_fraction: float, n_boot: int, seeds: tuple[int, ...] | None = None
):
    from shopml.evaluation.splits import temporal_split

    frame = data.X.assign(ts=data.start, _y=data.y)
    split = temporal_split(frame, test_fraction=test_fraction)
    train, test = split.train, split.test
    Xtr, ytr = train.drop(columns=["ts", "_y"]), train["_y"].to_numpy()
    Xte, yte = test.drop(columns=["ts", "_y"]), test["_y"].to_numpy()
    if ytr.sum() < 2 or yte.sum() < 1 or (1 - ytr).sum() < 2 or (1 - yte).sum() < 1:
        raise DataError(
            f"n={data.n}: too few converting/non-converting sessions to benchmark "
            f"(train {int(ytr.sum())}/{len(ytr)}, test {int(yte.sum())}/{len(yte)})"
        )
    rows, probs = [], {}
    seq_groups = list(data.sequences)
    for name, make, peer, model_seeds in conversion_models(quick, seq_groups, seeds):
        row, p = fit_and_score(
            name, make, Xtr, ytr, Xte, yte, peer=peer, seeds=model_seeds, n_boot=n_boot
        )
        rows.append(row)
        probs[name] = p
    add_paired_tests(rows, probs, yte, FLOOR, n_boot=n_boot)
    return rows, split, (ytr, yte)


def _shift(data, split) -> str:
    """How the train and test sessions differ in conversion rate and logged-in share: a model
    that leans on a feature whose relation to the label moves between periods can rank worse
    than chance on the later one."""
    is_test = data.start >= split.info["cut"]
    parts = [
        f"conversion rate train {data.y[~is_test.to_numpy()].mean():.3f} vs test {data.y[is_test.to_numpy()].mean():.3f}"
    ]
    if "user_known" in data.X.columns:
        known = data.X["user_known"].to_numpy()
        parts.append(
            f"logged-in sessions train {known[~is_test.to_numpy()].mean():.3f} vs test "
            f"{known[is_test.to_numpy()].mean():.3f}"
        )
    return "shift between the periods: " + "; ".join(parts)


def run(
    dataset: str | None = None,
    workspace: str | Path | None = None,
    quick: bool = False,
    n: int = 2,
    sweep: tuple[int, ...] | None = None,
    test_fraction: float = 0.3,
    n_boot: int = 1000,
    **_: Any,
) -> BenchResult:
    """The conversion benchmark (see the module docstring); returns the rows, writes nothing."""
    import torch

    from shopml.predict.session_prefix import session_prefixes

    torch.set_num_threads(1)
    n_boot = 200 if quick else int(n_boot)
    sweep = sweep if sweep is not None else ((1, 3) if quick else (1, 3, 5))
    ws = open_workspace(dataset, workspace)
    order_by = ORDER_BY.get(str(dataset), "ts")
    with ws:
        prefixes = {k: session_prefixes(ws, k, order_by=order_by) for k in sorted({int(n), *sweep})}
    data = prefixes[int(n)]
    rows, split, (ytr, yte) = _compare(data, quick, test_fraction, n_boot)
    shift = _shift(data, split)
    label = dataset or Path(str(workspace)).stem
    result = BenchResult(
        capability="predict",
        dataset=label,
        protocol=(
            f"conversion: will the session end in a purchase, from its first {data.n} events; "
            f"sessions ordered by first event, temporal split at {split.info['cut']}: train {len(ytr)} sessions "
            f"({int(ytr.sum())} converting), test {len(yte)} ({int(yte.sum())} converting); "
            f"AUC/AUPRC with stratified bootstrap 95% CIs ({n_boot} resamples)"
        ),
        rows=rows,
    )
    result.notes.append(best_vs_floor_note(rows, FLOOR))
    if shift:
        result.notes.append(shift)
    ex = data.excluded
    result.notes.append(
        f"examples at n={data.n}: {len(data)} of {ex['sessions_with_browsing']} sessions with browsing events "
        f"({ex[f'fewer_than_{data.n}_events']} had fewer than {data.n} events, "
        f"{ex['bought_before_the_prediction']} bought before the n-th); ordered by {order_by}"
    )
    for k in sorted(prefixes):
        if k == int(n):
            continue
        try:
            r_k, _, (a, b) = _compare(prefixes[k], quick, test_fraction, n_boot, seeds=(0,))
        except DataError as exc:
            result.notes.append(f"n={k}: {exc}")
            continue
        best = max(r_k, key=lambda r: r.metrics["auc"])
        floor = next(r for r in r_k if r.model == FLOOR)
        gru = next(r for r in r_k if r.model == "GRU")
        result.notes.append(
            f"n={k}: {len(a)} train / {len(b)} test sessions ({int(a.sum())}/{int(b.sum())} converting); "
            f"best {best.model} AUC {best.metrics['auc']:.4f} [{best.metrics['auc_low']:.4f}, {best.metrics['auc_high']:.4f}], "
            f"GRU {gru.metrics['auc']:.4f}, floor {FLOOR} {floor.metrics['auc']:.4f}"
        )
    result.notes.append(
        "torch models in the table: seeds (0, 1, 2) (quick: 0), in the n sweep: seed 0; the row's metrics are seed 0's, auc_seed_sd the spread "
        "of the seeds' test AUCs; the bootstrap interval covers test-row sampling only"
    )
    return result


__all__ = ["conversion_models", "run"]
