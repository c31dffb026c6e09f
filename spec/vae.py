"""Clauses of the VAE family (sources 02, 03, 04).

The encoder emits a diagonal Gaussian q(z|x) = N(μ, diag σ²) written as (μ, logvar), logvar = log σ² (02);
the prior is p(z) = N(0, I). Logs are natural logs.

Domain of logvar: [-30, 20], the range Stable Diffusion's VAE clamps it to. There exp(logvar) ∈ [9e-14, 4.9e8]
is a normal number in float64, float32 and bfloat16 (no overflow, no underflow), so every tolerance below is
certified on the whole domain; outside it the functions raise SpecInputError rather than return a number
the spec does not vouch for.
"""
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance
LOGVAR_LOW, LOGVAR_HIGH = -30.0, 20.0
LDM = P(source="external: Rombach et al. 2022, latent-diffusion ldm/modules/distributions/distributions.py",
        quote="self.logvar = torch.clamp(self.logvar, -30.0, 20.0)")

ENCODER_OUTPUT = Convention(
    name="parameterization",
    description="what the encoder's second output (the argument `logvar`) holds",
    default="logvar",
    variants=(
        Variant(name="logvar", statement=r"a = \log\sigma^2,\ \sigma = e^{a/2}",
                mapping="the spec's default (02: 'encoder emits μ and log(σ²)'); a ∈ [-30, 20]", sources=("02",)),
        Variant(name="log_sigma", statement=r"a = \log\sigma,\ \sigma = e^{a}",
                mapping=r"\log\sigma = \tfrac12\,\mathrm{logvar}; a ∈ [-15, 10]"),
        Variant(name="sigma", statement=r"a = \sigma \ge 0",
                mapping=r"\sigma = e^{\mathrm{logvar}/2},\ \mathrm{logvar} = 2\log\sigma; a ∈ [0, 2.3\cdot 10^4] ⊇ [0, "
                        r"e^{10}] (rounded up so that a float32/bfloat16 rounding of e^{10} stays inside), σ = 0 "
                        r"allowed (z = μ)"),
    ),
)

KL_REDUCTION = Convention(
    name="reduction",
    description="which axes the per-coordinate KL terms are summed (or averaged) over",
    default="sum_last",
    variants=(
        Variant(name="sum_last",
                statement=r"\mathrm{KL}_n = -\tfrac12\sum_j (1 + \ell_{nj} - \mu_{nj}^2 - e^{\ell_{nj}})",
                mapping="the spec's default: one KL per sample (shape (n,)); the others are reductions of it"),
        Variant(name="sum_all", statement=r"\sum_n \mathrm{KL}_n",
                mapping="02's torch.sum over every axis: a scalar, the batch total", sources=("02",)),
        Variant(name="mean_batch", statement=r"\tfrac1n \sum_n \mathrm{KL}_n",
                mapping="sum over the latent axis, mean over the batch: sum_all / n"),
    ),
)

RECON = Convention(
    name="reconstruction",
    description="the reconstruction term, i.e. the decoder likelihood -log p(x|z) up to what",
    default="sse",
    variants=(
        Variant(name="sse", statement=r"\sum (\hat x - x)^2",
                mapping="02: F.mse_loss(x_hat, x, reduction='sum'); the spec's default", sources=("02",)),
        Variant(name="gaussian_nll_half",
                statement=r"-\log \mathcal N(x;\hat x, \tfrac12 I) = \mathrm{sse} + \tfrac D2\log\pi",
                mapping=r"sse = 2\sigma_x^2\,\mathrm{nll} - D\sigma_x^2\log(2\pi\sigma_x^2) at σ_x² = ½: sse plus a "
                        r"constant; "
                        "02's loss + (D/2) log π is exactly the negative single-sample ELBO"),
        Variant(name="gaussian_nll_unit",
                statement=r"-\log \mathcal N(x;\hat x, I) = \tfrac12\mathrm{sse} + \tfrac D2\log 2\pi",
                mapping="half the sse plus a constant: relative to sse the KL term weighs twice as much (β = 2)"),
        Variant(name="mse_mean", statement=r"\tfrac1D \sum (\hat x - x)^2",
                mapping="F.mse_loss's default reduction='mean': sse / D; relative to sse the KL weighs D times as "
                        "much"),
    ),
)

MU = Domain(shape=("n", "..."))
"""one row per sample, any further dimensions (an autoencoder's latent maps); μ, logvar and ε share the shape."""
LOGVAR = Domain(low=LOGVAR_LOW, high=LOGVAR_HIGH, shape=("n", "..."))
PARAM_DOMAIN = {"logvar": (LOGVAR_LOW, LOGVAR_HIGH), "log_sigma": (LOGVAR_LOW / 2, LOGVAR_HIGH / 2),
                "sigma": (0.0, 2.3e4)}  # ⊇ [0, e^10]: a float32/bfloat16 rounding of e^10 stays inside
"""the domain of the encoder's second output under each parameterization (ENCODER_OUTPUT)."""


def encoder_output(clause: str, a, parameterization: str):
    """The encoder's second output (NumPy or torch) inside its parameterization's interval (PARAM_DOMAIN), or the
    SpecInputError naming the clause and logvar."""
    from . import validate as V  # NumPy: imported by the functions that check arrays, not by the spec
    lo, hi = PARAM_DOMAIN[parameterization]
    return V.interval(clause, "logvar", a, lo, hi, what=f"a {parameterization} in [{lo:g}, {hi:g}]")
ENCODER_OUTPUT_DOMAIN = Domain(low=min(lo for lo, _ in PARAM_DOMAIN.values()),
                               high=max(hi for _, hi in PARAM_DOMAIN.values()), shape=("n", "..."))
"""the union of PARAM_DOMAIN: each parameterization's own interval is checked by the function."""

CLAUSES = [
    Clause(
        id="vae.reparameterization",
        title="Reparameterization trick z = μ + σ ε",
        statement=(r"z = \mu + \sigma\odot\varepsilon,\quad \sigma = e^{\frac12\mathrm{logvar}},\quad "
                   r"\varepsilon\sim\mathcal N(0, I);\qquad \frac{\partial z}{\partial\mu} = 1,\ "
                   r"\frac{\partial z}{\partial\sigma} = \varepsilon,\ \frac{\partial z}{\partial\,\mathrm{logvar}} = "
                   r"\tfrac12\sigma\varepsilon"),
        kind=("identity", "value", "property"),
        provenance=(P(source="02", quote="std = torch.exp(0.5 * logvar)"),
                    P(source="02", quote="z = mu + std * eps"),
                    P(source="02",
                      quote='"sampling" is not differentiable, so gradients can\'t pass through the random node back '
                            'to the encoder.'),
                    LDM),
        function="reparameterize",
        symbols=(Symbol(name="mu", description="encoder mean μ", domain=MU),
                 Symbol(name="logvar", description="encoder log-variance log σ² (or log σ, or σ: see the convention)",
                        domain=ENCODER_OUTPUT_DOMAIN),
                 Symbol(name="eps", description="standard-normal noise ε, drawn outside the function", domain=MU),
                 Symbol(name="z", description="latent sample, shape of mu", role="output")),
        conventions=(ENCODER_OUTPUT,),
        tolerance=tolerances(
            float64=(0.0, 2e-15), float32=(0.0, 1e-6), bfloat16=(0.0, 1e-2),
            why="error measured relative to |μ| + σ|ε| (the conformance compare divides by it): z is one exp, one "
                "product and one sum, ≤ 3 roundings of quantities bounded by |μ| + σ|ε|, plus exp's ≤ 1 ulp. When "
                "μ ≈ -σε the sum cancels and no relative bound on z is possible; the bound on the summands is honest. "
                "bfloat16: computed in float32, the output rounding alone is 2^-9"),
        property_tolerance={"z - μ = σ ε; ε = 0 gives z = μ": tolerances(
            float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
            why="exact for the ε = 0 part: μ + σ·0 = μ in every dtype for finite σ (the domain bounds logvar); "
                "z − μ vs σ ε uses the value tolerance scaled by |μ| + |σ ε|"),
            "autograd: ∂z/∂μ = 1, ∂z/∂logvar = ½ σ ε (torch targets)": tolerances(
            float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
            why="exact for ∂z/∂μ: the backward of μ + σ ε passes the upstream ones to μ unchanged in every dtype; "
                "∂z/∂logvar uses the value tolerance scaled by |(dσ/dlogvar) ε|")},
        singular="σ → 0 (logvar → -∞, or σ = 0 in the sigma variant) leaves z = μ deterministic; ε = 0 gives z = μ "
                 "exactly in every dtype. logvar outside [-30, 20] raises SpecInputError.",
        notes="mu, logvar and eps have one shape (any rank); eps is an argument so the function is deterministic and "
              "differentiable in μ and logvar (the point of the trick). z ~ N(μ, σ²) when ε ~ N(0, 1) (sympy.stats "
              "proof). Under the log_sigma and sigma variants the argument named `logvar` carries log σ or σ.",
    ),
    Clause(
        id="vae.kl",
        title="KL(N(μ, σ²) ‖ N(0, 1)) in closed form",
        statement=(r"\mathrm{KL}\big(\mathcal N(\mu,\sigma^2)\,\|\,\mathcal N(0,1)\big) = \int q\log\frac qp\,dz = "
                   r"-\tfrac12\sum_j\big(1 + \mathrm{logvar}_j - \mu_j^2 - e^{\mathrm{logvar}_j}\big)"),
        kind=("identity", "value", "property"),
        provenance=(P(source="02", quote="kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())"),
                    P(source="02", quote="ELBO = reconstruction loss + KL (pull latent toward N(0,1))"),
                    LDM),
        function="kl_standard_normal",
        symbols=(Symbol(name="mu", description="encoder means", domain=MU),
                 Symbol(name="logvar", description="encoder log-variances log σ²", domain=LOGVAR),
                 Symbol(name="kl", description="KL per sample, shape (n,) (default reduction)", role="output")),
        conventions=(KL_REDUCTION,),
        tolerance=tolerances(
            float64=(1e-14, 1e-14), float32=(1e-6, 1e-5), bfloat16=(1e-2, 2e-2),
            why="error measured relative to ½Σ(1 + |logvar| + μ² + e^logvar), the sum of the magnitudes of the terms "
                "(the conformance compare divides by it): a sum of ≤ 4k terms has error ≤ (4k + 2) ulps of that "
                "magnitude. The terms cancel only near μ = 0, logvar = 0 (e^ℓ - 1 - ℓ ≈ ℓ²/2), where the magnitude "
                "is O(k): there the atol bounds the error, elsewhere KL ≥ a fixed fraction of the magnitude and the "
                "rtol does (the derivation check compares unscaled). bfloat16: accumulated in float32, output "
                "rounding 2^-9"),
        property_tolerance={"KL ≥ 0, and KL = 0 exactly at the prior": tolerances(
            float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
            why="exact at the prior: −½(1 + 0 − 0 − e^0) = 0 in every dtype, any summation order; KL ≥ 0 allows the "
                "value tolerance's atol per term")},
        singular="KL = 0 exactly at μ = 0, logvar = 0. exp(logvar) cannot overflow on the domain [-30, 20] (≤ 4.9e8); "
                 "logvar outside it raises SpecInputError. Empty latent axis (k = 0) gives KL = 0.",
        notes="mu and logvar have one shape (..., k); the default sums the last axis. 02's code sums every axis "
              "(variant sum_all, the batch total); latent diffusion sums all non-batch axes (equal to sum_last for "
              "(n, k) inputs). KL ≥ 0 with equality iff q = p.",
    ),
    Clause(
        id="vae.elbo",
        title="ELBO ≤ log p(x), with equality at the exact posterior (linear-Gaussian model)",
        statement=(r"p(z) = \mathcal N(0, I_k),\ p(x|z) = \mathcal N(Wz + c, s^2 I_d),\ q = \mathcal N(m, S):\quad "
                   r"\mathrm{ELBO} = \mathbb E_q\log p(x|z) - \mathrm{KL}(q\|p) = "
                   r"-\tfrac d2\log 2\pi s^2 - \frac{\|x - c - Wm\|^2 + \mathrm{tr}(W^\top W S)}{2s^2} "
                   r"- \tfrac12\big(\mathrm{tr}\,S + m^\top m - k - \log\det S\big)"
                   r"\ \le\ \log p(x),\quad \log p(x) - \mathrm{ELBO} = \mathrm{KL}\big(q\,\|\,p(z|x)\big)"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03",
                      quote="Variational Autoencoders (VAEs) introduce a latent variable z and optimize a lower bound "
                            "on log p(x):"),
                    P(source="04",
                      quote="The VAE objective trades exact likelihood for a tractable lower bound (the ELBO)."),
                    P(source="02", quote="Their sum is the famous ELBO (Evidence Lower Bound)")),
        function="elbo_linear_gaussian",
        symbols=(Symbol(name="x", description="data points", domain=Domain(shape=("n", "d"))),
                 Symbol(name="W", description="decoder weight", domain=Domain(shape=("d", "k"))),
                 Symbol(name="c", description="decoder bias", domain=Domain(shape=("d",))),
                 Symbol(name="s2", description="decoder noise variance s²", role="parameter",
                        domain=Domain(low=0.0, low_closed=False)),
                 Symbol(name="m", description="mean of q(z|x) per data point", domain=Domain(shape=("n", "k"))),
                 Symbol(name="S", description="covariance of q(z|x) per data point, symmetric positive definite",
                        domain=Domain(shape=("n", "k", "k"))),
                 Symbol(name="elbo", description="ELBO per data point, shape (n,)", role="output")),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(2e-5, 2e-5), bfloat16=(2e-2, 2e-2),
            why="error measured relative to the sum of the magnitudes of the ELBO's terms (the conformance compare "
                "divides by it); the cases keep s² ≥ 0.1, the eigenvalues of a random S in [0.05, 10] and exact "
                "posteriors (I + WᵀW/s²)⁻¹ at cond ≲ 10³, so log det S and tr(WᵀWS) carry relative error ≲ "
                "cond(S)·k·eps. bfloat16: linear algebra in float32, output rounding 2^-9"),
        singular="s² ≤ 0 or an S that is not symmetric positive definite raises SpecInputError (q must be a density).",
        notes="02 says maximising the ELBO 'is equivalent to maximizing data likelihood'; precisely it maximises a "
              "lower bound, tight iff q(z|x) is the posterior p(z|x) = N(S*Wᵀ(x - c)/s², S*), S* = (I + WᵀW/s²)⁻¹ "
              "(03, 04 say 'lower bound'). The gap log p(x) - ELBO equals KL(q ‖ p(z|x)).",
    ),
    Clause(
        id="vae.log_evidence",
        title="Exact log-evidence of the linear-Gaussian model",
        statement=r"\log p(x) = \log\mathcal N(x;\ c,\ WW^\top + s^2 I_d) = -\tfrac12\big(d\log 2\pi + \log\det C + "
                  r"(x-c)^\top C^{-1}(x-c)\big)",
        kind=("identity", "value", "property"),
        provenance=(P(source="03",
                      quote="| Explicit — Approximate | You optimize a bound on pθ(x) | VAEs (ELBO), Normalizing Flows "
                            "|"),
                    P(source="external: Bishop, Pattern Recognition and Machine Learning (2006), §12.2 (probabilistic "
                             "PCA)",
                      quote="p(x) = N(x | μ, C), C = WWᵀ + σ²I")),
        function="log_evidence_linear_gaussian",
        symbols=(Symbol(name="x", description="data points", domain=Domain(shape=("n", "d"))),
                 Symbol(name="W", description="decoder weight", domain=Domain(shape=("d", "k"))),
                 Symbol(name="c", description="decoder bias", domain=Domain(shape=("d",))),
                 Symbol(name="s2", description="decoder noise variance s²", role="parameter",
                        domain=Domain(low=0.0, low_closed=False)),
                 Symbol(name="log_px", description="log p(x) per data point, shape (n,)", role="output")),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(2e-5, 2e-5), bfloat16=(2e-2, 2e-2),
            why="error measured relative to ½(d|log 2π| + |log det C| + (x-c)ᵀC⁻¹(x-c)) (the conformance compare "
                "divides by it); C = WWᵀ + s²I has cond(C) ≤ 1 + ‖W‖²/s² ≤ 1e3 in the cases, Cholesky keeps the "
                "error ≲ cond·d·eps. bfloat16: linear algebra in float32, output rounding 2^-9"),
        singular="s² ≤ 0 raises SpecInputError (C is then singular when k < d).",
        notes="Bayes: log p(x) = log p(x|z) + log p(z) - log p(z|x) for every z (a property checked on the target).",
    ),
    Clause(
        id="vae.loss",
        title="02's VAE training loss: sum-of-squares reconstruction + KL",
        statement=(r"\mathcal L = \sum_{n,i} (\hat x_{ni} - x_{ni})^2 - \tfrac12\sum_{n,j}\big(1 + "
                   r"\mathrm{logvar}_{nj} - \mu_{nj}^2 - e^{\mathrm{logvar}_{nj}}\big) = "
                   r"-\mathrm{ELBO}_{1\text{-sample}} - \tfrac D2\log\pi\ \text{ for a Gaussian decoder with } "
                   r"\sigma_x^2 = \tfrac12"),
        kind=("value", "property"),
        provenance=(P(source="02", quote='recon = F.mse_loss(x_hat, x, reduction="sum")'),
                    P(source="02", quote="return recon + kl # minimizing it = maximizing ELBO")),
        function="vae_loss",
        symbols=(Symbol(name="x", description="data batch: one row, or one image, per sample",
                        domain=Domain(shape=("n", "...x"))),
                 Symbol(name="x_hat", description="decoder output for the sampled z (x's shape)",
                        domain=Domain(shape=("n", "...x"))),
                 Symbol(name="mu", description="encoder means", domain=MU),
                 Symbol(name="logvar", description="encoder log-variances", domain=LOGVAR),
                 Symbol(name="loss", description="scalar loss (batch total)", role="output")),
        conventions=(RECON,),
        tolerance=tolerances(
            float64=(0.0, 1e-14), float32=(0.0, 1e-5), bfloat16=(0.0, 2e-2),
            why="error measured relative to Σ(x̂ - x)² + ½Σ(1 + |logvar| + μ² + e^logvar) + (D/2)|log 2π| (the "
                "conformance compare divides by it): a sum of non-cancelling squares plus the KL's terms; ≤ (number "
                "of terms) ulps of that magnitude, float32 pairwise sums keep it near log2(nD) ulps"),
        singular="loss = 0 exactly when x̂ = x, μ = 0, logvar = 0 (sse variant). logvar outside [-30, 20] raises "
                 "SpecInputError.",
        notes="Recon and KL are both batch totals (02 sums everything), so their balance does not depend on the "
              "batch size. With sse the implied decoder variance is σ_x² = ½; with the mean-reduced MSE "
              "(F.mse_loss's default) the KL is over-weighted by D — a frequent silent β.",
    ),
]
