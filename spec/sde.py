"""The three views of diffusion (00, 01, 03, 04): the latent-variable view's ELBO (ddpm.elbo) and the SDE view
(sde.*) of the VP and VE paths of spec/family.py, with the probability-flow ODE that the Euler sampler of the
rectified-flow view integrates.

"as a latent variable model, optimized by a variational lower bound; as learning the score function; as
approximately solving a stochastic differential equation" (00). Time t ∈ [0, 1], t = 0 data, t = 1 noise, as in
spec/family.py; the VP path uses the family's 'linear' schedule β(t) = β_min + t(β_max − β_min), β_min = 0.1,
β_max = 20 (ᾱ(t) = exp(−∫_0^t β)), the VE path the 'geometric' σ(t) = σ_min (σ_max/σ_min)^t, σ_min = 0.01,
σ_max = 50 (Song et al. 2021). Each SDE is the one whose marginals are the path's x_t = a(t) x + b(t) z:
f(x, t) = (a'/a) x and g(t)² = d(b²)/dt − 2 (a'/a) b².
"""
from .ddpm import INDEXING, MAX_T
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

ALSO_PREFIXES = ("ddpm",)

P = Provenance
SONG = "external: Song et al. 2021, Score-Based Generative Modeling through Stochastic Differential Equations"
HO = "external: Ho, Jain & Abbeel 2020, Denoising Diffusion Probabilistic Models, eq. 8 and 12"
X = Domain(shape=("n", "d"))
T01 = Domain(low=0.0, high=1.0, shape=("n",))
PATH = Domain(kind="choice", choices=("vp", "ve"))
PATH_SYMBOL = Symbol(name="path", description="'vp' (default; linear β) or 've' (geometric σ)", domain=PATH,
                     role="parameter")

SIGMA = Convention(
    name="sigma", description="the reverse-step variance σ_t² of p_θ(x_{t−1} | x_t)", default="beta_tilde",
    variants=(
        Variant(name="beta_tilde",
                statement=r"\sigma_t^2 = \tilde\beta_t = \frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t:\ "
                          r"\lambda_t = \frac{\beta_t}{2\alpha_t(1-\bar\alpha_{t-1})}",
                mapping="the spec's default (ddpm.ancestral_step's): the KL is exactly λ_t ‖ε − ε_θ‖²"),
        Variant(name="beta", statement=r"\sigma_t^2 = \beta_t:\ \lambda_t = \frac{\beta_t}{2\alpha_t(1-\bar\alpha_t)}",
                mapping="the KL is λ_t ‖ε − ε_θ‖² plus the θ-independent d/2 (β̃_t/β_t − 1 − log(β̃_t/β_t)); "
                        "the function returns the θ-dependent part")))

_SDE_TOL = tolerances(
    float64=(1e-12, 1e-12), float32=(2e-5, 2e-5), bfloat16=(1e-2, 2e-1),
    why="β(t), σ(t) are computed in float64 from t (ve: exp of ≤ 17, relative ~20 ulps of float64); then a product "
        "and a sum with the given x, score (|·| ≤ 5): vp |f| ≤ 51, g² ≤ 20, so a few ulps of terms ≤ 100 where the "
        "sum cancels (float32: 4·6e-8·100 ≈ 2e-5 absolute); ve has f = 0, no cancellation: relative. bfloat16 is "
        "computed in float32 and rounded once (2^-9 relative; 2^-9·100 absolute where vp cancels)")

CLAUSES = [
    Clause(
        id="ddpm.elbo",
        title="The DDPM ELBO as a sum of per-step KL terms, each a weighted ε-MSE",
        statement=(r"-\mathrm{ELBO} = \mathbb E_q\Big[L_T + \sum_{t=2}^{T} L_{t-1} + L_0\Big],\ "
                   r"L_{t-1} = \mathrm{KL}\big(q(x_{t-1}\mid x_t, x_0)\,\|\,p_\theta(x_{t-1}\mid x_t)\big) = "
                   r"\frac{\beta_t^2}{2\sigma_t^2\alpha_t(1-\bar\alpha_t)}\|\epsilon - \epsilon_\theta(x_t, t)\|^2;\ "
                   r"L_{simple} = \mathbb E_t\big[L_{t-1}/\lambda_t\big]"),
        kind=("identity", "value", "property"),
        provenance=(P(source="00", quote="as a latent variable model, optimized by a variational lower bound"),
                    P(source="03", quote="The ELBO decomposes into a sum of per-step denoising losses, which is "
                                         "exactly the MSE velocity prediction loss."),
                    P(source="04", quote="views corrupted intermediate samples as latent variables and derives "
                                         "ELBO-based objectives."),
                    P(source=HO, quote="L_{t-1} - C = E[ β_t^2 / (2 σ_t^2 α_t (1 - ᾱ_t)) ‖ε - ε_θ(√ᾱ_t x_0 + "
                                       "√(1 - ᾱ_t) ε, t)‖^2 ]")),
        function="elbo_kl",
        symbols=(Symbol(name="eps_pred", description="ε_θ(x_t, t)", domain=Domain(shape=("n", "..."))),
                 Symbol(name="eps", description="the ε that made x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε",
                        domain=Domain(shape=("n", "..."))),
                 Symbol(name="t", description="integer step, one for the batch or one per sample (one_based 2..T; "
                                               "'beta': 1..T; zero_based one less)",
                        domain=Domain(kind="integer", low=0, high=MAX_T, or_shape=("n",))),
                 Symbol(name="betas", description="β_1..β_T", domain=Domain(low=0.0, high=1.0, low_closed=False,
                                                                             high_closed=False, shape=("T",))),
                 Symbol(name="kl", description="L_{t−1} per sample, shape (n,)", role="output")),
        conventions=(SIGMA, INDEXING),
        tolerance=tolerances(
            float64=(1e-12, 1e-14), float32=(2e-5, 1e-7), bfloat16=(1e-2, 1e-5),
            why="λ_t is computed in float64 from the schedule on every dtype (ᾱ by log1p sums); the residual ε − ε_θ "
                "is one subtraction (exact by Sterbenz near 0), then a sum of ≤ 50 squares (no cancellation) and one "
                "scaling: a few ulps relative. bfloat16 computes in float32 and rounds once"),
        singular="t = 1 under 'beta_tilde': σ_1² = β̃_1 = 0, the t = 1 term is the decoder's L_0, not a KL; "
                 "SpecInputError. t = 0 (zero_based −1) or t > T raise SpecInputError.",
        notes="Ho et al. drop λ_t (L_simple, ddpm.loss): the simple loss is the ELBO's KL terms reweighted by 1/λ_t, "
              "which up-weights the large-t (noisy) terms. The suite checks the value against the closed-form "
              "Gaussian KL between q(x_{t−1} | x_t, x_0) = N(μ̃_t, β̃_t I) and N(μ_θ, σ_t² I), computed from x_0 and x_t "
              "directly (every term is closed form: Gaussian data given x_0).",
    ),
    Clause(
        id="sde.forward",
        title="The forward SDE dx = f(x, t) dt + g(t) dW of the VP and VE paths",
        statement=(r"dx = f(x, t)\,dt + g(t)\,dW;\ \text{vp}: f = -\tfrac12\beta(t)\,x,\ g = \sqrt{\beta(t)};\ "
                   r"\text{ve}: f = 0,\ g = \sigma(t)\sqrt{2\ln(\sigma_{max}/\sigma_{min})};\ "
                   r"f = \tfrac{a'}{a}x,\ g^2 = \tfrac{d(b^2)}{dt} - 2\tfrac{a'}{a}b^2"),
        kind=("identity", "value", "property"),
        provenance=(P(source="00", quote="as approximately solving a stochastic differential equation"),
                    P(source="04", quote="models forward noising and reverse denoising as continuous-time stochastic "
                                         "dynamics, enabling principled numerical integrators for sampling."),
                    P(source=SONG, quote="dx = f(x, t)dt + g(t)dw")),
        function="forward_sde",
        symbols=(Symbol(name="x", description="state, (n, d)", domain=X),
                 Symbol(name="t", description="time per sample", domain=T01),
                 PATH_SYMBOL,
                 Symbol(name="f_g", description="(f(x, t) (n, d), g(t) (n,))", role="output")),
        tolerance=_SDE_TOL,
        singular="None on [0, 1] for these schedules (β(t) ≥ 0.1, σ(t) ≥ 0.01).",
        notes="The marginal of x_t given x_0 = x is N(a(t) x, b(t)² I) exactly: the mean solves m' = (a'/a) m and "
              "the variance v' = 2(a'/a) v + g² (sympy for both paths; the suite checks it against finite "
              "differences of family.affine's (a, b)). ⚠ The VE path starts at b(0) = σ_min = 0.01, not at 0.",
    ),
    Clause(
        id="sde.reverse",
        title="The reverse-time SDE: drift f − g² ∇log p_t",
        statement=(r"dx = \big[f(x, t) - g(t)^2\,\nabla_x\log p_t(x)\big]\,dt + g(t)\,d\bar W,\quad t: 1 \to 0"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="you're implicitly learning the score ∇x log p(xt) at each noise level t"),
                    P(source="04", quote="models forward noising and reverse denoising as continuous-time stochastic "
                                         "dynamics, enabling principled numerical integrators for sampling."),
                    P(source=SONG, quote="dx = [f(x, t) - g(t)^2 ∇x log pt(x)]dt + g(t)dw̄")),
        function="reverse_drift",
        symbols=(Symbol(name="x", description="state, (n, d)", domain=X),
                 Symbol(name="t", description="time per sample", domain=T01),
                 Symbol(name="score", description="∇ log p_t(x), x's shape", domain=X),
                 PATH_SYMBOL,
                 Symbol(name="drift", description="f − g² score, x's shape (forward-time coordinates)", role="output")),
        tolerance=_SDE_TOL,
        singular="None for given score values; the score of the data (t = 0 on vp, b = 0) may be unbounded.",
        notes="Euler–Maruyama on the grid t_k = 1 − k/T (sde.euler_maruyama) integrates it from t = 1 to 0. "
              "Anderson (1982): with the exact score, the reverse SDE has the forward marginals p_t (checked in the "
              "tests on Gaussian-mixture data against the exact marginal within a stated statistical bound).",
    ),
    Clause(
        id="sde.probability_flow",
        title="The probability-flow ODE, drift f − ½ g² ∇log p_t = the affine family's velocity",
        statement=(r"\frac{dx}{dt} = f(x, t) - \tfrac12 g(t)^2\,\nabla_x\log p_t(x) = "
                   r"\mathbb E[a'(t)\,x_0 + b'(t)\,z \mid x_t = x]"),
        kind=("identity", "value", "property"),
        provenance=(P(source="04", quote="The full trajectory integrates many small denoising steps into a path from "
                                         "noise to data and is analogous to integrating a flow or score-based SDE"),
                    P(source=SONG, quote="dx = [f(x, t) - 1/2 g(t)^2 ∇x log pt(x)]dt")),
        function="probability_flow_drift",
        symbols=(Symbol(name="x", description="state, (n, d)", domain=X),
                 Symbol(name="t", description="time per sample", domain=T01),
                 Symbol(name="score", description="∇ log p_t(x), x's shape", domain=X),
                 PATH_SYMBOL,
                 Symbol(name="drift", description="f − ½ g² score", role="output")),
        tolerance=_SDE_TOL,
        singular="As sde.reverse.",
        notes="With the exact score, the drift equals optimal.prediction's velocity oracle of the same path (sympy: "
              "E[x_0 | x_t] = (x_t + b² s)/a, E[z | x_t] = −b s), so accelerated.sampler.euler_sample (x ← x − v/T) "
              "run with this drift is the rectified-flow view's Euler sampler integrating the probability-flow ODE.",
    ),
    Clause(
        id="sde.euler_maruyama",
        title="Euler–Maruyama sampler of the reverse SDE",
        statement=(r"x \leftarrow x - \tfrac1T\big[f(x, t_k) - g(t_k)^2 s(x, t_k)\big] + "
                   r"\tfrac{g(t_k)}{\sqrt T}\,\xi_k,"
                   r"\quad t_k = 1 - \tfrac kT,\ k = 0..T-1"),
        kind=("value", "property"),
        provenance=(P(source="04", quote="models forward noising and reverse denoising as continuous-time stochastic "
                                         "dynamics, enabling principled numerical integrators for sampling."),
                    P(source=SONG, quote="Euler-Maruyama")),
        function="euler_maruyama_sample",
        symbols=(Symbol(name="score", description="callable s(x, t) ≈ ∇ log p_t(x), t of shape (n,)",
                        domain=Domain(kind="callable")),
                 Symbol(name="x1", description="samples of p_1, (n, d)", domain=X),
                 Symbol(name="noise", description="ξ_k ~ N(0, I), (T, n, d): T = noise.shape[0] steps",
                        domain=Domain(shape=("T", "n", "d"))),
                 PATH_SYMBOL,
                 Symbol(name="x0", description="samples at t = 0", role="output")),
        tolerance=tolerances(
            float64=(1e-10, 1e-10), float32=(1e-4, 1e-4), bfloat16=(2e-1, 2e-1),
            why="T ≤ 8 steps in the cases, each with sde.reverse's error (float32 2e-5 relative) plus the noise term; "
                "a step multiplies earlier errors by its gain |1 − k/T + g²/(T Var x_t)| (the cases use the exact "
                "score of Gaussian data), up to 5 for ve at t = 1, T = 4. bfloat16: the state is kept in float32 but "
                "the score sees it rounded to bfloat16 (2^-9 relative) every step, times that gain: ~10% relative "
                "after a few ve steps. The errors are made at the scale of the state, which starts at |x1| (≈ 50 on "
                "ve) and contracts to O(1): the suite applies rtol to max |x1| as well (atol + rtol·max|x1|)"),
        singular="The score is evaluated at t_k = 1 − k/T > 0 only; the last step lands on t = 0.",
        notes="Deterministic given the noise. The tests check the samples of the exact mixture score against the "
              "exact t = 0 marginal: a Kolmogorov–Smirnov test per coordinate and the mean within 5 standard errors.",
    ),
]
