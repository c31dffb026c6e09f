"""Conformance checks of the ELBO and SDE views of diffusion (spec/sde.py): the ELBO weight derived with sympy and
checked against the closed-form Gaussian KL, the SDEs' drift and diffusion derived from the affine path (sympy) and
checked against family.affine, the probability-flow drift against the Gaussian-mixture velocity oracle."""
from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec.reference import family as F
from genspec.reference import optimal as O
from genspec.reference import sde as R
from genspec.reference.ddpm import beta_schedule
from genspec.spec.family import DEFAULT_SCHEDULE, VE_SIGMA_MAX, VE_SIGMA_MIN, VP_BETA_MAX, VP_BETA_MIN
from genspec.spec.schema import Tolerance

from ..harness.arrays import gaussian
from ..harness.declare import ClauseChecks, Dual, Proof, Property
from ..harness.inputs import derived, inputs

# ---- derivations ----------------------------------------------------------------------------------------
ab_prev, beta_t, x0_, eps_, eps_hat, sig2 = sp.symbols("abar_prev beta_t x_0 epsilon epsilon_theta sigma2",
                                                       positive=True)
alpha_t = 1 - beta_t
ab_t = alpha_t * ab_prev
x_t_ = sp.sqrt(ab_t) * x0_ + sp.sqrt(1 - ab_t) * eps_
MU_TILDE = sp.sqrt(ab_prev) * beta_t / (1 - ab_t) * x0_ + sp.sqrt(alpha_t) * (1 - ab_prev) / (1 - ab_t) * x_t_
BETA_TILDE = (1 - ab_prev) / (1 - ab_t) * beta_t
MU_THETA = (x_t_ - beta_t / sp.sqrt(1 - ab_t) * eps_hat) / sp.sqrt(alpha_t)
LAMBDA = beta_t ** 2 / (2 * sig2 * alpha_t * (1 - ab_t))


def _posterior_mean_in_eps():
    """μ̃_t(x_t, x_0) with x_0 = (x_t − √(1 − ᾱ_t) ε)/√ᾱ_t is (x_t − β_t/√(1 − ᾱ_t) ε)/√α_t."""
    return sp.simplify(MU_TILDE - MU_THETA.subs(eps_hat, eps_))


def _kl_is_weighted_mse():
    """‖μ̃ − μ_θ‖²/(2σ²) = β_t²/(2σ² α_t (1 − ᾱ_t)) (ε − ε_θ)² (one coordinate)."""
    return sp.simplify((MU_TILDE - MU_THETA) ** 2 / (2 * sig2) - LAMBDA * (eps_ - eps_hat) ** 2)


def _weight_at_beta_tilde():
    """σ² = β̃_t: λ_t = β_t/(2 α_t (1 − ᾱ_{t−1}))."""
    return sp.simplify(LAMBDA.subs(sig2, BETA_TILDE) - beta_t / (2 * alpha_t * (1 - ab_prev)))


t_, x_, s_ = sp.symbols("t x s", real=True)
bmin, bmax, smin, smax = sp.symbols("beta_min beta_max sigma_min sigma_max", positive=True)
A_VP = sp.exp(sp.Rational(-1, 4) * t_ ** 2 * (bmax - bmin) - t_ * bmin / 2)          # √ᾱ(t), family 'linear'
B_VP = sp.sqrt(1 - A_VP ** 2)
A_VE, B_VE = sp.Integer(1), smin * (smax / smin) ** t_                                  # family 'geometric'


def _drift_k(a):
    return sp.diff(a, t_) / a


def _g2(a, b):
    return sp.diff(b ** 2, t_) - 2 * _drift_k(a) * b ** 2


def _vp_forward():
    return [sp.simplify(_drift_k(A_VP) + (bmin + t_ * (bmax - bmin)) / 2),
            sp.simplify(_g2(A_VP, B_VP) - (bmin + t_ * (bmax - bmin)))]


def _ve_forward():
    return [_drift_k(A_VE), sp.simplify(_g2(A_VE, B_VE) - 2 * B_VE ** 2 * sp.log(smax / smin))]


def _moments_solve_sde():
    """m = a x_0 solves m' = k m; v = b² solves v' = 2 k v + g² (any a, b: the definition of k and g²)."""
    a, b = sp.Function("a")(t_), sp.Function("b")(t_)
    return [sp.simplify(sp.diff(a * x0_, t_) - _drift_k(a) * a * x0_),
            sp.simplify(sp.diff(b ** 2, t_) - (2 * _drift_k(a) * b ** 2 + _g2(a, b)))]


def _pf_is_velocity():
    """f − ½g² s = a' E[x_0 | x_t] + b' E[z | x_t] with E[z | x_t] = −b s, E[x_0 | x_t] = (x_t + b² s)/a (Tweedie)."""
    a, b = sp.Function("a")(t_), sp.Function("b")(t_)
    ez = -b * s_
    ex = (x_ + b ** 2 * s_) / a
    return sp.simplify(_drift_k(a) * x_ - _g2(a, b) * s_ / 2 - (sp.diff(a, t_) * ex + sp.diff(b, t_) * ez))


_NUM = {bmin: VP_BETA_MIN, bmax: VP_BETA_MAX, smin: VE_SIGMA_MIN, smax: VE_SIGMA_MAX}
_K = {p: sp.lambdify(t_, _drift_k(a).subs(_NUM) + 0 * t_, "numpy") for p, a in (("vp", A_VP), ("ve", A_VE))}
_G2 = {p: sp.lambdify(t_, _g2(a, b).subs(_NUM), "numpy") for p, a, b in (("vp", A_VP, B_VP), ("ve", A_VE, B_VE))}


def _symbolic_forward(x, t, path="vp"):
    return (_K[path](t) + 0 * t)[:, None] * x, np.sqrt(_G2[path](t) + 0 * t)


# ---- strategies ---------------------------------------------------------------------------------
def _seeded(fn):
    """A strategy of fn(rng) from a drawn seed (shrinks by seed)."""
    return st.integers(0, 2**32 - 1).map(lambda seed: fn(np.random.default_rng(seed)))


def _elbo_betas():
    """T = 2..60: Ho et al.'s linear schedule at that T, or sorted β ~ U[1e-4, 0.3]."""
    return st.tuples(st.integers(2, 60), st.booleans()).flatmap(lambda tb: st.just(beta_schedule(tb[0])) if tb[1]
                                                                  else _seeded(lambda r: np.sort(r.uniform(1e-4, 0.3,
                                                                                                         tb[0]))))


def _elbo_steps(n, T, lo):
    """n one-based steps in [lo, T], the first at an end of the range."""
    def steps(end_rng):
        t = end_rng[1].integers(lo, T + 1, n)
        t[0] = end_rng[0]
        return t
    return st.tuples(st.sampled_from([lo, T]), _seeded(lambda r: r)).map(steps)


def _elbo_cases(sigma="beta_tilde"):
    """ε, ε_θ = ε + δ (|δ| ~ 1e-3, 0.1 or 1), one-based steps over the whole range of the declared σ."""
    lo = 2 if sigma == "beta_tilde" else 1
    return inputs("ddpm.elbo", dims={"n": (1, 5), "...": st.integers(1, 4).map(lambda d: (d,))}, betas=_elbo_betas(),
                  eps_pred=derived(lambda v: st.tuples(gaussian(v["eps"].shape), st.sampled_from([1e-3, 0.1, 1.0]))
                                   .map(lambda ds: v["eps"] + ds[0] * ds[1])),
                  t=derived(lambda v: _elbo_steps(v["n"], v["betas"].size, lo)))


def _with_x0(cases):
    """The cases with x_0 ~ N(0, I) of ε's shape (the KL is built from x_0 and x_t)."""
    return cases.flatmap(lambda inp: gaussian(inp["eps"].shape).map(lambda x0: {**inp, "x0": x0}))


def _state_cases(clause):
    """x (and the score) of shape (n, d), t ∈ [0, 1] with its edges, either path: generated from the symbols."""
    return inputs(clause, dims={"d": (1, 3)})


def _marginal_variance(t, path, c2):
    """Var x_t = a(t)² c² + b(t)² for data N(0, c² I) on the path (family.affine's a, b)."""
    a, b, _, _ = F._path_ab(np.asarray(t, dtype=np.float64), path, DEFAULT_SCHEDULE[path])
    return a * a * c2 + b * b


def _gaussian_score(path, c2):
    """The exact score −x / (a² c² + b²) of Gaussian data N(0, c² I) on the path."""
    def np_score(x, t):
        return -x / _marginal_variance(t, path, c2)[:, None]

    def torch_score(x, t):
        import torch
        var = torch.as_tensor(_marginal_variance(t.double().cpu().numpy(), path, c2), device=x.device)
        return (-x.double() / var[:, None]).to(x.dtype)
    return Dual(numpy=np_score, torch=torch_score, label=f"exact score of N(0, {c2:g} I) on {path}")


@st.composite
def _em_cases(draw):
    n, d, T = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 8))
    path, c2 = draw(st.sampled_from(("vp", "ve"))), draw(st.sampled_from([0.25, 1.0, 4.0]))
    x1 = draw(gaussian((n, d))) * np.sqrt(_marginal_variance(np.ones(1), path, c2)[0])
    return {"score": _gaussian_score(path, c2), "x1": x1, "noise": draw(gaussian((T, n, d))), "path": path}


@st.composite
def _mixture_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    K, d, n = draw(st.integers(1, 3)), 2, draw(st.integers(1, 6))
    w = rng.uniform(0.2, 1.0, K)
    mu = rng.uniform(-2, 2, (K, d))
    L = rng.uniform(-0.3, 0.3, (K, d, d)) + 0.5 * np.eye(d)
    cov = L @ L.transpose(0, 2, 1)
    t = rng.uniform(0.05, 0.95, n)
    return {"x": rng.standard_normal((n, d)) * 1.5, "t": t, "path": draw(st.sampled_from(("vp", "ve"))),
            "weights": w / w.sum(), "means": mu, "covs": cov}


# ---- properties ---------------------------------------------------------------------------------
def _gaussian_kl(ctx, fn, inp):
    """Against the closed-form KL(N(μ̃, β̃ I) ‖ N(μ_θ, σ² I)) built from x_0 and x_t (Ho et al. eq. 6–7 and 11)."""
    cid = "ddpm.elbo"
    conv = ctx.conventions(cid)
    betas = inp["betas"]
    t = inp["t"]                                       # one-based: the harness hands the target its indexing
    x0, eps, eps_hat = inp["x0"], inp["eps"], inp["eps_pred"]
    log_ab = np.concatenate([[0.0], np.cumsum(np.log1p(-betas))])     # 1 − ᾱ by expm1: no cancellation at small t
    ab, om = np.exp(log_ab), -np.expm1(log_ab)
    a_t, a_p, b = ab[t][:, None], ab[t - 1][:, None], betas[t - 1][:, None]
    om_t, om_p = om[t][:, None], om[t - 1][:, None]
    x_t = np.sqrt(a_t) * x0 + np.sqrt(om_t) * eps
    mu_tilde = np.sqrt(a_p) * b / om_t * x0 + np.sqrt(1 - b) * om_p / om_t * x_t
    mu_theta = (x_t - b / np.sqrt(om_t) * eps_hat) / np.sqrt(1 - b)
    var_q = om_p / om_t * b
    var_p = var_q if conv["sigma"] == "beta_tilde" else b
    kl = (0.5 * np.log(var_p / var_q) + (var_q + (mu_tilde - mu_theta) ** 2) / (2 * var_p) - 0.5).sum(axis=1) \
        if conv["sigma"] == "beta" else ((mu_tilde - mu_theta) ** 2 / (2 * var_p)).sum(axis=1)
    d = x0.shape[1]                                    # the θ-independent part: d/2 (β̃/σ² − 1 − log(β̃/σ²))
    const = d * (0.5 * np.log(var_p / var_q) + var_q / (2 * var_p) - 0.5)[:, 0] if conv["sigma"] == "beta" else 0.0
    # μ̃ − μ_θ cancels: the direct form carries ~8 ulps of |μ| in each mean
    scale = np.abs(mu_tilde) + np.abs(mu_theta) + np.abs(x_t)
    err = (16 * np.finfo(float).eps * scale * (np.abs(mu_tilde - mu_theta) + 16 * np.finfo(float).eps * scale)
           / var_p).sum(axis=1) + 1e-12 * np.abs(const)
    tol = ctx.tolerance(cid)
    got = fn(eps_pred=eps_hat, eps=eps, t=t, betas=betas)
    ctx.assert_close(cid, got, kl - const, what="λ_t‖ε − ε_θ‖² vs the Gaussian KL from x_0 and x_t",
                     tol=Tolerance(rtol=tol.rtol + 64 * np.finfo(float).eps, atol=tol.atol + float(np.max(err))))


def _simple_loss_reweighting(ctx, fn, inp):
    """L_{t−1}/λ_t = ‖ε − ε_θ‖² (ddpm.loss per sample): the simple loss drops the ELBO's weights."""
    cid = "ddpm.elbo"
    conv = ctx.conventions(cid)
    t = inp["t"]                                       # one_based cases
    lam = R.elbo_weight(t, inp["betas"], conv["sigma"])
    mse = ((inp["eps"] - inp["eps_pred"]) ** 2).sum(axis=1)
    ctx.assert_close(cid, fn(**inp) / lam, mse, what="L_{t−1}/λ_t vs ‖ε − ε_θ‖²")


def _moments_match_path(ctx, fn, inp):
    """k = a'/a and g² = d(b²)/dt − 2 k b² with (a, b, a', b') from family.affine (velocity target: c = a', d = b')."""
    cid = "sde.forward"
    # vp: b(0) = 0 makes family's b' infinite there (and at a subnormal t, where b rounds to 0): the oracle is
    # evaluated at t = 1e-3 instead; t = 1e-300 (also an edge of the cases) keeps b > 0 and b' finite
    t = np.where(inp["t"] < 1e-300, 1e-3, inp["t"])
    a, b, da, db = F.coefficients(t, path=inp["path"], target="velocity")
    f, g = fn(x=np.ones((t.shape[0], 1)), t=t, path=inp["path"])
    tol = ctx.tolerance(cid)
    ctx.assert_close(cid, f[:, 0], da / a, what="f(1, t) vs a'/a of family.affine")
    g2 = 2 * b * db - 2 * (da / a) * b * b
    ctx.assert_close(cid, g * g, g2, what="g² vs d(b²)/dt − 2(a'/a)b² of family.affine",
                     tol=Tolerance(rtol=3 * tol.rtol, atol=tol.atol + 1e-12 * np.max(np.abs(g2))))


def _linear_in_score(ctx, fn, inp):
    """reverse(x, t, 0) = f(x, t) (sde.forward's drift) and reverse(x, t, s) − f = −g² s (linear in s)."""
    cid = "sde.reverse"
    x, t, s, p = inp["x"], inp["t"], inp["score"], inp["path"]
    f, g = R.forward_sde(x, t, p)
    ctx.assert_close(cid, fn(x=x, t=t, score=np.zeros_like(s), path=p), f, what="drift at score 0 vs f")
    tol = ctx.tolerance(cid)
    scale = np.abs(f) + (g * g)[:, None] * np.abs(s)
    ctx.assert_close(cid, fn(x=x, t=t, score=s, path=p) - f, -(g * g)[:, None] * s, what="drift − f vs −g² s",
                     tol=Tolerance(rtol=tol.rtol, atol=tol.atol + 2 * tol.rtol * float(np.max(scale, initial=0.0))))


def _pf_equals_velocity_oracle(ctx, fn, inp):
    """With the exact mixture score, f − ½g² s = optimal.prediction's velocity of the same path."""
    cid = "sde.probability_flow"
    x, t, p = inp["x"], inp["t"], inp["path"]
    mix = (inp["weights"], inp["means"], inp["covs"])
    score = O.optimal_prediction(x, t, *mix, target="score", path=p)
    v = O.optimal_prediction(x, t, *mix, target="velocity", path=p)
    got = fn(x=x, t=t, score=ctx.round({"s": score})["s"], path=p)
    g2 = R.diffusion_squared(t, p)[:, None]
    tol = ctx.tolerance(cid)
    # the oracle pair is float64 (≈ 1e-12 relative through the mixture posterior); the score is rounded to the dtype
    scale = float(np.max(np.abs(v) + 0.5 * g2 * np.abs(score) + np.abs(x)))
    ctx.assert_close(cid, got, v, what="probability-flow drift vs the velocity oracle",
                     tol=Tolerance(rtol=tol.rtol, atol=tol.atol + (tol.rtol + 1e-10) * scale))


def _state_scaled(ctx, inp):
    """The clause's tolerance with rtol also applied to max |x1|: rounding errors are made at the scale of the state,
    which starts at |x1| (≈ σ(1) = 50 on ve) and contracts to O(1), so they are absolute in units of |x1|."""
    tol = ctx.tolerance("sde.euler_maruyama")
    return Tolerance(rtol=tol.rtol, atol=tol.atol + tol.rtol * float(np.max(np.abs(inp["x1"]), initial=0.0)))


def _em_compare(ctx, got, expected, inp):
    ctx.assert_close("sde.euler_maruyama", got, expected, tol=_state_scaled(ctx, inp))


def _noise_free_is_euler(ctx, fn, inp):
    """With ξ = 0 the sampler is Euler on the reverse drift: x ← x − reverse_drift(x, t_k, s(x, t_k))/T."""
    cid = "sde.euler_maruyama"
    zero = np.zeros_like(inp["noise"])
    x = inp["x1"].copy()
    T = zero.shape[0]
    for k in range(T):
        t = np.full(x.shape[0], (T - k) / T)
        x = x - R.reverse_drift(x, t, inp["score"].numpy(x, t), inp["path"]) / T
    ctx.assert_close(cid, fn(**{**inp, "noise": zero}), x, what="noise-free sampler vs Euler steps of sde.reverse",
                     tol=_state_scaled(ctx, inp))


# ---- the checks ---------------------------------------------------------------------------------
CHECKS = [
    ClauseChecks(
        clause="ddpm.elbo",
        cases=_elbo_cases(),
        convention_cases=lambda conv: _elbo_cases(conv["sigma"]),
        proofs=(Proof("μ̃_t(x_t, x_0(x_t, ε)) = (x_t − β_t/√(1 − ᾱ_t) ε)/√α_t", _posterior_mean_in_eps),
                Proof("KL = ‖μ̃ − μ_θ‖²/(2σ²) = β_t²/(2σ² α_t (1 − ᾱ_t)) ‖ε − ε_θ‖²", _kl_is_weighted_mse),
                Proof("σ² = β̃_t: λ_t = β_t/(2 α_t (1 − ᾱ_{t−1}))", _weight_at_beta_tilde)),
        properties=(Property("equals the closed-form Gaussian KL from x_0 and x_t", _gaussian_kl,
                             cases=_with_x0(_elbo_cases())),
                    Property("L_{t−1}/λ_t = ‖ε − ε_θ‖² (the simple loss is the reweighted ELBO)",
                             _simple_loss_reweighting)),
        example=lambda: {"eps_pred": np.array([[0.1, -0.2]]), "eps": np.array([[0.0, 0.0]]), "t": np.array([3]),
                         "betas": np.array([1e-4, 0.01, 0.02])},
    ),
    ClauseChecks(
        clause="sde.forward",
        cases=_state_cases("sde.forward"),
        proofs=(Proof("vp: a'/a = −½β(t), d(b²)/dt − 2(a'/a)b² = β(t) (family 'linear')", _vp_forward),
                Proof("ve: a'/a = 0, d(b²)/dt = 2σ² ln(σ_max/σ_min) (family 'geometric')", _ve_forward),
                Proof("m = a x_0, v = b² solve the SDE's moment equations", _moments_solve_sde)),
        symbolic=_symbolic_forward,
        properties=(Property("f = (a'/a) x and g² = d(b²)/dt − 2(a'/a) b² of family.affine", _moments_match_path),),
        example=lambda: {"x": np.array([[1.0, -1.0]]), "t": np.array([0.5]), "path": "vp"},
    ),
    ClauseChecks(
        clause="sde.reverse",
        cases=_state_cases("sde.reverse"),
        proofs=(Proof("the reverse drift is the forward drift minus g² s: f − g² s − (f − ½g² s) = −½ g² s",
                      lambda: sp.simplify((x_ - s_) - (x_ - s_ / 2) + s_ / 2)),),
        properties=(Property("drift(score = 0) = f; linear in the score with slope −g²", _linear_in_score),),
        example=lambda: {"x": np.array([[1.0, -1.0]]), "t": np.array([0.5]), "score": np.array([[0.1, 0.2]]),
                         "path": "vp"},
    ),
    ClauseChecks(
        clause="sde.probability_flow",
        cases=_state_cases("sde.probability_flow"),
        proofs=(Proof("f − ½g² s = a' E[x_0 | x_t] + b' E[z | x_t] for any affine path (Tweedie)", _pf_is_velocity),),
        properties=(Property("with the exact mixture score it equals the velocity oracle of the path",
                             _pf_equals_velocity_oracle, cases=_mixture_cases()),),
        example=lambda: {"x": np.array([[1.0, -1.0]]), "t": np.array([0.5]), "score": np.array([[0.1, 0.2]]),
                         "path": "vp"},
    ),
    ClauseChecks(
        clause="sde.euler_maruyama",
        cases=_em_cases(),
        compare=_em_compare,
        reference=lambda score, **kw: R.euler_maruyama_sample(score.numpy if isinstance(score, Dual) else score, **kw),
        properties=(Property("with ξ = 0 it is Euler on sde.reverse's drift", _noise_free_is_euler),),
        max_examples=15,
        example=lambda: {"score": _gaussian_score("vp", 1.0), "x1": np.array([[1.0, -1.0]]),
                         "noise": np.zeros((2, 1, 2)), "path": "vp"},
    ),
]
