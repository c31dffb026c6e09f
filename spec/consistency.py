"""Clauses of the consistency family (03): the consistency function of the probability-flow ODE, its closed form
for Gaussian data, and the consistency loss between adjacent timesteps.

The ODE is rectified flow's, dx/dt = f*(x, t) with f* the oracle velocity E[z − x | x_t] (optimal.prediction);
t = 0 data, t = 1 noise.
"""
from .optimal import MIXTURE
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance
_03_KEY = P(source="03", quote="learn a function fθ such that fθ(xt, t) = x0 for all t along the same trajectory.")
_03_SELF = P(source="03",
             quote="Self-consistency condition: fθ(xt, t) = fθ(xt', t') for any t, t' on the same trajectory.")

CLAUSES = [
    Clause(
        id="consistency.property",
        title="The consistency function maps every point of a probability-flow trajectory to its end at t = 0",
        statement=(r"f(x_t, t) = x(0)\ \text{where}\ \tfrac{dx}{ds} = f^*(x, s),\ x(t) = x_t;\quad "
                   r"f(x_t, t) = f(x_{t'}, t')\ \text{on one trajectory},\quad f(x, 0) = x"),
        kind=("value", "property"),
        provenance=(_03_KEY, _03_SELF,
                    P(source="03",
                      quote="Consistency models (Song et al. 2023) learn to map any point on the trajectory "
                            "directly to x0, enabling one-step generation.")),
        function="consistency_function",
        symbols=(Symbol(name="x_t", description="points at time t", domain=Domain(shape=("n", "d"))),
                 Symbol(name="t", description="their times, a scalar or one per row",
                        domain=Domain(low=0.0, high=1.0, or_shape=("n",))),
                 *MIXTURE,
                 Symbol(name="x0", description="the trajectories' ends at t = 0, shape (n, d)", role="output")),
        tolerance=tolerances(
            float64=(1e-6, 1e-6), float32=(1e-4, 1e-4), bfloat16=(3e-2, 3e-2),
            why="a numerical ODE solution: the reference is scipy DOP853 at rtol = atol = 1e-11, the accelerated one "
                "fixed-step RK4 (96 steps: ≤ 2e-8 measured on the cases, covariances λ ≥ 0.1); float32 adds ~400 "
                "evaluations' rounding (1e-5); bfloat16 is computed in float32 and rounded once"),
        singular=("t = 0 returns x_t (the trajectory's end is its start: f(x, 0) = x). t = 1 maps noise to a sample: "
                  "f(z, 1) is the sampler's exact x(0). The ODE is smooth on [0, 1] for positive definite "
                  "covariances."),
        notes=("For mixtures the function is the numerical solution with the oracle velocity; for one Gaussian it "
               "equals consistency.gaussian's closed form (checked). A learned consistency model f_θ is usually "
               "parameterised f_θ(x, t) = c_skip(t) x + c_out(t) F_θ(x, t) with c_skip(0) = 1, c_out(0) = 0 so that "
               "f_θ(x, 0) = x holds by construction (Song et al. 2023)."),
    ),
    Clause(
        id="consistency.gaussian",
        title="Closed-form consistency function for Gaussian data",
        statement=(r"x \sim \mathcal N(\mu, \operatorname{diag}(s^2)):\quad f(x_t, t) = \mu + s\,"
                   r"\frac{x_t - (1 - t)\mu}{\sqrt{(1 - t)^2 s^2 + t^2}}"),
        kind=("identity", "value", "property"),
        provenance=(_03_KEY, _03_SELF),
        function="gaussian_consistency_function",
        symbols=(Symbol(name="x_t", description="points at time t", domain=Domain(shape=("n", "d"))),
                 Symbol(name="t", description="their times, a scalar or one per row",
                        domain=Domain(low=0.0, high=1.0, or_shape=("n",))),
                 Symbol(name="mu", description="data mean", domain=Domain(shape=("d",))),
                 Symbol(name="s", description="data standard deviation per coordinate (> 0), scalar or (d,)",
                        domain=Domain(low=0.0, low_closed=False, or_shape=("d",))),
                 Symbol(name="x0", description="f(x_t, t), shape (n, d)", role="output")),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(2e-6, 2e-6), bfloat16=(1e-2, 1e-2),
            why="a few operations; σ_t = √((1 − t)²s² + t²) ≥ s/√(1 + s²) is bounded away from 0 (no cancellation "
                "under the root); x_t − (1 − t)μ cancels: absolute error ~ ulp(|x_t| + |μ|) × s/σ_t ≤ 5"),
        singular="t = 0: σ_0 = s and f = x_t exactly. s = 0 (a point mass) is outside the domain (SpecInputError): the "
                 "limit is f = μ for t > 0.",
        notes=("Derived (sympy, checked): along the probability-flow ODE with the oracle velocity of N(μ, s²) the "
               "quantity (x_t − (1 − t)μ)/σ_t is constant, so f is constant on trajectories and f(x, 0) = x. f is the "
               "exact per-coordinate affine map carrying N((1 − t)μ, σ_t²) to N(μ, s²)."),
    ),
    Clause(
        id="consistency.loss",
        title="Consistency loss between adjacent timesteps (consistency distillation)",
        statement=(r"x_{t_{n+1}} = (1 - t_{n+1})x + t_{n+1}z,\ \hat x_{t_n} = x_{t_{n+1}} - (t_{n+1} - "
                   r"t_n)\,v_\phi(x_{t_{n+1}}, t_{n+1}),\ L = \frac1B\sum_i \bigl\|f_\theta(x_{t_{n+1}}, t_{n+1}) - "
                   r"f_{\theta^-}(\hat x_{t_n}, t_n)\bigr\|_2^2,\ \theta^- \leftarrow \operatorname{sg}(\mu\theta^- + "
                   r"(1 - \mu)\theta)"),
        kind=("value", "property"),
        provenance=(P(source="03", quote="Training enforces this via a consistency loss between adjacent timesteps."),
                    P(source="external: Song, Dhariwal, Chen, Sutskever, Consistency Models, ICML 2023, eq. (7)",
                      quote="consistency distillation loss")),
        function="consistency_loss",
        symbols=(Symbol(name="f", description="the consistency model f_θ(x, t) (gradient flows through it)",
                        domain=Domain(kind="callable")),
                 Symbol(name="f_ema", description="the target network f_θ⁻ (EMA of θ), evaluated without gradient",
                        domain=Domain(kind="callable")),
                 Symbol(name="velocity", description="the teacher's velocity v_φ(x, t) (one Euler step)",
                        domain=Domain(kind="callable")),
                 Symbol(name="x", description="data batch", domain=Domain(shape=("B", "d"))),
                 Symbol(name="z", description="noise batch", domain=Domain(shape=("B", "d"))),
                 Symbol(name="t_next", description="t_{n+1}, scalar or (B,)",
                        domain=Domain(low=0.0, high=1.0, or_shape=("B",))),
                 Symbol(name="t_prev", description="t_n < t_{n+1}, scalar or (B,)",
                        domain=Domain(low=0.0, high=1.0, or_shape=("B",))),
                 Symbol(name="L", description="the batch-mean loss (scalar)", role="output")),
        conventions=(
            Convention(name="distance", description="the distance d between the two outputs", default="squared_l2",
                       variants=(Variant(name="squared_l2", statement=r"d(u, w) = \|u - w\|_2^2",
                                         mapping="the spec's default (the notes' MSE losses)"),
                                 Variant(name="pseudo_huber",
                                         statement=r"d(u, w) = \sqrt{\|u - w\|^2 + c^2} - c,\ c = 0.00054\sqrt{d}",
                                         mapping="Song & Dhariwal 2023 (improved consistency training); ≈ ‖u − "
                                                 "w‖²/(2c) for ‖u − w‖ ≪ c, ≈ ‖u − w‖ for ‖u − w‖ ≫ c"))),
            Convention(name="mode", description="how x̂_{t_n} is obtained", default="distillation",
                       variants=(Variant(name="distillation",
                                         statement=r"\hat x_{t_n} = x_{t_{n+1}} - (t_{n+1} - t_n) v_\phi(x_{t_{n+1}}, "
                                                   r"t_{n+1})",
                                         mapping="consistency distillation (CD): one Euler step of a teacher"),
                                 Variant(name="training", statement=r"\hat x_{t_n} = (1 - t_n)x + t_n z",
                                         mapping="consistency training (CT): the same (x, z) at t_n, no teacher; "
                                                 "equals CD with the conditional velocity z − x in place of v_φ "
                                                 "(velocity ignored)"))),
            Convention(name="target_network", description="what f⁻ is", default="ema",
                       variants=(Variant(name="ema",
                                         statement=r"f^- = f_{\theta^-},\ \theta^- \leftarrow "
                                                   r"\operatorname{sg}(\mu\theta^- + (1-\mu)\theta)",
                                         mapping="Song et al. 2023; the caller passes f_ema"),
                                 Variant(name="stopgrad", statement=r"f^- = \operatorname{sg}(f_\theta)",
                                         mapping="μ = 0 (improved CT): f_ema is ignored and f is used, without "
                                                 "gradient"))),
        ),
        tolerance=tolerances(
            float64=(1e-10, 1e-12), float32=(2e-5, 1e-6), bfloat16=(5e-2, 2e-2),
            why="a mean of squared differences of outputs |f| ≤ 5: an error δ in each output moves L by ≈ 2√L·δ + δ², "
                "δ = eps·|f| (float32: 3e-7; bfloat16: 2^-8·5 ≈ 0.02, the outputs themselves are rounded), so the "
                "absolute part dominates where f and f⁻ nearly agree"),
        singular="t_prev ≥ t_next raises SpecInputError (the steps must be adjacent and ordered). t_prev = 0 compares "
                 "with the boundary f⁻(x̂, 0), which a boundary-parameterised model makes x̂ itself.",
        notes=("Gradient convention: f⁻ and the teacher step carry no gradient (accelerated evaluates them under "
               "torch.no_grad()); only f_θ is trained. With the exact consistency function and the oracle teacher the "
               "loss is the squared Euler local error, O((t_{n+1} − t_n)^4) (checked: it falls ~16× per halving)."),
    ),
]
