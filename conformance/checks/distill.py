"""Conformance checks of progressive distillation: the DDIM = Euler identity on rf and the target identities (sympy),
and the defining property: a student equal to the target reproduces the teacher's 2N-step sampler in N steps."""
from __future__ import annotations

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from genspec.reference.sampler import euler_sample

from ..fixtures import BIMODAL, _seeds, oracle, random_mixture
from ..harness.arrays import T_EDGES, draw_edges
from ..harness.declare import ClauseChecks, Dual, Proof, Property
from ..harness.inputs import derived, inputs

PROG = "distill.progressive"

# ---- sympy --------------------------------------------------------------------------------------
x, v, v2, t, tp, D = sp.symbols("x v v2 t t' Delta", real=True)
_euler = x - (t - tp) * v
_ddim = (1 - tp) * (x - t * v) + tp * (x + (1 - t) * v)      # x̂ = x − t v, ẑ = x + (1 − t) v on rf
_x2 = (x - D * v) - D * v2                                    # two Euler steps, v2 = f(x', t − Δ)
_vt = (x - _x2) / (2 * D)
_xt = (t * _x2 - (t - 2 * D) * x) / (2 * D)


# ---- strategies ---------------------------------------------------------------------------------
@st.composite
def _times(draw, n, dt):
    """t ∈ [2Δ, 1] (two teacher steps stay in [0, 1]), the ends 2Δ and 1 one time in five, the edges near 1."""
    rng = np.random.default_rng(draw(_seeds))
    tt = rng.uniform(2 * dt, 1.0, n)
    tt[rng.random(n) < 0.2], tt[rng.random(n) < 0.2] = 2 * dt, 1.0
    return draw_edges(draw, tt, [v for v in T_EDGES if v >= 2 * dt])


_cases = inputs(PROG, dims={"d": (1, 3)}, dt=st.sampled_from([1, 2, 4, 8, 32]).map(lambda N: 1.0 / (2 * N)),
                f=derived(lambda v: _seeds.map(np.random.default_rng).map(
                    lambda rng: oracle(*random_mixture(rng, int(rng.integers(1, 4)), v["d"], lam=(0.1, 2.0))))),
                t=derived(lambda v: _times(v["n"], v["dt"])))
"""x_t from its domain; Δ = 1/(2N) for N teacher steps; the teacher the oracle of a random mixture; t ∈ [2Δ, 1]."""


# ---- properties ---------------------------------------------------------------------------------
def as_velocity(target, x_t, t, dt, student_target):
    """The velocity of a student that outputs ``target`` (spec/distill.py's mapping of each variant)."""
    tt = np.broadcast_to(t, (x_t.shape[0],))[:, None]
    if student_target == "state":
        return (x_t - target) / (2 * dt)
    if student_target == "x":
        return (x_t - target) / tt
    return target


def student_of(ctx, fn, teacher: Dual, dt):
    """The student that equals the target: a Dual whose both sides call the target (NumPy in/out via the harness)."""
    conv = ctx.convention(PROG, "student_target")

    def numpy_fn(x_t, t):
        return as_velocity(fn(f=teacher, x_t=x_t, t=t, dt=dt), x_t, t, dt, conv)

    def torch_fn(x_t, t):
        import torch
        out = numpy_fn(x_t.detach().cpu().double().numpy(), t.detach().cpu().double().numpy())
        return torch.as_tensor(out, dtype=x_t.dtype, device=x_t.device)

    return Dual(numpy=numpy_fn, torch=torch_fn, label="student")


def _reproduces_teacher(ctx, fn, inp):
    """Euler_N(student) = Euler_2N(teacher), and a second round: Euler_N(student of student) = Euler_4N(teacher)."""
    teacher = inp["f"]
    x1 = np.random.default_rng(5).standard_normal((8, inp["x_t"].shape[1]))
    for N in (1, 2, 3, 5):
        student = student_of(ctx, fn, teacher, 1.0 / (2 * N))
        ctx.assert_close(PROG, euler_sample(student.numpy, x1, N), euler_sample(teacher.numpy, x1, 2 * N),
                         what=f"student with {N} steps vs teacher with {2 * N}")
    N = 2
    student1 = student_of(ctx, fn, teacher, 1.0 / (4 * N))
    student2 = student_of(ctx, fn, student1, 1.0 / (2 * N))
    ctx.assert_close(PROG, euler_sample(student2.numpy, x1, N), euler_sample(teacher.numpy, x1, 4 * N),
                     what=f"second-round student with {N} steps vs teacher with {4 * N}")


def _lands_on_two_steps(ctx, fn, inp):
    """One student step of 2Δ from x_t lands where two teacher Euler steps of Δ land."""
    conv = ctx.convention(PROG, "student_target")
    x_t, tt, dt, f = inp["x_t"], np.broadcast_to(inp["t"], (inp["x_t"].shape[0],)), inp["dt"], inp["f"].numpy
    x_mid = x_t - dt * f(x_t, tt)
    x_end = x_mid - dt * f(x_mid, tt - dt)
    v_student = as_velocity(fn(**inp), x_t, tt, dt, conv)
    ctx.assert_close(PROG, x_t - 2 * dt * v_student, x_end, what="x_t − 2Δ ṽ vs two teacher steps")


CHECKS = [
    ClauseChecks(
        clause=PROG,
        cases=_cases,
        proofs=(Proof("rf: the DDIM step (1 − t')x̂ + t'ẑ equals the Euler step x − (t − t') f",
                      lambda: sp.expand(_ddim - _euler)),
                Proof("one student step of 2Δ with ṽ = (x_t − x'')/(2Δ) lands on x''",
                      lambda: sp.simplify(x - 2 * D * _vt - _x2)),
                Proof("ṽ = (f(x_t, t) + f(x', t − Δ))/2 (accelerated's cancellation-free form)",
                      lambda: sp.simplify(_vt - (v + v2) / 2)),
                Proof("x variant: (x_t − x̃)/t = ṽ (rf: velocity from an x prediction)",
                      lambda: sp.simplify((x - _xt) / t - _vt))),
        properties=(Property("one student step = two teacher steps", _lands_on_two_steps),
                    Property("a student equal to the target reproduces the teacher's 2N steps with N (and 4N after two "
                             "rounds)",
                             _reproduces_teacher)),
        max_examples=10,
        example=lambda: {"f": oracle(*BIMODAL), "x_t": np.array([[0.5, -1.0]]), "t": np.array([1.0]), "dt": 0.25},
    ),
]
