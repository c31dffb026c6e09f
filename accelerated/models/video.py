"""Text-to-video: a captioned moving-shapes set made in code, a spatio-temporal KL autoencoder, a video DiT with
factorized space-time attention, and the text-to-video pipeline.

    video (3, T, H, W) ──encoder──▶ latent (c, T/4, H/8, W/8) ──video DiT + CFG + Euler──▶ decoder ──▶ video

Autoencoder: Conv3d stages, 2× in time and space, then 2× in space only (default 4× temporal, 8× spatial). Temporal
padding is symmetric, so it is NOT causal in time: a latent frame sees its neighbours on both sides (a causal video
VAE, as MAGVIT-v2's, pads only the past). Trained with reconstruction + β·KL (the image autoencoder's
`ae_losses`: vae.kl, vae.reparameterization), no discriminator.

Video DiT: tokens = Linear(video.patchify(z, p_t, p)) + spatial and temporal sin-cos positions; each block is
AdaLN-Zero with spatial attention within each frame, then temporal attention across frames at each position
(video.factorized_attention, each with its own gated residual), cross-attention to the text tokens, and the MLP; a
final AdaLN layer and video unpatchify. Time and guidance conventions as the image DiT (rectified flow, t = 0 data;
the null text y_∅ for CFG), and the same pipeline (`accelerated.models.pipeline.TextToImage` works on any latent
shape: its sampler and CFG do not look at the axes).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from genspec.accelerated.data.shapes import _PALETTE, COLORS, SHAPES, shape_mask
from genspec.accelerated.dit import adaln, gated_residual, timestep_embedding
from genspec.accelerated.models.dit import DiTConfig, FinalLayer, TimestepEmbedder, modulation, sincos_positions
from genspec.accelerated.models.layers import Attention, Mlp
from genspec.accelerated.models.pipeline import TextToImage
from genspec.accelerated.models.text import NullText, TextEmbedding
from genspec.accelerated.video import factorized_attention, patchify, tokens_to_video

# ---- data --------------------------------------------------------------------------------------------------------
DIRECTIONS: dict[str, tuple[int, int]] = {"left": (0, -1), "right": (0, 1), "up": (-1, 0), "down": (1, 0)}  # (dy, dx)
VIDEO_CAPTIONS: list[str] = [f"{c} {s} moving {d}" for c in COLORS for s in SHAPES for d in DIRECTIONS]


@dataclass
class MovingShapes:
    videos: torch.Tensor        # (n, 3, T, size, size) float32 in [−1, 1]
    captions: list[str]         # "<colour> <shape> moving <direction>"
    direction: torch.Tensor     # (n,) long: index into DIRECTIONS

    def __len__(self) -> int:
        return len(self.captions)


def moving_shapes_dataset(n: int, frames: int = 8, size: int = 32, speed: float = 2.0, seed: int = 0) -> MovingShapes:
    """n videos of one shape (the image set's colours and shapes, half-width r ~ U[size/8, size/6]) moving `speed`
    pixels per frame in one of four directions, always fully inside the frame. Deterministic from seed."""
    if not (isinstance(n, int) and n >= 1 and isinstance(frames, int) and frames >= 2 and size >= 8):
        raise ValueError(f"moving_shapes_dataset: need n ≥ 1, frames ≥ 2, size ≥ 8; got {n!r}, {frames!r}, {size!r}")
    g = torch.Generator().manual_seed(seed)
    color = torch.randint(len(COLORS), (n,), generator=g)
    shape = torch.randint(len(SHAPES), (n,), generator=g)
    direction = torch.randint(len(DIRECTIONS), (n,), generator=g)
    r = size / 8 + torch.rand(n, generator=g) * (size / 24)
    travel = speed * (frames - 1)
    if travel > size - 2 * size / 6:
        raise ValueError(f"moving_shapes_dataset: {frames} frames at speed {speed} leave a {size}-pixel frame")
    step = torch.tensor(list(DIRECTIONS.values()), dtype=torch.float32)[direction]           # (n, 2): (dy, dx)
    lo = r[:, None] + travel * (step < 0)                  # the start leaves room for the whole path
    hi = size - r[:, None] - travel * (step > 0)
    start = lo + torch.rand(n, 2, generator=g) * (hi - lo)
    videos = torch.empty(n, 3, frames, size, size)
    rgb = _PALETTE[color][:, :, None, None]
    for f in range(frames):
        centre = start + speed * f * step
        mask = torch.zeros(n, size, size, dtype=torch.bool)
        for k in range(len(SHAPES)):
            sel = shape == k
            if sel.any():
                mask[sel] = shape_mask(k, centre[sel, 0], centre[sel, 1], r[sel], size)
        videos[:, :, f] = torch.where(mask[:, None], rgb, torch.full_like(rgb, -1.0))
    names_c, names_s, names_d = list(COLORS), list(SHAPES), list(DIRECTIONS)
    captions = [f"{names_c[c]} {names_s[s]} moving {names_d[d]}"
                for c, s, d in zip(color.tolist(), shape.tolist(), direction.tolist(), strict=True)]
    return MovingShapes(videos, captions, direction)


@torch.no_grad()
def read_direction(videos: torch.Tensor) -> torch.Tensor:
    """The direction index per video: the foreground centroid's displacement from the first to the last frame with a
    foreground, snapped to the nearest of left/right/up/down; −1 where fewer than two frames have a foreground.
    videos: (n, 3, T, H, W) in [−1, 1]; foreground = pixels whose brightest channel is > 0."""
    fg = videos.detach().float().cpu().amax(dim=1) > 0                     # (n, T, H, W)
    area = fg.flatten(2).sum(2).float()                                     # (n, T)
    ii = torch.arange(fg.shape[2], dtype=torch.float32) + 0.5
    jj = torch.arange(fg.shape[3], dtype=torch.float32) + 0.5
    cy = (fg.sum(3) * ii).sum(2) / area.clamp(min=1)
    cx = (fg.sum(2) * jj).sum(2) / area.clamp(min=1)
    seen = area > 0
    T = fg.shape[1]
    first = torch.where(seen, torch.arange(T), T).amin(1).clamp(max=T - 1)
    last = torch.where(seen, torch.arange(T), -1).amax(1).clamp(min=0)
    rows = torch.arange(len(fg))
    d = torch.stack([cy[rows, last] - cy[rows, first], cx[rows, last] - cx[rows, first]], 1)      # (n, 2)
    unit = torch.tensor(list(DIRECTIONS.values()), dtype=torch.float32)
    out = (d @ unit.T).argmax(1)
    return torch.where((last > first) & (d.abs().amax(1) > 0), out, -1)


def motion_adherence(videos: torch.Tensor, captions: list[str]) -> float:
    """Fraction of videos whose direction, read back by `read_direction`, matches their caption's."""
    if videos.ndim != 5 or videos.shape[0] != len(captions):
        raise ValueError(f"motion_adherence: need videos (n, 3, T, H, W) and n captions; got {tuple(videos.shape)} "
                         f"and {len(captions)} captions")
    names = list(DIRECTIONS)
    want = torch.tensor([names.index(c.rsplit(" ", 1)[1]) for c in captions])
    return float((read_direction(videos) == want).float().mean())


# ---- spatio-temporal autoencoder ---------------------------------------------------------------------------------
@dataclass
class VideoAEConfig:
    in_channels: int = 3
    z_channels: int = 8
    channels: tuple[int, ...] = (16, 32, 64, 64)    # width per stage; stride (2, 2, 2) for the first `temporal`
    temporal: int = 2                               # stages, (1, 2, 2) after: 2^temporal × in time, 2^(len − 1) × space
    groups: int = 8

    @property
    def factors(self) -> tuple[int, int]:
        return 2 ** self.temporal, 2 ** (len(self.channels) - 1)


def _stride(c: VideoAEConfig, i: int) -> tuple[int, int, int]:
    return (2, 2, 2) if i < c.temporal else (1, 2, 2)


class VideoAutoencoder(nn.Module):
    """(3, T, H, W) → (μ, log σ²) of shape (z, T/f_t, H/f, W/f) → (3, T, H, W). encode/decode as the image
    autoencoder, so `accelerated.models.autoencoder.ae_losses` trains it."""

    def __init__(self, config: VideoAEConfig | None = None):
        super().__init__()
        c = self.config = config or VideoAEConfig()
        ch = c.channels
        enc: list[nn.Module] = [nn.Conv3d(c.in_channels, ch[0], 3, padding=1)]
        for i in range(len(ch) - 1):
            enc += [nn.GroupNorm(c.groups, ch[i]), nn.SiLU(),
                    nn.Conv3d(ch[i], ch[i + 1], _stride(c, i), stride=_stride(c, i))]
        enc += [nn.GroupNorm(c.groups, ch[-1]), nn.SiLU(), nn.Conv3d(ch[-1], 2 * c.z_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        dec: list[nn.Module] = [nn.Conv3d(c.z_channels, ch[-1], 3, padding=1)]
        for i in reversed(range(len(ch) - 1)):
            dec += [nn.GroupNorm(c.groups, ch[i + 1]), nn.SiLU(),
                    nn.ConvTranspose3d(ch[i + 1], ch[i], _stride(c, i), stride=_stride(c, i))]
            if i > 0:                                        # a 3×3×3 refinement below full resolution (cost)
                dec += [nn.GroupNorm(c.groups, ch[i]), nn.SiLU(), nn.Conv3d(ch[i], ch[i], 3, padding=1)]
        dec += [nn.GroupNorm(c.groups, ch[0]), nn.SiLU(), nn.Conv3d(ch[0], c.in_channels, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar.clamp(-30.0, 20.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)


# ---- video DiT ---------------------------------------------------------------------------------------------------
@dataclass
class VideoDiTConfig:
    frames: int = 2               # latent T
    input_size: int = 4           # latent H = W
    in_channels: int = 8
    patch_t: int = 1
    patch: int = 1
    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp_ratio: float = 4.0
    text_width: int = 128
    freq_dim: int = 256
    time_scale: float = 1000.0

    @property
    def grid(self) -> tuple[int, int]:
        """(latent frames, positions per frame) of the token grid."""
        return self.frames // self.patch_t, (self.input_size // self.patch) ** 2


class SpaceTimeAttention(nn.Module):
    """The q, k, v, o projections (no bias) of one attention; `weights` feeds video.factorized_attention."""

    def __init__(self, width: int):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(width, width, bias=False) for _ in range(4))

    def weights(self) -> tuple[torch.Tensor, ...]:
        return self.q.weight, self.k.weight, self.v.weight, self.o.weight


class VideoDiTBlock(nn.Module):
    """AdaLN-Zero: x ← x + g_s ⊙ spatial(adaln(x)); x ← x + g_t ⊙ temporal(adaln(x)); x ← x + cross(LN x, text);
    x ← x + g_m ⊙ MLP(adaln(x)). x: (B, T, S, D)."""

    def __init__(self, c: VideoDiTConfig):
        super().__init__()
        self.heads = c.heads
        self.spatial, self.temporal = SpaceTimeAttention(c.width), SpaceTimeAttention(c.width)
        self.cross_norm = nn.LayerNorm(c.width, eps=1e-6)
        self.cross = Attention(c.width, c.heads)
        nn.init.zeros_(self.cross.o.weight)                  # zero output projection: identity at init
        nn.init.zeros_(self.cross.o.bias)
        self.mlp = Mlp(c.width, c.mlp_ratio)
        self.adaLN_modulation = modulation(c.width, 9)      # zero: every gate starts at 0, the block is the identity

    def forward(self, x: torch.Tensor, c: torch.Tensor, text: TextEmbedding) -> torch.Tensor:
        B, T, S, D = x.shape
        b1, s1, g1, b2, s2, g2, b3, s3, g3 = self.adaLN_modulation(c)[:, None, None].chunk(9, dim=-1)
        x = gated_residual.raw(x, g1, factorized_attention.raw(adaln.raw(x, 1 + s1, b1), self.spatial.weights(), None,
                                                               self.heads))
        x = gated_residual.raw(x, g2, factorized_attention.raw(adaln.raw(x, 1 + s2, b2), None, self.temporal.weights(),
                                                               self.heads))
        x = x + self.cross(self.cross_norm(x).reshape(B, T * S, D), text.tokens,
                           mask=text.mask[:, None, :]).reshape(B, T, S, D)
        return gated_residual.raw(x, g3, self.mlp(adaln.raw(x, 1 + s3, b3)))


class VideoDiT(nn.Module):
    """f(x_t, t, text) → velocity (B, C, T, H, W) for latent videos x_t (B, C, T, H, W)."""

    def __init__(self, config: VideoDiTConfig | None = None):
        super().__init__()
        c = self.config = config or VideoDiTConfig()
        if c.frames % c.patch_t or c.input_size % c.patch or c.width % c.heads:
            raise ValueError(f"VideoDiTConfig: frames % patch_t, input_size % patch and width % heads must be 0; "
                             f"got {c.frames}, {c.patch_t}, {c.input_size}, {c.patch}, {c.width}, {c.heads}")
        T, S = c.grid
        self.x_embedder = nn.Linear(c.patch_t * c.patch * c.patch * c.in_channels, c.width)
        nn.init.xavier_uniform_(self.x_embedder.weight)
        frame_pos = timestep_embedding(torch.arange(T, dtype=torch.float32), c.width)          # (T, D)
        pos = sincos_positions(c.input_size // c.patch, c.width)[None] + frame_pos[:, None]  # (T, S, D)
        self.register_buffer("pos_embed", pos[None], persistent=False)
        self.t_embedder = TimestepEmbedder(c.width, c.freq_dim, c.time_scale)
        self.text_proj = nn.Linear(c.text_width, c.width)
        self.pooled_proj = nn.Linear(c.text_width, c.width)
        self.null = NullText(c.text_width)
        self.blocks = nn.ModuleList(VideoDiTBlock(c) for _ in range(c.depth))
        # DiT's final layer (zero-initialised: output 0 at init) with p_t·p²·C outputs per token
        self.final_layer = FinalLayer(DiTConfig(width=c.width, patch=1, learn_sigma=False,
                                                in_channels=c.patch_t * c.patch * c.patch * c.in_channels))

    def null_text(self, batch: int, length: int) -> TextEmbedding:
        return self.null(batch, length)

    def forward(self, x: torch.Tensor, t: torch.Tensor, text: TextEmbedding) -> torch.Tensor:
        cfg = self.config
        B, _, T, H, W = x.shape
        nT, S = cfg.grid
        h = self.x_embedder(patchify.raw(x, cfg.patch_t, cfg.patch)).reshape(B, nT, S, cfg.width)
        h = h + self.pos_embed.to(h.dtype)
        c = self.t_embedder(t).to(h.dtype) + self.pooled_proj(text.pooled)
        text = TextEmbedding(self.text_proj(text.tokens), text.mask, text.pooled)
        for block in self.blocks:
            h = block(h, c, text)
        out = self.final_layer(h.reshape(B, nT * S, cfg.width), c)
        return tokens_to_video(out, cfg.patch_t, cfg.patch, T, H, W)


class TextToVideo(TextToImage):
    """The text-to-image pipeline on video latents: latent_shape = (C, T, h, w); returns videos (B, 3, T', H, W)."""
