"""Clauses of the affine family of diffusion/flow formulations (sources 00, 03).

x_t = a(t) x + b(t) z and y = c(t) x + d(t) z, t ∈ [0, 1], t = 0 data, t = 1 noise on every path.
Paths ("rf", "vp", "ve") fix (a, b); targets ("velocity", "epsilon", "x", "v", "score") fix (c, d).
The tables (names, named schedules and their parameters) live here: both backends read them.
"""
from .errors import SpecInputError
from .schedule import EDM
from .schema import Boundary, Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance

PATHS = ("rf", "vp", "ve")
TARGETS = ("velocity", "epsilon", "x", "v", "score")
SCHEDULES = {"rf": ("none",), "vp": ("linear", "cosine", "trig"), "ve": ("geometric",)}
DEFAULT_SCHEDULE = {"rf": "none", "vp": "linear", "ve": "geometric"}

# Named schedule parameters (the clauses below state them).
VP_BETA_MIN, VP_BETA_MAX = 0.1, 20.0          # Song et al. 2021, continuous limit of Ho et al.'s 1e-4..0.02, T = 1000
COSINE_S = 0.008                               # Nichol & Dhariwal 2021
VE_SIGMA_MIN, VE_SIGMA_MAX = 0.01, 50.0        # Song et al. 2021 (CIFAR-10)
EDM_SIGMA_DATA = 0.5                           # Karras et al. 2022 (and diffusers' EDM schedulers)
LOG_SNR_OFFSET = 1e-4                          # denoising-diffusion-pytorch's beta_linear_log_snr: ᾱ(0) = e^{-1e-4}

LINEAR_FORM = Convention(
    name="linear_form", description="which continuous 'linear' VP schedule (what ᾱ(t) the name 'linear' means)",
    default="song",
    variants=(
        Variant(name="song", statement=r"\bar\alpha(t) = e^{-\frac12 t^2(\beta_{max}-\beta_{min}) - t\beta_{min}},\ "
                                       r"\beta_{min} = 0.1,\ \beta_{max} = 20",
                mapping="the spec's default: Song et al. 2021's linear-β VP SDE, the continuous limit of Ho et al.'s "
                        "1e-4..0.02 at T = 1000"),
        Variant(name="beta_linear_log_snr",
                statement=r"\log\mathrm{SNR}(t) = -\log\operatorname{expm1}(10^{-4} + 10t^2),\ \bar\alpha(t) = "
                          r"\sigma(\log\mathrm{SNR}(t)) = e^{-10^{-4} - 10t^2}",
                mapping="denoising-diffusion-pytorch's beta_linear_log_snr (continuous_time_gaussian_diffusion.py; "
                        "ᾱ = sigmoid(log SNR)): the default's form with β_min = 0, β_max = 20, times e^{−10⁻⁴} "
                        "(sympy): β(t) = 20t, and ᾱ(0) = e^{−10⁻⁴} = 0.99990, not 1; max |Δᾱ| ≈ 0.012 against "
                        "the default (at t ≈ 0.21). Not the same function: a different schedule under the same "
                        "name")))
COSINE_FORM = Convention(
    name="cosine_form", description="whether the continuous cosine schedule is normalised to ᾱ(0) = 1",
    default="normalised",
    variants=(
        Variant(name="normalised", statement=r"\bar\alpha(t) = f(t)/f(0),\ f(t) = \cos^2(\tfrac\pi2\tfrac{t+s}{1+s})",
                mapping="the spec's default: Nichol & Dhariwal 2021, eq. 17"),
        Variant(name="alpha_cosine_log_snr",
                statement=r"\log\mathrm{SNR}(t) = -\log(f(t)^{-1} - 1),\ \bar\alpha(t) = \sigma(\log\mathrm{SNR}(t)) "
                          r"= f(t) = \cos^2(\tfrac\pi2\tfrac{t+s}{1+s}),\ s = 0.008",
                mapping="denoising-diffusion-pytorch's alpha_cosine_log_snr: the default times f(0) = "
                        "cos²(π/2·s/(1+s)) = 0.99984 (sympy), i.e. without the normalisation: ᾱ(0) = f(0) ≠ 1, "
                        "ᾱ(1) = 0 as in the default")))


def path_schedule(clause: str, path: str, schedule: str | None) -> str:
    """The schedule of ``path`` (None: its default); a schedule of another path is a SpecInputError (a constraint
    between two arguments, which their symbols' domains cannot state)."""
    if schedule is None:
        return DEFAULT_SCHEDULE[path]
    if schedule not in SCHEDULES[path]:
        raise SpecInputError(clause, "schedule", f"one of {SCHEDULES[path]} on the {path!r} path", repr(schedule))
    return schedule


T = Domain(low=0.0, high=1.0, or_shape=("n",))
T_ANY = Domain(low=0.0, high=1.0, or_shape=("...",))
ARR = Domain(shape=("n", "..."))
PATH = Domain(kind="choice", choices=PATHS)
TARGET = Domain(kind="choice", choices=TARGETS)
SCHEDULE = Domain(kind="choice", choices=tuple(dict.fromkeys(v for vs in SCHEDULES.values() for v in vs)))

_path = Symbol(name="path",
               description="the path: rf (rectified flow), vp (variance preserving), ve (variance exploding)",
               domain=PATH, role="parameter")
_target = Symbol(name="target", description="the prediction target", domain=TARGET, role="parameter")
_schedule = Symbol(name="schedule", description="None: the path's default (vp: linear, ve: geometric, rf: none)",
                   domain=SCHEDULE, role="parameter")

TABLE = (r"\begin{array}{l|cccc} & a & b & c & d\\\hline "
         r"\text{rf} & 1-t & t & & \\ \text{vp} & \sqrt{\bar\alpha(t)} & \sqrt{1-\bar\alpha(t)} & & \\ "
         r"\text{ve} & 1 & \sigma(t) & & \\ \hline "
         r"\text{velocity} & & & a'(t) & b'(t) \\ \epsilon & & & 0 & 1 \\ x & & & 1 & 0 \\ "
         r"v & & & -b(t) & a(t) \\ \text{score} & & & 0 & -1/b(t) \end{array}")

_SCHED_NOTES = ("Schedules (the spec's choice; the notes name none): vp 'linear' (DEFAULT) ᾱ(t) = exp(−½t²(β_max − "
                "β_min) − tβ_min), β_min = 0.1, β_max = 20 (Song et al. 2021: the continuous limit of Ho et al.'s β = "
                "1e-4..0.02 at T = 1000, β_i ≈ β(i/T)/T), chosen as default because 03's row is 'VP (DDPM)'; vp "
                "'cosine' ᾱ(t) = cos²(π/2·(t+s)/(1+s))/cos²(π/2·s/(1+s)), s = 0.008 (Nichol & Dhariwal 2021; their "
                "discrete β-clipping at 0.999 is not part of the continuous form); vp 'trig' a = cos(πt/2), b = "
                "sin(πt/2), ᾱ = cos²(πt/2): the cosine schedule with s = 0, no offset (flow_matching's "
                "CosineScheduler with its t_fm = 1 − t; TrigFlow, Lu & Song 2024); ve 'geometric' σ(t) = "
                "σ_min(σ_max/σ_min)^t, σ_min = 0.01, σ_max = 50 (Song et al. 2021).")

_COEF_TOL = tolerances(
    float64=(1e-12, 1e-14), float32=(2e-5, 1e-6), bfloat16=(1e-2, 1e-4),
    why="exp/sin/sqrt of O(1) arguments in cancellation-free forms (√(1−ᾱ) = √(−expm1 log ᾱ); cosine "
        "1 − ᾱ = sin(θ+θ0)sin(θ−θ0)/cos²θ0): relative error ≤ |log ᾱ| ≤ 10.05 times the dtype's eps; b' = −a a'/b is a "
        "product of relatively accurate factors; bfloat16 is computed in float32 and rounded once (2^-9)")
_LIN_TOL = tolerances(
    float64=(1e-12, 1e-12), float32=(1e-5, 5e-5), bfloat16=(8e-3, 2e-4),
    why="two products and a sum: cancellation between a x and b z makes the error absolute, ≲ 3 ulps of "
        "max(|a x|, |b z|) ≤ 250 (ve: b ≤ 50, inputs |·| ≤ 5): 4.5e-5 in float32; bfloat16 is computed in float32 "
        "and rounded once (relative 2^-9)")

_REDUCTION = Convention(
    name="reduction", description="how the squared error is reduced over a batch", default="batch_mean_sq_norm",
    variants=(Variant(name="batch_mean_sq_norm", statement=r"L = \frac1n\sum_i \|f_i - y_i\|_2^2",
                      mapping="the spec's default: the notes' ‖·‖² per sample, averaged over the batch"),
              Variant(name="mse_all_elements", statement=r"L = \frac1{n\,D}\sum_{i,j} (f_{ij} - y_{ij})^2",
                      mapping="torch.nn.functional.mse_loss (02's code): the default divided by D = elements per "
                              "sample",
                      sources=("02",))))

_SINGULAR_DET = (
    "det M = ad − bc with M = [[a, b], [c, d]] per target: velocity a b' − b a' (rf: 1; vp: −a'/b since a² + b² = 1, "
    "π/2 on vp-trig; ve: σ'(t) > 0); epsilon: a; x: −b; v: a² + b² > 0 (never singular); score: −a/b. det = 0 at: "
    "epsilon on rf, vp-cosine and vp-trig at t = 1 (a = 0; vp-linear has a(1) = e^{-5.025} > 0, ve has a = 1); x on "
    "rf and vp at t = 0 (b = 0; ve has b(0) = σ_min > 0); score where a = 0 (rf, vp-cosine, vp-trig at t = 1). "
    "Coefficients are infinite at: velocity on vp-linear and vp-cosine at t = 0 (b' = −a a'/b, b ~ √t; vp-trig has "
    "b ~ πt/2 and b'(0) = π/2), score where b = 0 (rf, vp at t = 0). At every such point the reference raises "
    "SpecInputError naming the clause, the argument 't' and the singular t; it never returns a limit (the limit does "
    "not exist: the lost component of (x, z) is unobservable).")

_A_ZERO = ({"path": ("rf",)}, {"path": ("vp",), "schedule": ("cosine", "trig")})   # a(1) = 0
_B_ZERO = ({"path": ("rf", "vp")},)                                               # b(0) = 0
_B_PRIME_INF = ({"path": ("vp",), "schedule": ("linear", "cosine")},)              # b ~ √t: b'(0) = ∞


def _when(conditions, param, targets):
    return tuple({**c, param: targets} for c in conditions)


def _infinite_boundaries(param):
    """t where a coefficient of `param`'s row is infinite: velocity on vp-linear/cosine and score where b = 0."""
    return (Boundary(symbol="t", kind="singular", at=(0.0,), exactly="raises",
                     when=_when(_B_PRIME_INF, param, ("velocity",)),
                     why="b ~ √t on vp-linear and vp-cosine: the velocity row's b'(t) = −a a'/b → ∞ as t → 0"),
            Boundary(symbol="t", kind="singular", at=(0.0,), exactly="raises", when=_when(_B_ZERO, param, ("score",)),
                     why="b(0) = 0 on rf and vp: the score row's d = −1/b → ∞ as t → 0"))


def _det_boundaries(param):
    """The points of _SINGULAR_DET as data: det M = 0 or a coefficient of `param`'s row infinite."""
    return (Boundary(symbol="t", kind="singular", at=(1.0,), exactly="raises",
                     when=_when(_A_ZERO, param, ("epsilon", "score")),
                     why="a(1) = 0 on rf, vp-cosine and vp-trig: det = a (epsilon), −a/b (score) vanishes"),
            Boundary(symbol="t", kind="singular", at=(0.0,), exactly="raises", when=_when(_B_ZERO, param, ("x",)),
                     why="b(0) = 0 on rf and vp: det = −b (x) vanishes"),
            *_infinite_boundaries(param))


CLAUSES = [
    Clause(
        id="family.affine",
        velocity_slots=(("out[2]", "target"), ("out[3]", "target")),
        title="The affine template and its coefficient table a, b, c, d",
        statement=(r"x_t = a(t)\,x + b(t)\,z,\quad y = c(t)\,x + d(t)\,z,\quad L = \|f_\theta(x_t,t) - "
                   r"y\|_2^2;\quad " + TABLE),
        kind=("value", "property", "identity"),
        provenance=(P(source="00", quote="x_t = a(t)x + b(t)z,"),
                    P(source="00", quote="y_{gt} = c(t)x + d(t)z,"),
                    P(source="03", quote="| Rectified Flow | 1−t | t | −1 | 1 | Velocity v = z−x |"),
                    P(source="03", quote="| VP (DDPM) | √α(t) | √(1−α(t)) | 0 | 1 | Noise ε |"),
                    P(source="03", quote="| VE (Score SDE) | 1 | σ(t) | 0 | 1 | Noise ε |"),
                    P(source="03", quote="| x-prediction | a(t) | b(t) | 1 | 0 | Clean data x |"),
                    P(source="03", quote="| v-prediction | a(t) | b(t) | −b(t) | a(t) | Velocity v |")),
        function="coefficients",
        symbols=(Symbol(name="t", description="time, 0 = data, 1 = noise (any shape)", domain=T_ANY),
                 _path, _target, _schedule,
                 Symbol(name="abcd", description="(a, b, c, d), each of t's shape", role="output")),
        tolerance=_COEF_TOL,
        singular=("velocity on vp-linear and vp-cosine at t = 0 (b'(0) = ∞, b ~ √t; vp-trig has b'(0) = π/2) and "
                  "score where b(t) = 0 (rf, vp at t = 0) raise SpecInputError "
                  "naming family.affine and t. Everything else is finite on [0, 1]."),
        boundaries=_infinite_boundaries("target"),
        notes=("03's rows are (path, target) pairs: 'Rectified Flow' = (rf, velocity), 'VP (DDPM)' = (vp, epsilon), "
               "'VE (Score SDE)' = (ve, epsilon); x- and v-prediction are targets on any path. 03 writes √α(t) for "
               "what is ᾱ(t), the cumulative product (Ho et al.'s ᾱ_t), not the per-step α_t. ⚠ The table's "
               "v-prediction row (c, d) = (−b, a) is Salimans & Ho's v = α ε − σ x; it is NOT the velocity "
               "dx_t/dt = (a', b') in general (rf: v-pred = (−t, 1 − t) vs velocity (−1, 1)); the two agree up to "
               "the factor dφ/dt only on the trigonometric vp path a = cos φ, b = sin φ. Both are provided, named "
               "'v' and 'velocity'. 'score' is the denoising-score-matching target ∇_{x_t} log p(x_t | x) = −z/b. "
               + _SCHED_NOTES),
    ),
    Clause(
        id="family.vp_schedule",
        velocity_slots=(),
        title="Named continuous VP schedules ᾱ(t): linear-β (default), cosine, and trigonometric",
        statement=(r"\text{linear: } \bar\alpha(t) = e^{-\frac12 t^2(\beta_{max}-\beta_{min}) - t\beta_{min}},\ "
                   r"\beta_{min}=0.1,\ \beta_{max}=20;\quad \text{cosine: } \bar\alpha(t) = "
                   r"\frac{\cos^2(\frac\pi2\frac{t+s}{1+s})}{\cos^2(\frac\pi2\frac{s}{1+s})},\ s = 0.008;\quad "
                   r"\text{trig: } \bar\alpha(t) = \cos^2(\tfrac\pi2 t)\ (a = \cos\tfrac{\pi t}2,\ b = "
                   r"\sin\tfrac{\pi t}2);\quad \bar\alpha_{cosine}(t) = \bar\alpha_{trig}(\tau)/\bar\alpha_{trig}"
                   r"(\tau_0),\ \tau = \tfrac{t+s}{1+s},\ \tau_0 = \tfrac{s}{1+s}"),
        kind=("value", "identity", "property"),
        provenance=(P(source="03", quote="| VP (DDPM) | √α(t) | √(1−α(t)) | 0 | 1 | Noise ε |"),
                    P(source="external: Song et al. 2021, Score-Based Generative Modeling through SDEs, eq. 11 / App. "
                             "B",
                      quote="beta_min = 0.1, beta_max = 20"),
                    P(source="external: Nichol & Dhariwal 2021, Improved DDPM, eq. 17",
                      quote="alpha_bar(t) = f(t)/f(0), f(t) = cos((t/T + s)/(1 + s) * pi/2)^2, s = 0.008"),
                    P(source="external: Meta flow_matching, flow_matching/path/scheduler/scheduler.py, CosineScheduler "
                             "(t = 1 is data there)",
                      quote="alpha_t = sin(pi/2 * t), sigma_t = cos(pi/2 * t)"),
                    P(source="external: Lu & Song 2024, Simplifying, Stabilizing and Scaling Continuous-Time "
                             "Consistency Models (TrigFlow)",
                      quote="x_t = cos(t) x_0 + sin(t) z, t in [0, pi/2]")),
        function="vp_alpha_bar",
        symbols=(Symbol(name="t", description="time (any shape)", domain=T_ANY),
                 Symbol(name="schedule", description="linear (default), cosine or trig",
                        domain=Domain(kind="choice", choices=SCHEDULES["vp"]), role="parameter"),
                 Symbol(name="alpha_bar", description="ᾱ(t) ∈ [0, 1]", role="output")),
        conventions=(LINEAR_FORM, COSINE_FORM),
        tolerance=_COEF_TOL,
        singular="None on [0, 1]: ᾱ(0) = 1 for all three (the log-SNR variants: e^{-1e-4} and f(0)); ᾱ(1) = 0 exactly "
                 "for cosine and trig, e^{-10.05} for linear (e^{-10.0001} in beta_linear_log_snr).",
        notes=("All three are strictly decreasing from ᾱ(0) = 1. The linear schedule at t = i/T matches the discrete "
               "DDPM ᾱ_i of Ho et al.'s linear β (1e-4..0.02, T = 1000) to O(1/T): tests/test_family.py measures it. "
               "trig is the cosine schedule without its offset (s = 0): the cosine one is trig run on τ = (t + s)/(1 + "
               "s) ∈ [s/(1+s), 1] and renormalised to ᾱ(0) = 1. flow_matching's CosineScheduler is trig with its time "
               "reversed (its t = 1 is data: α_t = sin(πt/2) = a(1 − t)); on trig, v-prediction (−b, a) is dx_t/dφ, "
               "φ = πt/2, so velocity = (π/2) v. " + _SCHED_NOTES),
    ),
    Clause(
        id="family.ve_schedule",
        velocity_slots=(),
        title="Named VE schedule σ(t): geometric",
        statement=r"\sigma(t) = \sigma_{min}\,(\sigma_{max}/\sigma_{min})^t,\ \sigma_{min} = 0.01,\ \sigma_{max} = 50",
        kind=("value", "property"),
        provenance=(P(source="03", quote="| VE (Score SDE) | 1 | σ(t) | 0 | 1 | Noise ε |"),
                    P(source="external: Song et al. 2021, Score-Based Generative Modeling through SDEs, App. C",
                      quote="sigma_min = 0.01, sigma_max = 50")),
        function="ve_sigma",
        symbols=(Symbol(name="t", description="time (any shape)", domain=T_ANY),
                 Symbol(name="sigma", description="σ(t) > 0", role="output")),
        tolerance=tolerances(float64=(1e-13, 0.0), float32=(5e-6, 0.0), bfloat16=(5e-3, 0.0),
                             why="exp(t log 5000): relative condition t·log 5000 ≤ 8.6 times the dtype's eps; "
                                 "bfloat16 computed in float32 and rounded once"),
        singular="None: σ(0) = σ_min > 0, so the ve path never reaches pure data (x_0 = x + 0.01 z).",
        notes="log σ is linear in t; σ'(t) = σ(t) log(σ_max/σ_min).",
    ),
    Clause(
        id="family.interpolate",
        velocity_slots=(),
        title="The affine interpolation x_t = a(t) x + b(t) z",
        statement=r"x_t = a(t)\,x + b(t)\,z",
        kind=("value", "property"),
        provenance=(P(source="00", quote="x_t = a(t)x + b(t)z,"),
                    P(source="03",
                      quote="The general framework parameterizes the interpolation and prediction target with four "
                            "functions")),
        function="affine_interpolate",
        symbols=(Symbol(name="x", description="data, batch first", domain=ARR),
                 Symbol(name="z", description="noise, x's shape", domain=ARR),
                 Symbol(name="t", description="a time per sample (or one scalar)", domain=T),
                 _path, _schedule,
                 Symbol(name="x_t", description="x's shape", role="output")),
        tolerance=_LIN_TOL,
        singular="None: defined on all of [0, 1]. x_0 = x on rf and vp; x_1 = z on rf and vp-cosine.",
    ),
    Clause(
        id="family.target",
        velocity_slots=(("out", "target"),),
        title="The affine target y = c(t) x + d(t) z",
        statement=r"y = c(t)\,x + d(t)\,z",
        kind=("value", "property"),
        provenance=(P(source="00", quote="y_{gt} = c(t)x + d(t)z,"),
                    P(source="00", quote="Also, the training target can be chosen differently:")),
        function="affine_target",
        symbols=(Symbol(name="x", description="data", domain=ARR),
                 Symbol(name="z", description="noise", domain=ARR),
                 Symbol(name="t", description="a time per sample", domain=T),
                 _path, _target, _schedule,
                 Symbol(name="y", description="x's shape", role="output")),
        tolerance=_LIN_TOL,
        singular="Where the target's coefficients are infinite (velocity on vp at t = 0, score where b = 0) the "
                 "reference raises SpecInputError naming family.target and t.",
    ),
    Clause(
        id="family.loss",
        velocity_slots=(("f", "target"),),
        title="The regression loss L = ‖f − y‖² of the affine template",
        statement=r"L = \frac1n \sum_i \|f_i - (c(t_i) x_i + d(t_i) z_i)\|_2^2",
        kind=("value",),
        provenance=(P(source="00", quote="L = | f_\\theta(x_t, t) - y_{gt} |_2^2."),),
        function="affine_loss",
        symbols=(Symbol(name="f", description="the network's output f(x_t, t)", domain=ARR),
                 Symbol(name="x", description="data", domain=ARR),
                 Symbol(name="z", description="noise", domain=ARR),
                 Symbol(name="t", description="a time per sample", domain=T),
                 _path, _target, _schedule,
                 Symbol(name="L", description="scalar loss", role="output")),
        conventions=(_REDUCTION,),
        tolerance=tolerances(float64=(1e-12, 1e-12), float32=(1e-5, 1e-5), bfloat16=(8e-3, 1e-4),
                             why="a sum of non-negative squares (no cancellation after the residual); the residual's "
                                 "absolute error (see family.target) enters squared terms relatively; bfloat16 in "
                                 "float32"),
        singular="As family.target.",
    ),
    Clause(
        id="family.recover",
        velocity_slots=(("y", "target"),),
        title="Recover (x̂, ẑ) from x_t and any target through the 2×2 inverse",
        statement=(r"\begin{pmatrix}\hat x\\ \hat z\end{pmatrix} = \begin{pmatrix} a & b\\ c & d\end{pmatrix}^{-1}"
                   r"\begin{pmatrix}x_t\\ y\end{pmatrix} = \frac{1}{ad - bc}\begin{pmatrix} d\,x_t - b\,y\\ a\,y - "
                   r"c\,x_t\end{pmatrix}"),
        kind=("identity", "value", "property"),
        provenance=(P(source="00",
                      quote="So many apparently different diffusion papers are really different coordinate systems or "
                            "parameterizations of a related underlying idea."),
                    P(source="03", quote="(2) what the network predicts (noise, data, velocity)")),
        function="recover",
        symbols=(Symbol(name="x_t", description="the noisy point", domain=ARR),
                 Symbol(name="y", description="a prediction of the target", domain=ARR),
                 Symbol(name="t", description="a time per sample", domain=T),
                 _path, _target, _schedule,
                 Symbol(name="xz", description="(x̂, ẑ), each x_t's shape", role="output")),
        tolerance=tolerances(float64=(1e-12, 1e-12), float32=(1e-5, 1e-6), bfloat16=(8e-3, 1e-4),
                             why="Solving with M = [[a, b], [c, d]] amplifies relative input errors by κ(M) = ‖M‖‖M⁻¹‖ "
                                 "(2-norm). The comparison (checks/family.py) scales atol by κ(M)·max(|x_t|, "
                                 "|y|); rtol and atol here are per unit of that scale: a few eps of the dtype"),
        singular=_SINGULAR_DET,
        boundaries=_det_boundaries("target"),
    ),
    Clause(
        id="family.convert",
        velocity_slots=(("y", "from_target"), ("out", "to_target")),
        title="Convert a prediction between any two targets",
        statement=(r"y_B = (c_B,\ d_B)\,M_A^{-1}\begin{pmatrix}x_t\\ y_A\end{pmatrix},\quad M_A = \begin{pmatrix} a & "
                   r"b\\ c_A & d_A\end{pmatrix},\ \det M_A = a d_A - b c_A;\quad \mathrm{convert}_{B\to "
                   r"A}\circ\mathrm{convert}_{A\to B} = \mathrm{id}"),
        kind=("identity", "value", "property"),
        provenance=(P(source="00", quote="Also, the training target can be chosen differently:"),
                    P(source="03",
                      quote="Despite the different parameterizations, all these methods learn to transport the noise "
                            "distribution to the data distribution along some path.")),
        function="convert",
        symbols=(Symbol(name="x_t", description="the noisy point", domain=ARR),
                 Symbol(name="y", description="a prediction of from_target", domain=ARR),
                 Symbol(name="t", description="a time per sample", domain=T),
                 Symbol(name="from_target", description="the target y predicts", domain=TARGET, role="parameter"),
                 Symbol(name="to_target", description="the target to return", domain=TARGET, role="parameter"),
                 _path, _schedule,
                 Symbol(name="y_to", description="x_t's shape", role="output")),
        tolerance=tolerances(float64=(1e-12, 1e-12), float32=(1e-5, 1e-6), bfloat16=(8e-3, 1e-4),
                             why="(c_B, d_B) M_A⁻¹: the error is ≲ κ(M_A)·‖(c_B, d_B)‖·eps·max(|x_t|, |y|). The "
                                 "comparison (conformance/checks/family.py) scales atol by κ(M_A)·(1 + ‖(c_B, "
                                 "d_B)‖)·max(|x_t|, |y|). Round trip A→B→A: |error| ≤ "
                                 "16·eps·κ(M_A)·κ(M_B)·(1+‖row_A‖)(1+‖row_B‖)·max(|x_t|, |y|), tested on t in [0.01, "
                                 "0.99] and near every singular t (boundaries: 1e-15..1e-3 and a few ulps away)"),
        singular=_SINGULAR_DET + " Exception: from_target = to_target returns y unchanged at every t (the identity "
                                  "needs no inversion).",
        boundaries=_det_boundaries("from_target") + _infinite_boundaries("to_target"),
        notes="Equivalent to recover followed by affine_target on (x̂, ẑ). The accelerated version folds "
              "(c_B, d_B) M_A⁻¹ into two coefficients (one pass over the data).",
    ),
    Clause(
        id="family.edm_precond",
        title="EDM preconditioning: c_skip, c_out, c_in, c_noise (the network F as a target of the affine family)",
        statement=(r"c_{skip} = \frac{\sigma_d^2}{\sigma^2 + \sigma_d^2},\ c_{out} = \frac{\sigma\sigma_d}"
                   r"{\sqrt{\sigma^2 + \sigma_d^2}},\ c_{in} = \frac{1}{\sqrt{\sigma^2 + \sigma_d^2}},\ c_{noise} = "
                   r"\tfrac14\ln\sigma;\quad F = \frac{x - c_{skip}\,x_\sigma}{c_{out}} = \frac{\sigma\,x/\sigma_d - "
                   r"\sigma_d z}{\sqrt{\sigma^2 + \sigma_d^2}}\ \text{on } x_\sigma = x + \sigma z\ (a = 1,\ b = "
                   r"\sigma);\quad c_{skip} + (c_{out}/\sigma_d)^2 = 1"),
        kind=("identity", "value", "property"),
        provenance=(P(source=f"{EDM}, Table 1 and eq. 7",
                      quote="c_skip(sigma) = sigma_data^2/(sigma^2 + sigma_data^2), c_out(sigma) = sigma "
                            "sigma_data/sqrt(sigma_data^2 + sigma^2), c_in(sigma) = 1/sqrt(sigma^2 + sigma_data^2), "
                            "c_noise(sigma) = 1/4 ln(sigma)"),
                    P(source="external: diffusers, EDMEulerScheduler.precondition_inputs / precondition_outputs / "
                             "precondition_noise (sigma_data=0.5)",
                      quote="c_skip = sigma_data**2 / (sigma**2 + sigma_data**2); c_out = sigma * sigma_data / "
                            "(sigma**2 + sigma_data**2) ** 0.5")),
        function="edm_preconditioning",
        symbols=(Symbol(name="sigma", description="noise levels σ > 0 (any shape)",
                        domain=Domain(low=0.0, low_closed=False, shape=("...",))),
                 Symbol(name="sigma_data", description="σ_d > 0, the data's standard deviation (EDM: 0.5)",
                        domain=Domain(low=0.0, low_closed=False), role="parameter"),
                 Symbol(name="scalings", description="(c_skip, c_out, c_in, c_noise), each of σ's shape",
                        role="output")),
        tolerance=tolerances(float64=(1e-14, 1e-300), float32=(2e-6, 1e-30), bfloat16=(1e-2, 1e-30),
                             why="relative: each is a product, quotient or square root of positive quantities "
                                 "(σ² + σ_d² adds two positive terms: no cancellation), ≤ 6 roundings; ¼ ln σ of an "
                                 "exactly given σ is relatively accurate away from σ = 1 and absolutely (≲ eps/4) near "
                                 "it (atol: the dtype's smallest normal; c_noise(1) = 0 exactly). bfloat16 computed in "
                                 "float32 and rounded once (2^-9). The reference evaluates through h = hypot(σ, σ_d) "
                                 "(c_skip = (σ_d/h)², c_out = σ (σ_d/h), c_in = 1/h): no overflow of σ²"),
        property_tolerance={"with the target's c_skip, c_out: D(x_σ, F_target) = x": tolerances(
            float64=(0.0, 2e-14), float32=(0.0, 3e-6), bfloat16=(0.0, 1.3e-2),
            why="D = c_skip x_σ + c_out F − x is a cancellation (|x| may be ≪ M = c_skip |x_σ| + c_out |F|): its "
                "error is absolute in M, not relative to x. With c_skip, c_out each within the value tolerance r "
                "(1e-14, 2e-6, 1e-2) and x_σ, F rounded to the run's dtype (unit roundoff u: 1.1e-16, 6e-8, 2^-9), "
                "|D − x| ≤ (r + u + 3·2^-53)·M; the check divides by 1 + M, so atol = r + u rounded up")},
        singular="σ = 0 is outside the domain (c_noise = −∞; the limits are c_skip = 1, c_out = 0, c_in = 1/σ_d: D = "
                 "x_σ). σ → ∞: c_skip → 0, c_out → σ_d, F → x/σ_d. F is never singular as a target: det[[1, σ], [c_F, "
                 "d_F]] = −√(σ² + σ_d²)/σ_d ≠ 0 (unlike ε at a = 0 or x at b = 0).",
        notes=("D(x_σ; σ) = c_skip x_σ + c_out F(c_in x_σ; c_noise) is an x-prediction on the VE path x_σ = x + σ z "
               "(family.edm_denoise). As a target of the affine family on that path (a, b) = (1, σ), F has the row "
               "(c_F, d_F) = ((1 − c_skip)/c_out, −σ c_skip/c_out) = (σ/σ_d, −σ_d)/√(σ² + σ_d²), and family.convert "
               "from the x target to it is F = (x̂ − c_skip x_σ)/c_out (sympy). On any path with a > 0, σ = b/a and "
               "x_σ = x_t/a. Limits: σ → 0 or σ_d → ∞ make F → −z (ε-prediction, D = x_σ − σ ẑ); σ → ∞ or σ_d → 0 "
               "make σ_d F → x (x-prediction); at σ_d = 1 on the vp coordinates a = 1/√(1 + σ²), b = σ a, F = b x − "
               "a z = −v (Salimans & Ho's v-prediction, negated). k-diffusion's Denoiser defaults to σ_d = 1, "
               "diffusers and the paper to 0.5."),
    ),
    Clause(
        id="family.edm_denoise",
        title="EDM denoiser D = c_skip x_σ + c_out F: an x-prediction from the network's output",
        statement=(r"D(x_\sigma; \sigma) = c_{skip}(\sigma)\,x_\sigma + c_{out}(\sigma)\,F,\quad F = "
                   r"F_\theta(c_{in} x_\sigma; c_{noise});\quad F = \frac{\sigma x/\sigma_d - \sigma_d z}"
                   r"{\sqrt{\sigma^2 + \sigma_d^2}}\ \Rightarrow\ D = x"),
        kind=("identity", "value", "property"),
        provenance=(P(source=f"{EDM}, eq. 7",
                      quote="D_theta(x; sigma) = c_skip(sigma) x + c_out(sigma) F_theta(c_in(sigma) x; "
                            "c_noise(sigma))"),
                    P(source="external: diffusers, EDMEulerScheduler.precondition_outputs(sample, model_output, sigma)",
                      quote="denoised = c_skip * sample + c_out * model_output")),
        function="edm_denoise",
        symbols=(Symbol(name="x_sigma", description="x_σ = x + σ z, batch first", domain=ARR),
                 Symbol(name="F", description="the network's output F_θ(c_in x_σ; c_noise), x_σ's shape", domain=ARR),
                 Symbol(name="sigma", description="σ > 0: one number or one per sample",
                        domain=Domain(low=0.0, low_closed=False, or_shape=("n",))),
                 Symbol(name="sigma_data", description="σ_d > 0 (EDM: 0.5)",
                        domain=Domain(low=0.0, low_closed=False), role="parameter"),
                 Symbol(name="D", description="the denoised estimate of x, x_σ's shape", role="output")),
        tolerance=tolerances(float64=(1e-14, 1e-14), float32=(1e-6, 1e-6), bfloat16=(1e-2, 1e-2),
                             why="two products and a sum: where c_skip x_σ and c_out F cancel the error is absolute, "
                                 "a few ulps of M = c_skip |x_σ| + c_out |F|; the comparison divides by 1 + M "
                                 "(checks/family.py), so these hold for any magnitude: float32 4·6e-8 ≪ 1e-6; "
                                 "bfloat16 computed in float32 and rounded once (2^-9 of 1 + M)"),
        singular="None for σ > 0. σ → 0: D → x_σ (c_skip → 1, c_out → 0).",
        notes=("With F the EDM target of (x, z) D returns x exactly: D is family.convert from the F target to the x "
               "target on the path (1, σ). diffusers' precondition_outputs(sample, model_output, sigma) is this "
               "function with sample = x_σ, model_output = F."),
    ),
]
