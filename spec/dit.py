"""Clauses of the Diffusion Transformer's building blocks (sources 00, 01, 03) and the U-Net's FiLM (unet.film).

Patchify / unpatchify (with the layout of the token features), the sinusoidal timestep embedding (DiT/ADM and
diffusers' variants), AdaLN (03's γ·LN(h) + β and DiT's LN(h)·(1 + scale) + shift), FiLM, and AdaLN-Zero's gated
residual, whose zero-initialised gate makes every block the identity at initialisation.
"""
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

ALSO_PREFIXES = ("unet",)

P = Provenance
IMG = Domain(shape=("...", "C", "H", "W"))
TOK = Domain(shape=("...", "N", "D"))
PATCH = Domain(kind="integer", low=1, high=2**16, shape=())

LAYOUT = Convention(
    name="layout", description="the order of the p·p·C features of one patch token", default="nhwpqc",
    variants=(Variant(name="nhwpqc", statement=r"\text{feature}(a, b, c) = (a p + b) C + c",
                      mapping="the spec's default: DiT's unpatchify einsum 'nhwpqc->nchpwq' (pixel row a, column b, "
                              "channel c fastest)", sources=("external: facebookresearch/DiT models.py",)),
              Variant(name="channel_first", statement=r"\text{feature}(a, b, c) = c\,p^2 + a p + b",
                      mapping=r"a permutation of the feature axis: channel_first[c p^2 + a p + b] = "
                              r"nhwpqc[(a p + b) C + c]; the flattening of a Conv2d weight (D, C, p, p) and of "
                              r"einops 'c (h p) (w q) -> (h w) (c p q)'",
                      sources=("external: diffusers PatchEmbed (nn.Conv2d weight (D, C, p, p))",))))

_EXACT = tolerances(float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
                    why="a permutation of the entries (reshape and transpose): exact in every dtype")

_FMA = tolerances(
    float64=(1e-15, 2e-14), float32=(1e-6, 4e-6), bfloat16=(8e-3, 4e-6),
    why="one product and one sum: half an ulp of |γ h| + |β| ≲ 16 (cancellation makes the error absolute: "
        "float32 16·2^-24 ≈ 1e-6 per rounding); bfloat16 is computed in float32 and rounded once: a relative "
        "error up to bfloat16's unit roundoff 2^-8 ≈ 3.9e-3 (measured 0.96 of 4e-3), so 2·2^-8")

TIME_ORDER = Convention(
    name="order", description="which half of the embedding holds cos", default="cos_sin",
    variants=(Variant(name="cos_sin", statement=r"e = [\cos(t f), \sin(t f)]",
                      mapping="the spec's default: DiT/ADM timestep_embedding; diffusers flip_sin_to_cos=True",
                      sources=("external: facebookresearch/DiT models.py TimestepEmbedder",)),
              Variant(name="sin_cos", statement=r"e = [\sin(t f), \cos(t f)]",
                      mapping="the two halves swapped: diffusers get_timestep_embedding with flip_sin_to_cos=False "
                              "(its default), the original Transformer's order",
                      sources=("external: diffusers embeddings.get_timestep_embedding",))))

FREQ_SHIFT = Convention(
    name="freq_shift", description="the denominator of the frequency exponent", default="shift_0",
    variants=(Variant(name="shift_0", statement=r"f_k = \exp(-\ln(P)\,k / h),\ h = \lfloor dim/2 \rfloor",
                      mapping="the spec's default: DiT/ADM; diffusers downscale_freq_shift=0 (SD U-Net, SD3, FLUX)",
                      sources=("external: facebookresearch/DiT models.py TimestepEmbedder",)),
              Variant(name="shift_1", statement=r"f_k = \exp(-\ln(P)\,k / (h - 1))",
                      mapping="diffusers downscale_freq_shift=1 (its default): the lowest frequency is exactly 1/P "
                              "instead of P^{-(h-1)/h}; undefined for h = 1",
                      sources=("external: diffusers embeddings.get_timestep_embedding",))))

TIME_SCALE = Convention(
    name="time_scale", description="what t the sinusoids see", default="as_given",
    variants=(Variant(name="as_given", statement=r"\text{argument } t f_k",
                      mapping="the spec's default: t as the caller passes it (DDPM steps 0..999, or t ∈ [0, 1])",
                      sources=("external: facebookresearch/DiT models.py TimestepEmbedder",)),
              Variant(name="times_1000", statement=r"\text{argument } 1000\,t f_k",
                      mapping="t ∈ [0, 1] scaled to [0, 1000] first: FLUX's timestep_embedding(t, dim, "
                              "time_factor=1000.0), SD3's σ·1000 timesteps; diffusers' scale=s is the same with "
                              "1000 → s",
                      sources=("external: black-forest-labs/flux modules/layers.py timestep_embedding",
                               "external: diffusers embeddings.get_timestep_embedding (scale)"))))

MODULATION = Convention(
    name="modulation", description="what the two modulation vectors mean", default="gamma_beta",
    variants=(Variant(name="gamma_beta", statement=r"\gamma \odot \mathrm{LN}(h) + \beta",
                      mapping="the spec's default (03): adaln(h, γ, β)", sources=("03",)),
              Variant(name="one_plus_scale", statement=r"\mathrm{LN}(h) \odot (1 + s) + \text{shift}",
                      mapping=r"DiT's modulate(norm(h), shift, scale): \gamma = 1 + s, \beta = \text{shift}; a target "
                              r"in this variant takes (h, s, shift) in the (h, γ, β) slots",
                      sources=("external: facebookresearch/DiT models.py modulate",))))

CLAUSES = [
    Clause(
        id="dit.patchify",
        title="Patchify: an image (C, H, W) as (H/p)(W/p) tokens of p·p·C features",
        statement=(r"X[n, (a p + b) C + c] = x[c, i p + a, j p + b],\quad n = i\,(W/p) + j,\quad "
                   r"0 \le a, b < p;\qquad \text{Conv2d}_{W, b}(x)[:, i, j] = W_{lin}\,X[n] + b,\ "
                   r"W_{lin}[d, (a p + b) C + c] = W[d, c, a, b]"),
        kind=("value", "property"),
        provenance=(P(source="03", quote="Patchification: Split the image (or latent) into non-overlapping patches, "
                                         "flatten each patch into a vector"),
                    P(source="03", quote="DiT-XL/2: ~675M params. 28 transformer blocks, patch size 2.")),
        function="patchify",
        symbols=(Symbol(name="x", description="image or latent, channels first", domain=IMG),
                 Symbol(name="p", description="patch size, divides H and W", domain=PATCH, role="parameter"),
                 Symbol(name="X", description="(..., (H/p)(W/p), p·p·C) tokens, row-major over patches",
                        role="output")),
        conventions=(LAYOUT,),
        tolerance=_EXACT,
        singular="None: H or W not divisible by p is a SpecInputError (no padding, no cropping).",
        notes=("A patch embedding is the linear map of the patch vector: diffusers' PatchEmbed.proj is "
               "nn.Conv2d(C, D, kernel_size=p, stride=p) with weight (D, C, p, p); on nhwpqc tokens it equals the "
               "linear map with W_lin = W.permute(0, 2, 3, 1).reshape(D, p·p·C), on channel_first tokens "
               "W_lin = W.reshape(D, C·p·p). Positional embeddings are added after this map."),
    ),
    Clause(
        id="dit.unpatchify",
        title="Unpatchify: tokens back to the image, the exact inverse of patchify",
        statement=r"\mathrm{unpatchify}(\mathrm{patchify}(x, p), p, H, W) = x,\quad C = D / p^2",
        kind=("value", "property"),
        provenance=(P(source="03", quote="flatten each patch into a vector, add positional embeddings"),),
        function="unpatchify",
        symbols=(Symbol(name="x", description="tokens (..., (H/p)(W/p), p·p·C)", domain=TOK),
                 Symbol(name="p", description="patch size", domain=PATCH, role="parameter"),
                 Symbol(name="H", description="image height, a multiple of p", domain=PATCH, role="parameter"),
                 Symbol(name="W", description="image width, a multiple of p", domain=PATCH, role="parameter"),
                 Symbol(name="image", description="(..., C, H, W)", role="output")),
        conventions=(LAYOUT,),
        tolerance=_EXACT,
        singular="None: a token count other than (H/p)(W/p) or a width not a multiple of p² is a SpecInputError.",
    ),
    Clause(
        id="dit.timestep_embedding",
        title="Sinusoidal timestep embedding e(t)",
        statement=(r"h = \lfloor dim/2 \rfloor,\ f_k = \exp\!\big(-\ln(P)\,k/h\big),\ k = 0..h-1;\quad "
                   r"e(t) = [\cos(t f_0..f_{h-1}),\ \sin(t f_0..f_{h-1})]\ (+\,[0] \text{ if } dim \text{ odd});"
                   r"\quad \|e(t)\|_2 = \sqrt{h}"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="The timestep t is embedded via sinusoidal positional encoding (like "
                                         "transformers)"),
                    P(source="03", quote="γ, β = MLP(e(t))")),
        function="timestep_embedding",
        symbols=(Symbol(name="t", description="one time per sample", domain=Domain(low=0.0, shape=("N",))),
                 Symbol(name="dim", description="embedding width", domain=PATCH, role="parameter"),
                 Symbol(name="max_period", description="P, the longest period (10000)",
                        domain=Domain(low=1.0, low_closed=False), role="parameter"),
                 Symbol(name="e", description="(N, dim)", role="output")),
        conventions=(TIME_ORDER, FREQ_SHIFT, TIME_SCALE),
        tolerance=tolerances(
            float64=(0.0, 1e-11), float32=(0.0, 5e-4), bfloat16=(8e-3, 5e-4),
            why="cos/sin of a phase t·f_k of up to 1000 rad: the phase carries the relative error of f_k and of the "
                "product, ≲ 3 ulps, i.e. an absolute 1000·3·2^-24 ≈ 2e-4 in float32 (2e-13 in float64); |e| ≤ 1; "
                "bfloat16 is computed in float32 and rounded once (relative error ≤ 2^-8, the unit roundoff; "
                "computing the phase itself in bfloat16 would be off by up to 1000·2^-8 ≈ 4 rad)"),
        singular=("dim = 1 gives the single zero column; freq_shift = shift_1 needs h ≥ 2 (diffusers divides by "
                  "h − 1), smaller dims are a SpecInputError there."),
        notes=("‖e(t)‖² = Σ_k cos² + sin² = h for every t (the odd column is 0). DiT/ADM: timestep_embedding(t, dim, "
               "max_period=10000); diffusers: get_timestep_embedding(t, dim, flip_sin_to_cos, downscale_freq_shift, "
               "scale, max_period) = the variants order, freq_shift and time_scale. Embeddings of distinct times in "
               "[0, 1000] are distinct for dim ≥ 6 (h ≥ 3, P = 10⁴): the lowest frequency's phase 1000·P^{-(h-1)/h} "
               "≤ 1000·10^{-8/3} ≈ 2.15 < π, so its cosine is injective there; the property checks a 50-step "
               "sampler's grid by more than the dtype's tolerance."),
    ),
    Clause(
        id="dit.adaln",
        title="Adaptive LayerNorm: AdaLN(h) = γ · LayerNorm(h) + β",
        statement=(r"\mathrm{AdaLN}(h) = \gamma \odot \frac{h - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta,\ "
                   r"\mu = \tfrac1D\textstyle\sum_j h_j,\ \sigma^2 = \tfrac1D\sum_j (h_j - \mu)^2;\quad "
                   r"\text{DiT: } \mathrm{LN}(h)(1 + s) + \text{shift} = \mathrm{AdaLN}_{\gamma = 1 + s,\ \beta = "
                   r"\text{shift}}(h)"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="AdaLN(h) = γ · LayerNorm(h) + β"),
                    P(source="03", quote="γ, β = MLP(e(t))"),
                    P(source="00", quote="predict scale/shift parameters from the timestep and use them to modulate "
                                         "activations"),
                    P(source="01", quote="to modulate activations of transformer")),
        function="adaln",
        symbols=(Symbol(name="h", description="activations, normalised over the last axis", domain=TOK),
                 Symbol(name="gamma", description="scale γ, broadcast against h (e.g. (B, 1, D))",
                        domain=Domain(broadcast_to="h")),
                 Symbol(name="beta", description="shift β, broadcast against h", domain=Domain(broadcast_to="h")),
                 Symbol(name="eps", description="ε inside the square root (DiT: 1e-6)",
                        domain=Domain(low=0.0, low_closed=False), role="parameter"),
                 Symbol(name="out", description="h's shape", role="output")),
        conventions=(MODULATION,),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(2e-5, 2e-5), bfloat16=(8e-3, 1e-4),
            why="h − μ cancels to a few ulps of max|h| ≲ 4σ, divided by σ: relative error ≲ 10 ulps of the normalised "
                "value (float32 ≈ 1e-6), times |γ| ≲ 4, plus β; bfloat16 is computed in float32 and rounded once "
                "(relative error ≤ 2^-8, the unit roundoff)"),
        singular=("A constant row (σ² = 0) normalises to 0 (h − μ = 0, ε > 0), so the output is β; ε ≤ 0 is a "
                  "SpecInputError."),
        notes="LayerNorm without affine parameters and with the biased variance (torch.nn.LayerNorm, eps=1e-6 in DiT).",
    ),
    Clause(
        id="unet.film",
        title="FiLM conditioning of U-Net features: γ · h + β",
        statement=r"\mathrm{FiLM}(h) = \gamma \odot h + \beta,\quad (\gamma, \beta) = \mathrm{MLP}(e(t))",
        kind=("value", "property"),
        provenance=(P(source="03", quote="transform features as γ · h + β"),
                    P(source="03", quote="also called FiLM conditioning")),
        function="film",
        symbols=(Symbol(name="h", description="feature map, e.g. (B, C, H, W)", domain=Domain(shape=("B", "..."))),
                 Symbol(name="gamma", description="scale, e.g. (B, C, 1, 1)", domain=Domain(broadcast_to="h")),
                 Symbol(name="beta", description="shift, e.g. (B, C, 1, 1)", domain=Domain(broadcast_to="h")),
                 Symbol(name="out", description="h's shape", role="output")),
        tolerance=_FMA,
        singular="None.",
        notes=("03 calls this scale-and-shift 'Adaptive Layer Normalization'; the spec keeps the names apart: FiLM "
               "modulates h itself, dit.adaln modulates LayerNorm(h)."),
    ),
    Clause(
        id="dit.adaln_zero",
        title="AdaLN-Zero: the gated residual x + g ⊙ F(x), identity when the gate is zero-initialised",
        statement=r"x' = x + g \odot F(\mathrm{AdaLN}(x));\quad g = 0 \Rightarrow x' = x\ \text{for every } F",
        kind=("value", "property"),
        provenance=(P(source="03", quote="Timestep via AdaLN-Zero (like AdaLN but initialized to the identity "
                                         "function so the network starts as a plain transformer)"),),
        function="gated_residual",
        symbols=(Symbol(name="x", description="the residual stream (B, N, D)", domain=TOK),
                 Symbol(name="gate", description="g = MLP(e(t)) slice, broadcast against x (e.g. (B, 1, D))",
                        domain=Domain(broadcast_to="x")),
                 Symbol(name="branch", description="F(...) the attention or MLP branch output, x's shape",
                        domain=Domain(broadcast_to="x")),
                 Symbol(name="out", description="x's shape", role="output")),
        tolerance=_FMA,
        singular="None: a zero gate returns x exactly (x + 0·F = x for finite F).",
        notes=("DiT zero-initialises the adaLN modulation Linear (so gate = shift = scale = 0) and the final layer: "
               "each block computes x + 0 = x at initialisation. checks.dit.check_identity_at_init(block, x, c) "
               "checks any block against this."),
    ),
]
