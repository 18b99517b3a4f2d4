from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.recommend.als import ALS, _cg_sweep, _confidence, als_loss
from tests.recommend.contract import RecommenderContract, toy_interactions


class TestALS(RecommenderContract):
    def _get_model(self):
        return ALS(embedding_dim=8, regularization=0.1, alpha=5.0, iterations=8, seed=1, num_threads=1)


class TestALSThreaded(RecommenderContract):
    def _get_model(self):
        return ALS(embedding_dim=8, regularization=0.1, alpha=5.0, iterations=8, seed=1, num_threads=2)


def _exact_user_factors(C: sp.csr_matrix, Y: np.ndarray, reg: float) -> np.ndarray:
    """Normal equations solved user by user with dense matrices (the textbook form)."""
    f = Y.shape[1]
    out = np.zeros((C.shape[0], f))
    for u in range(C.shape[0]):
        c = C[u].toarray().ravel()
        c_full = np.where(c > 0, c, 1.0)
        p = (c > 0).astype(float)
        A = Y.T @ (c_full[:, None] * Y) + reg * np.eye(f)
        out[u] = np.linalg.solve(A, Y.T @ (c_full * p))
    return out


def test_cg_converges_to_the_exact_solution():
    df, _ = toy_interactions()
    model = ALS(embedding_dim=6, iterations=3).fit(df)
    C = _confidence(model.train_, alpha=4.0)
    Y = model.item_factors_.astype(np.float64)
    X = np.zeros((C.shape[0], 6), dtype=np.float64)
    _cg_sweep(C, X, Y, 0.3, steps=30)
    # CG stops once a row's residual is 1e-6 of where it started (float32 resolution, the
    # factors' precision in training), so even in float64 it agrees to about 1e-5 relative
    np.testing.assert_allclose(X, _exact_user_factors(C, Y, 0.3), rtol=1e-4, atol=1e-6)


def test_loss_decreases_and_matches_dense_formula():
    df, _ = toy_interactions()
    model = ALS(embedding_dim=8, regularization=0.1, alpha=5.0, iterations=6, track_loss=True).fit(df)
    loss = np.asarray(model.loss_)
    assert len(loss) == 6
    assert np.all(np.diff(loss) <= 1e-6 * loss[0])
    assert loss[-1] < 0.7 * loss[0]
    X = model.train_.toarray()
    C = np.where(X > 0, 1 + 5.0 * X, 1.0)
    Pm = (X > 0).astype(float)
    U, V = model.user_factors_.astype(float), model.item_factors_.astype(float)
    dense = np.sum(C * (Pm - U @ V.T) ** 2) + 0.1 * (np.sum(U**2) + np.sum(V**2))
    assert als_loss(_confidence(model.train_, 5.0), U, V, 0.1) == pytest.approx(dense, rel=1e-6)


def test_fold_in_solves_for_a_new_history():
    df, _ = toy_interactions()
    model = ALS(embedding_dim=8, regularization=0.1, alpha=5.0, iterations=8).fit(df)
    hist = model.train_[[3, 4]]
    got = model.fold_in(hist)
    want = _exact_user_factors(_confidence(hist, 5.0), model.item_factors_.astype(np.float64), 0.1)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4)
    # a visitor with u3's history gets u3's taste group
    items = model.items_.decode(hist[0].indices)
    rec = model.recommend_for_history(items, k=5)
    assert (rec.item_id.str[1:].astype(int) % 2 == 1).mean() >= 0.8


@pytest.mark.parametrize(
    "density, block_nnz, block_dense, threads",
    [
        (0.0, 50_000, 200, 1),
        (1.1, 37, 0, 1),
        (1.1, 50_000, 0, 1),
        (0.0, 50_000, 0, 2),
        (1.1, 50_000, 0, 3),
    ],
)
def test_solver_paths_blocks_and_threads_agree(
    monkeypatch, density, block_nnz, block_dense, threads
):
    """Dense-BLAS and sparse-gather paths, in one block or many, compute the same sweeps.

    In float64: ALS amplifies float32 rounding differences between equivalent paths a lot.
    """
    import shopml.recommend.als as als

    df, _ = toy_interactions()
    C = _confidence(ALS().fit(df).train_, alpha=10.0)
    Ct = C.T.tocsr()

    def sweeps(threads: int = 1) -> np.ndarray:
        rng = np.random.default_rng(0)
        U, V = rng.random((C.shape[0], 4)) * 0.01, rng.random((C.shape[1], 4)) * 0.01
        with ThreadPoolExecutor(threads) as pool:
            for _ in range(2):
                _cg_sweep(C, U, V, 0.05, 3, pool if threads > 1 else None, threads)
                _cg_sweep(Ct, V, U, 0.05, 3, pool if threads > 1 else None, threads)
        return U

    reference = sweeps()
    monkeypatch.setattr(als, "_DENSE_MIN_DENSITY", density)
    monkeypatch.setattr(als, "_BLOCK_NNZ", block_nnz)
    monkeypatch.setattr(als, "_BLOCK_DENSE", block_dense or als._BLOCK_DENSE)
    np.testing.assert_allclose(sweeps(threads), reference, rtol=1e-8, atol=1e-10)


def test_bad_params():
    df, _ = toy_interactions()
    with pytest.raises(ValidationError, match="embedding_dim"):
        ALS(embedding_dim=0).fit(df)
    with pytest.raises(ValidationError, match="alpha"):
        ALS(alpha=-1).fit(df)


def test_matches_implicit_als_from_the_same_start():
    """implicit's CG ALS with c = alpha·r equals ours with c = 1 + alpha·r at alpha - 1; both
    start from ``default_rng(seed).random(...) * 0.01``, so the factors should agree closely."""
    implicit_als = pytest.importorskip("implicit.cpu.als")
    df, _ = toy_interactions()
    ours = ALS(embedding_dim=8, regularization=0.5, alpha=4.0, iterations=10, seed=3, num_threads=1).fit(
        df
    )
    theirs = implicit_als.AlternatingLeastSquares(
        factors=8, regularization=0.5, alpha=5.0, iterations=10, random_state=3, num_threads=1
    )
    theirs.fit(ours.train_, show_progress=False)
    np.testing.assert_allclose(ours.user_factors_, theirs.user_factors, atol=2e-3)
    np.testing.assert_allclose(ours.item_factors_, theirs.item_factors, atol=2e-3)
