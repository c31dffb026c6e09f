"""GAN model stack: the MLP G/D of 02, DCGAN (03; Radford et al. 2015) and a small StyleGAN
generator (03; Karras et al. 2019), plus one alternating training step and a G-only sampler.

The losses and AdaIN are not written here: they come from `accelerated.gan` (clauses
`gan.discriminator_bce`, `gan.generator_loss.*`, `gan.adain`), so each equation lives in one place.

Conventions: every discriminator returns D(x) in [0, 1] with shape (N,) and has a `logit(x)` method,
D(x) = sigmoid(logit(x)). Every generator has a `z_dim` attribute and maps z of shape (N, z_dim).
"""

from dataclasses import dataclass
from typing import cast

import torch
import torch.nn as nn
import torch.nn.functional as F

from genspec.accelerated.gan import (
    adain,
    discriminator_bce,
    generator_loss_non_saturating,
    generator_loss_saturating,
)

# ----------------------------------------------------------------------------------------------
# MLP G and D (02's training code)


@dataclass
class MLPConfig:
    z_dim: int = 100
    hidden: int = 256
    x_dim: int = 784
    output: str = "tanh"  # generator output activation: "tanh" (images in [-1, 1]) or "identity"


class MLPGenerator(nn.Module):
    """G(z) = out(W2 relu(W1 z + b1) + b2), out = tanh or identity (02: Linear ReLU Linear Tanh)."""

    def __init__(self, config: MLPConfig | None = None):
        super().__init__()
        c = config or MLPConfig()
        self.z_dim = c.z_dim
        out = {"tanh": nn.Tanh(), "identity": nn.Identity()}[c.output]
        self.net = nn.Sequential(nn.Linear(c.z_dim, c.hidden), nn.ReLU(), nn.Linear(c.hidden, c.x_dim), out)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class MLPDiscriminator(nn.Module):
    """D(x) = sigmoid(a(x)), a(x) = W2 relu(W1 x + b1) + b2 (02: Linear ReLU Linear Sigmoid)."""

    def __init__(self, config: MLPConfig | None = None):
        super().__init__()
        c = config or MLPConfig()
        self.net = nn.Sequential(nn.Linear(c.x_dim, c.hidden), nn.ReLU(), nn.Linear(c.hidden, 1))

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logit(x))


# ----------------------------------------------------------------------------------------------
# One alternating training step (02)

GENERATOR_LOSSES = {
    "non_saturating": generator_loss_non_saturating,  # L_G = -log D(G(z)) = BCE(D(fake), 1)
    "saturating": generator_loss_saturating,  # L_G = log(1 - D(G(z)))
}


def gan_training_step(G, D, opt_G, opt_D, real, z, loss: str = "non_saturating") -> dict:
    """One step of 02's loop: D minimises BCE(D(real), 1) + BCE(D(G(z).detach()), 0) = -V(D, G);
    then G minimises the chosen generator loss on the same fake batch. Returns float losses."""
    generator_loss = GENERATOR_LOSSES[loss]
    fake = G(z)

    # 1) D step: real -> 1, fake -> 0; detach cuts the gradient into G
    d_real, d_fake = D(real), D(fake.detach())
    loss_D = discriminator_bce(d_real, d_fake)
    opt_D.zero_grad()
    loss_D.backward()
    opt_D.step()

    # 2) G step: through the updated D, gradient flows back into G
    d_fake_G = D(fake)
    loss_G = generator_loss(d_fake_G)
    opt_G.zero_grad()
    loss_G.backward()
    opt_G.step()

    return {
        "loss_D": loss_D.item(),
        "loss_G": loss_G.item(),
        "d_real": d_real.mean().item(),
        "d_fake": d_fake.mean().item(),
    }


# ----------------------------------------------------------------------------------------------
# DCGAN for 64x64 images (03; Radford et al. 2015)


@dataclass
class DCGANConfig:
    z_dim: int = 100
    ngf: int = 64  # generator width: channels before the last layer
    ndf: int = 64  # discriminator width: channels after the first layer
    img_channels: int = 3


def dcgan_init_(module: nn.Module) -> None:
    """Radford et al. 2015: all weights from N(0, 0.02); batch-norm gains N(1, 0.02), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


class DCGANGenerator(nn.Module):
    """z (N, z_dim) -> image (N, C, 64, 64) in [-1, 1]: fractional-strided convs 1 -> 4 -> 8 -> 16 ->
    32 -> 64, batch norm and ReLU after each but the last, Tanh at the output."""

    def __init__(self, config: DCGANConfig | None = None):
        super().__init__()
        c = config or DCGANConfig()
        self.z_dim, g = c.z_dim, c.ngf

        def up(c_in, c_out):  # 4x4 kernel, stride 2, pad 1: doubles H and W
            return [nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]

        self.net = nn.Sequential(
            # the bottleneck "project and reshape" of z: a 4x4 transposed conv on a 1x1 input is the
            # paper's fully connected layer, z -> (8g, 4, 4)
            nn.ConvTranspose2d(c.z_dim, 8 * g, 4, 1, 0, bias=False), nn.BatchNorm2d(8 * g), nn.ReLU(),
            *up(8 * g, 4 * g),  # 8x8
            *up(4 * g, 2 * g),  # 16x16
            *up(2 * g, g),  # 32x32
            nn.ConvTranspose2d(g, c.img_channels, 4, 2, 1, bias=False),  # 64x64, no batch norm at the output
            nn.Tanh(),
        )
        dcgan_init_(self)  # DCGAN init: weights ~ N(0, 0.02)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """image (N, C, 64, 64) -> D(x) (N,): strided convs 64 -> 32 -> 16 -> 8 -> 4 with LeakyReLU(0.2),
    batch norm on all but the input layer, a final 4x4 conv to one logit, sigmoid."""

    def __init__(self, config: DCGANConfig | None = None):
        super().__init__()
        c = config or DCGANConfig()
        d = c.ndf

        def down(c_in, c_out):  # 4x4 kernel, stride 2, pad 1: halves H and W
            return [nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]

        self.net = nn.Sequential(
            nn.Conv2d(c.img_channels, d, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),  # 32x32, no BN on input
            *down(d, 2 * d),  # 16x16
            *down(2 * d, 4 * d),  # 8x8
            *down(4 * d, 8 * d),  # 4x4
            nn.Conv2d(8 * d, 1, 4, 1, 0, bias=False),  # 1x1: the logit
        )
        dcgan_init_(self)  # DCGAN init: weights ~ N(0, 0.02)

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x).flatten()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.logit(x))


# ----------------------------------------------------------------------------------------------
# A small StyleGAN generator (03; Karras et al. 2019). Omitted from the paper: equalized learning
# rate, style mixing, the second conv per resolution, and blur in the upsampler.


def pixel_norm(z: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """z / sqrt(mean_j z_j^2 + eps), per sample (Karras et al. 2018, applied to z before mapping)."""
    return z * torch.rsqrt(z.pow(2).mean(dim=1, keepdim=True) + eps)


def upsample2x(x: torch.Tensor) -> torch.Tensor:
    """Bilinear x2 upsampling of (N, C, H, W) (StyleGAN replaces nearest neighbour with bilinear)."""
    return F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)


class MappingNetwork(nn.Module):
    """w = f(pixel_norm(z)), f an MLP of n_layers Linear + LeakyReLU(0.2) layers (StyleGAN: 8)."""

    def __init__(self, z_dim: int, w_dim: int, n_layers: int):
        super().__init__()
        layers, d = [], z_dim
        for _ in range(n_layers):
            layers += [nn.Linear(d, w_dim), nn.LeakyReLU(0.2)]
            d = w_dim
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(pixel_norm(z))


class AdaIN(nn.Module):
    """AdaIN(x, y)_i = y_s,i (x_i - mu(x_i)) / sigma(x_i) + y_b,i with (y_s, y_b) = A(w), A affine."""

    def __init__(self, w_dim: int, channels: int):
        super().__init__()
        self.affine = nn.Linear(w_dim, 2 * channels)
        nn.init.zeros_(self.affine.bias)
        nn.init.ones_(self.affine.bias[:channels])  # StyleGAN: scale bias 1, so y_s starts near 1

    def style(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The per-channel (scale, shift) = (y_s, y_b), each (N, C), predicted from w."""
        scale, shift = self.affine(w).chunk(2, dim=1)
        return scale, shift

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, shift = self.style(w)
        return adain(x, scale, shift)


class NoiseInjection(nn.Module):
    """x + s * n, n ~ N(0, 1) of shape (N, 1, H, W) (one image per sample, shared by channels), s a
    learned per-channel scale (StyleGAN initialises s = 0)."""

    def __init__(self, channels: int):
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(1, channels, 1, 1))

    def forward(self, x: torch.Tensor, noise: bool = True, generator: torch.Generator | None = None):
        if not noise:
            return x
        n, _, h, w = x.shape
        return x + self.scale * torch.randn(n, 1, h, w, generator=generator, device=x.device, dtype=x.dtype)


class StyleBlock(nn.Module):
    """x -> AdaIN(lrelu(conv3x3(up2(x)) + noise), w): one synthesis layer of one resolution."""

    def __init__(self, c_in: int, c_out: int, w_dim: int, upsample: bool = True):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.noise = NoiseInjection(c_out)
        self.act = nn.LeakyReLU(0.2)
        self.adain = AdaIN(w_dim, c_out)

    def forward(self, x, w, noise: bool = True, generator: torch.Generator | None = None):
        if self.upsample:
            x = upsample2x(x)
        x = self.act(self.noise(self.conv(x), noise, generator))
        return self.adain(x, w)


@dataclass
class StyleGANConfig:
    z_dim: int = 64
    w_dim: int = 64
    n_mapping: int = 4  # mapping layers (StyleGAN: 8)
    channels: int = 32  # feature channels at every resolution
    resolution: int = 32  # final resolution, a power of two >= 4
    img_channels: int = 3


class StyleGenerator(nn.Module):
    """x = toRGB(synthesis(const 4x4, w)), w = mapping(z); one StyleBlock per resolution 4, 8, ...,
    resolution, and a 1x1 toRGB at each resolution for progressive growing (Karras et al. 2018):

        rgb_r = alpha * toRGB_r(h_r) + (1 - alpha) * up2(toRGB_{r/2}(h_{r/2})).
    """

    w_avg: torch.Tensor  # a buffer

    def __init__(self, config: StyleGANConfig | None = None):
        super().__init__()
        c = config or StyleGANConfig()
        n_blocks = c.resolution.bit_length() - 2  # resolutions 4, 8, ..., c.resolution
        assert c.resolution >= 4 and c.resolution == 4 * 2 ** (n_blocks - 1), "resolution: a power of 2 >= 4"
        self.z_dim, self.resolution = c.z_dim, c.resolution
        self.mapping = MappingNetwork(c.z_dim, c.w_dim, c.n_mapping)
        self.const = nn.Parameter(torch.ones(1, c.channels, 4, 4))  # learned constant input (StyleGAN: ones)
        self.blocks = nn.ModuleList(
            [StyleBlock(c.channels, c.channels, c.w_dim, upsample=(i > 0)) for i in range(n_blocks)]
        )
        self.to_rgb = nn.ModuleList([nn.Conv2d(c.channels, c.img_channels, 1) for _ in range(n_blocks)])
        self.register_buffer("w_avg", torch.zeros(c.w_dim))  # mean of w, for truncation

    @torch.no_grad()
    def estimate_w_avg(self, n: int = 10_000, generator: torch.Generator | None = None) -> torch.Tensor:
        """w_avg = mean of mapping(z) over n draws z ~ N(0, I) (StyleGAN tracks it as an EMA in training)."""
        p = self.const
        z = torch.randn(n, self.z_dim, generator=generator, device=p.device, dtype=p.dtype)
        self.w_avg.copy_(self.mapping(z).mean(dim=0))
        return self.w_avg

    def truncation(self, w: torch.Tensor, psi: float) -> torch.Tensor:
        """Truncation trick: w' = w_avg + psi (w - w_avg); psi = 1 is the identity."""
        return self.w_avg + psi * (w - self.w_avg)

    def forward(
        self,
        z: torch.Tensor,
        resolution: int | None = None,
        alpha: float = 1.0,
        psi: float = 1.0,
        noise: bool = True,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """z (N, z_dim) -> image (N, img_channels, r, r), r = resolution (default: the full one).
        alpha in [0, 1] fades in the newest resolution r; alpha = 1 is its plain toRGB."""
        r = resolution or self.resolution
        k = r.bit_length() - 3  # index of the block producing resolution r
        assert 0 <= k < len(self.blocks) and r == 4 * 2**k, f"resolution {r} not in 4, 8, ..., {self.resolution}"
        w = self.mapping(z)
        if psi != 1.0:
            w = self.truncation(w, psi)
        x, x_prev = self.const.expand(z.shape[0], -1, -1, -1), None
        for block in self.blocks[: k + 1]:
            x_prev, x = x, block(x, w, noise, generator)
        rgb = self.to_rgb[k](x)
        if k == 0:
            return rgb
        return alpha * rgb + (1 - alpha) * upsample2x(self.to_rgb[k - 1](x_prev))


# ----------------------------------------------------------------------------------------------
# Inference: the discriminator is thrown away


@torch.no_grad()
def sample(G: nn.Module, n: int, generator: torch.Generator | None = None, **kwargs) -> torch.Tensor:
    """x = G(z), z ~ N(0, I) of shape (n, G.z_dim), in eval mode; only G is needed. kwargs go to G
    (e.g. psi or resolution for StyleGenerator, whose noise also draws from `generator`)."""
    p = next(G.parameters())
    z = torch.randn(n, cast(int, G.z_dim), generator=generator, device=p.device, dtype=p.dtype)
    if isinstance(G, StyleGenerator):
        kwargs.setdefault("generator", generator)
    was_training = G.training
    G.eval()
    try:
        return G(z, **kwargs)
    finally:
        G.train(was_training)
