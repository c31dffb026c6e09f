"""Clauses of autoregressive models on discrete latents: vector quantisation (vq.*) and the token-level AR clauses
(ar.raster_order, ar.causal_mask, ar.sampling_distribution, ar.logit_guidance, ar.plausibility) (sources 00, 03,
04).

"train an encoder-decoder to map images to discrete latents, train an autoregressive model on the latent token
sequence, sample latent tokens autoregressively, decode them back to an image" (00). The encoder output z (n, D)
is replaced by its nearest codebook entry e_k (vq.quantize); the decoder sees z_q with the straight-through gradient
(vq.straight_through); the codebook and the encoder are trained by vq.loss. Tokens are integer arrays, never rounded.
"""
from .cfg import FORM as CFG_FORM
from .schema import Boundary, Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

ALSO_PREFIXES = ("ar",)

P = Provenance
VQ_VAE = "external: van den Oord, Vinyals & Kavukcuoglu 2017, Neural Discrete Representation Learning, §3.1–3.2"
NANOGPT = "external: Karpathy, nanoGPT model.py, GPT.generate"
LLAMAGEN = ("external: Sun et al. 2024, LlamaGen (Autoregressive Model Beats Diffusion), "
            "autoregressive/models/generate.py")
CD = ("external: Li et al. 2023, Contrastive Decoding: Open-ended Text Generation as Optimization (ACL), §3.2; "
      "O'Brien & Lewis 2023, Contrastive Decoding Improves Reasoning in Large Language Models")
VQ_GRID = "use a VQ-VAE (Vector-Quantized VAE) to encode images into a grid of discrete tokens"

Z = Domain(shape=("n", "D"))
TOKENS = Domain(kind="integer", low=0, shape=("n", "H", "W"))
BETA_MAX = 1e3

_DIST_TOL = tolerances(
    float64=(1e-12, 1e-12), float32=(1e-5, 1e-5), bfloat16=(1e-5, 1e-5),
    why="the output is an index: the check compares ‖z − e_got‖² with ‖z − e_ref‖² (the reference's minimum), so an "
        "index within rounding of a tie passes. The squared distance is a sum of D ≤ 8 squares of differences of "
        "O(1) values (≤ 50): a few ulps of the work dtype relative, plus an absolute floor for distances near 0. "
        "bfloat16 inputs are exact in float32, where the distances are computed: the float32 numbers apply")

_LOSS_TOL = tolerances(
    float64=(1e-12, 1e-13), float32=(2e-5, 1e-6), bfloat16=(1e-2, 1e-4),
    why="a mean of n sums of D squares (no cancellation) and gradients 2(z − e)/n (one subtraction, exact by Sterbenz "
        "when z ≈ e, then a scaling): a few ulps relative in float32 (accumulation of ≤ 50 terms); bfloat16 is "
        "computed in float32 and rounded once (2^-9 relative)")

STOP_GRADIENT = Convention(
    name="codebook", description="how the codebook is trained", default="loss",
    variants=(
        Variant(name="loss",
                statement=r"L = \|\mathrm{sg}[z] - e\|_2^2 + \beta\,\|z - \mathrm{sg}[e]\|_2^2",
                mapping="the spec's default (van den Oord et al. 2017, eq. 3 without the reconstruction term): the "
                        "codebook term moves e towards z, the commitment term z towards e"),
        Variant(name="ema",
                statement=(r"L = \beta\,\|z - \mathrm{sg}[e]\|_2^2;\ N_k \leftarrow \gamma N_k + (1-\gamma) n_k,\ "
                           r"m_k \leftarrow \gamma m_k + (1-\gamma)\textstyle\sum_{i: k_i = k} z_i,\ e_k = m_k / N_k"),
                mapping="the codebook term is dropped from the loss (∂L/∂e = 0) and the codebook follows exponential "
                        "moving averages of its assigned encoder outputs (van den Oord et al. 2017, appendix A.1; "
                        "γ = 0.99); the commitment term is unchanged"),
        Variant(name="symmetric", statement=r"L = \beta\,\|z - e\|_2^2\ \ (\text{no stop-gradient})",
                mapping="one β term through which both z and e are trained: L_sym = β/(1 + β) · L, ∂L_sym/∂z = "
                        "∂L/∂z = 2β(z − e), ∂L_sym/∂e = β ∂L/∂e = 2β(e − z) (the codebook term weighted β instead of "
                        "1): vector-quantize-pytorch's learnable codebook (learnable_codebook=True, "
                        "ema_update=False: commit_loss = F.mse_loss(quantize, x) without detach, times "
                        "commitment_weight)",
                sources=("external: vector-quantize-pytorch 1.32.0, VectorQuantize.forward",))))

LOSS_REDUCTION = Convention(
    name="reduction", description="how the squared distances are reduced over a batch", default="batch_mean_sq_norm",
    variants=(Variant(name="batch_mean_sq_norm", statement=r"L = \frac1n\sum_i \|z_i - e_i\|_2^2\ (\text{per term})",
                      mapping="the spec's default: the batch mean of squared norms (rf.loss's default)"),
              Variant(name="mse_all_elements", statement=r"L = \frac{1}{nD}\sum_{i,d} (z_{id} - e_{id})^2\ "
                                                         r"(\text{per term})",
                      mapping="torch.nn.functional.mse_loss (the mean over all n·D elements) = the default × 1/D, "
                              "value and both gradients (D = elements per vector): vector-quantize-pytorch's "
                              "commitment loss",
                      sources=("external: vector-quantize-pytorch 1.32.0, VectorQuantize.forward",))))

TIE_BREAK = Convention(
    name="top_k_ties", description="which logits survive top-k truncation when the k-th largest value is tied",
    default="keep_ties",
    variants=(
        Variant(name="keep_ties", statement=r"\ell_j \mapsto -\infty \iff \ell_j < \ell_{(k)}",
                mapping="the spec's default: nanoGPT's `logits[logits < v[:, [-1]]] = -float('Inf')`: every logit "
                        "equal to the k-th largest survives, so more than k tokens may keep probability"),
        Variant(name="exactly_k", statement=r"\text{keep the } k \text{ largest, ties by the lowest index}",
                mapping="exactly k survivors; equal to keep_ties whenever the k-th and (k+1)-th largest logits "
                        "differ"),
        Variant(name="torch_topk",
                statement=r"\text{keep } k \text{ of the largest: every } \ell_j > \ell_{(k)} \text{ and any of "
                          r"those tied at } \ell_{(k)}",
                mapping="exactly k survivors as in exactly_k, but which of the logits tied at the k-th largest "
                        "survive is unspecified: torch.topk documents no tie order (the CPU kernel returns index 2 "
                        "before 1 for ℓ = (1, 3, 3, 0, 3), k = 1). x-transformers' top_k (scatter of "
                        "torch.topk's indices) is this variant; equal to exactly_k and keep_ties whenever "
                        "ℓ_(k) > ℓ_(k+1)",
                sources=("external: PyTorch torch.topk", "external: x-transformers autoregressive_wrapper.top_k"))))

ROTATION = "external: Fifty et al. 2024, Restructuring Vector Quantization with the Rotation Trick, §4.2"

ESTIMATOR = Convention(
    name="estimator", description="the gradient the encoder output z receives through the quantiser",
    default="straight_through",
    variants=(
        Variant(name="straight_through", statement=r"\tilde z = z + \mathrm{sg}[z_q - z]",
                mapping="the spec's default (van den Oord et al. 2017): the decoder's gradient g is copied to z"),
        Variant(name="rotation",
                statement=(r"\tilde z = \mathrm{sg}[\lambda R]\,z,\ \lambda = \frac{\|z_q\|}{\|z\|},\ "
                           r"R = I - 2ww^\top + 2\hat q\hat u^\top,\ \hat u = \frac{z}{\|z\|},\ "
                           r"\hat q = \frac{z_q}{\|z_q\|},\ w = \frac{\hat u + \hat q}{\|\hat u + \hat q\|}"
                           r":\ \tilde z = z_q,\ \frac{\partial\langle g, \tilde z\rangle}{\partial z} = "
                           r"\lambda R^\top g,\ \frac{\partial\langle g, \tilde z\rangle}{\partial z_q} = 0"),
                mapping="the same forward value z_q (R û = q̂) and no gradient to z_q; the gradient reaching z is g "
                        "rotated by Rᵀ (R = (I − 2q̂q̂ᵀ)(I − 2wwᵀ), two reflections: a rotation) and scaled by λ "
                        "instead of copied: equal to straight_through exactly where z_q = z (R = I, λ = 1). Per row; "
                        "vector-quantize-pytorch's default for dim > 1 (rotate_to)",
                sources=(ROTATION, "external: vector-quantize-pytorch 1.32.0, rotate_to"))))

CAUSAL_POLARITY = Convention(
    name="mask_polarity", description="what True means in the boolean mask (as attention.sdpa's convention)",
    default="true_attends",
    variants=(
        Variant(name="true_attends", statement=r"M_{ij} = [\,j \le i\,]",
                mapping="the spec's default: True = may attend, torch.nn.functional.scaled_dot_product_attention's "
                        "bool attn_mask (torch.ones(L, L, dtype=bool).tril())",
                sources=("external: PyTorch scaled_dot_product_attention",)),
        Variant(name="true_masks", statement=r"M_{ij} = [\,j > i\,]",
                mapping=r"M = \lnot M_{default}: True = hidden, torch.ones(L, L, dtype=bool).triu(1) as "
                        "nn.MultiheadAttention's bool attn_mask takes it and x-transformers builds it "
                        "(create_causal_mask, then masked_fill(mask, −inf)); passing it where True = attend lets "
                        "every position see only its future",
                sources=("external: PyTorch nn.MultiheadAttention",
                         "external: x-transformers, attend.create_causal_mask"))))

CLAUSES = [
    Clause(
        id="vq.quantize",
        title="Vector quantisation: the nearest codebook entry",
        statement=(r"k(z) = \operatorname*{argmin}_{k} \|z - e_k\|_2^2\ \ (\text{ties: the lowest } k),"
                   r"\qquad z_q = e_{k(z)}"),
        kind=("value", "property"),
        provenance=(P(source="00", quote="train an encoder-decoder to map images to discrete latents"),
                    P(source="03", quote=VQ_GRID),
                    P(source=VQ_VAE, quote="The discrete latent variables z are then calculated by a nearest neighbour "
                                           "look-up using the shared embedding space")),
        function="quantize",
        symbols=(Symbol(name="z", description="encoder outputs, one vector per row", domain=Z),
                 Symbol(name="codebook", description="K entries e_k, shape (K, D)", domain=Domain(shape=("K", "D"))),
                 Symbol(name="k", description="int64 indices (n,)", role="output",
                        domain=Domain(kind="integer", low=0, shape=("n",)))),
        tolerance=_DIST_TOL,
        singular="Ties (two entries at the same distance, e.g. a repeated entry) go to the lowest index. An empty "
                 "codebook, or z and codebook of different widths D, raise SpecInputError.",
        boundaries=(
            Boundary(symbol="z", kind="tie", exactly="rule", rule="the lowest index",
                     why="two entries at (nearly) the same distance from z: the argmin flips between them; far from "
                         "the origin ‖z‖² − 2z·e + ‖e‖² cancels and picks the farther one"),
            Boundary(symbol="z", kind="zero", exactly="defined",
                     why="z = 0 and ‖z‖ ≪ 1 (subnormal, 1e-20, 1e-7): the nearest entry is decided by ‖e‖² − 2z·e, "
                         "which a z normalised with a clamped norm (z/max(‖z‖, ε)) scales wrongly")),
        notes="Computed as the direct Σ_d (z_d − e_kd)² (the expanded ‖z‖² − 2z·e + ‖e‖² cancels catastrophically "
              "for nearby vectors and may flip near-ties). The suite accepts any index whose distance is the "
              "minimum within the tolerance, and checks the lowest-index rule on exact ties.",
    ),
    Clause(
        id="vq.straight_through",
        title="Straight-through estimator: forward value z_q, gradient of z",
        statement=(r"\tilde z = z + \mathrm{sg}[z_q - z]:\quad \tilde z = z_q,\quad "
                   r"\frac{\partial \langle g, \tilde z\rangle}{\partial z} = g,\quad "
                   r"\frac{\partial \langle g, \tilde z\rangle}{\partial z_q} = 0"),
        kind=("identity", "value", "property"),
        provenance=(P(source=VQ_VAE, quote="we just copy gradients from decoder input zq(x) to encoder output ze(x)"),
                    P(source="03", quote=VQ_GRID)),
        function="straight_through",
        symbols=(Symbol(name="z", description="encoder output", domain=Z),
                 Symbol(name="z_q", description="its quantised value, z's shape", domain=Z),
                 Symbol(name="g", description="upstream gradient ∂L/∂z̃, z's shape", domain=Z),
                 Symbol(name="out", description="(z̃, ∂⟨g, z̃⟩/∂z, ∂⟨g, z̃⟩/∂z_q)", role="output")),
        conventions=(ESTIMATOR,),
        tolerance=tolerances(float64=(1e-14, 1e-14), float32=(1e-6, 1e-6), bfloat16=(8e-3, 2e-2),
                             why="z + (z_q − z) rounds twice: ≤ 1 ulp of max(|z|, |z_q|) ≤ 5 absolute (float32 "
                                 "6e-7; bfloat16 2^-8·5 ≈ 2e-2); the gradients are copies (exact). 'rotation': "
                                 "λ(v − 2w(w·v) + 2q̂(û·v)) of v = z (or Rᵀ of g) sums three terms of size ≤ 2λ‖v‖ "
                                 "from unit vectors carrying a few ulps (‖û + q̂‖ ≥ 0.45 on the drawn cases): ≲ 30 "
                                 "ulps of the row's norm ‖z_q‖ or λ‖g‖, so each component is compared with atol + "
                                 "4·rtol·(its row's norm) (4·rtol ≈ 34 float32 ulps)"),
        singular="None for straight_through: sg has no singular point. 'rotation': z = 0 or z_q = 0 (no direction) "
                 "and z_q a negative multiple of z (û + q̂ = 0: no w) raise SpecInputError; near the antipode w is "
                 "ill-conditioned, so the checks draw rows with cos(z, z_q) ≥ −0.8 and norms ≥ 0.1. Targets return "
                 "the forward value and both gradients; torch targets compute the gradients with autograd (z + "
                 "(z_q − z).detach()).",
        notes="Without the stop-gradient (z̃ = z_q) the decoder's gradient reaches z_q, i.e. the codebook, and the "
              "encoder gets none: the suite's planted bug.",
    ),
    Clause(
        id="vq.loss",
        title="VQ-VAE codebook and commitment losses, β named",
        statement=(r"L = \frac1n\sum_i \|\mathrm{sg}[z_i] - e_i\|_2^2 + \beta\,\|z_i - \mathrm{sg}[e_i]\|_2^2;\quad "
                   r"L = \frac{1+\beta}{n}\sum_i\|z_i - e_i\|^2,\ "
                   r"\frac{\partial L}{\partial z_i} = \frac{2\beta}{n}(z_i - e_i),\ "
                   r"\frac{\partial L}{\partial e_i} = \frac{2}{n}(e_i - z_i)"),
        kind=("identity", "value", "property"),
        provenance=(P(source=VQ_VAE, quote="we add a commitment loss, the third term in equation 3"),
                    P(source=VQ_VAE, quote="We found the resulting algorithm to be quite robust to β, as the results "
                                           "did not vary for values of β ranging from 0.1 to 2.0. We use β = 0.25"),
                    P(source="03", quote=VQ_GRID)),
        function="vq_loss",
        symbols=(Symbol(name="z", description="encoder outputs (n, D)", domain=Z),
                 Symbol(name="e", description="the selected codebook entries e_{k(z_i)}, z's shape", domain=Z),
                 Symbol(name="beta", description="commitment weight β (default 0.25, van den Oord et al.)",
                        domain=Domain(low=0.0, high=BETA_MAX), role="parameter"),
                 Symbol(name="out", description="(L, ∂L/∂z, ∂L/∂e)", role="output")),
        conventions=(STOP_GRADIENT, LOSS_REDUCTION),
        tolerance=_LOSS_TOL,
        singular="None. n = 0 raises SpecInputError (the mean of no terms).",
        notes="The value is (1 + β) times the mean squared distance whatever the stop-gradients; only the gradients "
              "tell the terms apart. The reduction is the batch mean of squared norms (rf.loss's default); "
              "F.mse_loss-style implementations divide by D as well (the reduction convention's mse_all_elements).",
    ),
    Clause(
        id="ar.raster_order",
        title="Raster order: a latent grid read left-to-right, top-to-bottom",
        statement=(r"s_{i W + j} = k_{i j},\quad i = 0..H-1\ (\text{rows, top to bottom}),\ "
                   r"j = 0..W-1\ (\text{left to right})"),
        kind=("value", "property"),
        provenance=(P(source="03", quote="train an autoregressive transformer to generate the tokens left-to-right, "
                                         "top-to-bottom"),
                    P(source="00", quote="then an image becomes a much shorter sequence of discrete latent tokens")),
        function="raster_order",
        symbols=(Symbol(name="grid", description="tokens (n, H, W)", domain=TOKENS),
                 Symbol(name="s", description="sequences (n, H·W)", role="output")),
        tolerance=tolerances(float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
                             why="a permutation of integers: exact"),
        singular="None. H = 0 or W = 0 gives empty sequences.",
        notes="Row-major flattening (C order, torch's reshape); its inverse is reshape(n, H, W).",
    ),
    Clause(
        id="ar.causal_mask",
        title="The causal mask: token i attends to j ≤ i, and the model's likelihood is the chain rule",
        statement=(r"M_{ij} = [\,j \le i\,];\quad \log p(s) = \sum_i \log \mathrm{softmax}(\ell_i)_{s_i},\ "
                   r"\ell_i = f(s_{<i})\ \Rightarrow\ \sum_{s \in \{0..K-1\}^L} p(s) = 1"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="Autoregressive models factor the joint distribution into a product of "
                                         "conditionals."),
                    P(source=NANOGPT, quote="causal mask to ensure that attention is only applied to the left in the "
                                            "input sequence")),
        function="causal_mask",
        symbols=(Symbol(name="L", description="sequence length", domain=Domain(kind="integer", low=1, high=4096),
                        role="parameter"),
                 Symbol(name="M", description="bool (L, L), True = may attend (the mask_polarity convention)",
                        role="output")),
        conventions=(CAUSAL_POLARITY,),
        tolerance=tolerances(float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
                             why="booleans: exact"),
        singular="None. L is an integer in [1, 4096]; anything else raises SpecInputError.",
        notes="The property check builds a one-layer attention model whose logits at position i are computed from "
              "the inputs shifted right (a start token, s_0..s_{i−1}) through the target's mask, and checks (a) "
              "changing s_j for j ≥ i leaves ℓ_i unchanged and (b) exp(Σ_i log p(s_i | ·)) sums to 1 over all K^L "
              "sequences (ar.factorization's chain rule defines a distribution). A mask that lets i see i + 1 "
              "fails both.",
    ),
    Clause(
        id="ar.sampling_distribution",
        title="Sampling with temperature and top-k: the distribution a token is drawn from",
        statement=(r"p_j = \frac{\exp(\tilde\ell_j/\tau)}{\sum_m \exp(\tilde\ell_m/\tau)},\quad "
                   r"\tilde\ell_j = \begin{cases}\ell_j & \ell_j \ge \ell_{(k)}\\ -\infty & \text{otherwise}\end{cases}"
                   r"\quad(\ell_{(k)}\text{ the } k\text{-th largest; } k = 0: \text{no truncation})"),
        kind=("value", "property"),
        provenance=(P(source="03", quote="GPT generates text one token at a time."),
                    P(source=NANOGPT, quote="optionally crop the logits to only the top k options"),
                    P(source=NANOGPT, quote="pluck the logits at the final step and scale by desired temperature")),
        function="sampling_probs",
        symbols=(Symbol(name="logits", description="(n, K)", domain=Domain(low=-1e4, high=1e4, shape=("n", "K"))),
                 Symbol(name="temperature", description="τ > 0 (τ → 0: argmax; τ = 1: the model's distribution)",
                        domain=Domain(low=1e-3, high=1e3), role="parameter"),
                 Symbol(name="top_k", description="k ≥ 0 (0 = keep every token; k ≥ K: no effect)",
                        domain=Domain(kind="integer", low=0), role="parameter"),
                 Symbol(name="p", description="(n, K), rows sum to 1", role="output")),
        conventions=(TIE_BREAK,),
        tolerance=tolerances(float64=(1e-12, 1e-15), float32=(1e-5, 1e-7), bfloat16=(8e-3, 1e-5),
                             why="a max-shifted softmax of (ℓ − max ℓ)/τ: every exponent is ≤ 0 and carries a few ulps "
                                 "of its magnitude, which the cases keep ≤ 50 (|ℓ| ≤ 10, τ ≥ 0.4): ≲ 50·ε relative "
                                 "(float32 3e-6); bfloat16 computes in float32 and rounds once (2^-9 relative)"),
        singular="τ ≤ 0 raises SpecInputError (τ ∈ [10^-3, 10^3]); temperature and top-k commute (top-k of ℓ/τ is "
                 "top-k of ℓ for τ > 0). Truncated tokens get p = 0 exactly.",
        boundaries=(
            Boundary(symbol="logits", kind="tie", exactly="rule",
                     rule="the top_k_ties convention: keep_ties keeps every logit equal to the k-th largest, "
                          "exactly_k the k largest with ties by the lowest index",
                     why="logits equal to (or within rounding of) the k-th largest: top-k's cut falls between them"),),
        notes="Drawing the token from p is ar.sampling's inverse CDF with u ~ U[0, 1).",
    ),
    Clause(
        id="ar.logit_guidance",
        title="Classifier-free guidance on logits (LlamaGen), mapped to the cfg forms",
        statement=(r"\ell^{cfg} = \ell^\varnothing + s\,(\ell^y - \ell^\varnothing) = "
                   r"(1 + w)\,\ell^y - w\,\ell^\varnothing,"
                   r"\ s = 1 + w;\quad \mathrm{softmax}(\ell^{cfg}) \propto p_\varnothing^{1-s} p_y^{s}"),
        kind=("identity", "value", "property"),
        provenance=(P(source=LLAMAGEN, quote="logits = uncond_logits + (cond_logits - uncond_logits) * cfg_scale"),
                    P(source="03", quote="When w = 0, you get plain conditional sampling.")),
        function="guided_logits",
        symbols=(Symbol(name="l_y", description="conditional logits (n, K)", domain=Domain(shape=("n", "K"))),
                 Symbol(name="l_null", description="unconditional logits (n, K)", domain=Domain(shape=("n", "K"))),
                 Symbol(name="w", description="guidance weight in the declared cfg form (LlamaGen: scale form s)",
                        domain=Domain(low=-1e3, high=1e3), role="parameter"),
                 Symbol(name="l_cfg", description="guided logits (n, K)", role="output")),
        conventions=(CFG_FORM,),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(1e-5, 5e-5), bfloat16=(1e-2, 2e-2),
            why="cfg.combine's arithmetic on logits: two products and a sum with |ℓ| ≤ 5, |w| ≤ 11"),
        singular="None (|w| ≤ 1000). −∞ logits (top-k truncated) are not allowed as inputs: guide first, "
                 "truncate after.",
        notes="The combination is cfg.combine's on logits; softmax is invariant to adding a per-row constant, so "
              "guiding log-probabilities log_softmax(ℓ) gives the same distribution as guiding raw logits "
              "(the weights 1 + w and −w sum to 1). LlamaGen's cfg_scale is the scale form's s.",
    ),
    Clause(
        id="ar.plausibility",
        title="The plausibility constraint: guidance re-ranks only the tokens the conditional model finds plausible",
        statement=(r"V = \{j : p^y_j \ge \alpha \max_m p^y_m\} = \{j : \ell^y_j \ge \max_m \ell^y_m + \log\alpha\},"
                   r"\quad \tilde p_j = \frac{p^{cfg}_j\,[j \in V]}{\sum_{m \in V} p^{cfg}_m}"),
        kind=("identity", "value", "property"),
        provenance=(P(source=CD, quote="subject to plausibility constraints"),
                    P(source=LLAMAGEN, quote="logits = uncond_logits + (cond_logits - uncond_logits) * cfg_scale")),
        function="plausible_tokens",
        symbols=(Symbol(name="l_y", description="conditional logits (n, K)",
                        domain=Domain(low=-1e4, high=1e4, shape=("n", "K"))),
                 Symbol(name="alpha", description="α ∈ [0, 1]: the share of the most likely token's probability a "
                                                  "token needs (0.1 in both papers)",
                        domain=Domain(low=0.0, high=1.0), role="parameter"),
                 Symbol(name="V", description="bool (n, K): True where the token may be drawn", role="output")),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(1e-5, 1e-5), bfloat16=(1e-2, 1e-2),
            why="the output is boolean: the check accepts a disagreement only for a token whose margin "
                "ℓ_j − max ℓ − log α lies within atol + rtol·(|ℓ_j| + |max ℓ|) of 0, the rounding of the gap or of "
                "p_j/p_max = exp(ℓ_j − max ℓ) computed by a softmax (a few ulps; bfloat16: 2^-8 relative)"),
        boundaries=(
            Boundary(symbol="l_y", kind="threshold", exactly="defined",
                     why="ℓ_j = max ℓ + log α (p_j = α max p): membership of V flips; a token within rounding of it "
                         "is accepted on either side, one beyond the margin must be on its side"),),
        singular="α = 0 keeps every token (log 0 = −∞); α = 1 keeps the most likely tokens (ties kept). The most "
                 "likely token is always in V, so no row is empty. α ∉ [0, 1] raises SpecInputError.",
        notes="Guidance ℓ_∅ + s(ℓ_y − ℓ_∅) also amplifies the null model's errors: a token the null model "
              "underrates gains probability under guidance though p_y calls it implausible. Contrastive decoding "
              "((1 + β) log p_expert − β log p_amateur, the one_plus_w form with β = w) therefore draws only from "
              "the expert's plausible set V; here the expert is the conditional model and the amateur the null "
              "model. Restricting p^{cfg} to V and renormalising equals setting the logits outside V to −∞ before "
              "the softmax (ar.sampling_distribution). At w = 0 it is min-p truncation of p_y. "
              "accelerated/models/ar.py samples with α = 0.1 and reports adherence per guidance weight with and "
              "without it.",
    ),
]
