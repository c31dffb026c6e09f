"""Clauses of discrete-time DDPM (Ho et al. 2020; sources 02, 03) and DDIM's deterministic step.

Time is an integer step t. The spec's default indexing is Ho et al.'s: t = 1..T, ᾱ_t = Π_{s=1}^t (1 − β_s),
ᾱ_0 = 1 (t = 0 is the data). 02's code draws torch.randint(0, T) and reads alpha_bars[t]: a zero-based index
k = t − 1 into the same array (named variant 'zero_based').
"""
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance
ARR = Domain(shape=("n", "..."))
BETAS = Domain(low=0.0, high=1.0, low_closed=False, high_closed=False, shape=("T",))

INDEXING = Convention(
    name="indexing", description="how the integer time step t indexes the schedule", default="one_based",
    variants=(
        Variant(name="one_based",
                statement=r"t \in \{0,\dots,T\},\ \bar\alpha_t = \prod_{s=1}^{t}(1-\beta_s),\ \bar\alpha_0 = 1",
                mapping="the spec's default (Ho et al. 2020): t counts the corruptions applied; t = 0 is the data"),
        Variant(name="zero_based",
                statement=r"k \in \{0,\dots,T-1\},\ \texttt{alpha\_bars}[k] = \prod_{s=0}^{k}(1-\beta_s)",
                mapping=r"k = t - 1: 02's torch.randint(0, T) and alpha_bars[t]; k = 0 is one corruption (β_1), "
                        r"and the data (t = 0) is k = −1 where a step's target is needed",
                sources=("02",))))

_REDUCTION = Convention(
    name="reduction", description="how the squared error is reduced over a batch", default="batch_mean_sq_norm",
    variants=(Variant(name="batch_mean_sq_norm",
                      statement=r"L = \frac1n\sum_i\|\epsilon_i - \epsilon_\theta(x_t, t)_i\|_2^2",
                      mapping="the spec's default: 02's ‖ε − ε_θ‖² per sample, averaged over the batch",
                      sources=("02",)),
              Variant(name="mse_all_elements",
                      statement=r"L = \frac{1}{nD}\sum_{i,j}(\epsilon_{ij} - \hat\epsilon_{ij})^2",
                      mapping="F.mse_loss (02's code): the default × 1/D, D = elements per sample", sources=("02",))))

_t = Symbol(name="t", description="integer step per sample (one_based: 1..T; zero_based: 0..T−1)",
            domain=Domain(kind="integer", low=0, shape=("n",)))
_betas = Symbol(name="betas", description="β_1..β_T", domain=BETAS)

_STEP_TOL = tolerances(
    float64=(1e-12, 1e-12), float32=(2e-5, 5e-6), bfloat16=(8e-3, 2e-4),
    why="the schedule (ᾱ, a product of up to T = 1000 factors) is computed in float64 on every dtype, so only the "
        "final elementwise x − c ε and scalings are in the dtype: cancellation makes the error absolute, a few ulps of "
        "max(|x_t|, |ε|) ≤ 5 divided by √α_t ≥ 0.99; bfloat16 is computed in float32 and rounded once")

CLAUSES = [
    Clause(
        id="ddpm.beta_schedule",
        title="Ho et al.'s linear β schedule",
        statement=r"\beta_t = \beta_1 + \frac{t-1}{T-1}(\beta_T - \beta_1),\ t = 1..T;\quad \beta_1 = 10^{-4},\ "
                  r"\beta_T = 0.02,\ T = 1000",
        kind=("value", "property"),
        provenance=(P(source="02", quote="Diffusion (Ho, Jain & Abbeel 2020, i.e. DDPM)"),
                    P(source="external: Ho, Jain & Abbeel 2020, Denoising Diffusion Probabilistic Models, §4",
                      quote="We set T = 1000 ... forward process variances to constants increasing linearly from β1 = "
                            "10−4 to βT = 0.02")),
        function="linear_betas",
        symbols=(Symbol(name="T", description="number of steps (default 1000; at most 10^7)",
                        domain=Domain(kind="integer", low=1, high=10**7),
                        role="parameter"),
                 Symbol(name="beta_1", description="first β (default 1e-4)",
                        domain=Domain(low=0.0, high=1.0, low_closed=False,
                                                                                           high_closed=False),
                        role="parameter"),
                 Symbol(name="beta_T", description="last β (default 0.02)",
                        domain=Domain(low=0.0, high=1.0, low_closed=False,
                                                                                          high_closed=False),
                        role="parameter"),
                 Symbol(name="betas", description="shape (T,): betas[t − 1] = β_t", role="output")),
        tolerance=tolerances(float64=(1e-14, 1e-16), float32=(1e-6, 1e-9), bfloat16=(4e-3, 1e-6),
                             why="one fused multiply-add per entry on values ≤ 1 (the output is in the run's dtype)"),
        singular="T = 1 gives [β_1] (β_T is unused).",
        notes="The continuous limit is family.vp_schedule 'linear' with β(t) = T β_t: β_min = 0.1, β_max = 20.",
    ),
    Clause(
        id="ddpm.alpha_bar",
        title="Cumulative signal retention ᾱ_t = Π_{s≤t}(1 − β_s)",
        statement=r"\bar\alpha_t = \prod_{s=1}^{t}(1 - \beta_s),\quad t = 1..T",
        kind=("value", "property"),
        provenance=(P(source="02", quote="ab = alpha_bars[t].view(B, 1, 1, 1) # ᾱ_t: cumulative retain ratio"),),
        function="alpha_bars",
        symbols=(_betas, Symbol(name="alpha_bar",
                                description="shape (T,): entry t − 1 is ᾱ_t (= 02's alpha_bars[t − 1])",
                                role="output")),
        tolerance=tolerances(float64=(1e-12, 0.0), float32=(1e-5, 0.0), bfloat16=(8e-3, 0.0),
                             why="a product of T ≤ 1000 factors in (0, 1): the reference's relative error is ≤ T·eps64 "
                                 "≈ 2e-13; targets may compute in float64 and round once, or accumulate (float32 "
                                 "relative ≤ T·6e-8 is NOT within 1e-5 for T = 1000 in the worst case: accumulate in "
                                 "float64)"),
        singular="None: every factor is in (0, 1).",
        notes="The same array serves both indexings: one_based reads ᾱ_t at entry t − 1, zero_based reads entry k = t "
              "− 1.",
    ),
    Clause(
        id="ddpm.forward",
        title="DDPM forward process in closed form; equals t iterated one-step corruptions",
        statement=(r"x_t = \sqrt{\bar\alpha_t}\,x_0 + \sqrt{1-\bar\alpha_t}\,\epsilon,\ \epsilon\sim N(0, I);\quad "
                   r"q(x_t\mid x_{t-1}) = N(\sqrt{1-\beta_t}\,x_{t-1}, \beta_t I)\ \Rightarrow\ "
                   r"q(x_t \mid x_0) = N(\sqrt{\bar\alpha_t}\,x_0, (1-\bar\alpha_t) I)"),
        kind=("identity", "value", "property"),
        provenance=(P(source="02", quote="x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * noise"),
                    P(source="02", quote="generate x_t in one step (closed form, no need to run t times)"),
                    P(source="03", quote="The forward process is the \"encoder\" q(x1:T|x0).")),
        function="forward",
        symbols=(Symbol(name="x0", description="data, batch first", domain=ARR),
                 Symbol(name="eps", description="standard normal noise, x0's shape", domain=ARR),
                 _t, _betas,
                 Symbol(name="x_t", description="x0's shape", role="output")),
        conventions=(INDEXING,),
        tolerance=_STEP_TOL,
        singular="one_based t = 0 returns x0 exactly (ᾱ_0 = 1, the empty product); t outside the index range "
                 "raises SpecInputError.",
        notes="Mean coefficient m_t = √(1 − β_t) m_{t−1} and variance v_t = (1 − β_t) v_{t−1} + β_t with m_0 = 1, "
              "v_0 = 0 solve to m_t = √ᾱ_t, v_t = 1 − ᾱ_t (sympy, by induction).",
    ),
    Clause(
        id="ddpm.loss",
        title="DDPM simplified loss ‖ε − ε_θ(x_t, t)‖²",
        statement=r"L = \frac1n\sum_i \|\epsilon_i - \epsilon_\theta(x_t, t)_i\|_2^2",
        kind=("value", "property"),
        provenance=(P(source="02", quote="L = ‖ ε − εθ(x_t, t) ‖²"),
                    P(source="02", quote="return F.mse_loss(pred, noise)")),
        function="loss",
        symbols=(Symbol(name="eps_pred", description="the network's ε_θ(x_t, t)", domain=ARR),
                 Symbol(name="eps", description="the noise that made x_t", domain=ARR),
                 Symbol(name="L", description="scalar", role="output")),
        conventions=(_REDUCTION,),
        tolerance=tolerances(float64=(1e-12, 1e-14), float32=(1e-5, 1e-7), bfloat16=(8e-3, 1e-5),
                             why="a mean of sums of squares of one subtraction each: no cancellation after the "
                                 "residual"),
        singular="None.",
        notes="It is family.loss with (path, target) = (vp, epsilon) at discrete t.",
    ),
    Clause(
        id="ddpm.ancestral_step",
        title="DDPM ancestral sampling step with ε-prediction",
        statement=(r"x_{t-1} = \frac{1}{\sqrt{\alpha_t}}\Bigl(x_t - "
                   r"\frac{\beta_t}{\sqrt{1-\bar\alpha_t}}\,\epsilon_\theta(x_t, t)\Bigr) + \sigma_t\,\xi,\ \alpha_t = "
                   r"1 - \beta_t,\ \xi \sim N(0, I),\ \xi = 0 \text{ at } t = 1"),
        kind=("identity", "value", "property"),
        provenance=(P(source="02",
                      quote="sampling: start from x_T~N(0,1), loop T steps, subtract model's predicted noise each "
                            "step"),
                    P(source="03", quote="The reverse process is the \"decoder\" pθ(x0:T-1|xT).")),
        function="ancestral_step",
        symbols=(Symbol(name="x_t", description="current sample", domain=ARR),
                 Symbol(name="eps_pred", description="ε_θ(x_t, t)", domain=ARR),
                 _t, _betas,
                 Symbol(name="noise", description="ξ ~ N(0, I), given so the step is deterministic", domain=ARR),
                 Symbol(name="x_prev", description="x_{t−1}", role="output")),
        conventions=(
            Convention(name="sigma", description="the reverse-step variance σ_t²", default="beta_tilde",
                       variants=(Variant(name="beta_tilde",
                                         statement=r"\sigma_t^2 = \tilde\beta_t = "
                                                   r"\frac{1-\bar\alpha_{t-1}}{1-\bar\alpha_t}\beta_t",
                                         mapping="the spec's default: the exact posterior variance of q(x_{t−1} | x_t, "
                                                 "x_0), so the step IS the posterior when ε_θ is exact (diffusers "
                                                 "'fixed_small')"),
                                 Variant(name="beta", statement=r"\sigma_t^2 = \beta_t",
                                         mapping="Ho et al. §3.2: 'both had similar results'; σ_t² = β_t ≥ β̃_t "
                                                 "(diffusers 'fixed_large')"))),
            INDEXING),
        tolerance=_STEP_TOL,
        singular="At t = 1 (zero_based k = 0) no noise is added in either variant (Ho et al. Algorithm 2: z = 0 if t = "
                 "1; β̃_1 = 0 anyway). t = 0 (nothing to undo) raises SpecInputError.",
        notes="The mean equals the posterior mean μ̃_t(x_t, x̂_0) = √ᾱ_{t−1}β_t/(1−ᾱ_t) x̂_0 + √α_t(1−ᾱ_{t−1})/(1−ᾱ_t) "
              "x_t with x̂_0 = (x_t − √(1−ᾱ_t) ε_θ)/√ᾱ_t (sympy).",
    ),
    Clause(
        id="ddpm.ddim_step",
        title="DDIM deterministic step (η = 0)",
        statement=(r"x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'}}\,\epsilon_\theta(x_t, t),\ "
                   r"\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta(x_t, t)}{\sqrt{\bar\alpha_t}},\ 0 "
                   r"\le t' < t"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="| DDIM | 10–50 | Deterministic sampling, skip timesteps |"),
                    P(source="external: Song, Meng & Ermon 2021, Denoising Diffusion Implicit Models, eq. 12 with σ_t "
                             "= 0",
                      quote="x_{t-1} = sqrt(alpha_{t-1}) (predicted x0) + sqrt(1 - alpha_{t-1}) eps_theta(x_t)")),
        function="ddim_step",
        symbols=(Symbol(name="x_t", description="current sample", domain=ARR),
                 Symbol(name="eps_pred", description="ε_θ(x_t, t)", domain=ARR),
                 _t,
                 Symbol(name="t_prev",
                        description="the step to jump to, 0 ≤ t' < t (zero_based: −1 ≤ k' < k; −1 = data)",
                        domain=Domain(kind="integer", low=-1, shape=("n",))),
                 _betas,
                 Symbol(name="x_prev", description="x_{t'}", role="output")),
        conventions=(INDEXING,),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(2e-5, 5e-6), bfloat16=(8e-3, 2e-4),
            why="x̂_0 divides a difference by √ᾱ_t (≥ 6.4e-3 at T = 1000): the absolute error is a few ulps of "
                "max(|x_t|, |ε|) times √(ᾱ_{t'}/ᾱ_t) ≤ 156. The comparison (checks/ddpm.py) multiplies atol by "
                "1 + √(ᾱ_{t'}/ᾱ_t)(|x_t| + |ε|) elementwise"),
        singular="t' = 0 (zero_based −1) returns x̂_0 (ᾱ_0 = 1). t ≤ t' or t = 0 raises SpecInputError.",
        notes="The DDIM of 03's acceleration table (Song et al. 2021). With the true ε it maps forward(x_0, ε, t) to "
              "forward(x_0, ε, t') exactly (deterministic: the same ε); η = 1 recovers the ancestral step with σ_t² = "
              "β̃_t.",
    ),
]
