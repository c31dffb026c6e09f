"""Clauses of training-time distributions over t, the resolution shift (sources 00, 01, 03, 04), and two schedules
the libraries implement that the notes do not state (issue 11): the exponential time shift (diffusers, SD3/Flux)
and the Karras/EDM σ schedule (k-diffusion).

Samplers are deterministic maps of given standard normals u (the caller draws u ~ N(0, 1)), so a target is
checked value by value and its distribution by a KS test.
"""
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

EDM = "external: Karras et al. 2022, Elucidating the Design Space of Diffusion-Based Generative Models"

P = Provenance
U = Domain(shape=("n",))
T01 = Domain(low=0.0, high=1.0, shape=("n",))
_m = Symbol(name="m", description="location of u (SD3 default 0)", domain=Domain(), role="parameter")
_s = Symbol(name="s", description="scale of u (SD3 default 1)", domain=Domain(low=0.0, low_closed=False),
            role="parameter")

NAME = Convention(
    name="name", description="which distribution 'logit-normal' means", default="logit_normal",
    variants=(
        Variant(name="logit_normal",
                statement=r"t = \mathrm{sigmoid}(m + s u) \in (0, 1),\ \mathrm{logit}(t) \sim N(m, s^2)",
                mapping="the spec's default (00, 01; Esser et al. 2024): a distribution on (0, 1)",
                sources=("00", "01")),
        Variant(name="log_normal", statement=r"t = e^{m + s u} \in (0, \infty),\ \log t \sim N(m, s^2)",
                mapping=r"⚠ 04's word. Not a distribution on [0, 1] (P(t > 1) = Φ(m/s), ½ at m = 0). Mapping: if "
                        r"t ~ logit-normal(m, s) then its odds t/(1 − t) = e^{m+su} are log-normal(m, s); "
                        r"t_{logit} = r/(1 + r) for r log-normal",
                sources=("04",))))

_SAMPLE_TOL = tolerances(
    float64=(1e-14, 1e-300), float32=(2e-6, 1e-30), bfloat16=(8e-3, 1e-30),
    why="sigmoid(m + s u) evaluated as e^{−|w|}-based branches (no overflow, no cancellation): relative error a few "
        "ulps; u is rounded identically for both sides; bfloat16 computed in float32 and rounded once")

CLAUSES = [
    Clause(
        id="schedule.uniform",
        title="Uniform training distribution of t",
        statement=r"t \sim U(0, 1),\ p(t) = 1;\ \text{sampler from standard normals: } t = \Phi(u) = "
                  r"\tfrac12\operatorname{erfc}(-u/\sqrt2)",
        kind=("value", "property"),
        provenance=(P(source="00", quote="t \\sim \\operatorname{Uniform}(0,1)"),
                    P(source="03", quote="Sample a noise level t ~ Uniform(0, 1)."),
                    P(source="01", quote="Our noise schedules so far are uniform")),
        function="uniform_sample",
        symbols=(Symbol(name="u", description="standard normal draws", domain=U),
                 Symbol(name="t", description="u's shape, in [0, 1]", role="output")),
        tolerance=tolerances(float64=(1e-12, 1e-300), float32=(1e-5, 1e-30), bfloat16=(8e-3, 1e-30),
                             why="Φ(u) = ½ erfc(−u/√2): no 1 − small cancellation, but erfc's relative condition in "
                                 "its tail is ≈ u² ≤ 64 for the cases' |u| ≤ 8 (edges included; float32: 64·6e-8 ≈ "
                                 "4e-6); bfloat16 in float32"),
        singular="None: Φ maps ℝ onto (0, 1); t = 0 or 1 only by underflow/rounding of extreme u.",
        notes="The probability-integral transform: if u ~ N(0, 1) then Φ(u) ~ U(0, 1) (KS test in conformance). "
              "torch.rand is the same distribution from a different source of randomness.",
    ),
    Clause(
        id="schedule.logit_normal",
        title="Logit-normal training distribution of t: sampler",
        statement=r"t = \mathrm{sigmoid}(m + s\,u),\ u \sim N(0, 1)\ \Leftrightarrow\ \mathrm{logit}(t) \sim N(m, s^2)",
        kind=("value", "property"),
        provenance=(P(source="00", quote="A popular choice is logit-normal sampling."),
                    P(source="01", quote="In practice, we use logit-normal sampling to put more weight in the middle"),
                    P(source="04", quote="(e.g., log-normal or shifted schedules)")),
        function="logit_normal_sample",
        symbols=(Symbol(name="u", description="standard normal draws", domain=U), _m, _s,
                 Symbol(name="t", description="u's shape, in (0, 1)", role="output")),
        conventions=(NAME,),
        tolerance=_SAMPLE_TOL,
        singular="None: sigmoid maps ℝ onto (0, 1).",
        notes="⚠ 04 says 'log-normal'; the spec's default is logit-normal (00, 01, and SD3's 'logit-normal sampling'). "
              "SD3 uses m = 0, s = 1 (also m = 0.5, 1.0 in their ablations).",
    ),
    Clause(
        id="schedule.logit_normal_pdf",
        title="Logit-normal density",
        statement=r"p(t) = \frac{1}{s\sqrt{2\pi}}\,\frac{1}{t(1-t)}\,\exp\Bigl(-\frac{(\mathrm{logit}(t) - "
                  r"m)^2}{2s^2}\Bigr),\ t\in(0,1);\ \int_0^1 p = 1",
        kind=("identity", "value", "property"),
        provenance=(P(source="01", quote="relatively little weight on the $t =0$ and $t=1$"),
                    P(source="external: Esser et al. 2024, Scaling Rectified Flow Transformers, eq. 19",
                      quote="pi_ln(t; m, s) = 1/(s sqrt(2 pi)) 1/(t(1 - t)) exp(-(logit(t) - m)^2/(2 s^2))")),
        function="logit_normal_pdf",
        symbols=(Symbol(name="t", description="points in [0, 1] (log_normal variant: [0, ∞); the upper end 1 of the "
                                             "default variant is checked by the function, a cross-argument constraint)",
                        domain=Domain(low=0.0, shape=("n",))), _m, _s,
                 Symbol(name="p", description="density at t", role="output")),
        conventions=(NAME,),
        tolerance=tolerances(float64=(1e-12, 1e-300), float32=(5e-5, 1e-30), bfloat16=(3e-2, 1e-30),
                             why="exp(−w²/2), w = (logit t − m)/s: relative error ≈ |w|·|δw| + a few eps with "
                                 "δw ≈ eps·(|log t| + |log(1 − t)| + |m|)/s; the cases keep |w| ≤ 6 and s ≥ 0.5, so "
                                 "float32 ≲ 6·6e-8·30 ≈ 1e-5; bfloat16 is computed in float32 and rounded once (2^-9)"),
        property_tolerance={"p = 0 at the endpoints": tolerances(
            float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
            why="exact: the clause prescribes p(0) = p(1) = 0 (the limit) at its singular points, a value any form "
                "returns as written once the endpoints are handled (np.where(inside, p, 0)); a t clipped to "
                "[ε, 1 − ε] gives p(ε) > 0 and fails")},
        singular="t = 0 and t = 1: p = 0, the limit (the Gaussian factor decays faster than 1/(t(1 − t)) grows). "
                 "log_normal variant: p(0) = 0, and p is defined on [0, ∞).",
        notes="∫_0^1 p dt = 1 (scipy.integrate.quad, in tests/test_schedule.py and conformance). The mode is not at "
              "1/2 unless m = 0.",
    ),
    Clause(
        id="schedule.shift",
        title="Resolution-dependent timestep shift",
        statement=(r"t' = \frac{s\,t}{1 + (s - 1)\,t},\ s > 0;\quad t'(0) = 0,\ t'(1) = 1,\ \frac{dt'}{dt} = "
                   r"\frac{s}{(1 + (s-1)t)^2} > 0,\ \mathrm{shift}_{1/s} = \mathrm{shift}_s^{-1};\ "
                   r"\text{rf: } \frac{t'}{1-t'} = s\,\frac{t}{1-t},\ \mathrm{SNR}(t') = \mathrm{SNR}(t)/s^2"),
        kind=("identity", "value", "property"),
        provenance=(P(source="00", quote="practitioners often shift the schedule toward higher noise"),
                    P(source="04", quote="Schedule design becomes more important for high-resolution data"),
                    P(source="01", quote="we needed a different noise schedule for higher resolution data"),
                    P(source="03",
                      quote="Esser et al. \"Scaling Rectified Flow Transformers for High-Resolution Image Synthesis.\" "
                            "ICML, 2024.")),
        function="shift",
        symbols=(Symbol(name="t", description="times in [0, 1]", domain=T01),
                 Symbol(name="s", description="shift factor > 0 (s > 1: toward noise)",
                        domain=Domain(low=0.0, low_closed=False),
                        role="parameter"),
                 Symbol(name="t_shifted", description="t's shape, in [0, 1]", role="output")),
        tolerance=tolerances(float64=(1e-14, 1e-300), float32=(1e-6, 1e-30), bfloat16=(8e-3, 1e-30),
                             why="s t / (1 + (s − 1) t) has relative error ≤ (3 + κ) ulps, "
                                 "κ = (1 + |s − 1| t)/(1 + (s − 1) t) the condition of the denominator as stated "
                                 "(κ = 1 for s ≥ 1; for s < 1 it cancels near t = 1, κ ≤ 1/s). The comparison's rtol "
                                 "is multiplied by κ, so an implementation written as stated passes; the reference's "
                                 "(1 − t) + s t (non-negative terms) has κ = 1"),
        property_tolerance={"increasing, fixes 0 and 1": tolerances(
            float64=(1e-14, 0.0), float32=(1e-6, 0.0), bfloat16=(8e-3, 0.0),
            why="t = 0 gives s·0/… = 0 exactly in any form (atol 0: an implementation that clips t fails). At t = 1 "
                "the stated form is s/(1 + (s − 1)), 1 up to the rounding of 1 + (s − 1), and diffusers' "
                "e^μ/(e^μ + (1/t − 1)^σ) in torch is e^μ·(1/e^μ): both 1 within a few ulps times κ(s, 1) = "
                "max(1, (2 − s)/s), so exactness is not claimed at 1: the value tolerance times κ")},
        singular="None on [0, 1] for s > 0 (the denominator (1 − t) + s t ≥ min(1, s) > 0). s ≤ 0 raises "
                 "SpecInputError.",
        notes=("Formula from Esser et al. 2024 (03's reference 15; 00, 01, 04 name the shift without a formula): "
               "t_m = √(m/n) t_n / (1 + (√(m/n) − 1) t_n) with m, n pixel counts of the target and base resolutions, "
               "i.e. s = √(m/n); SD3 uses s = 3.0 at 1024². Flux's time_shift(μ, 1, t) = e^μ/(e^μ + (1/t − 1)) is the "
               "same map with s = e^μ. s > 1 moves every t toward noise; shifts compose multiplicatively "
               "(shift_s ∘ shift_r = shift_{sr}). On rf, SNR(t) = a²/b² = ((1 − t)/t)², so the shift divides the SNR "
               "by s² (log-SNR moves by −2 log s). The μ-parameterised form of diffusers' time_shift_type "
               "'exponential' (Flux, SD3 with dynamic shifting) is schedule.shift_exponential; diffusers' "
               "'linear' time_shift(μ, σ, t) = μ/(μ + (1/t − 1)^σ) is this map at σ = 1, s = μ."),
    ),
    Clause(
        id="schedule.shift_exponential",
        title="Exponential (μ-parameterised) timestep shift: the variant of schedule.shift used by SD3/Flux",
        statement=(r"t' = \frac{e^\mu}{e^\mu + (1/t - 1)^\sigma} = \mathrm{sigmoid}\bigl(\mu + \sigma\,"
                   r"\mathrm{logit}(t)\bigr),\ \sigma > 0;\quad t'(0) = 0,\ t'(1) = 1;\quad \sigma = 1:\ t' = "
                   r"\frac{s\,t}{1 + (s - 1)\,t},\ s = e^\mu\ (\text{schedule.shift})"),
        kind=("identity", "value", "property"),
        provenance=(P(source="external: diffusers, FlowMatchEulerDiscreteScheduler._time_shift_exponential "
                             "(time_shift_type='exponential', use_dynamic_shifting=True; Flux)",
                      quote="math.exp(mu) / (math.exp(mu) + (1 / t - 1) ** sigma)"),
                    P(source="external: Black Forest Labs, flux/sampling.py time_shift(mu, sigma, t)",
                      quote="math.exp(mu) / (math.exp(mu) + (1 / t - 1) ** sigma)")),
        function="time_shift_exponential",
        symbols=(Symbol(name="t", description="times in [0, 1] (diffusers' sigmas: 1 = noise, as in genspec)",
                        domain=T01),
                 Symbol(name="mu", description="μ, the log of the shift factor s = e^μ (Flux: μ from the image's token "
                                               "count, 0.5 at 256 tokens to 1.15 at 4096), |μ| ≤ 50",
                        domain=Domain(low=-50.0, high=50.0),
                        role="parameter"),
                 Symbol(name="sigma", description="σ > 0, the exponent of the odds (1 in diffusers and Flux)",
                        domain=Domain(low=0.0, low_closed=False), role="parameter"),
                 Symbol(name="t_shifted", description="t's shape, in [0, 1]", role="output")),
        tolerance=tolerances(float64=(1e-13, 1e-300), float32=(1e-5, 1e-30), bfloat16=(1e-2, 1e-30),
                             why="relative, the comparison's rtol multiplied by κ = 1 + σ (1 − t')/(1 − t) (1 at "
                                 "t = 1), the condition of the form as stated: 1/t − 1 cancels near t = 1 (relative "
                                 "error eps/(1 − t)), the power multiplies it by σ, and t' = e^μ/(e^μ + q) damps a "
                                 "relative error of q by 1 − t'. κ is unbounded as t → 1 only for σ < 1 "
                                 "(1 − t' ~ e^{−μ}(1 − t)^σ); at σ = 1 (diffusers, Flux) κ ≤ 1 + e^{−μ}. Then a few "
                                 "eps: float64 1e-13, float32 1e-5 (the reference's odds form e^μ (t/(1 − t))^σ, "
                                 "q/(1 + q) measured ≤ 2 eps against 60-digit mpmath, the accelerated float32 ≤ 2.4 "
                                 "eps, over |μ| ≤ 3, σ ∈ [0.5, 2], t uniform and T_EDGES); bfloat16 computed in "
                                 "float32 and rounded once (2^-9)"),
        property_tolerance={"fixes 0 and 1": tolerances(
            float64=(1e-15, 0.0), float32=(1e-7, 0.0), bfloat16=(4e-3, 0.0),
            why="t = 0 gives e^μ/(e^μ + ∞) = 0 exactly in every form (atol 0: a target that clips t fails); t = 1 "
                "gives e^μ/(e^μ + 0) = 1 up to the division's rounding (one ulp)")},
        singular="None on [0, 1]: t = 0 (1/t = ∞) gives 0 and t = 1 gives 1, the limits; the reference goes through "
                 "the odds t/(1 − t) (0 at t = 0, ∞ at t = 1) and never divides by t. ⚠ Subnormal t: 1/t overflows "
                 "to ∞ in the form as stated, which then returns 0 where the value is e^μ t^σ (≫ the smallest normal "
                 "for σ < 1); the cases include such t (T_EDGES). σ ≤ 0 or |μ| > 50 raises SpecInputError.",
        notes=("Both diffusers time-shift types are shifts of the odds: odds(t') = e^μ odds(t)^σ ('exponential'), μ "
               "odds(t)^σ ('linear'). At σ = 1 the exponential one is schedule.shift with s = e^μ (SD3's fixed "
               "shift 3.0 = e^{1.0986}); μ = 0 and σ = 1 is the identity. diffusers calls its argument t but passes "
               "sigmas, 1 = noise, the genspec convention; flow_matching-style t (1 = data) must be flipped."),
    ),
    Clause(
        id="schedule.karras",
        title="Karras/EDM noise-level schedule σ_i",
        statement=(r"\sigma_i = \Bigl(\sigma_{max}^{1/\rho} + \tfrac{i}{N-1}\bigl(\sigma_{min}^{1/\rho} - "
                   r"\sigma_{max}^{1/\rho}\bigr)\Bigr)^{\rho},\ i = 0..N-1,\ \rho = 7;\quad \sigma_N = 0\ "
                   r"(\text{appended});\quad \rho \to \infty:\ \sigma_i = \sigma_{max}^{1 - i/(N-1)}\,"
                   r"\sigma_{min}^{i/(N-1)}"),
        kind=("identity", "value", "property"),
        provenance=(P(source=f"{EDM}, eq. 5",
                      quote="sigma_i<N = (sigma_max^(1/rho) + i/(N-1) (sigma_min^(1/rho) - sigma_max^(1/rho)))^rho "
                            "and sigma_N = 0"),
                    P(source="external: k-diffusion, k_diffusion/sampling.py get_sigmas_karras(n, sigma_min, "
                             "sigma_max, rho=7.)",
                      quote="sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho; "
                            "return append_zero(sigmas)")),
        function="karras_sigmas",
        symbols=(Symbol(name="n", description="N, the number of noise levels before the appended 0",
                        domain=Domain(kind="integer", low=1, high=10**7), role="parameter"),
                 Symbol(name="sigma_min", description="σ_min > 0 (EDM: 0.002)",
                        domain=Domain(low=0.0, low_closed=False), role="parameter"),
                 Symbol(name="sigma_max", description="σ_max ≥ σ_min (EDM: 80)",
                        domain=Domain(low=0.0, low_closed=False), role="parameter"),
                 Symbol(name="rho", description="ρ > 0 (EDM: 7; 1 is linear in σ)",
                        domain=Domain(low=0.0, low_closed=False), role="parameter"),
                 Symbol(name="sigmas", description="shape (N + 1,) (final_sigma 'zero') or (N,) ('none'), "
                                                   "decreasing from σ_max", role="output")),
        conventions=(Convention(
            name="final_sigma", description="whether σ_N = 0 is appended after the N levels", default="zero",
            variants=(
                Variant(name="zero", statement=r"(\sigma_0, \dots, \sigma_{N-1}, 0)",
                        mapping="the spec's default: Karras et al.'s σ_N = 0 and k-diffusion's get_sigmas_karras "
                                "(append_zero): N + 1 values, the last step of a sampler lands on σ = 0"),
                Variant(name="none", statement=r"(\sigma_0, \dots, \sigma_{N-1})",
                        mapping="the N levels alone (diffusers' _convert_to_karras; its schedulers append their "
                                "final sigma themselves): the default without its last entry"))),),
        tolerance=tolerances(float64=(2e-15, 0.0), float32=(1e-6, 0.0), bfloat16=(2e-3, 0.0),
                             why="per unit of K = ρ (1 + (σ_max/σ_min)^{1/ρ}) (checks/schedule.py multiplies rtol by "
                                 "K): the base σ_max^{1/ρ} + r (σ_min^{1/ρ} − σ_max^{1/ρ}) cancels down to σ_min^{1/ρ} "
                                 "from terms up to σ_max^{1/ρ} (relative error ≤ (σ_max/σ_min)^{1/ρ} · few eps), and "
                                 "the power ρ multiplies a relative error by ρ. Measured over random n ≤ 60, "
                                 "ρ ∈ [1, 10], σ_max/σ_min ≤ 1e5: k-diffusion's float32 form (float32 ramp) ≤ "
                                 "0.9 eps K (3000 cases), the float64 reference vs 40-digit mpmath ≤ 0.7 eps K (300 "
                                 "cases); bfloat16 computed in float32 and rounded once (2^-9 ≤ 2e-3 K, K ≥ 2). atol "
                                 "0: σ_N = 0 ""exactly"),
        singular="N = 1: the ramp is (0,) (torch.linspace(0, 1, 1)), σ_0 = σ_max; i/(N − 1) is never evaluated. "
                 "σ_min > σ_max raises SpecInputError (the schedule must decrease).",
        notes=("EDM: σ_min = 0.002, σ_max = 80, ρ = 7 (the steps shrink toward σ_min: ρ = 7 'equalizes the "
               "truncation error'). ρ = 1 is the linear schedule linspace(σ_max, σ_min, N); ρ → ∞ is the geometric "
               "(log-linear) schedule, k-diffusion's get_sigmas_exponential. σ_i^{1/ρ} is linear in i."),
    ),
]
