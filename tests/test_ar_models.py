"""The discrete-latent model stack: VQ-VAE (accelerated/models/vqvae.py), the class- or text-conditioned causal
transformer with KV-cached sampling (accelerated/models/ar_transformer.py) and `genspec train ar`
(accelerated/jobs/ar.py).

Budget: < 20 s on 2 cores (tiny random models; the train job at its tiny preset with fewer steps).
"""
import itertools
import json
import os

import pytest
import torch

from genspec.accelerated.models.ar_transformer import ARConfig, ARTransformer, train_ar
from genspec.accelerated.models.text import TextConfig
from genspec.accelerated.models.vqvae import VQVAE, VQConfig, train_vqvae
from genspec.accelerated.pictures.grids import read_image
from genspec.conformance.harness.cli import main as genspec

CAPS = ["red circle", "blue square", "yellow triangle"]


@pytest.fixture(autouse=True)
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _model(cond="class", vocab=7, length=9, seed=0):
    torch.manual_seed(seed)
    return ARTransformer(ARConfig(vocab=vocab, length=length, num_classes=3, width=32, depth=2, heads=4, cond=cond,
                                  text=TextConfig(width=16, depth=1, heads=2, max_len=20))).eval()


def _cond(cond, n=4):
    return torch.tensor([0, 1, 2, 1][:n]) if cond == "class" else (CAPS + CAPS[1:2])[:n]


@pytest.mark.parametrize("cond", ["class", "text"])
@pytest.mark.parametrize("w, top_k, temperature", [(0.0, 0, 1.0), (2.5, 3, 0.7)])
def test_kv_cached_sampling_equals_uncached(cond, w, top_k, temperature):
    m = _model(cond)
    kw = dict(w=w, top_k=top_k, temperature=temperature, return_logits=True)
    a, la = m.sample(_cond(cond), generator=torch.Generator().manual_seed(3), use_cache=True, **kw)
    b, lb = m.sample(_cond(cond), generator=torch.Generator().manual_seed(3), use_cache=False, **kw)
    assert torch.equal(a, b)
    assert torch.allclose(la, lb, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cond", ["class", "text"])
def test_step_logits_are_the_full_forward_and_define_a_distribution(cond):
    """The training forward's logits are the sampler's cached conditionals, and Σ_s p(s | y) = 1 over all K^L
    sequences (the causal mask makes the model a chain rule: ar.causal_mask, ar.factorization)."""
    m = _model(cond, vocab=3, length=4)
    seqs = torch.tensor(list(itertools.product(range(3), repeat=4)))
    y = torch.full((seqs.shape[0],), 2) if cond == "class" else ["green square"] * seqs.shape[0]
    with torch.no_grad():
        total = m.log_prob(seqs, y).double().exp().sum()
        full = m(seqs, y)
        c, cmask = m.prefix(y)
        state: dict = {"caches": [dict() for _ in m.blocks]}
        for i in range(4):
            step = m._step_logits(c, cmask, seqs[:, :i], state)
            assert torch.allclose(step, full[:, i], atol=1e-5)
    assert abs(float(total) - 1.0) < 1e-5


@pytest.mark.parametrize("cond", ["class", "text"])
def test_mixture_null_is_the_marginal_of_the_conditionals(cond):
    """null='mixture': at w = −1 the guided logits are ℓ_∅ itself, which must equal the brute-force marginal
    log Σ_c p(s_≤i | c) − log Σ_c p(s_<i | c) (uniform prior) computed from the full forward; at w = 0 the samples
    are the learned-null sampler's (the null does not enter)."""
    m = _model(cond, vocab=4, length=5)
    conds = torch.arange(3) if cond == "class" else CAPS
    y = _cond(cond, 3)
    s, l_null = m.sample(y, w=-1.0, generator=torch.Generator().manual_seed(5), return_logits=True, null="mixture",
                         conditions=conds)
    with torch.no_grad():
        lp = torch.stack([torch.log_softmax(m(s, conds[j:j + 1].repeat(3) if cond == "class" else [conds[j]] * 3),
                                            dim=2) for j in range(3)], 1).double()      # (B, C, L, K)
        past = lp.gather(3, s[:, None, :, None].expand(3, 3, 5, 1))[..., 0].cumsum(2)    # log p(s_≤i | c)
        past = torch.cat([torch.zeros(3, 3, 1, dtype=torch.float64), past[..., :-1]], 2)  # log p(s_<i | c)
        brute = torch.logsumexp(past[..., None] + lp, 1) - torch.logsumexp(past, 1)[..., None]
    assert torch.allclose(torch.log_softmax(l_null.double(), 2), brute, atol=1e-5)
    a = m.sample(y, generator=torch.Generator().manual_seed(5), null="mixture", conditions=conds)
    b = m.sample(y, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_text_prefix_padding_is_masked_and_null_rows_are_the_null_text():
    """Changing the projected text tokens at padded positions leaves the logits unchanged (the key mask works);
    rows marked null equal the rows of another caption marked null (the null text ignores the caption)."""
    m = _model("text")
    s = torch.randint(7, (3, 9), generator=torch.Generator().manual_seed(0))
    _, mask = m.text_encoder.tokenizer(CAPS)
    assert (~mask).any()
    with torch.no_grad():
        base = m(s, CAPS)
        h = m.text_in.register_forward_hook(lambda mod, inp, out: out + 5.0 * (~mask)[..., None])
        moved = m(s, CAPS)
        h.remove()
        null = torch.ones(3, dtype=torch.bool)
        a, b = m(s, CAPS, null), m(s, CAPS[::-1], null)
    assert torch.allclose(base, moved, atol=1e-5)
    assert torch.allclose(a, b, atol=1e-6) and not torch.allclose(a, base, atol=1e-3)


def test_text_conditioning_is_learned():
    """Two captions, each always followed by its own token sequence: after a short training the greedy sample of
    each caption is its sequence (the caption reaches every position through the prefix)."""
    seqs = torch.tensor([[0, 1, 2, 3, 0], [3, 2, 1, 0, 3]])
    caps = ["red circle", "blue square"]
    cfg = ARConfig(vocab=4, length=5, width=32, depth=1, heads=2, cond="text",
                   text=TextConfig(width=16, depth=1, heads=2, max_len=12))
    m = train_ar(seqs.repeat(8, 1), caps * 8, cfg, steps=80, batch=16, lr=3e-3, p_drop=0.0, seed=0)
    out = m.sample(caps, top_k=1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out, seqs)


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


def test_vqvae_ema_codebook_update():
    """vq.loss's 'ema' variant: one update equals the moving averages written out entry by entry in float64
    (N_k, m_k, Laplace-smoothed counts), every used entry moves towards the mean of its assigned encodings, and no
    gradient reaches the codebook."""
    torch.manual_seed(0)
    K, D, g, eps = 5, 3, 0.9, 1e-5
    vq = VQVAE(VQConfig(hidden=8, code_dim=D, codebook_size=K, codebook="ema", decay=g, eps=eps))
    vq.ema_count.copy_(torch.tensor([1.0, 2.0, 0.5, 1.0, 3.0]))
    vq.ema_sum.copy_(torch.randn(K, D))
    N0, m0 = vq.ema_count.double().clone(), vq.ema_sum.double().clone()
    e0 = vq.codebook.weight.detach().double().clone()
    z = torch.randn(40, D)
    k = torch.randint(4, (40,))                                                # entry 4 unused
    vq.ema_update(z, k)
    N = [g * N0[j] + (1 - g) * sum(1.0 for i in range(40) if k[i] == j) for j in range(K)]
    m = [g * m0[j] + (1 - g) * sum((z[i].double() for i in range(40) if k[i] == j), torch.zeros(D, dtype=torch.float64))
         for j in range(K)]
    n = sum(N)
    for j in range(K):
        e = m[j] / ((N[j] + eps) / (n + K * eps) * n)
        assert torch.allclose(vq.codebook.weight[j].double(), e, rtol=1e-5, atol=1e-6)
    # repeated updates on the same batch: each used entry approaches the mean of its encodings
    for _ in range(60):
        before = [float((vq.codebook.weight[j] - z[k == j].mean(0)).norm()) for j in range(4)]
        vq.ema_update(z, k)
        after = [float((vq.codebook.weight[j] - z[k == j].mean(0)).norm()) for j in range(4)]
        assert all(a < b for a, b in zip(after, before, strict=True))
    assert max(after) < 0.01 * max(float((e0[j].float() - z[k == j].mean(0)).norm()) for j in range(4)) + 1e-3
    x = torch.rand(2, 3, 8, 8) * 2 - 1
    rec, loss, _ = vq.train()(x)
    ((rec - x).square().mean() + loss).backward()
    assert vq.codebook.weight.grad is None and vq.encoder[0].weight.grad.abs().sum() > 0


def test_train_vqvae_ema_runs():
    x = torch.rand(16, 3, 8, 8) * 2 - 1
    vq = train_vqvae(x, VQConfig(hidden=8, codebook_size=4, codebook="ema"), steps=3, batch=4)
    assert torch.isfinite(vq.codebook.weight).all() and vq.ema_count.sum() > 0


@pytest.mark.parametrize("cond", ["class", "text"])
def test_likelihood_diagnostics_bound_the_information_by_log_c(cond):
    """mixture(s) = (1/C) Σ_y' p(s | y') ≥ p(s | y)/C for every s, so the conditional's gain over the mixture is at
    most log C = log 12 nats, whatever the weights; on sequences drawn from p(· | y) it estimates the mutual
    information I(s; y) ≥ 0 (a mixture without its 1/C, or over the wrong axis, breaks one of the two bounds)."""
    from genspec.accelerated.data.shapes import CAPTIONS
    from genspec.accelerated.jobs.ar import ARJobConfig, likelihood_diagnostics
    torch.manual_seed(1)
    m = ARTransformer(ARConfig(vocab=5, length=6, num_classes=12, width=16, depth=1, heads=2, cond=cond,
                               text=TextConfig(width=8, depth=1, heads=2, max_len=16))).eval()
    with torch.no_grad():
        for p in m.parameters():                                            # sharpen: classes differ a lot
            p.mul_(4.0)
    caps = [CAPTIONS[i % 12] for i in range(24)]
    y = caps if cond == "text" else torch.arange(24) % 12
    seqs = m.sample(y, generator=torch.Generator().manual_seed(2))          # s ~ p(· | y): the gain is I(s; y) ≥ 0
    d = likelihood_diagnostics(m, seqs, caps, ARJobConfig(cond=cond))
    assert 0.0 < d["information_cond_vs_mixture"] <= torch.log(torch.tensor(12.0)).item() + 1e-5


@pytest.mark.parametrize("cond", ["text", "class"])
def test_train_ar_end_to_end(tmp_path, cond):
    """A tiny run, then a second one that loads its models.pt and samples with both nulls: the learned null's
    adherence is reproduced exactly (same models, same uniforms) and the mixture null's is reported beside it."""
    out, again = str(tmp_path / "ar"), str(tmp_path / "again")
    rc = genspec(["train", "ar", "--out", out, "--preset", "tiny", "--vq-steps", "10", "--ar-steps", "10",
                  "--guidance", "0,2", "--cond", cond, "--quiet"])
    assert rc == 0
    with open(os.path.join(out, "metrics.json")) as f:
        m = json.load(f)
    assert set(m["adherence_vs_w"]) == {"0.0", "2.0"}
    assert all(0.0 <= v <= 1.0 for v in m["adherence_vs_w"].values())
    assert 0.0 <= m["ceiling"] == m["reconstruction"]["adherence"] <= 1.0      # reported beside the adherence
    assert read_image(os.path.join(out, "samples", "w2.png")).shape[2] == 3
    assert m["preset"] == "tiny" and m["smoke_test"] is True and "smoke test" in m["note"]
    assert m["figures"] == ["samples/*.png", "adherence_vs_w.png", "nll.png", "losses_vqvae.png",
                            "losses_transformer.png"]
    for name in m["figures"][1:]:
        assert read_image(os.path.join(out, name)).std() > 10, name
    rc = genspec(["train", "ar", "--out", again, "--preset", "tiny", "--models", os.path.join(out, "models.pt"),
                  "--guidance", "0,2", "--null", "both", "--quiet"])
    assert rc == 0
    with open(os.path.join(again, "metrics.json")) as f:
        m2 = json.load(f)
    assert m2["config"]["cond"] == cond and m2["adherence_vs_w"] == m["adherence_vs_w"]
    assert set(m2["adherence_vs_w_mixture_null"]) == {"0.0", "2.0"}
    assert m2["adherence_vs_w_mixture_null"]["0.0"] == m["adherence_vs_w"]["0.0"]   # w = 0: the null is unused
    assert m2["config"]["plausibility"] == 0.1 and set(m2["adherence_vs_w_unrestricted"]) == {"0.0", "2.0"}
    assert os.path.exists(os.path.join(again, "samples", "w2_unrestricted.png"))
    assert "losses_vqvae.png" not in m2["figures"]                      # loaded, not trained: no curves to draw


@pytest.mark.parametrize("cond", ["class", "text"])
def test_plausibility_one_draws_the_conditional_argmax(cond):
    """ar.plausibility in the sampler: at α = 1 only the conditional model's most likely token may be drawn, whatever
    the guidance; at α = 1/2 every token drawn has p_y ≥ p_y,max / 2, which the unrestricted guided draw violates."""
    from genspec.accelerated.data.shapes import CAPTIONS
    torch.manual_seed(3)
    m = ARTransformer(ARConfig(vocab=6, length=5, num_classes=12, width=16, depth=1, heads=2, cond=cond,
                               text=TextConfig(width=8, depth=1, heads=2, max_len=16))).eval()
    caps = [CAPTIONS[i % 12] for i in range(8)]
    y = caps if cond == "text" else torch.arange(8) % 12
    s = m.sample(y, w=3.0, plausibility=1.0, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert torch.equal(s, m(s, y).argmax(2))
    log_half = torch.log(torch.tensor(0.5))

    def implausible(seq):                       # tokens with p_y < α max p_y at α = 1/2, under the conditional model
        with torch.no_grad():
            logp = m(seq, y).log_softmax(2)
        return int((logp.gather(2, seq[..., None])[..., 0] < logp.max(2).values + log_half - 1e-6).sum())
    free = m.sample(y, w=3.0, generator=torch.Generator().manual_seed(4))
    half = m.sample(y, w=3.0, plausibility=0.5, generator=torch.Generator().manual_seed(4))
    assert implausible(half) == 0 and implausible(free) > 0     # the restriction holds, and is not vacuous here


@pytest.mark.parametrize("argv", [["train", "ar"], ["train", "ar", "--out", "x", "--vq-steps", "0"],
                                  ["train", "ar", "--out", "x", "--threads", "0"],
                                  ["train", "ar", "--out", "x", "--cond", "pixels"],
                                  ["train", "ar", "--out", "x", "--null", "zero"],
                                  ["train", "ar", "--out", "x", "--plausibility", "1.5"],
                                  ["train", "ar", "--out", "x", "--models", "no/such/models.pt"]])
def test_train_ar_bad_use_exits_2(argv, capsys):
    try:
        rc = genspec(argv)
    except SystemExit as e:
        rc = e.code
    assert rc == 2
    assert "error" in capsys.readouterr().err
