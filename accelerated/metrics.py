"""Two-sample distances between point clouds (NumPy/SciPy): how far generated samples are from data.

Both are unbiased U-statistics, so two samples of one distribution give ≈ 0 (possibly slightly negative); compare a
model's value with the same statistic between two independent data samples of the same sizes (the baseline).
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist


def _as2d(x):
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1)


def _offdiag_mean(k):
    n = k.shape[0]
    return (k.sum() - np.trace(k)) / (n * (n - 1))


def energy_distance(x, y):
    """E(X, Y) = 2 E‖X − Y‖ − E‖X − X'‖ − E‖Y − Y'‖ (Székely & Rizzo), within-sample terms without the diagonal."""
    x, y = _as2d(x), _as2d(y)
    return 2.0 * cdist(x, y).mean() - _offdiag_mean(cdist(x, x)) - _offdiag_mean(cdist(y, y))


def mmd2(x, y, bandwidth=None):
    """Unbiased MMD² with the Gaussian kernel exp(−‖u − v‖² / 2h²); h = median pairwise distance of the pooled sample
    (the median heuristic) when not given."""
    x, y = _as2d(x), _as2d(y)
    if bandwidth is None:
        pooled = np.concatenate([x, y])[:2000]
        d = cdist(pooled, pooled)
        bandwidth = float(np.median(d[np.triu_indices_from(d, 1)]))
    g = lambda u, v: np.exp(-cdist(u, v, "sqeuclidean") / (2.0 * bandwidth**2))
    return _offdiag_mean(g(x, x)) + _offdiag_mean(g(y, y)) - 2.0 * g(x, y).mean()
