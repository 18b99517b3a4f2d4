"""Sharing strength between the products of a category (empirical Bayes).

Within a category, true elasticities are taken as :math:`\\epsilon_i \\sim N(\\mu_c, \\tau_c^2)`
and each raw estimate as :math:`\\hat\\epsilon_i \\sim N(\\epsilon_i, s_i^2)`. :math:`\\mu_c` is
the precision-weighted mean and :math:`\\tau_c^2` the method-of-moments between-product
variance (DerSimonian-Laird), so the posterior mean
:math:`w_i \\hat\\epsilon_i + (1 - w_i)\\mu_c` with :math:`w_i = \\tau_c^2 / (\\tau_c^2 + s_i^2)`
leans on the category exactly as much as the product's own price history is uninformative.
"""

from __future__ import annotations

import numpy as np


def pool(
    est: np.ndarray, se: np.ndarray, category: np.ndarray, how: str
) -> tuple[np.ndarray, np.ndarray]:
    """Pooled estimates and standard errors (``how``: ``item``, ``category``, ``partial``)."""
    est, se = np.asarray(est, dtype=float), np.asarray(se, dtype=float)
    if how == "item":
        return est.copy(), se.copy()
    cats, c = np.unique(np.asarray(category).astype(str), return_inverse=True)
    k = cats.size
    ok = np.isfinite(se) & (se > 0)
    w = np.where(ok, 1.0 / np.where(ok, se, 1.0) ** 2, 0.0)
    wsum = np.bincount(c, weights=w, minlength=k)
    # a category with no identified product falls back on the catalogue-wide mean
    all_mu = (w * np.where(ok, est, 0)).sum() / w.sum() if w.sum() > 0 else -1.0
    mu = np.where(
        wsum > 0, np.bincount(c, weights=w * np.where(ok, est, 0), minlength=k) / np.where(
            wsum > 0, wsum, 1), all_mu
    )
    mu_se = np.where(wsum > 0, 1.0 / np.sqrt(np.where(wsum > 0, wsum, 1)), np.inf)
    if how == "category":
        return mu[c], mu_se[c]
    # DerSimonian-Laird between-product variance per category
    q = np.bincount(c, weights=w * (np.where(ok, est, 0) - mu[c]) ** 2, minlength=k)
    n_ok = np.bincount(c, weights=ok.astype(float), minlength=k)
    denom = wsum - np.bincount(c, weights=w * w, minlength=k) / np.where(wsum > 0, wsum, 1)
    tau2 = np.where(denom > 0, np.maximum(q - (n_ok - 1), 0) / np.where(denom > 0, denom, 1), 0.0)
    # with one product, or none spread, fall back on the catalogue's between-category spread
    tau2 = np.where(n_ok >= 2, tau2, np.var(mu) if k > 1 else 0.25)
    t2 = tau2[c]
    shrink = np.where(ok, t2 / (t2 + np.where(ok, se, 1.0) ** 2), 0.0)
    post = shrink * np.where(ok, est, 0) + (1 - shrink) * mu[c]
    # posterior variance, plus the uncertainty of the category mean the product leans on
    var = np.where(ok, shrink * np.where(ok, se, 0) ** 2, t2) + ((1 - shrink) * mu_se[c]) ** 2
    return post, np.sqrt(var)
