"""Shared fixtures of the family checks: Gaussian mixtures (plain and class-conditional), samples from them, the exact
oracles and a row-wise linear field as networks in both backends (:class:`Dual`), call counters and recorders.

- ``random_mixture``, ``sample_mixture``, ``BIMODAL``, ``oracle``: the unconditional mixtures and their oracle f*(x, t);
- ``make_mixture``, ``sample_labelled``, ``noisy_points``, ``oracle_field``, ``linear_field``, ``oracle_inputs``: the
  class-conditional ones, the conditional oracle and a linear field as f(x_t, y, t), and their input strategy;
- ``Counted`` (calls and rows of a conditional network), ``Recorder`` (every call of a field f(x, t));
- ``concentration_*``, ``accuracy``: cfg.concentration's mixture, noise and table (shared with the trainer test).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from hypothesis import strategies as st

from genspec.reference import cond as RC
from genspec.reference import optimal as RO
from genspec.reference.cfg import guided_euler_sample
from genspec.spec.cond import null_value

from .harness.arrays import T_EDGES, draw_edges
from .harness.declare import Dual


def random_mixture(rng, K, d, spread=3.0, lam=(0.05, 2.0)):
    """Weights in [0.2, 1], means in [-spread, spread]^d, covariances Q diag(λ) Qᵀ with λ in lam (cond ≤ 40)."""
    w = rng.uniform(0.2, 1.0, K)
    mu = rng.uniform(-spread, spread, (K, d))
    q, _ = np.linalg.qr(rng.standard_normal((K, d, d)))
    cov = q @ (rng.uniform(*lam, (K, d))[..., None] * np.swapaxes(q, 1, 2))
    return w / w.sum(), mu, 0.5 * (cov + np.swapaxes(cov, 1, 2))


def sample_mixture(rng, n, weights, means, covs):
    k = rng.choice(len(weights), size=n, p=weights / weights.sum())
    L = np.linalg.cholesky(covs)
    return means[k] + np.einsum("nij,nj->ni", L[k], rng.standard_normal((n, means.shape[1])))


BIMODAL = (np.array([0.5, 0.5]), np.array([[-2.0, 0.0], [2.0, 0.0]]), np.stack([0.1 * np.eye(2)] * 2))
"""The bimodal 2-D mixture of the mid-t claim and the sampler checks."""


def oracle(weights, means, covs, target="velocity", path="rf", schedule=None, label=None):
    """The oracle f*(x, t) as a Dual: NumPy reference and torch (accelerated), on the caller's dtype and device."""
    from genspec.accelerated import optimal as A
    cache = {}

    def torch_fn(x, t):
        key = (x.dtype, x.device)
        if key not in cache:
            import torch
            wd = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
            cache[key] = A.Mixture(weights, means, covs, device=x.device, dtype=wd)
        return cache[key].prediction(x, t, target=target, path=path, schedule=schedule)

    return Dual(numpy=lambda x, t: RO.optimal_prediction(x, t, weights, means, covs, target=target, path=path,
                                                        schedule=schedule),
                torch=torch_fn, label=label or f"oracle {target} ({path})")


def make_mixture(seed, d=None, num_classes=None):
    """A class-conditional Gaussian mixture: C ∈ {2, 3} classes, C..C+2 components, |μ| ≲ 4, eig Σ ∈ [0.2, 2]."""
    rng = np.random.default_rng(seed)
    d = d or int(rng.integers(1, 4))
    C = num_classes or int(rng.integers(2, 4))
    K = C + int(rng.integers(0, 3))
    labels = rng.permutation(np.concatenate([np.arange(C), rng.integers(0, C, K - C)]))
    weights = rng.uniform(0.2, 1.0, K)
    means = rng.normal(0.0, 1.5, (K, d))
    Q = np.linalg.qr(rng.standard_normal((K, d, d)))[0]
    covs = np.einsum("kij,kj,klj->kil", Q, rng.uniform(0.2, 2.0, (K, d)), Q)
    covs = 0.5 * (covs + np.swapaxes(covs, 1, 2))
    return {"weights": weights / weights.sum(), "means": means, "covs": covs, "labels": labels.astype(np.int64)}


def sample_labelled(gm, n, rng):
    """(x, y) pairs from the mixture: component k ~ w, x ~ N(μ_k, Σ_k), y = ℓ_k."""
    k = rng.choice(len(gm["weights"]), size=n, p=gm["weights"])
    L = np.linalg.cholesky(gm["covs"])
    x = gm["means"][k] + np.einsum("nij,nj->ni", L[k], rng.standard_normal((n, gm["means"].shape[1])))
    return x, gm["labels"][k]


def noisy_points(gm, t, rng):
    """x_t = (1 − t) x + t z with x from the mixture: points where the oracle's posteriors are typical."""
    x, _ = sample_labelled(gm, t.shape[0], rng)
    return (1.0 - t)[:, None] * x + t[:, None] * rng.standard_normal(x.shape)


def fd_grad_log_posterior(x_t, y, t, gm, h=1e-5):
    """∇_{x_t} log p(y | x_t) by central differences of the reference class posterior (error ~h² ≈ 1e-10): the
    implicit classifier's gradient for cfg.score and cfg.classifier_guidance."""
    n, d = x_t.shape
    rows = np.arange(n)
    g = np.empty_like(x_t)
    for j in range(d):
        e = np.zeros(d)
        e[j] = h
        up = np.log(RC.class_posterior(x_t + e, t, **gm)[rows, y])
        dn = np.log(RC.class_posterior(x_t - e, t, **gm)[rows, y])
        g[:, j] = (up - dn) / (2 * h)
    return g


def num_classes(gm):
    return int(gm["labels"].max()) + 1


def oracle_scores(inp):
    """(s_y, s_∅, mixture, y_∅) of an oracle_inputs case: the exact conditional and unconditional scores at its
    points, for cfg.score and cfg.classifier_guidance."""
    gm = {k: inp[k] for k in ("weights", "means", "covs", "labels")}
    null = np.full_like(inp["y"], num_classes(gm))
    s_y, s_null = (RC.conditional_prediction(inp["x_t"], y, inp["t"], **gm, target="score") for y in (inp["y"], null))
    return s_y, s_null, gm, null


def null_of(gm_or_C, null_label="extra_class"):
    C = gm_or_C if isinstance(gm_or_C, int) else num_classes(gm_or_C)
    return null_value(C, null_label)


def oracle_field(gm):
    """The class-conditional oracle as a network f(x_t, y, t) in both backends; accepts y_∅ = C or −1.

    The torch side computes in float64 and rounds once to x's dtype, so in a low-precision run only the
    guided step's own arithmetic is under test."""
    C = num_classes(gm)
    fix = lambda y: np.where(y == -1, C, y)

    def f_np(x, y, t):
        return RC.conditional_velocity(x, fix(np.asarray(y)), t, gm["weights"], gm["means"], gm["covs"], gm["labels"])

    def f_torch(x, y, t):
        import torch

        from genspec.accelerated import cond as A
        dev = x.device
        tens = {k: torch.as_tensor(v, device=dev) for k, v in gm.items()}
        y = torch.where(y == -1, torch.full_like(y, C), y)
        out = A.conditional_velocity(x.double(), y, t.double(), tens["weights"], tens["means"], tens["covs"],
                                     tens["labels"])
        return out.to(x.dtype)

    return Dual(f_np, f_torch, label=f"oracle field, C={C}")


def linear_field(seed, d, C, scale=0.5):
    """f(x, y, t) = x A_y + t b_y with one row per class and a null row (index C, or −1 which NumPy and torch
    both read as the last row): row-wise, cheap, exact up to the dtype's rounding."""
    rng = np.random.default_rng(seed)
    A = rng.normal(0.0, scale / np.sqrt(d), (C + 1, d, d))
    b = rng.normal(0.0, 1.0, (C + 1, d))

    def f_np(x, y, t):
        y = np.asarray(y)
        return np.einsum("ni,nij->nj", x, A[y]) + np.asarray(t)[:, None] * b[y]

    def f_torch(x, y, t):
        import torch
        At, bt = torch.as_tensor(A, device=x.device), torch.as_tensor(b, device=x.device)
        out = torch.einsum("ni,nij->nj", x.double(), At[y]) + t.double()[:, None] * bt[y]
        return out.to(x.dtype)

    return Dual(f_np, f_torch, label=f"linear field d={d} C={C}")


class Counted:
    """A Dual wrapper that counts calls and rows (x.shape[0] summed over calls) of either backend."""

    def __init__(self, dual):
        self.calls, self.rows = 0, 0

        def wrap(fn):
            def g(x, y, t):
                self.calls += 1
                self.rows += int(x.shape[0])
                return fn(x, y, t)
            return g

        self.dual = Dual(wrap(dual.numpy), wrap(dual.torch), label=f"counted {dual.label}")


_seeds = st.integers(0, 2**32 - 1)


def random_labels(n, high):
    """A strategy of n labels drawn uniformly from {0, …, high − 1} (int64)."""
    return _seeds.map(lambda s: np.random.default_rng(s).integers(0, high, n))


@st.composite
def oracle_inputs(draw, null_label="extra_class", allow_null=True, t_low=0.0, t_high=1.0, max_n=8):
    """Keyword inputs (x_t, y, t, weights, means, covs, labels); t includes the endpoints where allowed."""
    gm = make_mixture(draw(_seeds))
    rng = np.random.default_rng(draw(_seeds))
    n = draw(st.integers(1, max_n))
    t = rng.uniform(t_low, t_high, n)
    if draw(st.booleans()):
        t[0] = draw(st.sampled_from([t_low, t_high]))
    if (t_low, t_high) == (0.0, 1.0):
        t = draw_edges(draw, t, T_EDGES)                            # t within 1e-9..1e-3 of 0 and 1
    C = num_classes(gm)
    y = rng.integers(0, C + (1 if allow_null else 0), n)
    if allow_null:
        y = np.where(y == C, null_of(C, null_label), y)
    return {"x_t": noisy_points(gm, t, rng), "y": y.astype(np.int64), "t": t, **gm}


def _to_numpy(v):
    if hasattr(v, "detach"):
        return v.detach().cpu().double().numpy()
    return np.array(v, dtype=np.float64)


class Recorder:
    """Wraps a Dual and records every call (x, t) as float64 NumPy arrays, in either backend."""

    def __init__(self, f: Dual):
        self.calls: list[tuple[np.ndarray, np.ndarray]] = []

        def numpy_fn(x, t):
            self.calls.append((_to_numpy(x), _to_numpy(t)))
            return f.numpy(x, t)

        def torch_fn(x, t):
            self.calls.append((_to_numpy(x), _to_numpy(t)))
            return f.torch(x, t)

        self.dual = Dual(numpy=numpy_fn, torch=torch_fn, label=f"recorded {f.label}")


# ---- cfg.concentration: a 3-class mixture, its noise, and the accuracy table of guided sampling --------
CONCENTRATION_WEIGHTS = (0.0, 1.0, 3.0, 7.0)


def concentration_mixture():
    """3 overlapping classes in 2-D, 2 isotropic components each (σ = 1.2): an outer one at radius 1.5 and an
    inner one at radius 0.75 next to the following class's outer one."""
    ang = np.deg2rad([90.0, 210.0, 330.0])
    outer = 1.5 * np.stack([np.cos(ang), np.sin(ang)], axis=1)
    means = np.concatenate([outer, 0.5 * np.roll(outer, 1, axis=0)])
    return {"weights": np.full(6, 1 / 6), "means": means, "covs": np.stack([1.44 * np.eye(2)] * 6),
            "labels": np.array([0, 1, 2, 0, 1, 2])}


def concentration_noise(n_per_class=300, seed=0):
    """(x1, y): the starting noise and requested classes of the concentration measurement (shared with the
    trained-model test, so the two tables differ only by the field)."""
    y = np.repeat(np.arange(3), n_per_class)
    return np.random.default_rng(seed).standard_normal((y.shape[0], 2)), y


def accuracy(x0, y, gm):
    """Fraction of samples whose highest-posterior class at t = 0 is the requested one."""
    return float(np.mean(RC.class_posterior(x0, 0.0, **gm).argmax(axis=1) == y))


@lru_cache(maxsize=1)
def concentration_table(n_per_class=300, T=32, seed=0):
    """acc(w): fraction of guided Euler samples (exact oracles, float64 reference) whose highest-posterior class
    at t = 0 is the requested one; plus the Bayes accuracy of exact samples of p(x | y) (what w = 0 targets)."""
    gm = concentration_mixture()
    f = oracle_field(gm).numpy
    x1, y = concentration_noise(n_per_class, seed)
    acc = {w: accuracy(guided_euler_sample(f, x1, y, w, T, 3), y, gm) for w in CONCENTRATION_WEIGHTS}
    x, yx = sample_labelled(gm, 20_000, np.random.default_rng(seed + 1))
    return acc, accuracy(x, yx, gm)

