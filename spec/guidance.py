"""Classifier guidance (03; Dhariwal & Nichol 2021): the score of the unconditional model plus s times the gradient of
a separately trained noisy classifier p_φ(y | x_t). With the exact class posterior it is classifier-free guidance's
score form (cfg.score) at s = 1 + w."""
from .expression import symbols
from .schema import Clause, Convention, Domain, Law, Provenance, Symbol, Variant, tolerances

ALSO_PREFIXES = ("cfg",)

P = Provenance
s, score, grad_log_classifier = symbols("s score grad_log_classifier")
DN = "external: Dhariwal & Nichol 2021, Diffusion Models Beat GANs on Image Synthesis, §4"

SCALE = Convention(
    name="scale", description="how the classifier's weight is written", default="s",
    variants=(
        Variant(name="s", statement=r"\nabla\log p(x_t) + s\,\nabla\log p_\phi(y\mid x_t)",
                mapping="the spec's default, Dhariwal & Nichol's gradient scale s: s = 0 unconditional, s = 1 the "
                        "conditional score ∇log p(x_t | y) when p_φ is exact, s > 1 sharper"),
        Variant(name="w", statement=r"\nabla\log p(x_t) + (1 + w)\,\nabla\log p_\phi(y\mid x_t)",
                mapping=r"s = 1 + w: the weight of cfg.combine's default form one_plus_w (w = 0 conditional, "
                        r"w = −1 unconditional), so classifier and classifier-free guidance share one number",
                arguments={"s": s - 1})))

CLAUSES = [
    Clause(
        id="cfg.classifier_guidance",
        title="Classifier guidance: ∇log p(x_t) + s ∇log p_φ(y | x_t) with a separate noisy classifier",
        statement=(r"\tilde s(x_t, y) = \nabla\log p_t(x_t) + s\,\nabla_{x_t}\log p_\phi(y\mid x_t);\quad "
                   r"p_\phi = p_t(y\mid x_t)\ \Rightarrow\ \tilde s = (1 + w)\nabla\log p_t(x_t\mid y) - "
                   r"w\nabla\log p_t(x_t),\ s = 1 + w"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="Earlier work (Dhariwal & Nichol, 2021) used a separately-trained classifier "
                                         "p(y|x) to guide diffusion."),
                    P(source="03", quote="The name \"classifier-free\" distinguishes it from the earlier "
                                         "\"classifier-guided\" approach."),
                    P(source=DN, quote="we can guide the sampling process towards an arbitrary class label y by "
                                       "using the gradients of a classifier")),
        function="classifier_guided_score",
        symbols=(Symbol(name="score", description="∇log p_t(x_t), the unconditional model's score (n, d)",
                        domain=Domain(shape=("n", "d"))),
                 Symbol(name="grad_log_classifier", description="∇_{x_t} log p_φ(y | x_t, t), (n, d)",
                        domain=Domain(shape=("n", "d"))),
                 Symbol(name="s", description="gradient scale in the declared convention (|s| ≤ 1000)",
                        domain=Domain(low=-1e3, high=1e3), role="parameter"),
                 Symbol(name="score_guided", description="(n, d)", role="output")),
        conventions=(SCALE,),
        expression=score + s * grad_log_classifier,
        variant_expressions={"w": score + (1 + s) * grad_log_classifier},
        laws=(Law(name="gain 0 gives the unconditional score", at={s: 0}, equals=score),),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(1e-5, 5e-5), bfloat16=(1e-2, 2e-1),
            why="one product and one sum of O(1) vectors (|·| ≤ 10 in the cases) with |s| ≤ 11: a few ulps of the "
                "intermediate (1 + |s|)·10 ≈ 10², absolute where the sum cancels (float32 3·6e-8·120 ≈ 2e-5); "
                "bfloat16 is computed in float32 and rounded once (2^-9·120 ≈ 0.2 absolute at cancellation)"),
        singular="None for given vectors (|s| ≤ 1000). The classifier's gradient of the data (t = 0) or of pure noise "
                 "(rf t = 1, where p(y | x_1) = p(y) and the gradient is 0) is the caller's concern.",
        notes="Bayes: ∇log p(y | x_t) = ∇log p(x_t | y) − ∇log p(x_t), so with the exact posterior the guided score is "
              "the CFG score form at s = 1 + w (sympy on a two-class 1-D mixture; numerically with the conditional "
              "oracles of reference/cond.py, ∇log p(y | x_t) by central differences of cond.class_posterior). "
              "accelerated/models/classifier.py trains a noisy classifier on the 2-D mixture and guides with it.",
    ),
]
