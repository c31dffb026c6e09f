"""Tiny training runs on CPU: the DiT's loss falls and its guided samples beat the untrained sampler; the
autoencoder's reconstruction falls; seeded runs are bit-identical; EMA and checkpoints round-trip; the t2i job runs
end to end through `genspec train`."""
import json
import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from genspec.accelerated import rf
from genspec.accelerated.cfg import drop_labels
from genspec.accelerated.data.shapes import CAPTIONS, shapes_dataset
from genspec.accelerated.jobs.t2i import train_autoencoder
from genspec.accelerated.jobs.train import EMA, adamw, load_checkpoint, save_checkpoint, seed_everything
from genspec.accelerated.models.autoencoder import (
    AEConfig,
    AETrainConfig,
    KLAutoencoder,
    PatchDiscriminator,
    reconstruction,
)
from genspec.accelerated.models.dit import DiT, DiTConfig
from genspec.accelerated.models.pipeline import class_guided_sample
from genspec.accelerated.pictures.grids import read_image
from genspec.conformance.harness.cli import main as genspec

C = len(CAPTIONS)


def _data(n=512, size=16):
    d = shapes_dataset(n, size=32, seed=0)
    x = F.avg_pool2d(d.images, 32 // size)                       # 16×16: cheap, colours intact
    y = torch.tensor([CAPTIONS.index(s) for s in d.captions])
    return x, y, d.color


def _train_dit(steps, seed=0):
    gen = seed_everything(seed)
    x, y, _ = _data()
    model = DiT(DiTConfig(input_size=16, in_channels=3, patch=4, width=64, depth=2, heads=4, num_classes=C,
                          learn_sigma=False))
    opt = adamw(model.parameters(), 2e-3)
    losses = []
    for _ in range(steps):
        i = torch.randint(len(x), (64,), generator=gen)
        yb = drop_labels(y[i], torch.rand(64, generator=gen), C, 0.1)
        z, t = torch.randn(x[i].shape, generator=gen), torch.rand(64, generator=gen)
        loss = rf.loss(model(rf.interpolate(x[i], z, t), t, yb), x[i], z)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return model, losses


@torch.no_grad()
def _class_mean_error(model, w, x, y, n=96):
    """Mean over classes of the squared distance between the mean guided sample and the mean data image."""
    g = torch.Generator().manual_seed(5)
    yy = torch.arange(n) % C
    x0 = class_guided_sample(model, torch.randn(n, 3, 16, 16, generator=g), yy, w, 8, C)
    return float(np.mean([(x0[yy == k].mean(0) - x[y == k].mean(0)).square().sum() for k in range(C)]))


def test_dit_training_lowers_the_loss_and_beats_the_untrained_sampler():
    x, y, _ = _data()
    untrained = DiT(DiTConfig(input_size=16, in_channels=3, patch=4, width=64, depth=2, heads=4, num_classes=C,
                              learn_sigma=False))
    model, losses = _train_dit(120)
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20]), (losses[:5], losses[-5:])
    base, trained = _class_mean_error(untrained, 0.0, x, y), _class_mean_error(model, 1.0, x, y)
    assert trained < 0.5 * base, (base, trained)


def test_seeded_training_is_deterministic_on_cpu():
    a, la = _train_dit(3, seed=7)
    b, lb = _train_dit(3, seed=7)
    assert la == lb
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def test_autoencoder_reconstruction_falls():
    gen = seed_everything(0)
    d = shapes_dataset(256, seed=0)
    ae = KLAutoencoder(AEConfig(32, 3, 4, (8, 16, 16, 16), groups=4))
    disc = PatchDiscriminator(3, 8, 2)
    log = []
    train_autoencoder(ae, disc, d.images, AETrainConfig(steps=40, batch=16, lr=2e-3, adv_start=30), "cpu", gen, log,
                      progress=False)
    assert ae.encode(d.images[:2])[0].shape == (2, 4, 4, 4)                    # 8× downsampling
    first, last = np.mean([r["rec"] for r in log[:5]]), np.mean([r["rec"] for r in log[-5:]])
    assert last < 0.5 * first, (first, last)
    assert log[-1]["adv"] > 0 and log[0]["adv"] == 0                          # the discriminator joined at step 30
    with torch.no_grad():
        assert float(reconstruction(d.images[:64], ae.decode(ae.encode(d.images[:64])[0]))) < 0.6 * first


def test_ema_and_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    m = torch.nn.Linear(3, 2)
    ema = EMA(m, decay=0.5)
    with torch.no_grad():
        m.weight.add_(1.0)
    ema.update(m)
    assert torch.allclose(ema.model.weight, m.weight - 0.5)                    # halfway: d = 0.5
    opt = adamw(m.parameters(), 1e-3)
    path = str(tmp_path / "c.pt")
    save_checkpoint(path, model=m, ema=ema, opt=opt, step=3)
    m2, ema2 = torch.nn.Linear(3, 2), EMA(torch.nn.Linear(3, 2))
    st = load_checkpoint(path, model=m2, ema=ema2)
    assert st["step"] == 3 and torch.equal(m2.weight, m.weight) and torch.equal(ema2.model.weight, ema.model.weight)


def test_t2i_job_end_to_end_and_resume(tmp_path, capsys):
    out = str(tmp_path / "run")
    args = ["train", "t2i", "--out", out, "--preset", "tiny", "--quiet"]
    assert genspec(args) == 0
    m = json.load(open(os.path.join(out, "metrics.json")))
    assert set(m["adherence_vs_w"]) == {"0.0", "2.0"}
    assert all(0.0 <= v <= 1.0 for v in m["adherence_vs_w"].values())
    assert m["autoencoder"]["rec_last"] < m["autoencoder"]["rec_first"]
    pngs = sorted(os.listdir(os.path.join(out, "samples")))
    assert len(pngs) == C and read_image(os.path.join(out, "samples", pngs[0])).shape[2] == 3
    # the tiny run says it is a smoke test and writes every figure: the plot of adherence vs w, a curve per stage
    assert m["preset"] == "tiny" and m["smoke_test"] is True and "smoke test" in m["note"]
    assert m["figures"] == ["samples/*.png", "adherence_vs_w.png", "losses_autoencoder.png", "losses_denoiser.png"]
    for name in m["figures"][1:]:
        assert read_image(os.path.join(out, name)).std() > 10, name
    # resume: the autoencoder is loaded, the denoiser continues from its last step
    assert genspec(args + ["--resume", "--steps", "12"]) == 0
    assert load_checkpoint(os.path.join(out, "denoiser.pt"))["step"] == 12
    capsys.readouterr()


BAD = [["train", "nope"], ["train", "t2i"], ["train", "t2i", "--out", "x", "--threads", "0"],
       ["train", "t2i", "--out", "x", "--guidance", "0,nan"], ["train", "t2i", "--out", "x", "--guidance", "a"]]


@pytest.mark.parametrize("argv", BAD)
def test_train_command_bad_use_exits_2(argv, capsys):
    try:
        rc = genspec(argv)
    except SystemExit as e:                                                    # argparse's own errors
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err
    assert "error" in err


def test_pipeline_batched_cfg_one_call_of_2b_rows_per_step_with_a_unet():
    """text → encoder → Euler with batched CFG in latent space → decoder; any denoiser with forward(x, t, text) and
    null_text works (here a two-level U-Net on 4×4×4 latents). Off at w = 0: equal to the unguided conditional."""
    from genspec.accelerated.models.autoencoder import AE_CONFIGS
    from genspec.accelerated.models.pipeline import TextToImage
    from genspec.accelerated.models.text import ByteTextEncoder, TextConfig
    from genspec.accelerated.models.unet import UNet, UNetConfig
    from genspec.accelerated.sampler import euler_sample

    torch.manual_seed(0)
    enc = ByteTextEncoder(TextConfig(width=16, depth=1, heads=2, max_len=16))
    unet = UNet(UNetConfig(resolution=4, in_channels=4, out_channels=4, channels=(16, 16), attn_resolutions=(2,),
                           heads=2, groups=4, text_width=16))
    _randomise = lambda m: [p.data.normal_(0, 0.2) for p in m.parameters()]
    _randomise(unet)
    calls = []
    hook = unet.register_forward_hook(lambda m, args, out: calls.append(args[0].shape[0]))
    pipe = TextToImage(enc, unet, KLAutoencoder(AE_CONFIGS["f8c4-32-tiny"]), latent_scale=2.0,
                       latent_shape=(4, 4, 4))
    images = pipe(["red circle", "blue square", "green triangle"], w=3.0, steps=5,
                  generator=torch.Generator().manual_seed(1))
    assert images.shape == (3, 3, 32, 32) and images.abs().max() <= 1
    assert calls == [6] * 5                                                      # T calls of 2B rows
    hook.remove()
    # w = 0 is the conditional sampler (cfg.combine is off at w = 0)
    with torch.no_grad():
        texts = ["red circle", "blue square"]
        z1 = torch.randn((2, 4, 4, 4), generator=torch.Generator().manual_seed(2))
        text = enc(texts)
        want = pipe.autoencoder.decode(euler_sample(lambda x, t: unet(x, t, text), z1, 4) / 2.0).clamp(-1, 1)
        got = pipe(texts, w=0.0, steps=4, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
