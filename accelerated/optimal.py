"""The MSE-optimal predictor for Gaussian-mixture data in torch (spec/optimal.py): any device, batched,
dtype-preserving (bfloat16/float16 are computed in float32 and rounded once at the end).

In the eigenbasis Σ_k = U_k diag(λ_k) U_kᵀ the per-sample covariance S_k = a² Σ_k + b² I is diagonal,
a² λ + b², so every solve is a division by a positive number, with no inverse of an ill-conditioned matrix:

    E[x | x_t, k] = μ_k + U_k diag(a λ / (a² λ + b²)) U_kᵀ (x_t − a μ_k),
    E[z | x_t, k] =       U_k diag(b     / (a² λ + b²)) U_kᵀ (x_t − a μ_k).

At b = 0 the first is x_t / a exactly; at a = 0 it is μ_k and the responsibilities are the weights.
"""
from __future__ import annotations

import copy
import math

import torch

from genspec.spec import validate as V
from genspec.spec.bind import implements
from genspec.spec.errors import SpecInputError
from genspec.spec.family import PATHS, SCHEDULES, TARGETS  # noqa: F401  (PATHS, TARGETS: this module's)

from . import family as F
from ._tensors import work_dtype

POSTERIOR = "optimal.posterior_means"
PREDICTION = "optimal.prediction"


def _as(v, like, dtype):
    if isinstance(v, torch.Tensor):
        return v.to(device=like.device, dtype=dtype)
    return torch.as_tensor(v, device=like.device, dtype=dtype)


class Mixture:
    """A validated Gaussian mixture with its eigendecomposition, cached for repeated calls (samplers)."""

    def __init__(self, weights, means, covs, clause=PREDICTION, device=None, dtype=torch.float64):
        weights = V.array(clause, "weights", torch.as_tensor(weights, dtype=torch.float64), ndim=1)
        means = V.array(clause, "means", torch.as_tensor(means, dtype=torch.float64), ndim=2)
        covs = V.array(clause, "covs", torch.as_tensor(covs, dtype=torch.float64), ndim=3)
        K, d = means.shape
        if K == 0 or d == 0:
            raise SpecInputError(clause, "means", "a non-empty (K, d) array", f"shape {tuple(means.shape)}")
        if tuple(weights.shape) != (K,) or tuple(covs.shape) != (K, d, d):
            raise SpecInputError(clause, "weights/means/covs", "shapes (K,), (K, d), (K, d, d)",
                                 f"{tuple(weights.shape)}, {tuple(means.shape)}, {tuple(covs.shape)}")
        V.interval(clause, "weights", weights, 0.0, what="non-negative")
        total = weights.sum()
        if not bool(total > 0):
            raise SpecInputError(clause, "weights", "non-negative with a positive sum", "all zero")
        big, asym = torch.stack([covs.abs().amax(), (covs - covs.transpose(1, 2)).abs().amax()]).tolist()  # 1 sync
        if asym > 1e-9 * (1.0 + big):
            raise SpecInputError(clause, "covs", "symmetric matrices", "an asymmetric matrix")
        lam, U = torch.linalg.eigh(covs)          # float64, once: K small d×d problems
        if float(lam.min()) <= 0:
            raise SpecInputError(clause, "covs", "positive definite matrices", "a matrix with an eigenvalue ≤ 0")
        device = device if device is not None else means.device
        cast = dict(device=device, dtype=dtype)
        self.K, self.d = K, d
        w = weights / total
        self.log_w = torch.log(w).to(**cast)
        self.w = w.to(**cast)
        self.mu, self.lam, self.U = means.to(**cast), lam.to(**cast), U.to(**cast)
        # component-major tables of _posterior: Ut[k d + i] = U_k[:, i], Umu[k d + i] = U_k[:, i]·μ_k
        Ut = self.U.transpose(1, 2)
        self.Ut = Ut.reshape(K * d, d).contiguous()
        self.Umu_col = (Ut @ self.mu[:, :, None]).reshape(K * d, 1)
        self.lam_col = self.lam.reshape(K * d, 1)
        self.W = torch.cat([self.Ut, self.mu])                          # (K d + K, d): [U_kᵀ; μ]

    def cast(self, dtype) -> Mixture:
        """The same mixture with its tables in ``dtype`` (cached): a mixture built in one dtype serves inputs of
        another, computed in the promoted dtype as torch's type promotion would."""
        if self.mu.dtype == dtype:
            return self
        cache = self.__dict__.setdefault("_casts", {})
        if dtype not in cache:
            other = copy.copy(self)
            for k, v in self.__dict__.items():
                if isinstance(v, torch.Tensor):
                    setattr(other, k, v.to(dtype))
            other.__dict__.pop("_casts", None)
            cache[dtype] = other
        return cache[dtype]

    @classmethod
    def of(cls, weights, means, covs, clause, like):
        if isinstance(weights, Mixture):
            return weights
        return cls(weights, means, covs, clause, device=like.device, dtype=work_dtype(like.dtype))

    def posterior_means(self, x_t, a, b, clause=POSTERIOR):
        """(E[x | x_t], E[z | x_t]) on this prebuilt mixture (optimal.posterior_means without rebuilding it)."""
        x_t = _points(clause, x_t, self.d)
        wd = work_dtype(x_t.dtype)
        n = x_t.shape[0]
        a, b = _per_sample(clause, "a", a, n, x_t, wd), _per_sample(clause, "b", b, n, x_t, wd)
        if bool(((a == 0) & (b == 0)).any()):
            raise SpecInputError(clause, "a/b", "not both 0 (x_t = 0 carries no information)", "a = b = 0")
        x_hat, z_hat = _posterior(x_t.to(wd), a, b, self)
        return x_hat.to(x_t.dtype), z_hat.to(x_t.dtype)

    def rf_velocity(self, x, t):
        """The rf oracle velocity E[z − x | x_t] on checked work-dtype tensors (x (n, d), t (n,)): no validation, for
        ODE solvers' inner loops."""
        t = _uniform(t)
        one = torch.ones_like(t)
        return _posterior(x, torch.rsub(t, 1.0), t, self, -one, one)    # a = 1 − t (torch.rsub: no Python operator)

    def prediction(self, x_t, t, target="velocity", path="rf", schedule=None, clause=PREDICTION):
        """f*(x_t, t) on this prebuilt mixture (optimal.prediction without rebuilding it)."""
        x_t = _points(clause, x_t, self.d)
        wd = work_dtype(x_t.dtype)
        t = _per_sample(clause, "t", t, x_t.shape[0], x_t, wd, 0.0, 1.0)
        a, b, cc, dd = coefficients(_uniform(t), path, target, schedule)
        return _posterior(x_t.to(wd), a, b, self, cc, dd).to(x_t.dtype)


def _per_sample(clause, name, v, n, like, dtype, low=0.0, high=math.inf):
    """A scalar or an (n,) tensor in [low, high], broadcast to (n,); one value broadcast to (n,) (stride 0, as the
    samplers pass t) is checked once, not n times."""
    v = _as(v, like, dtype)
    V.array(clause, name, _uniform(v), ndim=(0, 1))
    if v.ndim == 1 and v.shape[0] != n:
        raise SpecInputError(clause, name, f"a scalar or shape ({n},)", f"shape {tuple(v.shape)}")
    V.interval(clause, name, _uniform(v), low, high)
    return v.expand(n)


def _points(clause, x_t, d):
    x_t = V.array(clause, "x_t", x_t, ndim=2)
    if x_t.shape[1] != d:
        raise SpecInputError(clause, "x_t", f"shape (n, {d}) (the mixture's dimension)", f"shape {tuple(x_t.shape)}")
    return x_t


BLOCK = 1 << 16
"""Entries per (K d, rows) intermediate of one block of _posterior: 512 KiB in float64, so a block's intermediates
stay in the L2/L3 caches instead of streaming through memory (at 10⁶ points, 2 components in 2-D, single thread,
CPU time per call measured 24 ms at 2¹⁶, 27 ms at 2¹⁵, 32 ms at 2¹⁴ under load; one block of all points took
≈ 300 ms wall)."""


def _uniform(v):
    """A per-sample factor that is one value broadcast to (n,) (a stride-0 expand, as the samplers pass t) becomes
    shape (1,), so its arithmetic is done once instead of n times; None stays None."""
    if v is not None and v.ndim == 1 and v.shape[0] > 1 and v.stride(0) == 0:
        return v[:1]
    return v


def _posterior(x, a, b, m: Mixture, c=None, d=None):
    """The oracle on validated work-dtype tensors x (n, d), a, b (n,) or (1,): (E[x | x_t], E[z | x_t]), or, given
    the target's c, d, the prediction c E[x | x_t] + d E[z | x_t] directly (one product instead of two).

    Batched over components and points in component-major layout (a row of an intermediate is one component's
    eigen-coordinate, a column one point), so per-point factors broadcast along contiguous rows:
        ρ = Uᵀ(x_t − a μ_k) = Uᵀ x_t − a Uᵀμ_k,   s = a² λ + b²,   q = ρ / s,
        log r_k = log w_k − ½ (d log 2π + Σ log s + Σ ρ q)   (softmax over k: log-sum-exp),
        c E[x | x_t] + d E[z | x_t] = Σ_k r_k [c μ_k + U_k ((c a λ + d b) q)],
    one matrix product of [r (c a λ + d b) q; c r] (K d + K, n) with [U_kᵀ; μ] (K d + K, d). Points are processed in
    blocks of BLOCK / (K d) rows (cache-sized); the singular points are set exactly afterwards (_singular).
    """
    wd = torch.promote_types(x.dtype, m.mu.dtype)                    # a mixture of another dtype: promote
    m = m.cast(wd)
    x = x.to(wd)
    a, b, c, d = (None if v is None else _uniform(v).to(wd) for v in (a, b, c, d))
    n = x.shape[0]
    rows = max(1, BLOCK // (m.K * m.d))
    outs = [torch.empty_like(x) for _ in range(1 if c is not None else 2)]
    direct = not (torch.is_grad_enabled() and any(v is not None and v.requires_grad for v in (x, a, b, c, d)))
    if n <= rows:                                                     # one block (small batches: no slicing)
        _posterior_block(x, a, b, c, d, m, outs, direct)
    else:
        for i in range(0, n, rows):
            ab, bb, cb, db = (v if v is None or v.shape[0] == 1 else v[i:i + rows] for v in (a, b, c, d))
            _posterior_block(x[i:i + rows], ab, bb, cb, db, m, [out[i:i + rows] for out in outs], direct)
    return _singular(outs, x, a, b, m, c, d)


def _posterior_block(x, a, b, c, d, m: Mixture, outs, direct):
    """One block of rows of _posterior, written into outs (the products write there directly unless autograd
    needs the graph). Few kernels: small batches (an ODE solver's many calls) cost per kernel, not per point."""
    n, K, D = x.shape[0], m.K, m.d
    scale = torch.maximum(a, b)                                       # the posterior is invariant under /scale
    a_s, b_s = a / scale, b / scale                                   # (n,) or (1,)
    rho = torch.addcmul((m.Ut @ x.T) / scale, m.Umu_col, a_s, value=-1.0)   # Uᵀ x_t / scale − a Uᵀμ_k, (K d, n)
    s = torch.addcmul(b_s * b_s, m.lam_col, a_s * a_s)                # eigenvalues of S_k, (K d, n) or (K d, 1)
    q = rho / s
    loglik = torch.addcmul(torch.log(s), rho, q).view(K, D, n).sum(1)  # log det S_k + ρᵀ S_k⁻¹ ρ, (K, n)
    resp = torch.softmax(torch.add(m.log_w[:, None], loglik, alpha=-0.5), 0)   # log w_k − ½(…) (+ const cancels)
    rq = (q.view(K, D, n) * resp[:, None]).view(K * D, n)            # r_k q
    rows: list[tuple]
    if c is not None:                                                 # c E[x] + d E[z]: [r (c a λ + d b) q; c r]
        rows = [(rq, torch.addcmul(d * b_s, m.lam_col, c * a_s), resp, c)]
    else:                                                             # E[x]: [r a λ q; r],  E[z]: [r b q; 0]
        rows = [(rq, m.lam_col * a_s, resp, None), (rq, b_s, None, None)]
    for out, (g, factor, r, cr) in zip(outs, rows, strict=True):
        if direct:
            H = torch.empty(K * D + K, n, dtype=x.dtype, device=x.device)
            torch.mul(g, factor, out=H[:K * D])
            if r is None:
                H[K * D:] = 0
            else:
                torch.mul(r, cr, out=H[K * D:]) if cr is not None else H[K * D:].copy_(r)
            torch.mm(H.T, m.W, out=out)
        else:
            last = torch.zeros_like(resp) if r is None else r if cr is None else r * cr
            out[...] = torch.cat([g * factor, last]).T @ m.W


def _singular(outs, x, a, b, m, c, d):
    """The singular points exactly as the clause states them: b = 0 gives (x_t / a, 0), a = 0 gives
    (Σ w_k μ_k, x_t / b). (a, b ≥ 0 here: validated, or a path's coefficients.)"""
    if float(torch.minimum(a, b).min()) > 0:                         # the usual case: one reduction, one read
        return outs[0] if c is not None else tuple(outs)
    clean, noise = b == 0, a == 0
    clean, noise = clean[:, None], noise[:, None]
    one = torch.ones_like(a[:, None])
    x_hat = torch.where(clean, x / torch.where(clean, a[:, None], one), (m.w @ m.mu)[None].expand_as(x))
    z_hat = torch.where(clean, torch.zeros_like(x), x / torch.where(noise, b[:, None], one))
    if c is not None:
        fixed = c[:, None] * x_hat + d[:, None] * z_hat
        return torch.where(clean | noise, fixed, outs[0])
    return torch.where(clean | noise, x_hat, outs[0]), torch.where(clean | noise, z_hat, outs[1])



@implements("optimal.posterior_means", unchecked=("weights", "means", "covs"))
def posterior_means(x_t, a, b, weights, means, covs):
    """(E[x | x_t], E[z | x_t]) for x ~ Σ w_k N(μ_k, Σ_k), z ~ N(0, I), x_t = a x + b z  (01 §3.2); the mixture
    (arrays or tensors) is validated by :class:`Mixture` (a prebuilt one: ``Mixture.posterior_means``)."""
    return Mixture(weights, means, covs, POSTERIOR, device=x_t.device, dtype=work_dtype(x_t.dtype)).posterior_means(
        x_t, a, b)


def coefficients(t, path="rf", target="velocity", schedule=None, clause=PREDICTION):
    """(a, b, c, d)(t) from the family table (03), with errors naming ``clause``."""
    try:
        return F.coefficients(t, path=path, target=target, schedule=schedule)
    except SpecInputError as e:
        raise SpecInputError(clause, e.argument, e.expected, e.got) from None


@implements("optimal.prediction", unchecked=("weights", "means", "covs"))
def optimal_prediction(x_t, t, weights, means, covs, target="velocity", path="rf", schedule=None):
    """f*(x_t, t) = c(t) E[x | x_t] + d(t) E[z | x_t]: the MSE-optimal predictor of y = c x + d z  (01 §3.2); a
    prebuilt mixture: ``Mixture.prediction``."""
    m = Mixture(weights, means, covs, PREDICTION, device=x_t.device, dtype=work_dtype(x_t.dtype))
    return m.prediction(x_t, t, target, path, schedule)


def prediction_field(weights, means=None, covs=None, target="velocity", path="rf", schedule=None,
                     dtype=torch.float64, device=None):
    """f(x_t, t) = optimal_prediction(x_t, t, weights, means, covs, target, path, schedule) as a callable for samplers,
    with the arguments validated once here (the mixture and its eigendecomposition, target, path, schedule) instead of
    at every step: a call checks x_t's and t's shapes and t's range (one value when t is one value broadcast, as
    sampler.euler passes it), not every entry of x_t (a sampler validated x1 once; its states are its own)."""
    c = PREDICTION
    V.choice(c, "target", target, TARGETS)
    V.choice(c, "path", path, PATHS)
    if schedule is not None:
        V.choice(c, "schedule", schedule, tuple(s for v in SCHEDULES.values() for s in v))
    m = weights if isinstance(weights, Mixture) else Mixture(weights, means, covs, c, device=device,
                                                            dtype=work_dtype(dtype))

    def f(x_t, t):
        if not isinstance(x_t, torch.Tensor) or x_t.ndim != 2 or x_t.shape[1] != m.d:
            raise SpecInputError(c, "x_t", f"a tensor of shape (n, {m.d})", f"{type(x_t).__name__} "
                                 f"{tuple(getattr(x_t, 'shape', ()))}")
        wd = m.mu.dtype
        t = _per_sample(c, "t", t, x_t.shape[0], x_t, wd, 0.0, 1.0)
        a, b, cc, dd = coefficients(_uniform(t), path, target, schedule)
        return _posterior(x_t.to(wd), a, b, m, cc, dd).to(x_t.dtype)

    return f
