"""Clauses of rectified flow (sources 00, 01, 03, 04) and of flow matching's opposite time convention (02).

t = 0 is data, t = 1 is noise (00, 01, 03, 04). 02 writes flow matching with the opposite time: the clause
fm.convention states the mapping t_fm = 1 − t_rf, v_fm = −v_rf.
"""
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

ALSO_PREFIXES = ("fm",)

P = Provenance
ARR = Domain(shape=("n", "..."))
T = Domain(low=0.0, high=1.0, or_shape=("n",))

TIME = Convention(
    name="time", description="which end of the straight path t = 0 is", default="data_at_0",
    variants=(Variant(name="data_at_0", statement=r"x_t = (1-t)\,x + t\,z,\quad v = z - x",
                      mapping="the spec's default (00, 01, 03, 04): t = 0 data, t = 1 noise, sample from t = 1 to 0",
                      sources=("00", "01", "03", "04")),
              Variant(name="noise_at_0", statement=r"x_t = (1-t)\,x_0 + t\,x_1,\ x_0 = z,\ x_1 = x,\quad v = x_1 - x_0",
                      mapping=r"t_{fm} = 1 - t_{rf},\ v_{fm} = -v_{rf} (02's flow matching; see fm.convention)",
                      sources=("02",))))

_LIN_TOL = tolerances(
    float64=(1e-12, 1e-12), float32=(1e-5, 2e-6), bfloat16=(8e-3, 1e-4),
    why="x_t = (1 − t)x + tz: two products and a sum; cancellation makes the error absolute, ≲ 3 ulps of "
        "max(|x|, |z|) ≤ 5 (float32: 1.8e-6); bfloat16 is computed in float32 and rounded once (relative 2^-9)")

_REDUCTION = Convention(
    name="reduction", description="how the squared error is reduced over a batch", default="batch_mean_sq_norm",
    variants=(Variant(name="batch_mean_sq_norm", statement=r"L = \frac1n\sum_i \|f_i - v_i\|_2^2",
                      mapping="the spec's default: 00's ‖f − v‖² per sample, averaged over the batch", sources=("00",)),
              Variant(name="mse_all_elements", statement=r"L = \frac{1}{nD}\sum_{i,j}(f_{ij} - v_{ij})^2",
                      mapping="torch.nn.functional.mse_loss (02's code, mean over all elements) = default × 1/D, "
                              "D = number of elements per sample", sources=("02",))))

CLAUSES = [
    Clause(
        id="rf.interpolation",
        title="Rectified-flow interpolation between data and noise",
        statement=r"x_t = (1 - t)\,x + t\,z,\qquad t = 0:\ x_t = x\ (\text{data}),\quad t = 1:\ x_t = z\ "
                  r"(\text{noise})",
        kind=("value", "property"),
        provenance=(P(source="00", quote="x_t = (1-t)x + tz, \\qquad v = z - x."),
                    P(source="01", quote="Let $x_t$ be a point along the velocity line"),
                    P(source="04", quote="form x_t as the linear interpolation between x and z at t.")),
        function="interpolate",
        symbols=(Symbol(name="x", description="data, batch first", domain=ARR),
                 Symbol(name="z", description="noise, x's shape", domain=ARR),
                 Symbol(name="t", description="one time per sample (or a scalar)", domain=T),
                 Symbol(name="x_t", description="x's shape", role="output")),
        conventions=(TIME,),
        tolerance=_LIN_TOL,
        singular="None: defined on all of [0, 1]; the endpoints return x and z exactly.",
        notes="The path of family.affine with (a, b) = (1 − t, t).",
    ),
    Clause(
        id="rf.velocity",
        title="The rectified-flow velocity v = z − x = dx_t/dt",
        statement=r"v = z - x = \frac{d x_t}{dt}",
        kind=("identity", "value", "property"),
        provenance=(P(source="00", quote="$v$ is the velocity vector pointing from data to noise."),
                    P(source="04", quote="predict the ground-truth velocity vector v = z − x"),
                    P(source="03", quote="The velocity along this straight line is constant:")),
        function="velocity",
        symbols=(Symbol(name="x", description="data", domain=ARR),
                 Symbol(name="z", description="noise", domain=ARR),
                 Symbol(name="v", description="x's shape, independent of t", role="output")),
        conventions=(TIME,),
        tolerance=tolerances(float64=(1e-14, 1e-14), float32=(1e-6, 1e-6), bfloat16=(4e-3, 1e-4),
                             why="one subtraction: half an ulp of |z − x| (exact by Sterbenz when z ≈ x); the "
                                 "difference-quotient property adds a few ulps of max(|x|, |z|) ≤ 5"),
        singular="None.",
    ),
    Clause(
        id="rf.loss",
        title="Rectified-flow regression loss L = ‖f − v‖²",
        statement=r"L = \frac1n\sum_i \|f_\theta(x_t, t)_i - (z_i - x_i)\|_2^2",
        kind=("value", "property"),
        provenance=(P(source="00", quote="L = | f_\\theta(x_t, t) - v |_2^2."),
                    P(source="04", quote="using a mean squared error (MSE) loss"),
                    P(source="02", quote="return F.mse_loss(pred, target)")),
        function="loss",
        symbols=(Symbol(name="f", description="the network's prediction f(x_t, t)", domain=ARR),
                 Symbol(name="x", description="data", domain=ARR),
                 Symbol(name="z", description="noise", domain=ARR),
                 Symbol(name="L", description="scalar", role="output")),
        conventions=(_REDUCTION,),
        tolerance=tolerances(float64=(1e-12, 1e-14), float32=(1e-5, 1e-7), bfloat16=(8e-3, 1e-5),
                             why="a mean of sums of squares: the residual is exact-ish (one subtraction), then "
                                 "non-negative terms (no cancellation), float32 accumulation of ≤ 100 terms"),
        singular="None.",
        notes="The reduction matters for the learning-rate scale only; minimisers agree.",
    ),
    Clause(
        id="fm.convention",
        title="Flow matching's opposite time convention (02) and its mapping to rectified flow",
        statement=(r"x_t^{fm} = (1 - t)\,x_0 + t\,x_1,\ x_0 = z\ (\text{noise}),\ x_1 = x\ (\text{data}),\ "
                   r"v^{fm} = x_1 - x_0;\quad t_{fm} = 1 - t_{rf},\ x^{fm}_{t} = x^{rf}_{1-t},\ v^{fm} = -v^{rf};\ "
                   r"\text{integrate } t_{fm}: 0\to 1 \iff t_{rf}: 1 \to 0"),
        kind=("identity", "value", "property"),
        provenance=(P(source="02", quote="x_t = (1 - t) * x0 + t * x1 target = x1 - x0"),
                    P(source="02", quote="x0 = torch.randn_like(x1) # start point: pure noise"),
                    P(source="02", quote="integrate model's velocity field with an ODE solver from t=0 to t=1")),
        function="flow_matching_pair",
        symbols=(Symbol(name="x0", description="noise (02's naming)", domain=ARR),
                 Symbol(name="x1", description="data (02's naming)", domain=ARR),
                 Symbol(name="t", description="02's time: 0 = noise, 1 = data", domain=T),
                 Symbol(name="xt_target", description="(x_t, x1 − x0)", role="output")),
        tolerance=_LIN_TOL,
        singular="None.",
        notes=("⚠ 00/01/03/04 put data at t = 0 and noise at t = 1 and regress v = z − x; 02 puts noise at "
               "t = 0 (x0) and data at t = 1 (x1) and regresses x1 − x0 = x − z. Same straight path, opposite "
               "orientation: t_fm = 1 − t_rf, v_fm = −v_rf; an Euler step x ← x + Δt v_fm(x, t_fm) is the step "
               "x ← x − Δt v_rf(x, 1 − t_fm) of 00's sampler. A network trained in one convention is used in the other "
               "with f_rf(x, t) = −f_fm(x, 1 − t). The rf clauses carry the same mapping as their 'time' convention."),
    ),
]
