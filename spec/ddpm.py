"""Clauses of discrete-time DDPM (Ho et al. 2020; sources 02, 03) and DDIM's step (Song et al. 2021).

Time is an integer step t. The spec's default indexing is Ho et al.'s: t = 1..T, ᾱ_t = Π_{s=1}^t (1 − β_s),
ᾱ_0 = 1 (t = 0 is the data). 02's code draws torch.randint(0, T) and reads alpha_bars[t]: a zero-based index
k = t − 1 into the same array (named variant 'zero_based'; also diffusers' DDPMScheduler and DDIMScheduler, whose
prev_timestep −1 reads ᾱ = 1 with set_alpha_to_one=True).

Where the notes are silent the names follow diffusers (issue 11): the β schedules 'linear', 'scaled_linear' and
'squaredcos_cap_v2' (DDPMScheduler's beta_schedule), DDIM's eta and its variance_noise (here `noise`), and the
network's prediction_type 'epsilon' | 'v_prediction' | 'sample'.
"""
from .expression import symbols
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance
t, t_prev = symbols("t t_prev")
MAX_T = 10**7
"""The longest schedule (and so the largest step) the spec accepts."""
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
                sources=("02",), arguments={"t": t - 1, "t_prev": t_prev - 1})))

_REDUCTION = Convention(
    name="reduction", description="how the squared error is reduced over a batch", default="batch_mean_sq_norm",
    variants=(Variant(name="batch_mean_sq_norm",
                      statement=r"L = \frac1n\sum_i\|\epsilon_i - \epsilon_\theta(x_t, t)_i\|_2^2",
                      mapping="the spec's default: 02's ‖ε − ε_θ‖² per sample, averaged over the batch",
                      sources=("02",)),
              Variant(name="mse_all_elements",
                      statement=r"L = \frac{1}{nD}\sum_{i,j}(\epsilon_{ij} - \hat\epsilon_{ij})^2",
                      mapping="F.mse_loss (02's code): the default × 1/D, D = elements per sample", sources=("02",))))

_t = Symbol(name="t", description="integer step, one for the batch or one per sample (one_based: 1..T; zero_based: "
                               "0..T−1)", domain=Domain(kind="integer", low=0, high=MAX_T, or_shape=("n",)))
_t_prev = Symbol(name="t_prev", description="the step to jump to, 0 ≤ t' < t (zero_based: −1 ≤ k' < k; −1 = data)",
                 domain=Domain(kind="integer", low=-1, high=MAX_T, or_shape=("n",)))
_betas = Symbol(name="betas", description="β_1..β_T", domain=BETAS)
NOISE = Symbol(name="noise", description="ξ ~ N(0, I) of x_t's shape, given so the step is deterministic", domain=ARR)

SCHEDULES = ("linear", "scaled_linear", "squaredcos_cap_v2")
COSINE_S = 0.008
"""Nichol & Dhariwal's offset s of the cosine schedule (fixed in diffusers' betas_for_alpha_bar)."""
SD_BETAS = (0.00085, 0.012)
"""Stable Diffusion's (beta_start, beta_end) of its scaled_linear schedule, T = 1000."""

SCHEDULE = Convention(
    name="beta_schedule", description="the β sequence (diffusers' beta_schedule)", default="linear",
    variants=(
        Variant(name="linear", statement=r"\beta_t = \beta_1 + \frac{t-1}{T-1}(\beta_T - \beta_1)",
                mapping="the spec's default: Ho et al. 2020 (β_1 = 1e-4, β_T = 0.02, T = 1000); diffusers 'linear'"),
        Variant(name="scaled_linear",
                statement=r"\beta_t = \Bigl(\sqrt{\beta_1} + \frac{t-1}{T-1}(\sqrt{\beta_T} - \sqrt{\beta_1})\Bigr)^2",
                mapping="equally spaced √β instead of β (latent diffusion; Stable Diffusion uses β_1 = 0.00085, "
                        "β_T = 0.012, T = 1000); diffusers 'scaled_linear'"),
        Variant(name="squaredcos_cap_v2",
                statement=r"\beta_t = \min\Bigl(1 - \frac{f(t/T)}{f((t-1)/T)},\ \beta_{max}\Bigr),\ "
                          r"f(u) = \cos^2\Bigl(\frac{u + s}{1 + s}\,\frac\pi2\Bigr),\ s = 0.008",
                mapping="Nichol & Dhariwal 2021's cosine schedule (ᾱ_t = f(t/T)/f(0) until the cap β_max = 0.999 "
                        "binds, at the last steps); β_1, β_T are unused. diffusers 'squaredcos_cap_v2' "
                        "(betas_for_alpha_bar, i = t − 1)")))

PREDICTION = Convention(
    name="prediction_type", description="what the network's output m = model_output(x_t, t) predicts (diffusers' "
                                        "prediction_type); a = √ᾱ_t, b = √(1 − ᾱ_t)", default="epsilon",
    variants=(
        Variant(name="epsilon", statement=r"m = \epsilon:\ \hat\epsilon = m,\ \hat x_0 = (x_t - b\,m)/a",
                mapping="the spec's default (Ho et al.; ddpm.ddim_step's eps_pred)"),
        Variant(name="v_prediction",
                statement=r"m = v = a\,\epsilon - b\,x_0:\ \hat x_0 = a\,x_t - b\,m,\ \hat\epsilon = a\,m + b\,x_t",
                mapping="Salimans & Ho 2022's v (a² + b² = 1); diffusers 'v_prediction'"),
        Variant(name="sample", statement=r"m = x_0:\ \hat x_0 = m,\ \hat\epsilon = (x_t - a\,m)/b",
                mapping="x-prediction; diffusers 'sample'")))

_CLIP_NONE = Variant(name="none", statement=r"\hat x_0 \text{ used as computed}",
                     mapping="the spec's default: x̂_0 as the prediction gives it (diffusers' clip_sample=False)")
_CLIP = Variant(
    name="clip", statement=r"\hat x_0 \leftarrow \operatorname{clip}(\hat x_0, -1, 1),\ \hat\epsilon \text{ unchanged}",
    mapping="x̂_0 clamped to [−1, 1] (data normalised to that range) before it enters the step; the step is the "
            "default's where |x̂_0| ≤ 1 (clip is then the identity). diffusers' clip_sample=True (clip_sample_range "
            "1.0; DDIMScheduler with use_clipped_model_output=False keeps ε̂); denoising-diffusion-pytorch's "
            "clip_denoised=True")
CLIP_ANCESTRAL = Convention(
    name="clip_sample", description="whether x̂_0 is clamped to [−1, 1] before the posterior mean (diffusers' "
                                    "clip_sample, denoising-diffusion-pytorch's clip_denoised)", default="none",
    variants=(_CLIP_NONE, Variant(
        name="clip", statement=r"\mu = \tilde\mu_t\bigl(x_t, \operatorname{clip}(\hat x_0, -1, 1)\bigr) = "
                     r"\frac{\sqrt{\bar\alpha_{t-1}}\beta_t}{1-\bar\alpha_t}\operatorname{clip}(\hat x_0) + "
                     r"\frac{\sqrt{\alpha_t}(1-\bar\alpha_{t-1})}{1-\bar\alpha_t}x_t,\ "
                     r"\hat x_0 = \frac{x_t - \sqrt{1-\bar\alpha_t}\,\epsilon_\theta}{\sqrt{\bar\alpha_t}}",
        mapping="the step's mean written as the posterior mean μ̃_t(x_t, x̂_0) (Ho et al. eq. 7; equal to the "
                   "default's ε-form, sympy) with x̂_0 clamped to [−1, 1] first; the default where |x̂_0| ≤ 1. "
                   "diffusers' DDPMScheduler(clip_sample=True); denoising-diffusion-pytorch's p_sample "
                   "(p_mean_variance(clip_denoised=True) then q_posterior)")))
CLIP_DDIM = Convention(
    name="clip_sample", description="whether x̂_0 is clamped to [−1, 1] before the DDIM update, and whether ε̂ is then "
                                    "re-derived from the clamped x̂_0", default="none",
    variants=(_CLIP_NONE, _CLIP,
              Variant(name="clip_rederive",
                      statement=r"\hat x_0 \leftarrow \operatorname{clip}(\hat x_0, -1, 1),\ \hat\epsilon \leftarrow "
                                r"\frac{x_t - \sqrt{\bar\alpha_t}\,\hat x_0}{\sqrt{1-\bar\alpha_t}}",
                      mapping="clip, then ε̂ re-derived from the clamped x̂_0 so that x_t = a x̂_0 + b ε̂ still holds; "
                              "the default where |x̂_0| ≤ 1 (the re-derived ε̂ is then the prediction's: sympy). "
                              "denoising-diffusion-pytorch's ddim_sample (model_predictions(clip_x_start=True, "
                              "rederive_pred_noise=True)); diffusers' DDIMScheduler(clip_sample=True, "
                              "use_clipped_model_output=True)")))
CLIPPED = ("clip", "clip_rederive")

_STEP_TOL = tolerances(
    float64=(1e-12, 1e-12), float32=(2e-5, 5e-6), bfloat16=(8e-3, 2e-4),
    why="the schedule (ᾱ, a product of up to T = 1000 factors) is computed in float64 on every dtype, so only the "
        "final elementwise x − c ε and scalings are in the dtype: cancellation makes the error absolute, a few ulps of "
        "max(|x_t|, |ε|) ≤ 5 divided by √α_t ≥ 0.99; bfloat16 is computed in float32 and rounded once")

CLAUSES = [
    Clause(
        id="ddpm.beta_schedule",
        title="The β schedule: Ho et al.'s linear, latent diffusion's scaled_linear, Nichol & Dhariwal's cosine",
        statement=r"\beta_t = \beta_1 + \frac{t-1}{T-1}(\beta_T - \beta_1),\ t = 1..T;\quad \beta_1 = 10^{-4},\ "
                  r"\beta_T = 0.02,\ T = 1000",
        kind=("identity", "value", "property"),
        provenance=(P(source="02", quote="Diffusion (Ho, Jain & Abbeel 2020, i.e. DDPM)"),
                    P(source="external: Ho, Jain & Abbeel 2020, Denoising Diffusion Probabilistic Models, §4",
                      quote="We set T = 1000 ... forward process variances to constants increasing linearly from β1 = "
                            "10−4 to βT = 0.02"),
                    P(source="external: diffusers, schedulers/scheduling_ddpm.py (DDPMScheduler, beta_schedule)",
                      quote="torch.linspace(beta_start**0.5, beta_end**0.5, num_train_timesteps, dtype=torch.float32) "
                            "** 2"),
                    P(source="external: Nichol & Dhariwal 2021, Improved Denoising Diffusion Probabilistic Models, "
                             "eq. 17",
                      quote="ᾱ_t = f(t)/f(0), f(t) = cos((t/T + s)/(1 + s) · π/2)^2"),
                    P(source="external: diffusers, schedulers/scheduling_ddim.py (betas_for_alpha_bar)",
                      quote="betas.append(min(1 - alpha_bar(t2) / alpha_bar(t1), max_beta))")),
        function="beta_schedule",
        symbols=(Symbol(name="T", description="number of steps (default 1000; at most 10^7)",
                        domain=Domain(kind="integer", low=1, high=MAX_T), role="parameter"),
                 Symbol(name="beta_1", description="first β (default 1e-4; diffusers' beta_start)",
                        domain=Domain(low=0.0, high=1.0, low_closed=False, high_closed=False), role="parameter"),
                 Symbol(name="beta_T", description="last β (default 0.02; diffusers' beta_end)",
                        domain=Domain(low=0.0, high=1.0, low_closed=False, high_closed=False), role="parameter"),
                 Symbol(name="max_beta", description="the cap of squaredcos_cap_v2 (default 0.999)",
                        domain=Domain(low=0.0, high=1.0, low_closed=False, high_closed=False), role="parameter"),
                 Symbol(name="betas", description="shape (T,): betas[t − 1] = β_t", role="output")),
        conventions=(SCHEDULE,),
        tolerance=tolerances(
            float64=(1e-14, 1e-15), float32=(1e-6, 1e-9), bfloat16=(4e-3, 1e-6),
            why="linear: one fused multiply-add per entry on values ≤ 1; scaled_linear squares it (2 ulps relative; "
                "diffusers computes the linspace in float32: ≤ 4 ulps = 2.4e-7 < 1e-6); squaredcos_cap_v2 written "
                "as diffusers writes it, 1 − f(t/T)/f((t−1)/T), loses the digits of β below one ulp of the ratio ≈ 1: "
                "a few float64 ulps absolute (≤ 1e-15; the reference writes 1 − cos²b/cos²a = sin(b − a) sin(b + a)"
                "/cos²a, no cancellation). The output is compared in the run's dtype"),
        singular="T = 1 gives [β_1] (β_T is unused) in linear and scaled_linear; squaredcos_cap_v2 at T = 1 is [β_max] "
                 "(f(1) = cos²(π/2) ≈ 0: the cap binds). The last cosine steps are capped at β_max (1 − ᾱ_T/ᾱ_{T−1} "
                 "→ 1).",
        notes="The continuous limit of 'linear' is family.vp_schedule 'linear' with β(t) = T β_t: β_min = 0.1, "
              "β_max = 20. Stable Diffusion's scaled_linear (0.00085..0.012, T = 1000) ends at √ᾱ_T ≈ 0.068265 "
              "(Lin et al. 2024: not zero terminal SNR).",
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
                 Symbol(name="t", description="integer step, one for the batch or one per sample (one_based: 0..T, "
                                               "0 = data; zero_based: −1..T−1)",
                        domain=Domain(kind="integer", low=-1, high=MAX_T, or_shape=("n",))),
                 _betas,
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
                 _t, _betas, NOISE,
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
            INDEXING, CLIP_ANCESTRAL),
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
                 _t, _t_prev, _betas,
                 Symbol(name="x_prev", description="x_{t'}", role="output")),
        conventions=(INDEXING, CLIP_DDIM),
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
    Clause(
        id="ddpm.ddim_eta_step",
        title="DDIM step with stochasticity η and any prediction type (diffusers' DDIMScheduler.step)",
        statement=(r"x_{t'} = \sqrt{\bar\alpha_{t'}}\,\hat x_0 + \sqrt{1-\bar\alpha_{t'}-\sigma_t^2}\,\hat\epsilon + "
                   r"\sigma_t\,\xi,\ \sigma_t(\eta) = \eta\sqrt{\frac{1-\bar\alpha_{t'}}{1-\bar\alpha_t}}"
                   r"\sqrt{1-\frac{\bar\alpha_t}{\bar\alpha_{t'}}},\ (\hat x_0, \hat\epsilon) \text{ from the "
                   r"prediction},\ 0 \le t' < t,\ 0 \le \eta \le 1"),
        kind=("identity", "value", "property"),
        provenance=(P(source="external: Song, Meng & Ermon 2021, Denoising Diffusion Implicit Models, eq. 12 and 16",
                      quote="σ_t(η) = η sqrt((1 − α_{t−1})/(1 − α_t)) sqrt(1 − α_t/α_{t−1})"),
                    P(source="external: diffusers, schedulers/scheduling_ddim.py (DDIMScheduler.step)",
                      quote="pred_sample_direction = (1 - alpha_prod_t_prev - std_dev_t**2) ** (0.5) * model_output"),
                    P(source="external: diffusers, schedulers/scheduling_ddim.py (DDIMScheduler.step)",
                      quote="pred_original_sample = (alpha_prod_t**0.5) * sample - (beta_prod_t**0.5) * model_output"),
                    P(source="external: Salimans & Ho 2022, Progressive Distillation for Fast Sampling of Diffusion "
                             "Models, §4", quote="v ≡ α_t ε − σ_t x")),
        function="ddim_eta_step",
        symbols=(Symbol(name="x_t", description="current sample (diffusers' sample)", domain=ARR),
                 Symbol(name="model_output", description="the network's prediction at (x_t, t) in the declared "
                                                         "prediction_type", domain=ARR),
                 _t, _t_prev, _betas,
                 Symbol(name="eta", description="η ∈ [0, 1]: 0 is DDIM (deterministic), 1 the ancestral DDPM step "
                                                "when t' = t − 1", domain=Domain(low=0.0, high=1.0), role="parameter"),
                 Symbol(name="noise", description="ξ ~ N(0, I) of x_t's shape (diffusers' variance_noise); may be "
                                                  "None only when η = 0", domain=ARR),
                 Symbol(name="x_prev", description="x_{t'}", role="output")),
        conventions=(PREDICTION, INDEXING, CLIP_DDIM),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(2e-5, 5e-6), bfloat16=(8e-3, 2e-4),
            why="ddpm.ddim_step's: the schedule (ᾱ, σ_t and 1 − ᾱ_{t'} − σ_t² = (1 − ᾱ_{t'})(1 − η²(1 − ᾱ_t/ᾱ_{t'})"
                "/(1 − ᾱ_t)), by expm1 of log ᾱ) is float64 on every dtype; the elementwise update in the dtype makes "
                "a few ulps of its intermediates: x̂_0 ≤ (|x_t| + b|m|)/a (epsilon; a ≥ 6.4e-3 at T = 1000), ε̂ ≤ "
                "(|x_t| + a|m|)/b (sample; b ≥ 1e-2), both ≤ |x_t| + |m| (v). The comparison (checks/ddpm.py) "
                "multiplies atol by 1 + √ᾱ_{t'}|x̂_0| + √(1 − ᾱ_{t'} − σ²)|ε̂| + σ|ξ| with those bounds"),
        singular="t' = 0 (zero_based −1) returns x̂_0 (ᾱ_0 = 1, σ = 0). t ≤ t', t = 0, η outside [0, 1] (where "
                 "1 − ᾱ_{t'} − σ² may turn negative) or η > 0 without noise raise SpecInputError.",
        notes="η = 0 is ddpm.ddim_step; η = 1 with t' = t − 1 has σ_t² = β̃_t and is ddpm.ancestral_step with "
              "sigma='beta_tilde' (sympy and a property). diffusers' DDIMScheduler.step(model_output, timestep, "
              "sample, eta, variance_noise=noise) with clip_sample=False, set_alpha_to_one=True and zero_based "
              "timesteps (prev_timestep = −1 at the end) is this clause; its default clip_sample=True clamps x̂_0 "
              "to [−1, 1], which the spec does not.",
    ),
]
