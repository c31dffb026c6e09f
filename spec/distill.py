"""Clauses of the distill family (00, 01, 03, 04): progressive distillation, where a student's one step is trained
to equal two steps of its teacher (03's table), halving the number of sampling steps per round."""
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance

CLAUSES = [
    Clause(
        id="distill.progressive",
        title="Progressive distillation: the student's one step equals two teacher steps",
        statement=(r"x' = x_t - \Delta f(x_t, t),\ x'' = x' - \Delta f(x', t - \Delta);\quad "
                   r"\tilde v(x_t, t) = \frac{x_t - x''}{2\Delta};\quad f_{student} = \tilde v \Rightarrow "
                   r"\mathrm{Euler}_N(f_{student}) = \mathrm{Euler}_{2N}(f),\ \Delta = \tfrac1{2N}"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03",
                      quote="| Progressive Distillation | 4–8 | Student learns to combine 2 teacher steps into 1 |"),
                    P(source="03", quote="The teacher model runs the full sampling trajectory; the student learns to "
                                         "shortcut it."),
                    P(source="00", quote="The idea is to distill the behavior of a many-step diffusion process into a "
                                         "faster student process."),
                    P(source="external: Salimans & Ho, Progressive Distillation for Fast Sampling of Diffusion Models, "
                             "ICLR 2022, Algorithm 2", quote="progressive distillation")),
        function="distillation_target",
        symbols=(Symbol(name="f", description="the teacher's velocity f(x, t) (x (n, d), t (n,))",
                        domain=Domain(kind="callable")),
                 Symbol(name="x_t", description="points at time t", domain=Domain(shape=("n", "d"))),
                 Symbol(name="t", description="start times, scalar or (n,), t ≥ 2Δ",
                        domain=Domain(low=0.0, high=1.0, or_shape=("n",))),
                 Symbol(name="dt", description="the teacher's step Δ > 0 (the student's is 2Δ)",
                        domain=Domain(low=0.0, low_closed=False), role="parameter"),
                 Symbol(name="target", description="what the student regresses onto at (x_t, t), shape (n, d)",
                        role="output")),
        conventions=(
            Convention(name="teacher_step", description="the teacher's sampler step", default="euler",
                       variants=(Variant(name="euler", statement=r"x_{t'} = x_t - (t - t') f(x_t, t)",
                                         mapping="00's sampler step (sampler.euler)", sources=("00",)),
                                 Variant(name="ddim",
                                         statement=r"x_{t'} = (1 - t')\hat x + t'\hat z,\ \hat x = x_t - t f,\ \hat z "
                                                   r"= x_t + (1 - t) f",
                                         mapping="Salimans & Ho's DDIM teacher; on the rf path identical to euler "
                                                 "(sympy proof), so both give the same target", sources=("03",)))),
            Convention(name="student_target", description="the quantity the student is trained to output",
                       default="velocity",
                       variants=(Variant(name="velocity", statement=r"\tilde v = (x_t - x'')/(2\Delta)",
                                         mapping="the spec's default: a velocity student whose Euler step of 2Δ lands "
                                                 "on x''"),
                                 Variant(name="state", statement=r"x''",
                                         mapping=r"the landing point itself: \tilde v = (x_t - x'')/(2\Delta)"),
                                 Variant(name="x", statement=r"\tilde x = (t\,x'' - (t - 2\Delta)\,x_t)/(2\Delta)",
                                         mapping=r"Salimans & Ho's clean-data target (rf path): the x̂ whose DDIM step "
                                                 r"from t to t − 2Δ lands on x''; \tilde v = (x_t - \tilde x)/t"))),
        ),
        tolerance=tolerances(
            float64=(1e-10, 1e-10), float32=(2e-5, 2e-5), bfloat16=(5e-2, 5e-2),
            why="two teacher evaluations (the oracle's own tolerance each) and (x_t − x'')/(2Δ), which cancels for "
                "small Δ: the reference's float64 error is ~1e-16·|x|/Δ ≤ 1e-13 for Δ ≥ 1/128; accelerated uses the "
                "identical (v1 + v2)/2 form; bfloat16 teacher inputs are rounded to 8 bits"),
        singular=("t < 2Δ raises SpecInputError (the second teacher step would leave [0, 1]); t = 2Δ ends exactly at t "
                  "= 0, where the teacher is never evaluated (its second evaluation is at t − Δ = Δ > 0). Δ ≤ 0 "
                  "raises."),
        notes=("Property (checked): a student equal to the target reproduces the teacher's 2N-step Euler sampler with "
               "N steps, for every N and every student_target variant; a second round (a student of the student) "
               "reproduces 4N teacher steps with N. The teacher runs without gradient in accelerated."),
    ),
]
