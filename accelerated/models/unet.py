"""U-Net velocity network (DDPM / ADM / LDM style): f(x_t, t, cond) for images or latents.

    conv_in → down: [ResBlock (+ Attention at low resolution)] per level, ↓2 between levels (64 → 32 → 16 → 8)
            → middle: ResBlock, Attention, ResBlock
            → up: [concat skip, ResBlock (+ Attention)] per level, ↑2 between levels → GN, SiLU, conv_out

Time injection: e = MLP(timestep_embedding(1000·t)) (+ label embedding or projected pooled text), and in every
ResBlock the normalised features are modulated by FiLM, h ← film(GN(h), 1 + γ(e), β(e)) (unet.film; ADM's scale-shift
norm), by AdaLN over the channels at each position, h ← adaln(h, 1 + γ(e), β(e)) (dit.adaln), or, with
time_injection="add", h ← h + Linear(e) (DDPM). Attention blocks: self-attention over the H·W positions, then
cross-attention to the text tokens (LDM's spatial transformer), through accelerated.attention. The forward pass calls
the clause functions' unchecked bodies (`fn.raw`). Zero-initialised output convolutions and projections make every
residual branch 0 at init.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from genspec.accelerated.dit import adaln, film, timestep_embedding
from genspec.accelerated.models.layers import Attention
from genspec.accelerated.models.text import NullText, TextEmbedding


@dataclass
class UNetConfig:
    resolution: int = 64
    in_channels: int = 3
    out_channels: int = 3
    channels: tuple[int, ...] = (64, 128, 128, 256)    # one width per level: resolutions 64, 32, 16, 8
    attn_resolutions: tuple[int, ...] = (16, 8)        # self- (and cross-) attention at these resolutions
    heads: int = 4
    groups: int = 8
    time_injection: str = "film"                       # "film" (scale-shift norm) | "adaln" | "add"
    cond: str = "text"                                 # "text" | "label" | "none"
    text_width: int = 128
    num_classes: int = 1000
    time_scale: float = 1000.0


def zero(module: nn.Module) -> nn.Module:
    """Zero a layer's parameters: a residual branch ending in it starts at 0 (the block is the identity)."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    """x → GN, SiLU, conv → time injection → SiLU, conv (zero-init) → + skip(x)."""

    def __init__(self, c_in: int, c_out: int, emb: int, c: UNetConfig):
        super().__init__()
        self.injection = c.time_injection
        self.in_layers = nn.Sequential(nn.GroupNorm(c.groups, c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1))
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb, c_out if self.injection == "add" else 2 * c_out))
        self.norm: nn.Module = nn.GroupNorm(c.groups, c_out) if self.injection != "adaln" else nn.Identity()
        # (adaln normalises by itself: no GroupNorm there)
        self.out = nn.Sequential(nn.SiLU(), zero(nn.Conv2d(c_out, c_out, 3, padding=1)))
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.in_layers(x)
        m = self.emb(e)[:, :, None, None]
        if self.injection == "film":
            gamma, beta = m.chunk(2, dim=1)
            h = film.raw(self.norm(h), 1 + gamma, beta)
        elif self.injection == "adaln":                     # LayerNorm over channels at each position, modulated
            gamma, beta = m.permute(0, 2, 3, 1).chunk(2, dim=-1)
            h = adaln.raw(h.permute(0, 2, 3, 1), 1 + gamma, beta).permute(0, 3, 1, 2)
        else:
            h = self.norm(h + m)
        return self.skip(x) + self.out(h)


class AttentionBlock(nn.Module):
    """x + SelfAttn(GN x) over positions, then + CrossAttn(LN x, text tokens); output projections zero-init."""

    def __init__(self, ch: int, c: UNetConfig):
        super().__init__()
        self.norm = nn.GroupNorm(c.groups, ch)
        self.attn = Attention(ch, c.heads)
        zero(self.attn.o)
        self.cross = None
        if c.cond == "text":
            self.cross_norm = nn.LayerNorm(ch)
            self.cross = Attention(ch, c.heads, context_dim=c.text_width)
            zero(self.cross.o)

    def forward(self, x: torch.Tensor, text: TextEmbedding | None) -> torch.Tensor:
        B, C, H, W = x.shape
        tokens = lambda a: a.flatten(2).transpose(1, 2)                # (B, C, H, W) → (B, H·W, C)
        h = tokens(x) + self.attn(tokens(self.norm(x)))
        if self.cross is not None:
            assert text is not None, "a text-conditioned U-Net needs the text"
            h = h + self.cross(self.cross_norm(h), text.tokens, mask=text.mask[:, None, :])
        return h.transpose(1, 2).reshape(B, C, H, W)


class Level(nn.Module):
    def __init__(self, c_in: int, c_out: int, emb: int, attn: bool, c: UNetConfig):
        super().__init__()
        self.res = ResBlock(c_in, c_out, emb, c)
        self.attn = AttentionBlock(c_out, c) if attn else None

    def forward(self, x, e, text):
        x = self.res(x, e)
        return self.attn(x, text) if self.attn is not None else x


class UNet(nn.Module):
    """f(x_t, t, cond): cond = TextEmbedding ("text"), long labels ("label"; null = num_classes) or None."""

    def __init__(self, config: UNetConfig | None = None):
        super().__init__()
        c = self.config = config or UNetConfig()
        if c.resolution % 2 ** (len(c.channels) - 1) or c.time_injection not in ("film", "adaln", "add") \
                or c.cond not in ("text", "label", "none"):
            raise ValueError(f"UNetConfig: resolution must halve len(channels) − 1 times; time_injection "
                             f"film/adaln/add; cond text/label/none; got {c}")
        ch0, emb = c.channels[0], 4 * c.channels[0]
        self.time = nn.Sequential(nn.Linear(ch0, emb), nn.SiLU(), nn.Linear(emb, emb))
        if c.cond == "text":
            self.pooled_proj = nn.Linear(c.text_width, emb)
            self.null = NullText(c.text_width)                       # the null text y_∅ for CFG
        elif c.cond == "label":
            self.label = nn.Embedding(c.num_classes + 1, emb)        # row num_classes: the null label y_∅
        self.conv_in = nn.Conv2d(c.in_channels, ch0, 3, padding=1)
        res = [c.resolution // 2 ** i for i in range(len(c.channels))]
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        prev = ch0
        for i, ch in enumerate(c.channels):
            self.down.append(Level(prev, ch, emb, res[i] in c.attn_resolutions, c))
            if i < len(c.channels) - 1:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
            prev = ch
        self.mid = nn.ModuleList([Level(prev, prev, emb, True, c), Level(prev, prev, emb, False, c)])
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(len(c.channels))):
            ch = c.channels[i]
            self.up.append(Level(prev + ch, ch, emb, res[i] in c.attn_resolutions, c))
            if i > 0:
                self.upsample.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                                   nn.Conv2d(ch, c.channels[i - 1], 3, padding=1)))
            prev = ch if i == 0 else c.channels[i - 1]
        self.out = nn.Sequential(nn.GroupNorm(c.groups, ch0), nn.SiLU(), zero(nn.Conv2d(ch0, c.out_channels, 3,
                                                                                          padding=1)))

    def null_text(self, batch: int, length: int) -> TextEmbedding:
        return self.null(batch, length)

    def forward(self, x: torch.Tensor, t: torch.Tensor, cond=None) -> torch.Tensor:
        c = self.config
        e = self.time(timestep_embedding.raw(c.time_scale * t.float(), c.channels[0]).to(x.dtype))
        text = None
        if c.cond == "text":
            text = cond
            e = e + self.pooled_proj(cond.pooled)
        elif c.cond == "label":
            e = e + self.label(cond)
        h = self.conv_in(x)
        skips = []
        for i, level in enumerate(self.down):
            h = level(h, e, text)
            skips.append(h)
            if i < len(self.downsample):
                h = self.downsample[i](h)
        for level in self.mid:
            h = level(h, e, text)
        for i, level in enumerate(self.up):
            h = level(torch.cat([h, skips.pop()], dim=1), e, text)
            if i < len(self.upsample):
                h = self.upsample[i](h)
        return self.out(h)
