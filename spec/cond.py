"""Clauses of the cond family: conditional predictors f(x_t, y, t) (sources 00, 01, 03, 04).

Class-conditional Gaussian-mixture data, the oracle that needs no training: component k has weight w_k,
mean μ_k, covariance Σ_k and class label ℓ_k ∈ {0, …, C − 1}, C = max ℓ + 1, every class owning a
component of positive weight. Then

    p(y) = Σ_{k: ℓ_k = y} w_k,    p(x | y) = Σ_{k: ℓ_k = y} (w_k / p(y)) N(μ_k, Σ_k),    p(x) = Σ_y p(y) p(x | y),

the last being the whole mixture. Rectified-flow path x_t = (1 − t) x + t z, t = 0 data, t = 1 noise.
"""
from .optimal import MIXTURE
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance

NULL_LABEL = Convention(
    name="null_label",
    description="the integer that stands for the null label y_∅ (no conditioning); the notes write y∅ / ∅ and give "
                "no index",
    default="extra_class",
    variants=(
        Variant(name="extra_class", statement=r"y_\varnothing = C",
                mapping="the spec's default: one extra row of a (C + 1)-row label-embedding table (DiT's "
                        "LabelEmbedder, Peebles & Xie 2023, drops labels to index num_classes); a valid index, so a "
                        "label table lookup needs no special case"),
        Variant(name="minus_one", statement=r"y_\varnothing = -1",
                mapping=r"y_\varnothing^{(-1)} = -1 \leftrightarrow C; a sentinel outside the class range. Beware: "
                        "NumPy indexing wraps -1 to the last row, so -1 must never reach a table of C rows"),
    ),
)


def null_value(num_classes: int, null_label: str = "extra_class") -> int:
    """The integer of y_∅ under NULL_LABEL: C (extra_class, the default) or −1 (minus_one)."""
    return num_classes if null_label == "extra_class" else -1


GM_SYMBOLS = (
    *MIXTURE,
    Symbol(name="labels", description="class label ℓ_k of each component; C = max ℓ + 1 classes, each owning a "
                                      "component of positive weight",
           domain=Domain(kind="integer", low=0, shape=("K",))),
)
"""optimal.prediction's mixture (weights, means, covs) and a class label per component."""

T = Symbol(name="t", description="time, a scalar or one per point", domain=Domain(low=0.0, high=1.0, or_shape=("n",)))

_ORACLE_TOL = tolerances(
    float64=(1e-9, 1e-9), float32=(2e-5, 2e-5), bfloat16=(3e-2, 5e-2),
    why="the oracle is a responsibility-weighted sum of Gaussian posterior means; with covariance eigenvalues in "
        "[0.2, 2] and |x_t| ≲ 10 the responsibilities (a softmax of log-likelihoods of size ≲ 10²) carry a relative "
        "error of ≲ 10² ulps, times posterior means of size ≲ 5 (float32: 10²·6e-8·5 ≈ 3e-5 worst case; measured "
        "≤ 7e-7 over 500 examples); bfloat16 inputs are computed in float32 and the output rounded once (2^-8 "
        "relative); the mixture itself is rounded to bfloat16 for both sides",
)

CLAUSES = [
    Clause(
        id="cond.velocity",
        title="Conditional velocity f(x_t, y, t): the class-conditional Gaussian-mixture oracle",
        statement=(r"f^*(x_t, y, t) = \mathbb{E}[z - x \mid x_t, y],\quad x \mid y \sim \sum_{k:\ell_k = y} "
                   r"\tfrac{w_k}{p(y)} \mathcal{N}(\mu_k, \Sigma_k);\qquad f^*(x_t, y_\varnothing, t) = "
                   r"\mathbb{E}[z - x \mid x_t] = \sum_y p(y \mid x_t)\, f^*(x_t, y, t)"),
        kind=("identity", "value", "property"),
        provenance=(P(source="00", quote=r"$$ v = f_\theta(x_t, y, t). $$"),
                    P(source="00", quote=r"now we move toward the conditional distribution $p_{data}(x \mid y)$ "
                                         r"instead of the unconditional one"),
                    P(source="01", quote="Model is conceptually forced to learn two different kinds of velocity "
                                         "vectors: conditional and unconditional"),
                    P(source="03", quote="Instead of fθ(xt, t), train fθ(xt, y, t)"),
                    P(source="04", quote="the model learns conditional velocity or score fields")),
        function="conditional_velocity",
        symbols=(Symbol(name="x_t", description="noisy points", domain=Domain(shape=("n", "d"))),
                 Symbol(name="y", description="class label per point, in {0, …, C − 1}, or the null label y_∅ "
                                              "(the unconditional prediction)",
                        domain=Domain(kind="integer", low=-1, shape=("n",))),
                 T,
                 *GM_SYMBOLS,
                 Symbol(name="v", description="E[z − x | x_t, y], shape (n, d)", role="output")),
        conventions=(NULL_LABEL,),
        tolerance=_ORACLE_TOL,
        singular="t = 1 (x_t = z): f* = x_t − E[x | y] (the class mean; for y_∅ the mixture mean). t = 0 (x_t = x): "
                 "f* = −x_t (z is independent of x, E[z | x] = 0). A class with no component of positive weight has "
                 "p(y) = 0 and no conditional: SpecInputError naming labels/weights.",
        notes="The conditional oracle is optimal.prediction applied to class y's components with renormalised weights; "
              "the null label gives optimal.prediction on the whole mixture. Law of total expectation: "
              "E[z − x | x_t] = Σ_y p(y | x_t) E[z − x | x_t, y] with p(y | x_t) from cond.class_posterior.",
    ),
    Clause(
        id="cond.class_posterior",
        title="Class posterior p(y | x_t) of the class-conditional mixture",
        statement=(r"p(y \mid x_t) = \frac{p(y)\, p_t(x_t \mid y)}{\sum_{y'} p(y')\, p_t(x_t \mid y')},\quad "
                   r"p(y)\,p_t(x_t \mid y) = \sum_{k:\ell_k = y} w_k\, \mathcal{N}(x_t;\ a\mu_k,\ a^2\Sigma_k + b^2 I),"
                   r"\ a = 1 - t,\ b = t"),
        kind=("value", "property"),
        provenance=(P(source="03", quote="pushing samples toward higher p(y|x)"),
                    P(source="03", quote="used a separately-trained classifier p(y|x) to guide diffusion")),
        function="class_posterior",
        symbols=(Symbol(name="x_t", description="noisy points", domain=Domain(shape=("n", "d"))),
                 T,
                 *GM_SYMBOLS,
                 Symbol(name="p", description="p(y | x_t), shape (n, C), rows sum to 1", role="output")),
        tolerance=tolerances(
            float64=(1e-9, 1e-12), float32=(2e-5, 1e-6), bfloat16=(3e-2, 1e-3),
            why="a softmax of per-class log-sum-exps of Gaussian log-likelihoods of size ≲ 10²: relative error "
                "~10² ulps of the work dtype (float32 for bfloat16 inputs)"),
        singular="t = 1: every class has p_1(x_t | y) = N(0, I), so p(y | x_t) = p(y) exactly. t = 0: the data "
                 "density itself (covariances are positive definite, so it exists everywhere).",
        notes="A sum of the mixture's component responsibilities over each class's components.",
    ),
    Clause(
        id="cond.loss",
        title="Conditional rectified-flow loss on pairs (x, y)",
        statement=r"L = \tfrac{1}{n}\sum_i \lVert f(x_{t,i}, y_i, t_i) - (z_i - x_i) \rVert^2,\quad x_t = (1-t)x + tz",
        kind=("value", "property"),
        provenance=(P(source="00", quote="during training the dataset provides pairs $(x,y)$"),
                    P(source="03", quote="The training loop is identical; you just feed y as additional input.")),
        function="conditional_rf_loss",
        symbols=(Symbol(name="f", description="conditional predictor f(x_t, y, t), t given as an (n,) array",
                        domain=Domain(kind="callable")),
                 Symbol(name="x", description="data", domain=Domain(shape=("n", "d"))),
                 Symbol(name="y", description="labels (any integers the predictor accepts, the null label "
                                              "included: training with conditioning dropout passes it)",
                        domain=Domain(kind="integer", shape=("n",))),
                 Symbol(name="z", description="noise", domain=Domain(shape=("n", "d"))),
                 T,
                 Symbol(name="L", description="batch mean of the squared norm", role="output")),
        tolerance=tolerances(
            float64=(1e-10, 1e-12), float32=(1e-5, 1e-5), bfloat16=(3e-2, 3e-2),
            why="a mean of squared norms of differences of O(1) vectors (no cancellation in the sum); the "
                "predictor's own rounding in the work dtype dominates"),
        singular="None: x_t is defined for every t ∈ [0, 1].",
        notes="Same reduction as family.loss (batch mean of the per-sample squared norm); x_t and the target come "
              "from family.interpolate / family.target on the rf path. Minimised in expectation by "
              "cond.velocity's oracle, the conditional mean.",
    ),
]
