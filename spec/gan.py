"""Clauses of the GAN family (sources 00, 01, 02, 03, 04).

D(x) is the discriminator's probability that x is real, D = sigmoid(a) for its logit a.
Logs are natural logs; log 0 = -inf exactly (no epsilon, no clamp) unless a convention says otherwise.
"""
from .schema import Boundary, Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance
PROB = Domain(low=0.0, high=1.0, shape=("n",))
DENSITY = Domain(low=0.0, shape=("n",))

LOG_CLAMP = Convention(
    name="log_clamp",
    description="how log 0 is evaluated where D hits 0 or 1",
    default="exact",
    variants=(
        Variant(name="exact", statement=r"\log 0 = -\infty", mapping="the spec's default: the loss is +inf"),
        Variant(name="torch_bce", statement=r"\log p \to \max(\log p, -100)",
                mapping="torch.nn.BCELoss clamps each log term at -100; equal to exact wherever D ∈ (e^{-100}, 1 - "
                        "e^{-100})"),
    ),
)

_LOSS_TOL = tolerances(
    float64=(1e-12, 1e-12), float32=(1e-5, 1e-6), bfloat16=(2e-2, 1e-2),
    why="a batch mean of logs of probabilities; log is well conditioned away from 1 (relative error "
        "≤ a few ulps after the shared input rounding); the sum of same-signed terms has no cancellation",
)

CLAUSES = [
    Clause(
        id="gan.value",
        title="GAN value function from samples",
        statement=r"V(D,G) = \mathbb{E}_{x\sim p_{data}}[\log D(x)] + \mathbb{E}_{z\sim p(z)}[\log(1 - D(G(z)))]",
        kind=("value",),
        provenance=(P(source="00",
                      quote=r"\min_G \max_D ; \mathbb E_{x \sim p_{data}} [\log D(x)] + \mathbb E_{z \sim p(z)} [\log "
                            r"(1 - D(G(z)))]"),
                    P(source="02", quote="minG maxD E[log D(x)] + E[log(1 − D(G(z)))]"),
                    P(source="03", quote="D maximizes V; G minimizes V.")),
        function="value",
        symbols=(Symbol(name="d_real", description="D(x) on a batch of real samples", domain=PROB),
                 Symbol(name="d_fake", description="D(G(z)) on a batch of generated samples",
                        domain=Domain(low=0.0, high=1.0, shape=("m",))),
                 Symbol(name="V", description="batch-mean estimate of V", role="output")),
        conventions=(LOG_CLAMP,),
        tolerance=_LOSS_TOL,
        singular="D(x) = 0 on a real sample or D(G(z)) = 1 on a fake gives V = -inf (log 0 = -inf).",
    ),
    Clause(
        id="gan.value_density",
        title="GAN value function from densities on a grid",
        statement=r"V(D,G) = \int p_{data}(x)\log D(x) + p_G(x)\log(1 - D(x))\,dx \approx \sum_k [p_{data}\log D + p_G "
                  r"\log(1-D)]_k \Delta x",
        kind=("value",),
        provenance=(P(source="03",
                      quote="For each x, V contains the integrand: pdata(x) log D(x) + pG(x) log(1 − D(x))."),),
        function="value_density",
        symbols=(Symbol(name="p_data", description="data density on the grid", domain=DENSITY),
                 Symbol(name="p_g", description="generator density on the grid", domain=DENSITY),
                 Symbol(name="d", description="D on the grid", domain=PROB),
                 Symbol(name="dx", description="grid cell size", domain=Domain(low=0.0, low_closed=False),
                        role="parameter")),
        tolerance=_LOSS_TOL,
        singular="0 · log 0 = 0: a cell where the density is 0 contributes nothing whatever D is there; "
                 "a cell with positive p_data and D = 0 (or positive p_G and D = 1) gives -inf.",
    ),
    Clause(
        id="gan.discriminator_bce",
        title="Discriminator loss as binary cross-entropy equals -V",
        statement=r"L_D = \mathrm{BCE}(D(x), 1) + \mathrm{BCE}(D(G(z)), 0) = -\overline{\log D(x)} - \overline{\log(1 "
                  r"- D(G(z)))} = -V",
        kind=("value", "property"),
        provenance=(P(source="02", quote="loss_D = bce(D(real), ones) + bce(D(fake.detach()), zeros)"),),
        function="discriminator_bce",
        symbols=(Symbol(name="d_real", description="D(x) on real samples", domain=PROB),
                 Symbol(name="d_fake", description="D(G(z)) on generated samples",
                        domain=Domain(low=0.0, high=1.0, shape=("m",))),
                 Symbol(name="L_D", description="discriminator loss (batch means)", role="output")),
        conventions=(LOG_CLAMP,),
        tolerance=_LOSS_TOL,
        singular="D(x) = 0 or D(G(z)) = 1 gives +inf under the exact convention (torch's BCELoss gives 100 per term).",
    ),
    Clause(
        id="gan.generator_loss_saturating",
        title="Saturating generator loss (minimise log(1 - D(G(z))))",
        statement=r"L_G^{sat} = \overline{\log(1 - D(G(z)))}",
        kind=("value", "property"),
        provenance=(P(source="00", quote=r"minimizing $\log(1 - D(G(z)))$ gives weak gradients for the generator"),
                    P(source="03", quote="This is called the saturating loss.")),
        function="generator_loss_saturating",
        symbols=(Symbol(name="d_fake", description="D(G(z)) on generated samples", domain=PROB),
                 Symbol(name="L_G", description="loss to minimise", role="output")),
        tolerance=_LOSS_TOL,
        singular="D(G(z)) = 1 gives -inf.",
        notes="Strictly decreasing in each D(G(z)): the generator lowers it by raising D(G(z)).",
    ),
    Clause(
        id="gan.generator_loss_non_saturating",
        title="Non-saturating generator loss L_G = -log D(G(z)) = BCE(D(G(z)), 1)",
        statement=r"L_G^{ns} = -\overline{\log D(G(z))} = \mathrm{BCE}(D(G(z)), 1)",
        kind=("value", "property"),
        provenance=(P(source="00", quote=r"L_G = - \log D(G(z))."),
                    P(source="02", quote="loss_G = bce(D(fake), ones)"),
                    P(source="04", quote="train the generator to minimize −log D(G(z))")),
        function="generator_loss_non_saturating",
        symbols=(Symbol(name="d_fake", description="D(G(z)) on generated samples", domain=PROB),
                 Symbol(name="L_G", description="loss to minimise", role="output")),
        conventions=(LOG_CLAMP,),
        tolerance=_LOSS_TOL,
        singular="D(G(z)) = 0 gives +inf under the exact convention.",
        notes="Strictly decreasing in each D(G(z)); same fixed points as the saturating loss (03).",
    ),
    Clause(
        id="gan.saturation",
        title="Saturation: generator-loss gradients with respect to the discriminator's logit",
        statement=(r"D = \sigma(a):\quad \frac{d}{da}\log(1-\sigma(a)) = -\sigma(a) \xrightarrow{a\to-\infty} 0,\qquad "
                   r"\frac{d}{da}\bigl(-\log\sigma(a)\bigr) = \sigma(a) - 1 \xrightarrow{a\to-\infty} -1"),
        kind=("identity", "value"),
        provenance=(P(source="03",
                      quote="the log function is flat near log(1) = 0. G receives almost no learning signal."),
                    P(source="01", quote="gradients are close to zero at beginning")),
        function="saturation_gradients",
        symbols=(Symbol(name="a", description="discriminator logit on fake samples, D = sigmoid(a)",
                        domain=Domain(low=-50.0, high=50.0, shape=("n",))),
                 Symbol(name="grads",
                        description="(d/da of the saturating loss, d/da of the non-saturating loss), per sample",
                        role="output")),
        conventions=(Convention(
            name="variable", description="what the slope is taken with respect to", default="logit",
            variants=(Variant(name="logit", statement=r"\partial/\partial a,\ D=\sigma(a)",
                              mapping="the precise statement: saturating slope -σ(a) → 0 as D → 0",),
                      Variant(name="probability", statement=r"\partial/\partial D",
                              mapping=r"d/dD log(1 - D) = -1/(1 - D) = -1 at D = 0: NOT flat; 03's 'flat near D ≈ 0' "
                                      r"is false in this variable",
                              sources=("03",)))),),
        tolerance=tolerances(float64=(1e-12, 1e-15), float32=(1e-5, 1e-7), bfloat16=(2e-2, 1e-3),
                             why="σ(a) and σ(a) - 1 are well conditioned in a (relative condition ≤ |a|σ(-a) ≤ 0.28·… "
                                 "bounded); evaluate σ(a) - 1 as -σ(-a) to avoid cancellation for large a"),
        notes="⚠ 03 says log(1 - D) is 'flat near D ≈ 0'. With respect to D its slope there is -1; the claim is true "
              "with respect to the logit a. Chain rule through the sigmoid is what kills the gradient.",
    ),
    Clause(
        id="gan.optimal_discriminator",
        title="Optimal discriminator for a fixed generator",
        statement=r"D^*(x) = \frac{p_{data}(x)}{p_{data}(x) + p_G(x)}",
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="Solving: D*(x) = pdata(x) / (pdata(x) + pG(x))"),
                    P(source="03", quote="When pG = pdata, D*(x) = 1/2 everywhere."),
                    P(source="04",
                      quote="the optimal discriminator can be expressed in closed form as a function of Pdata and PG")),
        function="optimal_discriminator",
        symbols=(Symbol(name="p_data", description="data density at x", domain=DENSITY),
                 Symbol(name="p_g", description="generator density at x", domain=DENSITY),
                 Symbol(name="D_star", description="optimal discriminator at x", role="output")),
        tolerance=tolerances(float64=(1e-15, 2.3e-308), float32=(1e-6, 1.2e-38), bfloat16=(1e-2, 1.2e-38),
                             why="one addition of non-negative numbers and one division: ≤ 2 ulps relative; a result "
                                 "below the dtype's smallest normal number (subnormal) keeps only an absolute accuracy "
                                 "of that number, which is the atol"),
        singular="Where p_data(x) + p_G(x) = 0 every D maximises the integrand (it is 0); the spec defines "
                 "D*(x) = 1/2 there, the value on the diagonal p_data = p_G and the limit along it.",
        boundaries=(
            Boundary(symbol="p_data", kind="zero", exactly="defined",
                     why="p_data + p_G = 0: D* = 1/2; at tiny densities (subnormal, 1e-40, 1e-20, 1e-7, in both "
                         "arguments) D* is still the ratio, 0, 1 or anything between: a guard s < ε instead of s = 0, "
                         "or an ε added to the sum, answers 1/2 or 0 there"),),
    ),
    Clause(
        id="gan.jsd_identity",
        title="V(G, D*) = 2 JSD(p_data || p_G) - 2 log 2",
        statement=(r"V(G, D^*) = D_{KL}(p_{data}\|M) + D_{KL}(p_G\|M) - 2\log 2 = 2\,\mathrm{JSD}(p_{data}\|p_G) - "
                   r"2\log 2,\quad M = \tfrac12(p_{data} + p_G),\quad 0 \le \mathrm{JSD} \le \log 2"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="= 2 · JSD(pdata || pG) − 2 log 2"),
                    P(source="03", quote="the global minimum of V(G, D*) = −2 log 2")),
        function="jsd",
        symbols=(Symbol(name="p_data", description="data density on a grid", domain=DENSITY),
                 Symbol(name="p_g", description="generator density on the grid", domain=DENSITY),
                 Symbol(name="dx", description="grid cell size", domain=Domain(low=0.0, low_closed=False),
                        role="parameter"),
                 Symbol(name="JSD", description="Jensen-Shannon divergence (nats)", role="output")),
        tolerance=tolerances(float64=(1e-12, 1e-13), float32=(1e-4, 1e-6), bfloat16=(5e-2, 1e-2),
                             why="sum of n non-negative terms p log(p/M); float32 accumulation over n ≤ 64 cells and "
                                 "the log of a ratio near 1 when p ≈ q (absolute error ~ n·eps·max p)"),
        singular="0 · log 0 = 0: cells where p_data = 0 (or p_G = 0) contribute nothing to that KL term.",
        notes="The identity needs ∫p_data = ∫p_G = 1; the bounds 0 ≤ JSD ≤ log 2 hold for normalised densities.",
    ),
    Clause(
        id="gan.latent_interpolation",
        title="Latent-space interpolation",
        statement=r"z_t = t z_0 + (1-t) z_1,\qquad x_t = G(z_t)",
        kind=("value", "property"),
        provenance=(P(source="00", quote="z_t = t z_0 + (1-t) z_1, \\qquad x_t = G(z_t)"),
                    P(source="03",
                      quote="Walk smoothly between two z vectors and the generated images morph smoothly")),
        function="latent_interpolation",
        symbols=(Symbol(name="z0", description="first latent", domain=Domain(shape=("n", "k"))),
                 Symbol(name="z1", description="second latent", domain=Domain(shape=("n", "k"))),
                 Symbol(name="t", description="interpolation weight per row",
                        domain=Domain(low=0.0, high=1.0, shape=("n",))),
                 Symbol(name="z_t", description="interpolated latent", role="output")),
        conventions=(
            Convention(name="endpoint", description="which latent t = 1 returns", default="t1_is_z0",
                       variants=(Variant(name="t1_is_z0", statement=r"z_t = t z_0 + (1-t) z_1", mapping="00's form",
                                         sources=("00",)),
                                 Variant(name="t0_is_z0", statement=r"z_t = (1-t) z_0 + t z_1",
                                         mapping=r"t \mapsto 1 - t (torch.lerp(z0, z1, t))"))),
            Convention(name="path", description="the curve between the latents", default="linear",
                       variants=(Variant(name="linear",
                                         statement="straight line", mapping="00's form", sources=("00",)),
                                 Variant(name="spherical",
                                         statement=r"\frac{\sin(t\Omega)}{\sin\Omega} z_0 + "
                                                   r"\frac{\sin((1-t)\Omega)}{\sin\Omega} z_1,\ \cos\Omega = "
                                                   r"\frac{z_0\cdot z_1}{|z_0||z_1|}",
                                         mapping="slerp, beyond the notes: keeps Gaussian latents at typical norm; "
                                                 "equals linear as Ω → 0"))),
        ),
        tolerance=tolerances(float64=(1e-12, 1e-12), float32=(1e-5, 1e-5), bfloat16=(2e-2, 2e-2),
                             why="two products and a sum of O(1) values; absolute floor for cancellation near 0"),
        singular="spherical: where cos Ω ≥ 1 - 1e-12 (parallel latents, or either is 0) the path is the linear one "
                 "(equal to slerp within 1e-12); where cos Ω ≤ -1 + 1e-12 (antiparallel: no unique great circle, "
                 "and slerp is ill-conditioned) the reference raises SpecInputError.",
        boundaries=(
            Boundary(symbol="z0", kind="threshold", exactly="defined",
                     why="spherical: cos Ω → 1 (parallel latents): slerp tends to the linear path, switched at cos Ω ≥ "
                         "1 − 1e-12 where the two agree within 1e-12; a switch at a larger gap (a widely copied "
                         "slerp's DOT_THRESHOLD = 0.9995 is off by ~Ω²/8) or none at all (0/0 where cos rounds to 1) "
                         "is drawn at angles 0.3 … 1e-8 and 0"),
            Boundary(symbol="z0", kind="zero", exactly="defined",
                     why="spherical: z0 = 0 has no direction: the linear path; a tiny z0 (norm 1e-7, 1e-15) has one "
                         "and is slerped, which a norm clamped in cos Ω loses"),),
    ),
    Clause(
        id="gan.adain",
        title="Adaptive instance normalisation (StyleGAN)",
        statement=r"\mathrm{AdaIN}(x, w, b)_i = w_i\,\frac{x_i - \mu(x_i)}{\sigma(x_i)} + b_i",
        kind=("value", "property"),
        provenance=(P(source="00", quote=r"\operatorname{AdaIN}(x,w,b)_i = w_i \frac{x_i - \mu(x)}{\sigma(x)} + b_i."),
                    P(source="03",
                      quote="Adaptive Instance Normalization (AdaIN) injecting w at each resolution layer")),
        function="adain",
        symbols=(Symbol(name="x", description="activations, statistics per sample and channel over the spatial axes",
                        domain=Domain(shape=("N", "C", "H", "..."))),
                 Symbol(name="w", description="per-sample, per-channel scale (style)", domain=Domain(shape=("N", "C"))),
                 Symbol(name="b", description="per-sample, per-channel shift (style)", domain=Domain(shape=("N", "C"))),
                 Symbol(name="y", description="modulated activations, same shape as x", role="output")),
        conventions=(
            Convention(name="sigma", description="the standard deviation over the spatial axes", default="population",
                       variants=(Variant(name="population", statement=r"\sigma^2 = \frac1n\sum (x - \mu)^2",
                                         mapping="torch.nn.InstanceNorm2d, StyleGAN"),
                                 Variant(name="unbiased", statement=r"\sigma^2 = \frac1{n-1}\sum (x - \mu)^2",
                                         mapping=r"\sigma_{unb} = \sigma_{pop}\sqrt{n/(n-1)} (torch.std's default)"))),
            Convention(name="eps", description="a stabiliser in the denominator (the notes have none)", default="none",
                       variants=(Variant(name="none", statement=r"\sigma", mapping="exact, as in 00"),
                                 Variant(name="inside_sqrt_1e-5", statement=r"\sqrt{\sigma^2 + 10^{-5}}",
                                         mapping="torch.nn.functional.instance_norm; differs by O(1e-5/σ²) relative"))),
        ),
        tolerance=tolerances(float64=(1e-10, 1e-10), float32=(1e-4, 1e-4), bfloat16=(2e-2, 5e-2),
                             why="mean and variance over n spatial values: relative error ~ n·eps·(1 + |μ|/σ); inputs "
                                 "keep |μ|/σ ≤ 10 (conditioning), bfloat16 statistics are accumulated in float32"),
        singular="Where σ(x_i) = 0 (a constant channel) x_i - μ = 0 and the normalised value is defined as 0, so the "
                 "output is b_i (the ε → 0 limit of the ε variant).",
        boundaries=(
            Boundary(symbol="x", kind="zero", exactly="defined",
                     why="σ(x_i) = 0 (a constant channel): the output is b_i; channels of tiny spread (σ = 1e-4 .. "
                         "1e-15 around a mean 0 or 3σ: the declared conditioning) are normalised like any other, "
                         "which a σ clamped or a guard σ < ε treating them as constant does not"),),
        notes="Properties: output channel mean = b_i and population std = |w_i| (σ > 0); invariant to x_i → α x_i + β, "
              "α > 0.",
    ),
]
