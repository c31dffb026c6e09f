"""Clauses of the cfg family: classifier-free guidance (sources 00, 01, 03, 04).

v_y = f(x_t, y, t) and v_∅ = f(x_t, y_∅, t) are the conditional and unconditional predictions of one network
(cond.velocity). ⚠ The notes write the guided combination in three ways: FORM names each, with s = 1 + w.
"""
from .cond import GM_SYMBOLS, NULL_LABEL
from .expression import BASE, OUT, std, symbols
from .schema import Boundary, Clause, Convention, Domain, Law, Provenance, Symbol, Variant, tolerances

P = Provenance
v_y, v_null, w, score_null, grad_log_p_y, phi = symbols("v_y v_null w score_null grad_log_p_y phi")
V_CFG = (1 + w) * v_y - w * v_null
"""cfg.combine in the default form; the conditional_offset form is v_y + w (v_y − v_∅), the scale form
v_∅ + s (v_y − v_∅) with s = 1 + w (FORM's arguments)."""

FORM = Convention(
    name="form",
    description="how the guidance weight enters the combination of v_y and v_∅",
    default="one_plus_w",
    variants=(
        Variant(name="one_plus_w", statement=r"v^{cfg} = (1 + w)\,v^y - w\,v^\varnothing",
                mapping="the spec's default (identity). Chosen because two of the three notes (00, 03) use this w "
                        "(00 writes this form, 03 the conditional_offset form of the same function), it is the "
                        "form of Ho & Salimans 2022 (03's reference 12), and w = 0 reads as 'no guidance'",
                sources=("00",)),
        Variant(name="conditional_offset", statement=r"v^{cfg} = v^y + w\,(v^y - v^\varnothing)",
                mapping=r"w_{03} = w: algebraically the same function as one_plus_w", sources=("03",)),
        Variant(name="scale", statement=r"v^{cfg} = v^\varnothing + s\,(v^y - v^\varnothing)",
                mapping=r"s = 1 + w,\ w = s - 1. Guidance off at s = 1, unconditional at s = 0. 03's "
                        r"'50 Euler steps with CFG w=7.5' (SDXL-like) is a value of this form: w = 6.5 in the "
                        r"default form. Also diffusers' guidance_scale",
                sources=("04", "03"), arguments={"w": 1 + w}),
    ),
)

FORMS = tuple(v.name for v in FORM.variants)

APG_FORM = Convention(
    name="form", description="how the guidance weight and the anchor enter projected guidance (cfg.apg)",
    default="one_plus_w",
    variants=(
        Variant(name="one_plus_w", statement=r"v^{apg} = v^y + w\,U,\ U = \Delta^\perp + \eta\,\Delta^\parallel",
                mapping="the spec's default: cfg.combine's one_plus_w (and conditional_offset) form with Δ replaced "
                        "by U"),
        Variant(name="scale", statement=r"v^{apg} = v^y + (s - 1)\,U",
                mapping="s = 1 + w: Sadat et al.'s code (pred_cond + (guidance_scale − 1) * normalized_update); "
                        "diffusers' AdaptiveProjectedGuidance(use_original_formulation=True) is the default form "
                        "(v^y + w U with w = guidance_scale)",
                arguments={"w": 1 + w}),
        Variant(name="scale_unconditional_anchor", statement=r"v^{apg} = v^\varnothing + s\,U",
                mapping="s = 1 + w: diffusers' AdaptiveProjectedGuidance default (use_original_formulation=False): "
                        "the scale form plus (η − 1) Δ∥ (sympy), the same function only at η = 1",
                arguments={"w": 1 + w})))


def __getattr__(name: str) -> dict[str, float]:
    """OFF and UNCONDITIONAL: each form's guidance-off weight (w = 0) and v_∅ weight (w = −1), in its own units
    (Variant.arguments). Computed when first read: the conversion evaluates sympy, which importing the spec does not."""
    if name in ("OFF", "UNCONDITIONAL"):
        w0 = 0.0 if name == "OFF" else -1.0
        globals()[name] = value = {v.name: float(v.convert({"w": w0})["w"]) for v in FORM.variants}
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def guidance_weight(w: float, from_form: str, to_form: str) -> float:
    """The same guidance strength in another form: s = 1 + w (scale ↔ one_plus_w / conditional_offset).

    >>> guidance_weight(7.5, "scale", "one_plus_w")   # 03's SDXL-like "w=7.5"
    6.5
    """
    off = __getattr__("OFF")
    return w - off[from_form] + off[to_form]


RATE = Convention(
    name="rate",
    description="the dropout probability p when the caller gives none (the notes disagree on the typical value)",
    default="ten_percent",
    variants=(
        Variant(name="ten_percent", statement="p = 0.1",
                mapping="the spec's default: 03's 'e.g., 10%'; Ho & Salimans 2022 found p ∈ {0.1, 0.2} best",
                sources=("03",)),
        Variant(name="half", statement="p = 0.5", mapping="04's 'commonly 50%'; p = 0.5 instead of 0.1",
                sources=("04",)),
    ),
)
RATES = {"ten_percent": 0.1, "half": 0.5}

W_MAX = 1e3  # the domain of w: 03's largest example is w = 20 ("extreme artifacts"); keeps every guided step finite
W = Symbol(name="w",
           description="guidance weight in the declared form (w, or s = 1 + w for the scale form), |w| ≤ 1000",
           domain=Domain(low=-W_MAX, high=W_MAX), role="parameter")
NUM_CLASSES = Symbol(name="num_classes", description="C, the number of real classes (the null label is C or −1)",
                     domain=Domain(kind="integer", low=1), role="parameter")
LABELS = Symbol(name="y", description="class labels in {0, …, C − 1}", domain=Domain(kind="integer", low=0,
                                                                                   shape=("n",)))
TIME = Symbol(name="t", description="time, a scalar or one per point",
              domain=Domain(low=0.0, high=1.0, or_shape=("n",)))
F = Symbol(name="f", description="conditional predictor f(x_t, y, t), row-wise, t given as an (n,) array",
           domain=Domain(kind="callable"))
V_Y = Symbol(name="v_y", description="conditional prediction f(x_t, y, t), one row per sample",
             domain=Domain(shape=("n", "...")))
V_NULL = Symbol(name="v_null", description="unconditional prediction f(x_t, y_∅, t)", domain=Domain(shape=("n", "...")))

def _magnitude(a, b):
    """1 + M, M = G (|a| + |b|), G = 1 + |w| + |1 + w|: the intermediates of a guided combination."""
    return 1 + (1 + abs(w) + abs(1 + w)) * (abs(a) + abs(b))


_COMBINE_TOL = tolerances(
    float64=(1e-12, 1e-12), float32=(1e-5, 5e-6), bfloat16=(1e-2, 2e-2),
    why="two products and a sum, in each form as written: the intermediates reach M = G·(|v_1| + |v_2|), "
        "G = 1 + |w| + |1 + w| (w in the default form's units; the same G for s = 1 + w), and a few ulps of M is the "
        "absolute error where the output cancels to ~0. The comparison divides the error by 1 + M (error_scale), so "
        "these numbers hold over the whole domain |w| ≤ 1000 (the cases include w = ±999): float32 3·6e-8 ≪ 5e-6; "
        "bfloat16 written in bfloat16 rounds three times (3·2^-9 ≈ 6e-3 of M ≤ 2e-2)",
)

_GUIDED_ORACLE_TOL = tolerances(
    float64=(1e-9, 1e-9), float32=(1e-4, 2e-4), bfloat16=(5e-2, 2e-1),
    why="the target computes the oracles itself: cond.velocity's tolerance (float32 2e-5) amplified by the guidance "
        "gain |1 + w| + |w| ≤ 9 (w ≤ 4), and for the score target by 1/t ≤ 20 (t ≥ 0.05) on the Tweedie division; "
        "measured ≤ 2e-5 in float32 over 500 examples. bfloat16: each oracle output is rounded once (2^-8 relative "
        "of |v| ≲ 5) before the combination, times the gain",
)

_GUIDED_STEP_TOL = tolerances(
    float64=(1e-10, 1e-10), float32=(1e-5, 1e-5), bfloat16=(2e-2, 1e-1),
    why="f's outputs are rounded once to the dtype (the test fields compute in float64), then combined in the work "
        "dtype: (|1 + w| + |w|)·|v|·ulp ≤ 9·5·6e-8 ≈ 3e-6 in float32; bfloat16 9·5·2^-9 ≈ 0.09 absolute where the "
        "output cancels",
)

CLAUSES = [
    Clause(
        id="cfg.combine",
        title="Classifier-free guidance: the guided combination of v_y and v_∅",
        statement=(r"v^{cfg} = (1 + w)\,v^y - w\,v^\varnothing = v^y + w\,(v^y - v^\varnothing) = "
                   r"v^\varnothing + s\,(v^y - v^\varnothing),\quad s = 1 + w"),
        kind=("identity", "value", "property"),
        provenance=(P(source="00", quote=r"$$ v^{cfg} = (1+w)v^y - w v^\varnothing. $$"),
                    P(source="03", quote="vcfg = vy + w · (vy − v∅)"),
                    P(source="03", quote="When w = 0, you get plain conditional sampling."),
                    P(source="04", quote="v_cfg = v_uncond + w * (v_cond − v_uncond)."),
                    P(source="03", quote="50 Euler steps with CFG w=7.5")),
        function="cfg_combine",
        symbols=(V_Y, V_NULL, W,
                 Symbol(name="v_cfg", description="guided prediction", role="output")),
        conventions=(FORM,),
        tolerance=_COMBINE_TOL,
        expression=V_CFG,
        variant_expressions={"conditional_offset": v_y + w * (v_y - v_null), "scale": v_null + w * (v_y - v_null)},
        laws=(Law(name="guidance off at w = 0 (s = 1)", at={w: 0}, equals=v_y),
              Law(name="unconditional at w = −1 (s = 0)", at={w: -1}, equals=v_null),
              Law(name="the weights sum to one: combine(c, c, w) = c", at={v_null: v_y}, equals=v_y)),
        error_scale=_magnitude(v_y, v_null),
        singular="|w| ≤ 1000 (SpecInputError beyond); −1 < w < 0 interpolates, w > 0 extrapolates past v_y.",
        notes="⚠ Three forms in the notes (see the convention): 03's 'Typical production values: w = 3–7' are, like "
              "its 'w=7.5', likely scale values. The affine weights are what cfg.change_of_target rests on.",
    ),
    Clause(
        id="cfg.score",
        title="Guidance in score form: Bayes' rule turns CFG into an implicit classifier",
        statement=(r"(1 + w)\nabla\log p_t(x_t \mid y) - w\nabla\log p_t(x_t) = \nabla\log p_t(x_t) + "
                   r"(1 + w)\nabla\log p_t(y \mid x_t);\qquad \text{rf: } v = -\frac{x_t + t\,\nabla\log p_t(x_t)}{1 - "
                   r"t}\ \Rightarrow\ v^{cfg} = -\frac{x_t + t\,s^{cfg}}{1 - t}"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="In score-function terms: vcfg ∝ ∇x log p(xt) + (1+w) · ∇x log p(y|xt)."),
                    P(source="03", quote="pushing samples toward higher p(y|x)")),
        function="guided_score",
        symbols=(Symbol(name="score_null", description="∇ log p_t(x_t), the unconditional score",
                        domain=Domain(shape=("n", "..."))),
                 Symbol(name="grad_log_p_y", description="∇_{x_t} log p_t(y | x_t), the implicit classifier's gradient",
                        domain=Domain(shape=("n", "..."))),
                 W,
                 Symbol(name="score_cfg",
                        description="s_∅ + (1 + w) ∇ log p(y | x_t) (scale form: s_∅ + s ∇ log p(y | x_t))",
                        role="output")),
        conventions=(FORM,),
        tolerance=_COMBINE_TOL,
        expression=score_null + (1 + w) * grad_log_p_y,
        variant_expressions={"scale": score_null + w * grad_log_p_y},
        error_scale=_magnitude(score_null, grad_log_p_y),
        singular="The velocity relation needs t < 1 (a = 1 − t = 0 at t = 1, where the score is −x_t and carries no "
                 "data); the score of the noisy marginal needs t > 0 (b = t = 0 at t = 0: the data score). The "
                 "function itself is a combination of given vectors and has no singular point.",
        notes="Bayes: log p(y | x) = log p(x | y) + log p(y) − log p(x), and p(y) does not depend on x. ⚠ 03's '∝' is "
              "not a proportionality: on the rf path v = −(x_t + t s)/(1 − t) is affine in the score s, with slope "
              "−t/(1 − t) and offset −x_t/(1 − t); because the CFG weights sum to one the same affine map takes s_cfg "
              "to v_cfg. Checked numerically with the Gaussian-mixture oracles, ∇ log p(y | x_t) by central "
              "differences of cond.class_posterior.",
    ),
    Clause(
        id="cfg.change_of_target",
        title="Guidance commutes with every affine change of target (ε, x, v, velocity, score)",
        statement=(r"g(p) = m(t)\,p + k(t)\,x_t \ \Rightarrow\ g\big((1 + w)p^y - w p^\varnothing\big) = "
                   r"(1 + w)\,g(p^y) - w\,g(p^\varnothing)\quad\text{since } (1 + w) + (-w) = 1"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="In score-function terms: vcfg ∝ ∇x log p(xt) + (1+w) · ∇x log p(y|xt)."),
                    P(source="00", quote=r"$$ v^{cfg} = (1+w)v^y - w v^\varnothing. $$")),
        function="guided_prediction",
        symbols=(Symbol(name="x_t", description="noisy points", domain=Domain(shape=("n", "d"))),
                 LABELS, TIME, W, *GM_SYMBOLS,
                 Symbol(name="target", description="the parameterisation of the prediction (family.affine)",
                        domain=Domain(kind="choice", choices=("velocity", "epsilon", "x", "v", "score")),
                        role="parameter"),
                 Symbol(name="p_cfg", description="the guided oracle prediction in that target", role="output")),
        conventions=(FORM,),
        tolerance=_GUIDED_ORACLE_TOL,
        singular="Where the target is singular (score at t = 0: b = 0) SpecInputError naming t. Converting between "
                 "targets needs det[[a, b], [c, d]] ≠ 0 (family.convert): ε at t = 1 and x at t = 0 are not "
                 "invertible, so the commutation is checked on t ∈ [0.05, 0.95].",
        notes="Every target y = c x + d z is recovered from another through (x̂, ẑ) = M⁻¹(x_t, p), so the conversion "
              "is affine in the prediction with coefficients depending on t only (and offset proportional to x_t). "
              "An affine map commutes with a combination whose weights sum to one; with weights (α, β), α + β ≠ 1, "
              "the defect is (α + β − 1) k(t) x_t. So guiding ε-, x-, v-, velocity- or score-predictions gives the "
              "same guided sampler.",
    ),
    Clause(
        id="cfg.dropout",
        title="Conditioning dropout: replace y by y_∅ with probability p",
        statement=r"\tilde y_i = \begin{cases} y_\varnothing & u_i < p \\ y_i & u_i \ge p \end{cases},\quad "
                  r"u_i \sim U[0, 1)\ \Rightarrow\ \Pr[\tilde y_i = y_\varnothing] = p",
        kind=("value", "property"),
        provenance=(P(source="03", quote="randomly replace y with a null token y∅ (empty conditioning) some fraction "
                                         "of the time (e.g., 10%)"),
                    P(source="04",
                      quote="randomly dropping the conditioning during training (commonly 50% of the time)"),
                    P(source="00", quote="we randomly drop the conditioning input $y$ with some probability")),
        function="drop_labels",
        symbols=(LABELS,
                 Symbol(name="u", description="uniforms on [0, 1), one per label (given, so the function is "
                                              "deterministic)", domain=Domain(low=0.0, high=1.0, high_closed=False,
                                                                              shape=("n",))),
                 NUM_CLASSES,
                 Symbol(name="p", description="drop probability; when omitted, the convention `rate` gives it",
                        domain=Domain(low=0.0, high=1.0), role="parameter"),
                 Symbol(name="y_tilde", description="labels with dropped entries set to y_∅ (same integer dtype)",
                        role="output")),
        conventions=(NULL_LABEL, RATE),
        tolerance=tolerances(float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
                             why="integer output: exact (u is compared with p exactly; the harness gives both sides "
                                 "the same rounded u)"),
        singular="p = 0 drops nothing, p = 1 drops everything (u < 1 always). u ∉ [0, 1) is an input error.",
        boundaries=(
            Boundary(symbol="u", kind="threshold", exactly="defined",
                     why="u_i = p: the label flips from y_∅ (u < p) to y (u ≥ p); at u = p exactly y is kept. p is "
                         "compared unrounded: a comparison made in u's dtype (p rounded to it) or in float32 moves "
                         "the threshold, which u within a few ulps of p resolves"),),
        notes="⚠ p is a parameter; the notes' typical values (03 'e.g., 10%', 04 'commonly 50%') are the convention "
              "`rate`.",
    ),
    Clause(
        id="cfg.cost",
        title="Guided prediction costs two evaluations: one batched call of 2B equals two calls of B",
        statement=(r"[v^y; v^\varnothing] = f\big([x_t; x_t], [y; y_\varnothing], [t; t]\big),\quad "
                   r"v^{cfg} = (1 + w)v^y - w v^\varnothing:\ 2B \text{ rows per step}"),
        kind=("value", "property"),
        provenance=(P(source="03", quote="Every sampling step requires two forward passes: one unconditional (v∅) and "
                                         "one conditional (vy)."),
                    P(source="03", quote="Some methods batch the two passes together to use GPU parallelism, but the "
                                         "FLOPs still double."),
                    P(source="00", quote="the model must be evaluated twice per denoising step"),
                    P(source="04", quote="at the cost of evaluating the model twice per step")),
        function="guided_velocity",
        symbols=(F, Symbol(name="x_t", description="points", domain=Domain(shape=("n", "d"))), LABELS, TIME, W,
                 NUM_CLASSES,
                 Symbol(name="v_cfg", description="guided prediction", role="output")),
        conventions=(FORM, NULL_LABEL),
        tolerance=_GUIDED_STEP_TOL,
        singular="None beyond f's own.",
        notes="The reference makes two calls of B rows, accelerated one of 2B: equal within tolerance for a row-wise "
              "f.",
    ),
    Clause(
        id="cfg.guided_euler",
        title="Guided Euler sampler: T steps, 2T·B rows, T batched calls",
        statement=(r"x \leftarrow x - \tfrac{1}{T}\, v^{cfg}(x, y, t_k),\ t_k = 1 - k/T,\ k = 0, \dots, T - 1,\ "
                   r"x_{t_0} = x_1 \sim \mathcal{N}(0, I)"),
        kind=("value", "property"),
        provenance=(P(source="03", quote="This doubles the compute per step."),
                    P(source="03", quote="Starting from random noise in latent space, T denoising steps with CFG "
                                         "produce a clean latent.")),
        function="guided_euler_sample",
        symbols=(F, Symbol(name="x1", description="noise at t = 1", domain=Domain(shape=("n", "d"))), LABELS, W,
                 Symbol(name="T", description="number of Euler steps", domain=Domain(kind="integer", low=1),
                        role="parameter"),
                 NUM_CLASSES,
                 Symbol(name="x0", description="sample at t = 0", role="output")),
        conventions=(FORM, NULL_LABEL),
        tolerance=tolerances(
            float64=(1e-9, 1e-9), float32=(2e-5, 5e-5), bfloat16=(5e-2, 1e-1),
            why="T ≤ 8 guided steps of size 1/T with |w| ≤ 3: cfg.cost's per-step error (≤ 3e-6 in float32), divided "
                "by T and accumulated over T steps through a flow with Lipschitz constant ≲ 2 (measured ≤ 4e-7 in "
                "float32); sampler.euler keeps a bfloat16 state in float32 and rounds f's input, so bfloat16 errs by "
                "a few 2^-8 relative of |x| ≲ 5"),
        singular="T must be ≥ 1. The grid never evaluates t = 0.",
        notes="sampler.euler with cfg.cost's guided field.",
    ),
    Clause(
        id="cfg.rescale",
        title="Guidance rescale: the guided prediction rescaled to the conditional one's standard deviation",
        statement=(r"v^{cfg} = (1 + w)\,v^y - w\,v^\varnothing,\quad v^{rs} = v^{cfg}\,"
                   r"\frac{\operatorname{std}(v^y)}{\operatorname{std}(v^{cfg})},\quad "
                   r"v^{out} = \phi\,v^{rs} + (1 - \phi)\,v^{cfg}"),
        kind=("identity", "value", "property"),
        provenance=(P(source="external: Lin, Liu, Li & Yang 2024, Common Diffusion Noise Schedules and Sample Steps "
                             "are Flawed, §3.4 and Algorithm 2 (diffusers' rescale_noise_cfg, guidance_rescale)",
                      quote="rescale classifier-free guidance to prevent over-exposure"),
                    P(source="03", quote="At w = 10: even more cat-like but oversaturated colors, artifacts appear.")),
        function="rescaled_guidance",
        symbols=(V_Y, V_NULL, W,
                 Symbol(name="phi", description="φ ∈ [0, 1], the share of the rescaled prediction (0.7 in the paper)",
                        domain=Domain(low=0.0, high=1.0), role="parameter"),
                 Symbol(name="v_out", description="the blended prediction", role="output")),
        conventions=(FORM,),
        tolerance=tolerances(
            float64=(1e-10, 1e-10), float32=(2e-5, 2e-5), bfloat16=(3e-2, 5e-2),
            why="cfg.combine's few ulps of M = G(|v_y| + |v_∅|), times the factor r = std(v_y)/std(v_cfg) (each std "
                "a sum of D squares: relative error ~ D·ulp, D ≤ 64 here) applied to v_cfg (error_scale: "
                "(1 + M)(1 + r)). bfloat16 is computed in float32 and rounded once (2^-9 of |v| ≲ 50)"),
        laws=(Law(name="φ = 0 gives cfg.combine", at={phi: 0}, equals=V_CFG),
              Law(name="φ = 1 gives std(v_y) in every sample", at={phi: 1}, of=std(OUT), equals=std(v_y)),
              Law(name="positively homogeneous of degree one (×4: exact in every dtype)",
                  at={v_y: 4 * v_y, v_null: 4 * v_null}, of=OUT / 4, equals=BASE)),
        error_scale=_magnitude(v_y, v_null) * (1 + std(v_y) / std(V_CFG)),
        singular="std(v_cfg) = 0 for a sample (a constant guided prediction, or a sample of one element) has no "
                 "rescale factor: SpecInputError naming v_y/v_null.",
        boundaries=(
            Boundary(symbol="v_y", kind="zero", exactly="raises",
                     why="std(v_cfg) → 0: v_y = v_∅ = 0 raises; samples of tiny spread (norms 1e-7..1e-15, whose "
                         "squares stay normal in every dtype) have the same factor std(v_y)/std(v_cfg) as the unit "
                         "sample (v_out is homogeneous of degree one), which a std clamped or offset by an ε loses; "
                         "v_y = 0 with v_∅ ≠ 0 has factor 0"),),
        notes="std is the standard deviation over every dimension but the batch, centred (torch.std); the ratio "
              "std(v_y)/std(v_cfg) is the same for the unbiased (N − 1, torch's default) and the population (N) "
              "estimator, so the clause needs no convention for it. Lin et al. recommend φ = 0.7: guidance with a "
              "large w inflates the prediction's scale (03: 'At w = 10: ... oversaturated colors'); rescaling restores "
              "std(v_y) and the blend keeps some of v_cfg's direction. diffusers applies it to the scale form's "
              "output (guidance_scale, guidance_rescale).",
    ),
    Clause(
        id="cfg.apg",
        title="Projected guidance (APG): the update's component parallel to v_y down-weighted by η",
        statement=(r"\Delta = v^y - v^\varnothing,\ \Delta^\parallel = \frac{\langle\Delta, v^y\rangle}"
                   r"{\langle v^y, v^y\rangle}\,v^y,\ \Delta^\perp = \Delta - \Delta^\parallel,\quad "
                   r"v^{apg} = v^y + w\,(\Delta^\perp + \eta\,\Delta^\parallel)\ \text{(per sample; }"
                   r"\eta = 1\text{: cfg.combine)}"),
        kind=("identity", "value", "property"),
        provenance=(P(source="external: Sadat, Hilliges & Weber 2024, Eliminating Oversaturation and Artifacts of "
                             "High Guidance Scales in Diffusion Models (arXiv:2410.02416, ICLR 2025), §4 and App. "
                             "(code listing)",
                      quote="pred_guided = pred_cond + (guidance_scale - 1) * normalized_update"),
                    P(source="external: Sadat, Hilliges & Weber 2024 (code listing)",
                      quote="normalized_update = diff_orthogonal + eta * diff_parallel"),
                    P(source="external: diffusers, guiders/adaptive_projected_guidance.py (normalized_guidance)",
                      quote="pred = pred_cond if use_original_formulation else pred_uncond")),
        function="projected_guidance",
        symbols=(V_Y, V_NULL, W,
                 Symbol(name="eta", description="η ∈ [0, 1], the weight of the parallel component (Sadat et al. "
                                                "recommend 0; 1 is cfg.combine)",
                        domain=Domain(low=0.0, high=1.0), role="parameter"),
                 Symbol(name="v_apg", description="the guided prediction", role="output")),
        conventions=(APG_FORM,),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(2e-5, 2e-5), bfloat16=(1e-2, 2e-2),
            why="cfg.combine's few ulps of the intermediates, plus the projection: ⟨Δ, v_y⟩ and ‖v_y‖² are sums of D "
                "products (relative error ≲ D·ulp, D ≤ 64 here), and |Δ∥_j| ≤ ‖Δ‖ elementwise. The comparison "
                "(checks/cfg.py) divides the error by 1 + |v_y| + |v_∅| + (1 + |w| + |1 + w|)(|Δ| + ‖Δ‖): float32 "
                "64·6e-8 = 4e-6 < 2e-5; bfloat16 computed in float32 and rounded once, or in bfloat16 (a few 2^-9)"),
        singular="‖v_y‖ = 0 in a sample: the projection onto v_y is undefined; the spec sets Δ∥ = 0 there "
                 "(torch.nn.functional.normalize's ε clamp, as Sadat et al.'s code and diffusers compute it). "
                 "|w| ≤ 1000.",
        boundaries=(
            Boundary(symbol="v_y", kind="zero", exactly="defined",
                     why="‖v_y‖ = 0: Δ∥ = 0; for 0 < ‖v_y‖ the projection is ⟨Δ, v̂⟩v̂, of size up to ‖Δ‖ however "
                         "small v_y is. Drawn at 0 and at norms 1e-7..1e-11, above normalize's ε = 1e-12 (below it a "
                         "clamped normalisation and the exact projection differ by design: not drawn)"),),
        notes="A variant of the cfg family: η = 1 is cfg.combine in every form (Δ∥ + Δ⊥ = Δ, sympy); η = 0 removes "
              "the parallel component (the oversaturating part, Sadat et al.). The paper's full APG also rescales Δ "
              "to a norm ≤ r and adds a reverse momentum over the steps; those are not part of this clause (diffusers: "
              "adaptive_projected_guidance_rescale = 0, momentum None). Not in the source notes (00–04): the "
              "provenance is the paper and its code.",
    ),
    Clause(
        id="cfg.concentration",
        title="Guidance concentrates samples on the class (exact oracles)",
        statement=(r"\text{acc}(w) = \Pr\big[\arg\max_{y'} p(y' \mid x_0) = y\big],\ x_0 = \text{guided Euler}(w):\ "
                   r"\text{acc}(0) < \text{acc}(1) < \text{acc}(3) < \text{acc}(7)"),
        kind=("property",),
        provenance=(P(source="00", quote="Larger $w$ pushes the denoising direction more toward the conditional "
                                         "distribution"),
                    P(source="03", quote="At w = 3: all images are unambiguously cats"),
                    P(source="03", quote="higher w = more aligned with the prompt but less diverse")),
        function=None,
        tolerance=tolerances(why="a measured claim: the margins are stated in the check, not as a tolerance"),
        singular="None.",
        notes="Measured with the float64 reference: a fixed 2-D mixture of 3 overlapping classes (2 isotropic "
              "components each, σ = 1.2), 300 samples per class from one fixed noise draw, T = 32 guided Euler steps "
              "with the exact oracles; acc = fraction whose highest-posterior class at t = 0 (cond.class_posterior) "
              "is the requested y. Measured acc(0, 1, 3, 7) = 0.548, 0.727, 0.912, 0.987; exact samples of p(x | y) "
              "have Bayes accuracy 0.513 (what w = 0 targets). The check requires acc to rise by ≥ 0.05 at each "
              "step of w, acc(7) ≥ 0.95 and |acc(0) − Bayes accuracy| < 0.06. tests/test_cfg.py prints the table; "
              "tests/test_conditional_trainer.py compares a trained network's table with it.",
    ),
]
