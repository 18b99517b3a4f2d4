"""``shopml bench predict --task ctr --dataset open-bandit``: click prediction on logged impressions.

Protocol: every impression of the workspace (Open Bandit ``all`` campaign: the random and
Bernoulli-TS logs, 20,000 impressions, 80 clicks) with the features of
:func:`shopml.predict.impressions.impression_features` (user features, item and its features,
position, the user's affinity to the shown item). Temporal split: the earliest 70% of the
impressions (by time) train, the latest 30% test. The torch models and LightGBM stop early on
the last 10% of the training rows (time order). Clicks are rare (~0.4%, a few dozen in the
test rows), so every AUC and AUPRC comes with a stratified bootstrap 95% interval, each model's
AUC is compared with the logistic-regression floor by a paired bootstrap on the same rows, and
the torch models are fitted with 3 seeds (``auc_seed_sd``: their spread).

Models: logistic regression and LightGBM (floors), the MLP, DeepFM, DCN-v2 (parallel), and the
``deepctr-torch`` DeepFM and DCN-M as peers on the same encoded features (when it imports).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopml.benchmarks.classify import add_paired_tests, best_vs_floor_note, fit_and_score
from shopml.benchmarks.runner import BenchResult
from shopml.benchmarks.workspace import open_workspace
from shopml.core.errors import DataError

FLOOR = "logistic regression"


def ctr_models(quick: bool, n_train: int) -> list[tuple[str, Any, bool, tuple[int, ...]]]:
    """(name, factory(seed) -> model, peer, seeds) for every model of the CTR comparison."""
    from shopml.benchmarks.deepctr_peer import DeepCTRPeer, deepctr_available
    from shopml.predict.dcn import DCNv2Classifier
    from shopml.predict.deepfm import DeepFMClassifier
    from shopml.predict.gbm import LightGBMClassifier
    from shopml.predict.linear import LogisticRegression
    from shopml.predict.mlp import MLPClassifier

    epochs = 3 if quick else 20
    seeds = (0,) if quick else (0, 1, 2)
    # clicks are rare: small batches give each epoch enough positive-bearing steps
    batch = 512 if n_train < 100_000 else 2048
    torch_kw = {
        "epochs": epochs,
        "batch_size": batch,
        "lr": 1e-3,
        "patience": 3,
        "validation_fraction": 0.1,
    }
    models: list[tuple[str, Any, bool, tuple[int, ...]]] = [
        (FLOOR, lambda s: LogisticRegression(C=0.1), False, (0,)),
        (
            "LightGBM",
            lambda s: LightGBMClassifier(
                n_estimators=30 if quick else 500,
                learning_rate=0.03,
                num_leaves=7,
                min_child_samples=50,
                subsample=0.8,
                colsample_bytree=0.8,
                reg_lambda=1.0,
                early_stopping_rounds=30,
                seed=s,
            ),
            False,
            (0,),
        ),
        (
            "MLP",
            lambda s: MLPClassifier(
                hidden=(64, 32), dropout=0.2, weight_decay=1e-5, seed=s, **torch_kw
            ),
            False,
            seeds,
        ),
        (
            "DeepFM",
            lambda s: DeepFMClassifier(
                embedding_dim=8, hidden=(64, 32), dropout=0.2, weight_decay=1e-5, seed=s, **torch_kw
            ),
            False,
            seeds,
        ),
        (
            "DCN-v2",
            lambda s: DCNv2Classifier(
                embedding_dim=8,
                cross_layers=2,
                hidden=(64, 32),
                structure="parallel",
                dropout=0.2,
                weight_decay=1e-5,
                seed=s,
                **torch_kw,
            ),
            False,
            seeds,
        ),
    ]
    if deepctr_available() is None:
        peer_kw = {
            "epochs": epochs,
            "batch_size": batch,
            "lr": 1e-3,
            "patience": 3,
            "dropout": 0.2,
            "hidden": (64, 32),
        }
        models += [
            (
                "deepctr-torch DeepFM",
                lambda s: DeepCTRPeer("deepfm", seed=s, **peer_kw),
                True,
                seeds,
            ),
            (
                "deepctr-torch DCN-M",
                lambda s: DeepCTRPeer("dcn", cross_layers=2, seed=s, **peer_kw),
                True,
                seeds,
            ),
        ]
    return models


def run(
    dataset: str | None = None,
    workspace: str | Path | None = None,
    quick: bool = False,
    test_fraction: float = 0.3,
    n_boot: int = 1000,
    **_: Any,
) -> BenchResult:
    """The CTR benchmark (see the module docstring); returns the rows, writes nothing."""
    import torch

    from shopml.benchmarks.deepctr_peer import deepctr_available
    from shopml.evaluation.splits import temporal_split
    from shopml.predict.impressions import impression_features

    torch.set_num_threads(1)  # the machine is shared; timings per thread are comparable
    ws = open_workspace(dataset, workspace)
    with ws:
        data = impression_features(ws)
    frame = data.X.assign(ts=data.ts, _y=data.y)
    split = temporal_split(frame, test_fraction=test_fraction)
    train, test = split.train, split.test
    Xtr, ytr = train.drop(columns=["ts", "_y"]), train["_y"].to_numpy()
    Xte, yte = test.drop(columns=["ts", "_y"]), test["_y"].to_numpy()
    if ytr.sum() < 2 or yte.sum() < 1:
        raise DataError(
            f"too few clicks to benchmark: {int(ytr.sum())} in train, {int(yte.sum())} in test"
        )
    label = dataset or Path(str(workspace)).stem
    n_boot = 200 if quick else int(n_boot)
    result = BenchResult(
        capability="predict",
        dataset=label,
        protocol=(
            f"ctr: click given user, item and position features; temporal split at {split.info['cut']}: "
            f"train {len(train)} impressions ({int(ytr.sum())} clicks), test {len(test)} "
            f"({int(yte.sum())} clicks); AUC/AUPRC with stratified bootstrap 95% CIs ({n_boot} resamples)"
        ),
    )
    rows, probs = [], {}
    seeds_used: tuple[int, ...] = ()
    for name, make, peer, seeds in ctr_models(quick, len(train)):
        seeds_used = max(seeds_used, seeds, key=len)
        row, p = fit_and_score(
            name, make, Xtr, ytr, Xte, yte, peer=peer, seeds=seeds, n_boot=n_boot
        )
        rows.append(row)
        probs[name] = p
    add_paired_tests(rows, probs, yte, FLOOR, n_boot=n_boot)
    result.rows = rows
    why = deepctr_available()
    result.notes += [
        best_vs_floor_note(rows, FLOOR),
        f"features: categorical {data.categorical}; numeric {data.numeric}; left out: "
        + "; ".join(f"{k} ({v})" for k, v in data.dropped.items()),
        f"torch models and peers: seeds {list(seeds_used)}; the row's metrics are seed 0's, auc_seed_sd the "
        "spread of the seeds' test AUCs; the bootstrap interval covers test-row sampling only",
        "peer: deepctr-torch 0.3.0 (DeepFM; DCN with cross_parameterization='matrix' = DCN-M, cross and deep "
        "in parallel) on the same encoded features and early stopping"
        if why is None
        else f"peer: deepctr-torch does not import here ({why}): no peer rows",
        "fuxictr 2.3.10 installs only with --no-deps and then fails to import (needs polars and h5py, "
        "not installed here): not a peer",
    ]
    return result


__all__ = ["ctr_models", "run"]
