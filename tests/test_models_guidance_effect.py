"""Why `--preset tiny` gives identical pictures, and that guidance and the sampler's step count are not silently
ignored (issue 25).

- t2i / distill: the tiny teacher samples with EMA weights (decay 0.995) of a DiT whose output layer starts at zero
  (DiT's AdaLN-Zero), so after 8 steps its velocity is ~1e-4 of the noise: every w and every step count decodes the
  noise alone. With the same pipeline and a DiT whose output layer is not zero, w and the step count change the images.
- ar: the tiny transformer puts p > 0.8 on the background token at most positions, so the plausible set of
  ar.plausibility (α = 0.1) is that one token and every w draws it. A model whose conditional is that peaked draws the
  same tokens at every w with α = 0.1 and different ones with α = 0; a model that is not that peaked draws different
  tokens at w = 0 and w = 3 with α = 0.1.
"""
from __future__ import annotations

import torch

from genspec.accelerated.data.shapes import CAPTIONS
from genspec.accelerated.jobs.t2i import PRESETS, Denoiser
from genspec.accelerated.models.ar_transformer import ARConfig, ARTransformer
from genspec.accelerated.models.autoencoder import AE_CONFIGS, KLAutoencoder
from genspec.accelerated.models.pipeline import TextToImage
from genspec.accelerated.models.text import TextConfig


def _pipeline(output_scale: float) -> TextToImage:
    """The tiny t2i stack at initialisation; the DiT's zero-initialised output layer set to N(0, output_scale²)."""
    torch.manual_seed(0)
    c = PRESETS["tiny"]
    model = Denoiser(c).eval()
    with torch.no_grad():
        for p in model.dit.final_layer.parameters():
            p.normal_(0.0, output_scale) if output_scale > 0 else p.zero_()
    ae = KLAutoencoder(AE_CONFIGS[c.ae]).eval()
    lat = (c.dit.in_channels, c.dit.input_size, c.dit.input_size)
    return TextToImage(model.text_encoder, model.dit, ae, 1.0, lat).eval()


def _images(pipe: TextToImage, w: float, steps: int) -> torch.Tensor:
    return pipe(CAPTIONS[:4], w, steps, torch.Generator().manual_seed(1))


def test_a_zero_velocity_gives_the_same_images_at_every_w_and_step_count():
    pipe = _pipeline(0.0)
    ref = _images(pipe, 0.0, 1)
    for w, steps in ((2.0, 1), (0.0, 4), (4.0, 50)):
        assert torch.equal(_images(pipe, w, steps), ref)


def test_guidance_and_steps_change_the_images_of_a_nonzero_velocity():
    pipe = _pipeline(0.5)
    base = _images(pipe, 0.0, 4)
    guided = _images(pipe, 2.0, 4)
    fewer = _images(pipe, 0.0, 1)
    assert (guided - base).abs().max() > 1e-2           # the guided velocity (1 + w) v_y − w v_∅ is used
    assert (fewer - base).abs().max() > 1e-2            # the step count is used
    # and guidance acts through v_y − v_∅: w = 2 moves the latents along it, so w = 4 moves them further
    further = _images(pipe, 4.0, 4)
    assert (further - base).abs().mean() > (guided - base).abs().mean()


def _ar(head_bias: float) -> ARTransformer:
    """A text-conditioned transformer with sharpened random weights; head_bias added to token 0's logit."""
    torch.manual_seed(3)
    m = ARTransformer(ARConfig(vocab=8, length=12, num_classes=12, width=32, depth=1, heads=2, cond="text",
                               text=TextConfig(width=16, depth=1, heads=2, max_len=16))).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.mul_(3.0)
        m.head.bias[0] += head_bias
    return m


def _tokens(m: ARTransformer, w: float, alpha: float) -> torch.Tensor:
    caps = [CAPTIONS[i % 12] for i in range(24)]
    return m.sample(caps, w=w, generator=torch.Generator().manual_seed(7), plausibility=alpha)


def test_ar_guidance_changes_the_tokens_of_a_model_that_is_not_peaked():
    m = _ar(0.0)
    assert (_tokens(m, 0.0, 0.1) != _tokens(m, 3.0, 0.1)).float().mean() > 0.05


def test_ar_a_peaked_conditional_leaves_guidance_one_plausible_token():
    m = _ar(30.0)                                       # p(token 0) ≈ 1 everywhere: V = {0} for α = 0.1
    restricted = [_tokens(m, w, 0.1) for w in (0.0, 3.0)]
    assert torch.equal(restricted[0], restricted[1]) and (restricted[0] == 0).all()
    # without the restriction, guidance still moves the draw where the conditional and null models disagree
    with torch.no_grad():
        m.head.bias[0] -= 24.0                          # p(token 0) still dominant, but not overwhelming
    assert not torch.equal(_tokens(m, 0.0, 0.0), _tokens(m, 8.0, 0.0))
