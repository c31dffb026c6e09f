"""Clauses of training-time distributions over t and the resolution shift (sources 00, 01, 03, 04).

Samplers are deterministic maps of given standard normals u (the caller draws u ~ N(0, 1)), so a target is
checked value by value and its distribution by a KS test.
"""
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

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
               "by s² (log-SNR moves by −2 log s)."),
    ),
]
