"""The text-to-video stack (accelerated/models/video.py, t2v.py): the moving-shapes set and its motion read-back, the
spatio-temporal autoencoder's shapes, the video DiT's identity at initialisation and its factorized attention
recomputed with the float64 reference clauses, and the pipeline end to end.

Budget: ≈ 10 s.
"""
import json

import numpy as np
import torch

import genspec.reference.dit as RD
import genspec.reference.video as RV
from genspec.accelerated.jobs.t2v import PRESETS, run
from genspec.accelerated.models.text import TextEmbedding
from genspec.accelerated.models.video import (
    DIRECTIONS,
    VideoAEConfig,
    VideoAutoencoder,
    VideoDiT,
    VideoDiTConfig,
    motion_adherence,
    moving_shapes_dataset,
    read_direction,
)
from genspec.accelerated.pictures.grids import read_image
from genspec.accelerated.video import patchify, unpatchify

SMALL = VideoDiTConfig(frames=4, input_size=4, in_channels=3, patch_t=2, patch=2, width=32, depth=2, heads=4,
                       text_width=16)


def _text(B=2, M=5, D=16, seed=0, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(B, M, dtype=torch.bool)
    mask[0, 2:] = False
    return TextEmbedding(torch.randn(B, M, D, generator=g, dtype=dtype), mask, torch.randn(B, D, generator=g,
                                                                                          dtype=dtype))


def test_moving_shapes_motion_is_read_back():
    d = moving_shapes_dataset(200, frames=8, size=32, seed=3)
    assert d.videos.shape == (200, 3, 8, 32, 32) and d.videos.min() == -1 and d.videos.max() == 1
    assert motion_adherence(d.videos, d.captions) == 1.0
    opposite = torch.tensor([1, 0, 3, 2])                       # left↔right, up↔down
    assert torch.equal(read_direction(d.videos.flip(2)), opposite[d.direction])
    assert set(d.direction.tolist()) == set(range(len(DIRECTIONS)))
    # the shape never leaves the frame: every frame has a foreground
    assert bool(((d.videos.amax(1) > 0).flatten(2).any(2)).all())


def test_video_autoencoder_compresses_4x_in_time_and_8x_in_space():
    ae = VideoAutoencoder(VideoAEConfig(z_channels=4, channels=(8, 8, 8, 8), groups=4))
    x = torch.randn(2, 3, 8, 32, 32)
    mu, logvar = ae.encode(x)
    assert mu.shape == logvar.shape == (2, 4, 2, 4, 4) and ae.config.factors == (4, 8)
    assert ae.decode(mu).shape == x.shape


def test_video_dit_output_is_zero_and_blocks_are_identities_at_init():
    torch.manual_seed(0)
    m = VideoDiT(SMALL)
    x, t, text = torch.randn(2, 3, 4, 4, 4), torch.rand(2), _text()
    assert torch.equal(m(x, t, text), torch.zeros_like(x))
    h, c = torch.randn(2, 2, 4, 32), torch.randn(2, 32)
    cond = TextEmbedding(torch.randn(2, 5, 32), text.mask, None)
    for block in m.blocks:
        assert torch.equal(block(h, c, cond), h)


def test_video_tokens_are_the_clause_patchify():
    x = torch.randn(2, 3, 4, 4, 4, dtype=torch.float64)
    tok = patchify(x, 2, 2)
    np.testing.assert_array_equal(tok.numpy(), RV.patchify(x.numpy(), 2, 2))
    assert torch.equal(unpatchify(tok, 2, 2, 4, 4, 4), x)


def test_video_block_attention_agrees_with_the_clauses():
    """With the MLP's gate rows zeroed (and the cross-attention's output projection zero, as at init) the block is
    x + g_s ⊙ spatial(adaln(x)) then + g_t ⊙ temporal(adaln(·)): recomputed with reference.video.factorized_attention
    and reference.dit (adaln, gated_residual) in float64."""
    block = VideoDiT(SMALL).blocks[0].double()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in block.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64) * 0.3)
        block.cross.o.weight.zero_()
        block.cross.o.bias.zero_()
        lin = block.adaLN_modulation[1]
        lin.weight[8 * 32:].zero_()                          # g_m = 0: the MLP branch is off
        lin.bias[8 * 32:].zero_()
    x, c = torch.randn(2, 2, 4, 32, generator=g, dtype=torch.float64), torch.randn(2, 32, generator=g,
                                                                                   dtype=torch.float64)
    got = block(x, c, _text(D=32, dtype=torch.float64)).detach().numpy()
    cn = c.numpy()
    mod = (cn / (1 + np.exp(-cn))) @ lin.weight.detach().numpy().T + lin.bias.detach().numpy()
    b1, s1, g1, b2, s2, g2 = np.split(mod[:, None, None, :], 9, axis=-1)[:6]
    w = lambda a: tuple(m.weight.detach().numpy() for m in (a.q, a.k, a.v, a.o))
    h = RD.gated_residual(x.numpy(), g1, RV.factorized_attention(RD.adaln(x.numpy(), 1 + s1, b1), w(block.spatial),
                                                                 None, 4))
    want = RD.gated_residual(h, g2, RV.factorized_attention(RD.adaln(h, 1 + s2, b2), None, w(block.temporal), 4))
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-10)


def test_t2v_pipeline_runs_end_to_end(tmp_path):
    m = run(PRESETS["tiny"], str(tmp_path), progress=False)
    assert set(m["motion_adherence_vs_w"]) == {"0.0", "2.0"}
    assert m["autoencoder"]["compression"] == {"temporal": 4, "spatial": 8, "causal": False}
    # caption adherence split into colour and shape, with its ceiling: the reconstructions' middle frames read back
    for key in ("caption_adherence_vs_w", "caption_colour_vs_w", "caption_shape_vs_w"):
        assert set(m[key]) == {"0.0", "2.0"} and all(0 <= v <= 1 for v in m[key].values()), key
    assert all(m["caption_adherence_vs_w"][w] <= min(m["caption_colour_vs_w"][w], m["caption_shape_vs_w"][w])
               for w in m["caption_adherence_vs_w"])                  # joint: both right
    ae = m["autoencoder"]
    assert 0 <= ae["held_out_reconstruction_caption_adherence"] <= min(ae["held_out_reconstruction_caption_colour"],
                                                                       ae["held_out_reconstruction_caption_shape"])
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["motion_adherence_vs_w"] == m["motion_adherence_vs_w"]
    strip = read_image(str(tmp_path / "samples" / "red_circle_moving_left.png"))
    assert strip.shape[2] == 3 and strip.shape[1] > strip.shape[0]     # a row of frames per w
    assert read_image(str(tmp_path / "samples" / "red_circle_moving_left_w2.gif")).shape == (32 * 4, 32 * 4, 3)
    assert m["preset"] == "custom" and m["smoke_test"] is False          # run() called without naming its preset
    assert m["figures"] == ["samples/*.png", "samples/*.gif", "adherence_vs_w.png", "losses_autoencoder.png",
                            "losses_denoiser.png"]
    for name in m["figures"][2:]:
        assert read_image(str(tmp_path / name)).std() > 10, name
    assert run(PRESETS["tiny"], str(tmp_path / "t"), progress=False, preset="tiny")["smoke_test"] is True
