"""The discrete-latent model stack: VQ-VAE (accelerated/models/vqvae.py), the causal transformer with KV-cached
sampling (accelerated/models/ar_transformer.py) and `genspec train ar` (accelerated/models/ar.py).

Budget: < 15 s on 2 cores (tiny random models; the train job at its tiny preset with fewer steps).
"""
import itertools
import json
import os

import pytest
import torch

from accelerated.models.ar_transformer import ARConfig, ARTransformer
from accelerated.models.images import read_png
from accelerated.models.vqvae import VQVAE, VQConfig
from conformance.harness.cli import main as genspec


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _model(vocab=7, length=9, seed=0):
    torch.manual_seed(seed)
    return ARTransformer(ARConfig(vocab=vocab, length=length, num_classes=3, width=32, depth=2, heads=4)).eval()


@pytest.mark.parametrize("w, top_k, temperature", [(0.0, 0, 1.0), (2.5, 3, 0.7)])
def test_kv_cached_sampling_equals_uncached(w, top_k, temperature):
    m = _model()
    y = torch.tensor([0, 1, 2, 1])
    kw = dict(w=w, top_k=top_k, temperature=temperature, return_logits=True)
    a, la = m.sample(y, generator=torch.Generator().manual_seed(3), use_cache=True, **kw)
    b, lb = m.sample(y, generator=torch.Generator().manual_seed(3), use_cache=False, **kw)
    assert torch.equal(a, b)
    assert torch.allclose(la, lb, rtol=1e-5, atol=1e-5)


def test_step_logits_are_the_full_forward_and_define_a_distribution():
    """The training forward's logits are the sampler's conditionals, and Σ_s p(s | y) = 1 over all K^L sequences
    (the causal mask makes the model a chain rule: ar.causal_mask, ar.factorization)."""
    m = _model(vocab=3, length=4)
    seqs = torch.tensor(list(itertools.product(range(3), repeat=4)))
    y = torch.full((seqs.shape[0],), 2)
    with torch.no_grad():
        total = m.log_prob(seqs, y).double().exp().sum()
        full = m(seqs, y)
        caches = [dict() for _ in m.blocks]
        for i in range(4):
            step = m._step_logits(y, seqs[:, :i], caches, use_cache=True)
            assert torch.allclose(step, full[:, i], atol=1e-5)
    assert abs(float(total) - 1.0) < 1e-5


def test_vqvae_tokens_and_straight_through():
    torch.manual_seed(0)
    vq = VQVAE(VQConfig(hidden=16, codebook_size=8))
    x = torch.rand(2, 3, 16, 16) * 2 - 1                                  # any size divisible by 4
    rec, loss, k = vq(x)
    assert rec.shape == x.shape and k.shape == (2, 4, 4) and 0 <= int(k.min()) and int(k.max()) < 8
    assert torch.equal(vq.sequence(x), k.reshape(2, 16))                      # raster order
    assert torch.allclose(vq.decode_tokens(vq.sequence(x)), vq.decode_tokens(k))
    ((rec - x).square().mean() + loss).backward()
    assert vq.encoder[0].weight.grad.abs().sum() > 0                          # the decoder's gradient reached it
    assert vq.codebook.weight.grad.abs().sum() > 0                            # the codebook term of vq.loss


def test_train_ar_end_to_end(tmp_path):
    out = str(tmp_path / "ar")
    rc = genspec(["train", "ar", "--out", out, "--preset", "tiny", "--vq-steps", "10", "--ar-steps", "10",
                  "--guidance", "0,2", "--quiet"])
    assert rc == 0
    with open(os.path.join(out, "metrics.json")) as f:
        m = json.load(f)
    assert set(m["adherence_vs_w"]) == {"0.0", "2.0"}
    assert all(0.0 <= v <= 1.0 for v in m["adherence_vs_w"].values())
    assert read_png(os.path.join(out, "samples", "w2.png")).shape[2] == 3


@pytest.mark.parametrize("argv", [["train", "ar"], ["train", "ar", "--out", "x", "--vq-steps", "0"],
                                  ["train", "ar", "--out", "x", "--threads", "0"]])
def test_train_ar_bad_use_exits_2(argv, capsys):
    try:
        rc = genspec(argv)
    except SystemExit as e:
        rc = e.code
    assert rc == 2
    assert "error" in capsys.readouterr().err
