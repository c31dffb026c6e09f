"""Clauses of the affine family of diffusion/flow formulations (sources 00, 03).

x_t = a(t) x + b(t) z and y = c(t) x + d(t) z, t ∈ [0, 1], t = 0 data, t = 1 noise on every path.
Paths ("rf", "vp", "ve") fix (a, b); targets ("velocity", "epsilon", "x", "v", "score") fix (c, d).
The tables (names, named schedules and their parameters) live here: both backends read them.
"""
from .errors import SpecInputError
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance

PATHS = ("rf", "vp", "ve")
TARGETS = ("velocity", "epsilon", "x", "v", "score")
SCHEDULES = {"rf": ("none",), "vp": ("linear", "cosine"), "ve": ("geometric",)}
DEFAULT_SCHEDULE = {"rf": "none", "vp": "linear", "ve": "geometric"}

# Named schedule parameters (the clauses below state them).
VP_BETA_MIN, VP_BETA_MAX = 0.1, 20.0          # Song et al. 2021, continuous limit of Ho et al.'s 1e-4..0.02, T = 1000
COSINE_S = 0.008                               # Nichol & Dhariwal 2021
VE_SIGMA_MIN, VE_SIGMA_MAX = 0.01, 50.0        # Song et al. 2021 (CIFAR-10)


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
                "discrete β-clipping at 0.999 is not part of the continuous form); ve 'geometric' σ(t) = "
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
    "det M = ad − bc with M = [[a, b], [c, d]] per target: velocity a b' − b a' (rf: 1; vp: −a'/b since a² + b² = 1; "
    "ve: σ'(t) > 0); epsilon: a; x: −b; v: a² + b² > 0 (never singular); score: −a/b. det = 0 at: epsilon on rf at "
    "t = 1 and on vp-cosine at t = 1 (a = 0; vp-linear has a(1) = e^{-5.025} > 0, ve has a = 1); x on rf and vp at t = "
    "0 (b = 0; ve has b(0) = σ_min > 0); score where a = 0 (rf, vp-cosine at t = 1). Coefficients are infinite at: "
    "velocity on vp at t = 0 (b' = −a a'/b, b ~ √t), score where b = 0 (rf, vp at t = 0). At every such point the "
    "reference raises SpecInputError naming the clause, the argument 't' and the singular t; it never returns a limit "
    "(the limit does not exist: the lost component of (x, z) is unobservable).")

CLAUSES = [
    Clause(
        id="family.affine",
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
        singular=("velocity on vp at t = 0 (b'(0) = ∞) and score where b(t) = 0 (rf, vp at t = 0) raise SpecInputError "
                  "naming family.affine and t. Everything else is finite on [0, 1]."),
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
        title="Named continuous VP schedules ᾱ(t): linear-β (default) and cosine",
        statement=(r"\text{linear: } \bar\alpha(t) = e^{-\frac12 t^2(\beta_{max}-\beta_{min}) - t\beta_{min}},\ "
                   r"\beta_{min}=0.1,\ \beta_{max}=20;\quad \text{cosine: } \bar\alpha(t) = "
                   r"\frac{\cos^2(\frac\pi2\frac{t+s}{1+s})}{\cos^2(\frac\pi2\frac{s}{1+s})},\ s = 0.008"),
        kind=("value", "identity", "property"),
        provenance=(P(source="03", quote="| VP (DDPM) | √α(t) | √(1−α(t)) | 0 | 1 | Noise ε |"),
                    P(source="external: Song et al. 2021, Score-Based Generative Modeling through SDEs, eq. 11 / App. "
                             "B",
                      quote="beta_min = 0.1, beta_max = 20"),
                    P(source="external: Nichol & Dhariwal 2021, Improved DDPM, eq. 17",
                      quote="alpha_bar(t) = f(t)/f(0), f(t) = cos((t/T + s)/(1 + s) * pi/2)^2, s = 0.008")),
        function="vp_alpha_bar",
        symbols=(Symbol(name="t", description="time (any shape)", domain=T_ANY),
                 Symbol(name="schedule", description="linear (default) or cosine",
                        domain=Domain(kind="choice", choices=SCHEDULES["vp"]), role="parameter"),
                 Symbol(name="alpha_bar", description="ᾱ(t) ∈ [0, 1]", role="output")),
        tolerance=_COEF_TOL,
        singular="None on [0, 1]: ᾱ(0) = 1 for both; ᾱ(1) = 0 exactly for cosine, e^{-10.05} for linear.",
        notes=("Both are strictly decreasing from ᾱ(0) = 1. The linear schedule at t = i/T matches the discrete "
               "DDPM ᾱ_i of Ho et al.'s linear β (1e-4..0.02, T = 1000) to O(1/T): tests/test_family.py measures it. "
               + _SCHED_NOTES),
    ),
    Clause(
        id="family.ve_schedule",
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
    ),
    Clause(
        id="family.convert",
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
                                 "16·eps·κ(M_A)·κ(M_B)·(1+‖row_A‖)(1+‖row_B‖)·max(|x_t|, |y|), tested with t kept ≥ "
                                 "0.01 away from every singular t"),
        singular=_SINGULAR_DET + " Exception: from_target = to_target returns y unchanged at every t (the identity "
                                  "needs no inversion).",
        notes="Equivalent to recover followed by affine_target on (x̂, ẑ). The accelerated version folds "
              "(c_B, d_B) M_A⁻¹ into two coefficients (one pass over the data).",
    ),
]
