"""Clauses of the optimal family: the MSE-optimal predictor (the conditional mean) in closed form for
Gaussian-mixture data, the oracle that lets samplers, guidance and consistency be checked with no training.

Data x ~ Σ_k w_k N(μ_k, Σ_k) in d dimensions (full covariances, weights normalised by their sum),
noise z ~ N(0, I) independent of x, x_t = a x + b z. Time t: 0 = data, 1 = noise (00's rectified flow).
"""
from .family import SCHEDULES
from .schema import Clause, Domain, Provenance, Symbol, tolerances

P = Provenance

TARGETS = ("velocity", "epsilon", "x", "v", "score")   # family.affine's table
PATHS = ("rf", "vp", "ve")

MIXTURE = (
    Symbol(name="weights", description="mixture weights w_k ≥ 0 (divided by their sum)",
           domain=Domain(low=0.0, shape=("K",))),
    Symbol(name="means", description="component means μ_k", domain=Domain(shape=("K", "d"))),
    Symbol(name="covs", description="component covariances Σ_k, symmetric positive definite",
           domain=Domain(shape=("K", "d", "d"))),
)

_ORACLE_TOL = tolerances(
    float64=(1e-9, 1e-9), float32=(2e-5, 2e-5), bfloat16=(3e-2, 3e-2),
    why="a d×d solve with S_k = a²Σ_k + b²I (condition ≤ cond Σ_k ≤ 100 on the cases) and a softmax of "
        "log-likelihoods of size ‖x_t − aμ_k‖²/λ_min(S_k) ≲ 10³: float32 logit errors ~ 10³·6e-8 move the "
        "responsibilities by ~1e-5 times the spread of the component means (≤ 10); bfloat16 is computed in "
        "float32 and rounded once (2^-8 relative)",
)

CLAUSES = [
    Clause(
        id="optimal.posterior_means",
        title="Posterior means E[x | x_t] and E[z | x_t] for Gaussian-mixture data",
        statement=(r"x \sim \sum_k w_k \mathcal N(\mu_k, \Sigma_k),\ z \sim \mathcal N(0, I),\ x_t = a x + b z:\quad "
                   r"S_k = a^2\Sigma_k + b^2 I,\ r_k(x_t) = \frac{w_k \mathcal N(x_t; a\mu_k, S_k)}{\sum_j w_j "
                   r"\mathcal N(x_t; a\mu_j, S_j)},\ \mathbb E[x|x_t] = \sum_k r_k\bigl(\mu_k + a\Sigma_k S_k^{-1}(x_t "
                   r"- a\mu_k)\bigr),\ \mathbb E[z|x_t] = \sum_k r_k\, b\, S_k^{-1}(x_t - a\mu_k)"),
        kind=("identity", "value", "property"),
        provenance=(P(source="01", quote="3.2 Optimal Prediction"),
                    P(source="external: Bishop, Pattern Recognition and Machine Learning (2006), §2.3.1–2.3.3",
                      quote="conditional Gaussian distributions")),
        function="posterior_means",
        symbols=(Symbol(name="x_t", description="noisy points", domain=Domain(shape=("n", "d"))),
                 Symbol(name="a", description="data coefficient, a scalar or one per row",
                        domain=Domain(low=0.0, or_shape=("n",))),
                 Symbol(name="b", description="noise coefficient, a scalar or one per row",
                        domain=Domain(low=0.0, or_shape=("n",))),
                 *MIXTURE,
                 Symbol(name="x_hat", description="E[x | x_t], shape (n, d)", role="output"),
                 Symbol(name="z_hat", description="E[z | x_t], shape (n, d)", role="output")),
        tolerance=_ORACLE_TOL,
        singular=("a = 0 (pure noise): x_t carries no information about x, E[x | x_t] = Σ_k w_k μ_k (the mixture mean) "
                  "and E[z | x_t] = x_t / b. b = 0 (clean): E[x | x_t] = x_t / a and E[z | x_t] = 0 (the prior mean). "
                  "a = b = 0 raises SpecInputError. Responsibilities use log-sum-exp, the solves are linear solves."),
        notes=("Identity: a E[x|x_t] + b E[z|x_t] = x_t (each component term satisfies it). Any target y = c x + d z "
               "has the optimal predictor c E[x|x_t] + d E[z|x_t] (see optimal.prediction)."),
    ),
    Clause(
        id="optimal.prediction",
        title="The MSE-optimal predictor is the conditional mean, for every target and every t",
        statement=(r"f^* = \arg\min_f \mathbb E\,\|f(x_t, t) - y\|^2 \Rightarrow f^*(x_t, t) = \mathbb E[y \mid x_t] "
                   r"= c(t)\,\mathbb E[x|x_t] + d(t)\,\mathbb E[z|x_t];\ \text{rf velocity: } f^*(x_t,t) = \mathbb E[z "
                   r"- x \mid x_t]"),
        kind=("identity", "value", "property"),
        provenance=(P(source="01", quote="3.2 Optimal Prediction"),
                    P(source="00", quote=r"L = | f_\theta(x_t, t) - v |_2^2."),
                    P(source="04", quote="predict the ground-truth velocity vector v = z − x (or an equivalent linear "
                                         "target) using a mean squared error (MSE) loss")),
        function="optimal_prediction",
        symbols=(Symbol(name="x_t", description="noisy points", domain=Domain(shape=("n", "d"))),
                 Symbol(name="t", description="time, a scalar or one per row (0 = data, 1 = noise)",
                        domain=Domain(low=0.0, high=1.0, or_shape=("n",))),
                 *MIXTURE,
                 Symbol(name="target",
                        description="what is predicted (family.affine): velocity (a' x + b' z; z − x on rf), "
                                    "epsilon (z), x, v (−b x + a z), score (−z / b)",
                        domain=Domain(kind="choice", choices=TARGETS), role="parameter"),
                 Symbol(name="path",
                        description="the interpolation x_t = a(t) x + b(t) z (family.affine; rf: a = 1 − t, b = t)",
                        domain=Domain(kind="choice", choices=PATHS), role="parameter"),
                 Symbol(name="schedule", description="the path's schedule (None: family.affine's default)",
                        domain=Domain(kind="choice", choices=tuple(s for v in SCHEDULES.values() for s in v)),
                        role="parameter"),
                 Symbol(name="f_star", description="E[y | x_t], shape (n, d)", role="output")),
        tolerance=_ORACLE_TOL,
        singular=("rf at t = 0: x_t = x, so E[x|x_t] = x_t, E[z|x_t] = 0 and the velocity is −x_t; at t = 1: x_t = z, "
                  "E[x|x_t] = the mixture mean, E[z|x_t] = x_t, velocity x_t − mean. Both ends are finite and "
                  "continuous for the velocity, epsilon, x and v targets on every path. Where a coefficient c(t), d(t) "
                  "is infinite (score where b(t) = 0: rf and vp at t = 0; velocity on vp at t = 0) SpecInputError "
                  "names 't', as family.affine does. The oracle needs no inverse of [[a, b], [c, d]]: it is defined "
                  "where det = 0 too."),
        notes=("Target coefficients are family.affine's (03's table): velocity c = a'(t), d = b'(t) (rf: −1, 1); "
               "epsilon c = 0, d = 1; x c = 1, d = 0; v c = −b(t), d = a(t); score c = 0, d = −1/b(t) (then f* is ∇ "
               "log p_t, Tweedie). 02's flow-matching time (t_fm = 1 − t, v_fm = −v) is fm.convention's; this clause "
               "uses 00's time."),
    ),
    Clause(
        id="optimal.hardest_mid_t",
        title="The irreducible loss is largest at intermediate noise levels",
        statement=(r"L^*(t) = \mathbb E\,\|v - f^*(x_t, t)\|^2 = \mathbb E\,\|v\|^2 - \mathbb E\,\|f^*(x_t,t)\|^2 "
                   r"\text{ has } L^*(0) = d,\ L^*(1) = \operatorname{tr}\operatorname{Cov}(x),\ "
                   r"\max_t L^* \text{ at an interior } t \text{ with } \max_t L^* > \max(L^*(0), L^*(1))"),
        kind=("identity", "property"),
        provenance=(P(source="00", quote="At very high noise and very low noise, the optimal prediction is relatively "
                                         "simple; the ambiguous middle region is hardest."),
                    P(source="01", quote="figuring out middle noise is harder because its more ambiguous"),
                    P(source="04", quote="intermediate t values often present the hardest inverse problems because "
                                         "multiple (x, z) pairs can map to the same x_t")),
        function=None,
        tolerance=tolerances(why="a Monte-Carlo claim: its checks use 5 standard errors of the estimate"),
        singular=("The endpoints are not zero for the velocity target: at t = 0 the residual is z (L* = d), at t = 1 "
                  "it is E[x] − x (L* = tr Cov x). 'Simple' at the ends means the optimal predictor is affine there "
                  "(−x_t, resp. x_t − E[x]), not that the loss vanishes."),
        notes=("Made precise for the rf velocity target: checked on a bimodal 2-D mixture by Monte Carlo with the "
               "oracle, and proved for 1-D Gaussian data N(0, s²), where L*(t) = 1 + s² − (t − (1 − t)s²)² / ((1 − "
               "t)²s² + t²) peaks at t = s²/(1 + s²) with the value 1 + s² (nothing explained). The residuals of the "
               "targets are proportional (r_v = −r_x / t = r_z / (1 − t)), so L*_x(t) = t² L*(t) and L*_ε(t) = (1 − "
               "t)² L*(t): their shapes differ, and the claim is made for the velocity."),
    ),
]
