"""Clauses of attention as the denoisers use it (sources 00, 01, 03, 04): scaled dot-product attention with masks,
multi-head self/cross-attention (image queries, text keys and values), and MM-DiT's joint attention."""
from .schema import Boundary, Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance
TOKENS = Domain(shape=("B", "L", "D"))
HEADS = Domain(kind="integer", low=1)

MASK = Convention(
    name="mask_polarity", description="what True means in a boolean mask", default="true_attends",
    variants=(Variant(name="true_attends", statement=r"s_{ij} = -\infty \text{ where } m_{ij} = \text{False}",
                      mapping="the spec's default: torch.nn.functional.scaled_dot_product_attention's bool attn_mask",
                      sources=("external: PyTorch scaled_dot_product_attention",)),
              Variant(name="true_masks", statement=r"s_{ij} = -\infty \text{ where } m_{ij} = \text{True}",
                      mapping=r"m = \lnot m_{default}: nn.MultiheadAttention's key_padding_mask / attn_mask (bool)",
                      sources=("external: PyTorch nn.MultiheadAttention",))))

WEIGHTS = Convention(
    name="weights", description="the layout of a projection matrix", default="out_in",
    variants=(Variant(name="out_in", statement=r"y = x W^\top + b,\ W \in \mathbb{R}^{out \times in}",
                      mapping="the spec's default: nn.Linear.weight", sources=("external: PyTorch nn.Linear",)),
              Variant(name="in_out", statement=r"y = x W + b,\ W \in \mathbb{R}^{in \times out}",
                      mapping=r"W_{in\_out} = W_{out\_in}^\top: flax.linen.Dense's kernel, plain x @ W code",
                      sources=("external: flax.linen.Dense",))))

_SOFTMAX_WHY = ("softmax of logits |s| ≲ 30 (inputs O(1), d ≤ 8): an error δ in a logit is a relative error δ in its "
                "weight; δ ≲ |s|·few ulps (float32 ≈ 1e-5), and the output is a convex combination of the values "
                "(|v| ≲ 5). bfloat16 runs the kernels in bfloat16 (CUDA flash/efficient kernels round the "
                "probabilities to bfloat16 before P·V, and the projections round once each): a few 2^-8 of |v|")

CLAUSES = [
    Clause(
        id="attention.sdpa",
        title="Scaled dot-product attention softmax(QKᵀ/√d) V with an optional boolean mask",
        statement=(r"\mathrm{Attn}(Q, K, V)_i = \sum_j \frac{m_{ij} e^{s_{ij}}}{\sum_l m_{il} e^{s_{il}}} V_j,\ "
                   r"s = \frac{Q K^\top}{\sqrt d};\quad \text{a row with no } m_{ij} \text{ gives } 0"),
        kind=("identity", "value", "property"),
        provenance=(P(source="external: Vaswani et al. 2017, Attention Is All You Need, eq. (1)",
                      quote="Attention(Q, K, V) = softmax(QK^T / sqrt(d_k)) V"),
                    P(source="03", quote="Each image patch can attend to every text token and vice versa."),
                    P(source="04", quote="leveraging attention for long-range spatial and temporal interactions")),
        function="sdpa",
        symbols=(Symbol(name="q", description="queries (..., Lq, d)", domain=Domain(shape=("...", "Lq", "d"))),
                 Symbol(name="k", description="keys (..., Lk, d)", domain=Domain(shape=("...", "Lk", "d"))),
                 Symbol(name="v", description="values (..., Lk, dv)", domain=Domain(shape=("...", "Lk", "dv"))),
                 Symbol(name="mask", description="optional bool, broadcastable to (..., Lq, Lk); key padding "
                                                 "(..., 1, Lk)"),
                 Symbol(name="out", description="(..., Lq, dv)", role="output")),
        conventions=(MASK,),
        tolerance=tolerances(
            float64=(1e-12, 1e-12), float32=(1e-5, 3e-5), bfloat16=(2e-2, 3e-2),
            why=_SOFTMAX_WHY + ". The large-logit property (q, k scaled by 100: |s| ~ 10⁴) is outside that reason: a "
                "logit computed in the run's dtype carries δ ≤ (d + 2)·u·‖q‖‖k‖/√d (the dot product's γ_d plus the "
                "scaling; u the unit roundoff, float32 2^-24), e.g. 10⁴·2^-24·4 ≈ 2e-3, which softmax turns into a "
                "relative error δ of each weight; the output moves by ≤ 2·max δ·max|v|. That property compares with "
                "the atol above plus this bound (max over the rows of q and k); being finite and inside the values' "
                "range it must be whatever the bound"),
        singular=("A query row whose mask admits no key outputs 0 (PyTorch's safe softmax; the naive formula gives "
                  "0/0). Large logits are no singularity: softmax is shift-invariant and evaluated as exp(s − max s)."),
        boundaries=(
            Boundary(symbol="mask", kind="zero", exactly="defined",
                     why="a query row whose mask admits no key: the output is 0 (the naive softmax gives 0/0, a "
                         "finite fill gives the mean of every value)"),
            Boundary(symbol="mask", kind="threshold", exactly="defined",
                     why="admitted logits near or below a finite fill f: a masked key weighs 0 whatever the "
                         "admitted keys' logits, but an additive mask with a finite fill (f = −1e4 as BERT's "
                         "extended attention mask, −65504 float16's lowest) leaks where every admitted logit lies "
                         "within ~30 of f or below it; the admitted logits are drawn at inputs.approach values of "
                         "each f"),),
        notes=("Masked keys are exactly deleted keys: attention over the admitted keys only. Self-attention is "
               "permutation equivariant: permuting the tokens permutes the output the same way."),
    ),
    Clause(
        id="attention.cross",
        title="Multi-head attention: image queries attending to context keys and values (self: context = x)",
        statement=(r"\mathrm{MHA}(x, c) = \big[\mathrm{Attn}(x W_q^{h\top} + b_q^h,\ c W_k^{h\top} + b_k^h,\ "
                   r"c W_v^{h\top} + b_v^h)\big]_{h=1..H} W_o^\top + b_o,\quad "
                   r"W^h = \text{rows } h E/H .. (h+1)E/H - 1"),
        kind=("value", "property"),
        provenance=(P(source="03", quote="Text embeddings from CLIP or T5 are injected via cross-attention layers."),
                    P(source="03", quote="the image features attend to the text token sequence"),
                    P(source="00", quote="use cross-attention or joint attention to inject text/image conditioning")),
        function="attention",
        symbols=(Symbol(name="x", description="query tokens (B, L, D)", domain=TOKENS),
                 Symbol(name="context", description="key/value tokens (B, M, Dc): x for self-attention, text for "
                                                    "cross-attention", domain=Domain(shape=("B", "M", "Dc"))),
                 Symbol(name="w_q", description="(E, D)"), Symbol(name="w_k", description="(E, Dc)"),
                 Symbol(name="w_v", description="(Ev, Dc)"), Symbol(name="w_o", description="(D_out, Ev)"),
                 Symbol(name="heads", description="H, divides E and Ev", domain=HEADS, role="parameter"),
                 Symbol(name="mask", description="optional bool broadcastable to (B, L, M)"),
                 Symbol(name="out", description="(B, L, D_out)", role="output")),
        conventions=(WEIGHTS, MASK),
        tolerance=tolerances(float64=(1e-11, 1e-11), float32=(5e-5, 1e-4), bfloat16=(3e-2, 6e-2),
                             why="sdpa's bound after three input projections and one output projection of width ≤ 16 "
                                 "(each a dot product: ≲ √16 ulps of its O(1) terms); bfloat16: four roundings of "
                                 "O(1) activations plus sdpa's bfloat16 bound. " + _SOFTMAX_WHY),
        singular=("As attention.sdpa: a query with no admitted key gives o = 0 before the output projection "
                  "(out = b_o)."),
        boundaries=(
            Boundary(symbol="mask", kind="threshold", exactly="defined",
                     why="as attention.sdpa: a masked context token weighs 0 whatever the admitted tokens' logits; "
                         "an additive mask with a finite fill (−1e4, −65504) leaks where every admitted logit lies "
                         "within ~30 of the fill or below it, which the suite draws (1×1 projections, logits at "
                         "inputs.approach values of each fill)"),),
        notes=("Heads split the projected width into H contiguous slices (nn.MultiheadAttention, diffusers "
               "Attention). With one context token every query gets W_o(W_v c + b_v) + b_o (softmax over one key "
               "is 1)."),
    ),
    Clause(
        id="attention.joint",
        title="MM-DiT joint attention: one attention over the concatenated image and text tokens",
        statement=(r"[q; k; v] = \big[x W_{q,k,v}^{x\top};\ c W_{q,k,v}^{c\top}\big] \in \mathbb{R}^{(L+M) \times E},\ "
                   r"o = \mathrm{MHA}_H(q, k, v),\ x' = o_{1..L} W_o^{x\top},\ c' = o_{L+1..L+M} W_o^{c\top}"),
        kind=("value", "property"),
        provenance=(P(source="03", quote="MM-DiT concatenates all tokens (image patches + text tokens) into a single "
                                         "sequence and runs joint self-attention over everything."),
                    P(source="03", quote="Each image patch can attend to every text token and vice versa."),
                    P(source="04", quote="Using joint-attention mechanisms that fuse modalities.")),
        function="joint_attention",
        symbols=(Symbol(name="x", description="image tokens (B, L, D)", domain=TOKENS),
                 Symbol(name="c", description="text tokens (B, M, D)", domain=Domain(shape=("B", "M", "D"))),
                 Symbol(name="w_x", description="(W_q, W_k, W_v, W_o) of the image stream"),
                 Symbol(name="w_c", description="(W_q, W_k, W_v, W_o) of the text stream"),
                 Symbol(name="heads", description="H", domain=HEADS, role="parameter"),
                 Symbol(name="mask_c", description="optional (B, M) bool key padding of the text (True = real token)"),
                 Symbol(name="out", description="(x' (B, L, D_out), c' (B, M, D_out))", role="output")),
        tolerance=tolerances(float64=(1e-11, 1e-11), float32=(5e-5, 1e-4), bfloat16=(3e-2, 6e-2),
                             why="as attention.cross (same operations, L + M tokens). " + _SOFTMAX_WHY),
        singular="None: image tokens are never masked, so every query admits at least the L ≥ 1 image keys.",
        notes=("The token order of the concatenation does not matter (SD3's reference puts text first, diffusers' "
               "JointAttnProcessor image first): attention is permutation equivariant. With shared weights "
               "(w_x = w_c) it is self-attention over [x; c]. Padded text tokens are deleted keys, but their own "
               "rows of c' are still computed."),
    ),
]
