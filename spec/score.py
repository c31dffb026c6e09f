"""Clauses of the score function and Tweedie's formula (sources 00, 01, 03, 04)."""
from .schema import Clause, Domain, Provenance, Symbol, tolerances

P = Provenance
ARR = Domain(shape=("n", "..."))
PER = Domain(low=0.0, or_shape=("n",))

CLAUSES = [
    Clause(
        id="score.definition",
        title="The score s(x) = ∇_x log p(x); for a Gaussian, −Σ⁻¹(x − μ)",
        statement=r"s(x) = \nabla_x \log p(x);\quad p = N(\mu, \Sigma):\ s(x) = -\Sigma^{-1}(x - \mu)",
        kind=("identity", "value", "property"),
        provenance=(P(source="00", quote="as learning the score function $\\nabla_x \\log p(x)$"),
                    P(source="01", quote="Given a data distribution $p(x)$, there is a score function $s(x)$"),
                    P(source="03", quote="the score points in the direction of increasing probability density"),
                    P(source="04", quote="trains networks to estimate the gradient of log-density (the score)")),
        function="gaussian_score",
        symbols=(Symbol(name="x", description="points, shape (n, d)", domain=Domain(shape=("n", "d"))),
                 Symbol(name="mu", description="mean, shape (d,)", domain=Domain(shape=("d",))),
                 Symbol(name="cov", description="symmetric positive-definite covariance, shape (d, d)",
                        domain=Domain(shape=("d", "d"))),
                 Symbol(name="s", description="the score at each point, shape (n, d)", role="output")),
        tolerance=tolerances(float64=(1e-10, 1e-12), float32=(1e-4, 1e-5), bfloat16=(2e-2, 2e-3),
                             why="a linear solve with Σ: relative error ≤ κ(Σ)·eps; cases keep κ(Σ) ≤ 100 and |x − μ| "
                                 "≤ 10 (float32: 100·6e-8·few ≈ 3e-5); bfloat16 solved in float32 and rounded once"),
        singular="A covariance that is not symmetric positive definite raises SpecInputError (no density).",
        notes="Sympy derives −Σ⁻¹(x − μ) as the gradient of log N(x; μ, Σ) in 2-D with a symbolic SPD Σ; the "
              "conformance property compares the target with central differences of the log-density.",
    ),
    Clause(
        id="score.tweedie",
        title="Tweedie's formula for x_t = x + σ ε",
        statement=(r"x_t = x + \sigma\epsilon:\quad \mathbb E[x\mid x_t] = x_t + \sigma^2\nabla\log p_t(x_t),\quad "
                   r"\mathbb E[\epsilon\mid x_t] = -\sigma\,\nabla\log p_t(x_t)"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="E[x | xt] = xt + σt2 ∇xt log p(xt)"),
                    P(source="03",
                      quote="So predicting the noise ε is equivalent to estimating the score ∇ log p(xt), up to "
                            "scaling.")),
        function="tweedie",
        symbols=(Symbol(name="x_t", description="noisy points, batch first", domain=ARR),
                 Symbol(name="score", description="∇ log p_t at x_t (the noisy marginal's score), x_t's shape",
                        domain=ARR),
                 Symbol(name="sigma", description="noise level per sample (or a scalar) ≥ 0", domain=PER),
                 Symbol(name="posterior_means", description="(E[x | x_t], E[ε | x_t])", role="output")),
        tolerance=tolerances(float64=(1e-12, 1e-12), float32=(1e-5, 2e-5), bfloat16=(8e-3, 2e-4),
                             why="x_t + σ² s cancels: the error is absolute, a few ulps of max(|x_t|, σ²|s|) ≤ 45 in "
                                 "the cases (float32 ~ 1e-5); bfloat16 computed in float32 and rounded once"),
        singular="σ = 0: E[x | x_t] = x_t and E[ε | x_t] = 0 (ε is independent of x_t = x); the formula gives exactly "
                 "that.",
        notes="03 writes σt2 for σ_t². The score is that of the noisy marginal p_t = p * N(0, σ² I), not of p.",
    ),
    Clause(
        id="score.tweedie_affine",
        title="Tweedie's formula for the affine path x_t = a x + b z",
        statement=(r"x_t = a x + b z:\quad \mathbb E[x\mid x_t] = \frac{x_t + b^2\nabla\log p_t(x_t)}{a},\quad "
                   r"\mathbb E[z\mid x_t] = -b\,\nabla\log p_t(x_t)"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="Tweedie's formula makes this precise."),
                    P(source="00", quote="x_t = a(t)x + b(t)z,")),
        function="tweedie_affine",
        symbols=(Symbol(name="x_t", description="noisy points, batch first", domain=ARR),
                 Symbol(name="score", description="∇ log p_t at x_t, x_t's shape", domain=ARR),
                 Symbol(name="a", description="signal scale per sample (or scalar) > 0",
                        domain=Domain(low=0.0, low_closed=False, or_shape=("n",))),
                 Symbol(name="b", description="noise scale per sample (or scalar) ≥ 0", domain=PER),
                 Symbol(name="posterior_means", description="(E[x | x_t], E[z | x_t])", role="output")),
        tolerance=tolerances(float64=(1e-12, 1e-12), float32=(1e-5, 5e-5), bfloat16=(8e-3, 4e-4),
                             why="(x_t + b² s)/a: cancellation then division by a ≥ 0.2 in the cases: a few ulps of "
                                 "max(|x_t|, b²|s|) times 1/a ≤ 5 (≤ 20 for b ≤ 2; at the edge b = 1e6 the b² s "
                                 "term dominates and the rtol covers it); bfloat16 computed in float32"),
        singular="a = 0 (pure noise: x_t carries no information about x, E[x | x_t] = E[x] is not a function of the "
                 "score) raises SpecInputError naming score.tweedie_affine and 'a'. b = 0 gives (x_t/a, 0).",
        notes="With a = 1, b = σ it is score.tweedie. E[x | x_t] and E[z | x_t] satisfy a E[x|x_t] + b E[z|x_t] = x_t. "
              "Sympy checks both on Gaussian data N(μ, s²) against the closed-form posterior; conformance checks "
              "a 1-D Gaussian mixture against quadrature of the posterior.",
    ),
]
