"""DiT: a diffusion transformer (Peebles & Xie 2023, DiT's models.py), as a rectified-flow velocity network.

    x (B, C, H, W) → patchify → Linear → + fixed 2-D sin-cos positions → N × block(·, c) → final layer → unpatchify
    c = TimestepEmbedder(t) + LabelEmbedder(y)           (class-conditional, DiT)
      = TimestepEmbedder(t) + Linear(pooled text)       (text-conditional: "cross" or "joint")

Block variants (config.cond):
- "label": DiT's AdaLN-Zero block: x ← x + g₁ ⊙ Attn(adaln(x, 1 + s₁, b₁)); x ← x + g₂ ⊙ MLP(adaln(x, 1 + s₂, b₂)),
  (b, s, g)₁,₂ = Linear(SiLU(c)), that Linear zero-initialised so every block starts as the identity.
- "cross": the same block with a cross-attention to the text tokens between the two (PixArt-α), its output
  projection zero-initialised (identity at init).
- "joint": MM-DiT (SD3): image and text streams, each with its own AdaLN-Zero modulation, projections and MLP,
  one attention over the concatenated tokens (accelerated.attention.joint_attention).

The clause functions do the math (accelerated.dit: patchify, unpatchify, timestep_embedding, adaln, gated_residual;
accelerated.attention: attention, joint_attention); the forward pass calls their unchecked bodies (`fn.raw`: no
argument check, no device synchronisation per block; the shapes are the model's own). Time convention: rectified
flow, t ∈ [0, 1], t = 0 data and t = 1 noise; the network embeds 1000·t (DiT's integer timesteps' range). Null label
= num_classes (cfg's extra_class); null text = one learned token (see `DiT.null_text`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import cast

import torch
import torch.nn as nn

from genspec.accelerated.attention import joint_attention
from genspec.accelerated.dit import adaln, gated_residual, patchify, timestep_embedding, unpatchify
from genspec.accelerated.models.layers import Attention, Mlp
from genspec.accelerated.models.text import NullText, TextEmbedding


@dataclass
class DiTConfig:
    input_size: int = 32          # latent H = W
    in_channels: int = 4
    patch: int = 2
    width: int = 1152             # D
    depth: int = 28
    heads: int = 16
    mlp_ratio: float = 4.0
    num_classes: int = 1000       # "label" conditioning; the null label is index num_classes
    learn_sigma: bool = True      # DiT predicts (ε, Σ): 2·C output channels; our rf models use False
    cond: str = "label"           # "label" | "cross" | "joint"
    text_width: int = 128         # width of the text encoder's tokens ("cross", "joint")
    freq_dim: int = 256           # sinusoidal features of t before the MLP (DiT: 256)
    time_scale: float = 1000.0    # the embedding sees time_scale · t
    freq_shift: str = "shift_0"   # dit.timestep_embedding's frequencies: DiT's shift_0; diffusers' DiT uses shift_1

    @property
    def out_channels(self) -> int:
        return 2 * self.in_channels if self.learn_sigma else self.in_channels

    @property
    def tokens(self) -> int:
        return (self.input_size // self.patch) ** 2


_SIZES = {"S": (12, 384, 6), "B": (12, 768, 12), "L": (24, 1024, 16), "XL": (28, 1152, 16)}  # depth, width, heads
DIT_CONFIGS: dict[str, DiTConfig] = {
    f"DiT-{name}/{p}": DiTConfig(patch=p, depth=d, width=w, heads=h)
    for name, (d, w, h) in _SIZES.items() for p in (2, 4, 8)
}


def sincos_positions(grid: int, dim: int) -> torch.Tensor:
    """Fixed 2-D positional embedding (grid², dim): [e(row), e(col)], e = timestep_embedding(·, dim/2) of the integer
    coordinate (DiT's get_2d_sincos_pos_embed with the same frequencies; cos before sin)."""
    r = torch.arange(grid, dtype=torch.float32, device="cpu")      # on CPU even when the model is built on meta
    rows, cols = r.repeat_interleave(grid), r.repeat(grid)            # token n = i·grid + j
    return torch.cat([timestep_embedding(rows, dim // 2), timestep_embedding(cols, dim // 2)], dim=1)


class TimestepEmbedder(nn.Module):
    """t ↦ MLP(timestep_embedding(time_scale · t, freq_dim)): Linear, SiLU, Linear (DiT)."""

    def __init__(self, width: int, freq_dim: int = 256, time_scale: float = 1000.0, freq_shift: str = "shift_0"):
        super().__init__()
        self.freq_dim, self.time_scale, self.freq_shift = freq_dim, time_scale, freq_shift
        self.mlp = nn.Sequential(nn.Linear(freq_dim, width), nn.SiLU(), nn.Linear(width, width))
        for m in (self.mlp[0], self.mlp[2]):
            nn.init.normal_(cast(nn.Linear, m).weight, std=0.02)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        e = timestep_embedding.raw(self.time_scale * t.float(), self.freq_dim, freq_shift=self.freq_shift)
        return self.mlp(e.to(self.mlp[0].weight.dtype))


class LabelEmbedder(nn.Module):
    """y ↦ E[y], E with num_classes + 1 rows: row num_classes is the null label y_∅ (CFG)."""

    def __init__(self, num_classes: int, width: int):
        super().__init__()
        self.table = nn.Embedding(num_classes + 1, width)
        nn.init.normal_(self.table.weight, std=0.02)

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        return self.table(y)


def modulation(width: int, chunks: int) -> nn.Sequential:
    """SiLU → Linear(width, chunks·width), zero-initialised: every shift, scale and gate starts at 0 (AdaLN-Zero)."""
    lin = nn.Linear(width, chunks * width)
    nn.init.zeros_(lin.weight)
    nn.init.zeros_(lin.bias)
    return nn.Sequential(nn.SiLU(), lin)


class DiTBlock(nn.Module):
    """AdaLN-Zero block, optionally with cross-attention to text tokens ("cross")."""

    def __init__(self, c: DiTConfig):
        super().__init__()
        self.attn = Attention(c.width, c.heads)
        self.mlp = Mlp(c.width, c.mlp_ratio)
        self.adaLN_modulation = modulation(c.width, 6)      # zero: gates g = 0, so the block is the identity at init
        self.cross = None
        if c.cond == "cross":
            self.cross_norm = nn.LayerNorm(c.width, eps=1e-6)
            self.cross = Attention(c.width, c.heads)
            nn.init.zeros_(self.cross.o.weight)             # zero output projection: identity at init
            nn.init.zeros_(self.cross.o.bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor, text: TextEmbedding | None = None) -> torch.Tensor:
        b1, s1, g1, b2, s2, g2 = self.adaLN_modulation(c)[:, None].chunk(6, dim=-1)
        x = gated_residual.raw(x, g1, self.attn(adaln.raw(x, 1 + s1, b1)))
        if self.cross is not None:
            assert text is not None, "a cross-attention DiT needs the text"
            x = x + self.cross(self.cross_norm(x), text.tokens, mask=text.mask[:, None, :])
        return gated_residual.raw(x, g2, self.mlp(adaln.raw(x, 1 + s2, b2)))


class JointStream(nn.Module):
    """One modality's half of an MM-DiT block: AdaLN-Zero modulation, q/k/v/o projections (no bias), MLP."""

    def __init__(self, c: DiTConfig):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(c.width, c.width, bias=False) for _ in range(4))
        self.mlp = Mlp(c.width, c.mlp_ratio)
        self.adaLN_modulation = modulation(c.width, 6)      # zero: identity at init

    def weights(self) -> tuple[torch.Tensor, ...]:
        return self.q.weight, self.k.weight, self.v.weight, self.o.weight


class JointBlock(nn.Module):
    """MM-DiT block: both streams modulated by c, one joint attention, per-stream gated residuals and MLPs."""

    def __init__(self, c: DiTConfig):
        super().__init__()
        self.heads = c.heads
        self.x_stream, self.c_stream = JointStream(c), JointStream(c)

    def forward(self, x: torch.Tensor, c: torch.Tensor, text: TextEmbedding) -> tuple[torch.Tensor, torch.Tensor]:
        h = text.tokens
        bx1, sx1, gx1, bx2, sx2, gx2 = self.x_stream.adaLN_modulation(c)[:, None].chunk(6, dim=-1)
        bh1, sh1, gh1, bh2, sh2, gh2 = self.c_stream.adaLN_modulation(c)[:, None].chunk(6, dim=-1)
        ax, ah = joint_attention.raw(adaln.raw(x, 1 + sx1, bx1), adaln.raw(h, 1 + sh1, bh1), self.x_stream.weights(),
                                     self.c_stream.weights(), self.heads, mask_c=text.mask)
        x, h = gated_residual.raw(x, gx1, ax), gated_residual.raw(h, gh1, ah)
        x = gated_residual.raw(x, gx2, self.x_stream.mlp(adaln.raw(x, 1 + sx2, bx2)))
        h = gated_residual.raw(h, gh2, self.c_stream.mlp(adaln.raw(h, 1 + sh2, bh2)))
        return x, h


class FinalLayer(nn.Module):
    """adaln(x, 1 + s, b) → Linear(D, p²·C_out); modulation and projection zero-initialised (DiT: the model's output
    is 0 at init)."""

    def __init__(self, c: DiTConfig):
        super().__init__()
        self.linear = nn.Linear(c.width, c.patch * c.patch * c.out_channels)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)
        self.adaLN_modulation = modulation(c.width, 2)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        b, s = self.adaLN_modulation(c)[:, None].chunk(2, dim=-1)
        return self.linear(adaln.raw(x, 1 + s, b))


class DiT(nn.Module):
    """f(x_t, t, cond) → velocity (B, C_out, H, W). cond: long labels (B,) for "label", a TextEmbedding otherwise."""

    def __init__(self, config: DiTConfig | None = None):
        super().__init__()
        c = self.config = config or DiTConfig()
        if c.input_size % c.patch or c.width % c.heads or c.cond not in ("label", "cross", "joint"):
            raise ValueError(f"DiTConfig: need input_size % patch == 0, width % heads == 0 and cond in label/cross/"
                             f"joint; got {c.input_size}, {c.patch}, {c.width}, {c.heads}, {c.cond!r}")
        self.x_embedder = nn.Linear(c.patch * c.patch * c.in_channels, c.width)    # = DiT's p×p conv, stride p
        nn.init.xavier_uniform_(self.x_embedder.weight)
        self.register_buffer("pos_embed", sincos_positions(c.input_size // c.patch, c.width)[None], persistent=False)
        self.t_embedder = TimestepEmbedder(c.width, c.freq_dim, c.time_scale, c.freq_shift)
        if c.cond == "label":
            self.y_embedder = LabelEmbedder(c.num_classes, c.width)
        else:
            self.text_proj = nn.Linear(c.text_width, c.width)      # text tokens → model width (PixArt's y_embedder)
            self.pooled_proj = nn.Linear(c.text_width, c.width)    # pooled text → added to the timestep embedding
            self.null = NullText(c.text_width)                     # the null text y_∅ for CFG
        block = JointBlock if c.cond == "joint" else DiTBlock
        self.blocks = nn.ModuleList(block(c) for _ in range(c.depth))
        self.final_layer = FinalLayer(c)

    def null_text(self, batch: int, length: int) -> TextEmbedding:
        """The null text y_∅ (text conditioning only): see `NullText`."""
        return self.null(batch, length)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Image tokens: Linear(patchify(x, p)) + positions, (B, (H/p)(W/p), D)."""
        return self.x_embedder(patchify.raw(x, self.config.patch)) + self.pos_embed.to(x.dtype)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond) -> torch.Tensor:
        cfg = self.config
        H, W = x.shape[-2:]
        h = self.embed(x)
        c = self.t_embedder(t).to(h.dtype)
        text = None
        if cfg.cond == "label":
            c = c + self.y_embedder(cond)
        else:
            text = TextEmbedding(self.text_proj(cond.tokens), cond.mask, cond.pooled)
            c = c + self.pooled_proj(cond.pooled)
        for block in self.blocks:
            if cfg.cond == "joint":
                assert text is not None
                h, tokens = block(h, c, text)
                text = replace(text, tokens=tokens)         # the text stream flows through the joint blocks
            else:
                h = block(h, c, text)
        out = self.final_layer(h, c)
        return unpatchify.raw(out, cfg.patch, H, W)


def count_parameters(config: DiTConfig) -> int:
    """Parameters of DiT(config), built on the meta device (no memory; DiT-XL/2 counts 675M)."""
    with torch.device("meta"):
        model = DiT(config)
    return sum(p.numel() for p in model.parameters())


def forward_flops(config: DiTConfig, text_tokens: int = 0) -> float:
    """Matmul FLOPs of one forward pass per sample (2 per multiply-add): the linear layers on N tokens plus the
    attention scores and values (4·N²·D per block); embeddings of t and y and elementwise ops are left out."""
    c, N, D = config, config.tokens, config.width
    mlp = 2 * int(D * c.mlp_ratio) * D
    per_block = N * 2 * (4 * D * D + mlp) + 4 * N * N * D + 2 * 6 * D * D
    if c.cond == "cross":
        M = text_tokens
        per_block += N * 2 * 2 * D * D + M * 2 * 2 * D * D + 4 * N * M * D
    if c.cond == "joint":
        M = text_tokens
        per_block = (N + M) * 2 * (4 * D * D + mlp) + 4 * (N + M) ** 2 * D + 2 * 12 * D * D
    embed = N * 2 * c.patch ** 2 * c.in_channels * D + N * 2 * D * c.patch ** 2 * c.out_channels
    return float(c.depth * per_block + embed)
