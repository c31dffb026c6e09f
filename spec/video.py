"""Clauses of video latents (sources 00, 01, 03, 04): latent sizes and token counts, 3-D patches over (t, h, w),
and factorized spatial-then-temporal attention with its cost against full 3-D attention.

⚠ 03's MovieGen paragraph: 256 frames of 768² with 8×8×8 compression → 32×96×96 = 294,912 latent positions
("~295K tokens", i.e. one token per latent position), while 03's timeline row says "76K tokens": with 2×2 spatial
patches (the DiT patch size) the count is 32·48·48 = 73,728 ≈ 74K. Both are stated by video.tokens as patch sizes.
"""
from .schema import Clause, Convention, Domain, Provenance, Symbol, Variant, tolerances

P = Provenance
SIZE = Domain(kind="integer", low=1, high=2**20)

TEMPORAL = Convention(
    name="temporal", description="how frames map to latent frames", default="divide",
    variants=(Variant(name="divide", statement=r"t = T / f_t",
                      mapping="the spec's default (03: 16 frames → 4, 256 frames → 32)", sources=("03",)),
              Variant(name="causal", statement=r"t = 1 + (T - 1)/f_t",
                      mapping="causal video VAEs encode the first frame alone (HunyuanVideo, CogVideoX: 1 + 4k "
                              "frames); T − 1 must be a multiple of f_t",
                      sources=("external: HunyuanVideo 3D causal VAE",))))

VLAYOUT = Convention(
    name="layout", description="the order of the p_t·p·p·C features of one space-time patch", default="nthwc",
    variants=(Variant(name="nthwc", statement=r"\text{feature}(\tau, a, b, c) = ((\tau p + a) p + b) C + c",
                      mapping="the spec's default: dit.patchify's nhwpqc order with the frame offset τ outermost",
                      sources=("external: facebookresearch/DiT models.py",)),
              Variant(name="channel_first", statement=r"\text{feature}(\tau, a, b, c) = ((c\,p_t + \tau) p + a) p + b",
                      mapping="a permutation of the feature axis: the flattening of a Conv3d weight (D, C, p_t, p, p) "
                              "(stride-(p_t, p, p) patch embedding)", sources=("external: PyTorch nn.Conv3d",))))

CLAUSES = [
    Clause(
        id="video.tokens",
        title="Video latent sizes: T×H×W frames → t×h×w×c latents and the token count",
        statement=(r"t = T/f_t,\ h = H/f,\ w = W/f;\quad \text{positions} = t h w,\quad "
                   r"N_{tok} = \frac{t}{p_t}\cdot\frac{h}{p}\cdot\frac{w}{p}"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="A 16-frame 256×256 video might compress to a 4×32×32×16 latent (4× "
                                         "temporal, 8× spatial downsampling)."),
                    P(source="03", quote="256 frames → 32×96×96 latent → ~295K tokens per sample."),
                    P(source="03", quote="MovieGen (Meta) | 30B DiT, 76K tokens, audio generation"),
                    P(source="03", quote="Latent space: 8×8×8 downsampling (spatial 8×, temporal 8×)."),
                    P(source="04", quote="Sequence lengths can be orders of magnitude larger than image-token "
                                         "sequences")),
        function="video_latent_shape",
        symbols=(Symbol(name="T", description="frames", domain=SIZE, role="parameter"),
                 Symbol(name="H", description="frame height", domain=SIZE, role="parameter"),
                 Symbol(name="W", description="frame width", domain=SIZE, role="parameter"),
                 Symbol(name="f_t", description="temporal downsampling", domain=SIZE, role="parameter"),
                 Symbol(name="f", description="spatial downsampling", domain=SIZE, role="parameter"),
                 Symbol(name="c", description="latent channels", domain=SIZE, role="parameter"),
                 Symbol(name="p_t", description="temporal patch size (1)", domain=SIZE, role="parameter"),
                 Symbol(name="p", description="spatial patch size (1 or 2)", domain=SIZE, role="parameter"),
                 Symbol(name="sizes", description="dict: latent (t, h, w, c), positions, tokens", role="output")),
        conventions=(TEMPORAL,),
        tolerance=tolerances(float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
                             why="integer arithmetic: exact (the outputs are not in the run's dtype)"),
        singular="None: sizes that do not divide are a SpecInputError.",
        notes=("⚠ 03: 256 frames 768², 8×8×8 → 32×96×96 = 294,912 latent positions, the '~295K tokens' with 1×1 "
               "patches; 03's MovieGen row '76K tokens' matches 2×2 spatial patches: 32·48·48 = 73,728. 16 frames "
               "256² with f_t = 4, f = 8, c = 16 → 4×32×32×16 = 4,096 positions."),
    ),
    Clause(
        id="video.patchify",
        title="Space-time patchify: a video (C, T, H, W) as tokens of p_t·p·p·C features",
        statement=(r"X[n, ((\tau p + a) p + b) C + c] = x[c, i_t p_t + \tau, i p + a, j p + b],\ "
                   r"n = (i_t \tfrac{H}{p} + i)\tfrac{W}{p} + j"),
        kind=("value", "property"),
        provenance=(P(source="03", quote="A video is a 3D grid of latents (t × h × w × c), where t is the time "
                                         "dimension."),
                    P(source="00", quote="Text-to-video is the same idea but with an additional temporal dimension "
                                         "in the latent representation.")),
        function="patchify",
        symbols=(Symbol(name="x", description="video latent (..., C, T, H, W)", domain=Domain(shape=("...", "C", "T",
                                                                                                    "H", "W"))),
                 Symbol(name="p_t", description="temporal patch size, divides T", domain=SIZE, role="parameter"),
                 Symbol(name="p", description="spatial patch size, divides H and W", domain=SIZE, role="parameter"),
                 Symbol(name="X", description="(..., (T/p_t)(H/p)(W/p), p_t·p·p·C)", role="output")),
        conventions=(VLAYOUT,),
        tolerance=tolerances(float64=(0.0, 0.0), float32=(0.0, 0.0), bfloat16=(0.0, 0.0),
                             why="a permutation of the entries: exact in every dtype"),
        singular="None: sizes not divisible by the patch are a SpecInputError.",
        notes="With T = p_t = 1 it is dit.patchify of the single frame.",
    ),
    Clause(
        id="video.factorized_attention",
        title="Factorized attention: spatial attention within each frame, then temporal attention at each position",
        statement=(r"s_{t,\cdot} = \mathrm{MHA}(x_{t,\cdot};\ W^s),\quad y_{\cdot,n} = \mathrm{MHA}(s_{\cdot,n};\ W^t);"
                   r"\quad \text{cost} \propto T\,(HW)^2 + HW\,T^2 \text{ vs. } (T H W)^2"),
        kind=("identity", "value", "property"),
        provenance=(P(source="03", quote="Full 3D self-attention over (t × h × w) tokens is quadratic in the total "
                                         "count"),
                    P(source="03", quote="Spatial attention: Within each frame, all (h × w) patches attend to each "
                                         "other."),
                    P(source="03", quote="Temporal attention: For each spatial position, the tokens across all T "
                                         "frames attend to each other."),
                    P(source="03", quote="These alternate in the transformer blocks: spatial-attention → "
                                         "temporal-attention → spatial → temporal → ...")),
        function="factorized_attention",
        symbols=(Symbol(name="x", description="video tokens (B, T, S, D), S = h·w positions per frame",
                        domain=Domain(shape=("B", "T", "S", "D"))),
                 Symbol(name="w_s", description="(W_q, W_k, W_v, W_o) of spatial self-attention, or None to skip"),
                 Symbol(name="w_t", description="(W_q, W_k, W_v, W_o) of temporal self-attention, or None to skip"),
                 Symbol(name="heads", description="H", domain=SIZE, role="parameter"),
                 Symbol(name="y", description="(B, T, S, D_out)", role="output")),
        tolerance=tolerances(float64=(1e-11, 1e-11), float32=(1e-4, 2e-4), bfloat16=(5e-2, 1e-1),
                             why="two multi-head attentions in sequence (attention.cross's bound, twice, on O(1) "
                                 "activations); bfloat16 rounds the intermediate s once more"),
        singular="None: every query admits all keys of its frame (spatial) or position (temporal).",
        notes=("No residuals or norms (those are the block's): the clause is the attention pattern. Costs in "
               "query-key pairs: spatial T·S², temporal S·T², full (T·S)²; the ratio full/factorized = T·S/(S + T) "
               "(03's MovieGen latent, T = 32, S = 9,216: 294,912²≈ 8.7e10 pairs vs 2.73e9, 31.9×). The temporal "
               "stage mixes only tokens at one position; with T = 1 it is the position-wise map W_o^t W_v^t "
               "(softmax over one key is 1), so the block is spatial attention followed by a linear map."),
    ),
]
