"""The networks' forward passes run no argument checks: every check of the project goes through `spec.validate`
(spec.bind's declared checks and the bodies' own), so counting its calls counts the validations. Each clause function
a network uses is called by its unchecked body (`fn.raw`); on CUDA, a whole training step runs under
torch.cuda.set_sync_debug_mode("error") (no host synchronisation)."""
from __future__ import annotations

import inspect

import pytest
import torch

from genspec import spec
from genspec.accelerated.dit import adaln
from genspec.accelerated.models.ar_transformer import ARConfig, ARTransformer
from genspec.accelerated.models.dit import DiT, DiTConfig
from genspec.accelerated.models.text import TextConfig, TextEmbedding
from genspec.accelerated.models.unet import UNet, UNetConfig
from genspec.accelerated.models.video import VideoDiT, VideoDiTConfig
from genspec.accelerated.rf import interpolate
from genspec.accelerated.rf import loss as rf_loss


@pytest.fixture
def validations(monkeypatch):
    """A dict counting the calls of every function of spec.validate while the test runs."""
    counts: dict[str, int] = {}
    for name, fn in inspect.getmembers(spec.validate, inspect.isfunction):
        if fn.__module__ != "genspec.spec.validate":
            continue

        def counted(*args, _fn=fn, _name=name, **kwargs):
            counts[_name] = counts.get(_name, 0) + 1
            return _fn(*args, **kwargs)
        monkeypatch.setattr(spec.validate, name, counted)
    return counts


def _text(B=2, M=5, D=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(B, M, dtype=torch.bool)
    mask[0, 3:] = False
    return TextEmbedding(torch.randn(B, M, D, generator=g), mask, torch.randn(B, D, generator=g))


def _dit(cond):
    return DiT(DiTConfig(input_size=8, in_channels=4, patch=2, width=32, depth=2, heads=4, num_classes=5,
                         learn_sigma=False, text_width=16, cond=cond))


def _nonzero(model):
    """Perturb every parameter (the zero-initialised gates would leave branches unused)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return model


CASES = {
    "dit-label": lambda: (_dit("label"), (torch.randn(2, 4, 8, 8), torch.rand(2), torch.tensor([0, 5]))),
    "dit-cross": lambda: (_dit("cross"), (torch.randn(2, 4, 8, 8), torch.rand(2), _text())),
    "dit-joint": lambda: (_dit("joint"), (torch.randn(2, 4, 8, 8), torch.rand(2), _text())),
    **{f"unet-{inj}": (lambda inj=inj: (
        UNet(UNetConfig(resolution=8, in_channels=3, out_channels=3, channels=(8, 16), attn_resolutions=(4,), heads=2,
                        groups=4, time_injection=inj, cond="text", text_width=16)),
        (torch.randn(2, 3, 8, 8), torch.rand(2), _text()))) for inj in ("film", "adaln", "add")},
    "video-dit": lambda: (VideoDiT(VideoDiTConfig(frames=4, input_size=4, in_channels=3, patch_t=2, patch=2, width=32,
                                                  depth=2, heads=4, text_width=16)),
                          (torch.randn(2, 3, 4, 4, 4), torch.rand(2), _text())),
    "ar-class": lambda: (ARTransformer(ARConfig(vocab=7, length=9, num_classes=3, width=32, depth=2, heads=4)),
                         (torch.randint(7, (2, 9)), torch.tensor([0, 2]), torch.tensor([False, True]))),
    "ar-text": lambda: (ARTransformer(ARConfig(vocab=7, length=9, width=32, depth=2, heads=4, cond="text",
                                               text=TextConfig(width=16, depth=1, heads=2, max_len=6))),
                        (torch.randint(7, (2, 9)), ["red circle", "blue"], torch.tensor([False, True]))),
}


def test_the_counter_counts(validations):
    """A checked clause call validates its arguments (so a zero below means the checks were skipped)."""
    h = torch.randn(2, 3, 8)
    adaln(h, torch.ones(2, 1, 8), torch.zeros(2, 1, 8))
    assert validations.get("array", 0) >= 3, validations
    validations.clear()
    adaln.raw(h, torch.ones(2, 1, 8), torch.zeros(2, 1, 8))
    assert validations == {}


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_and_backward_run_no_validation(case, validations):
    torch.manual_seed(0)
    model, args = CASES[case]()
    _nonzero(model)
    validations.clear()
    out = model(*args)
    out.float().square().mean().backward()
    assert validations == {}, f"{case}: validations inside the forward pass: {validations}"


def test_ar_kv_cached_sampling_runs_no_validation_per_token(validations):
    """Sampling checks its guidance and sampling arguments once per position (vq clause calls on the logits), but the
    network's cached steps check nothing: the count does not grow with depth."""
    counts = []
    for depth in (1, 3):
        torch.manual_seed(0)
        m = ARTransformer(ARConfig(vocab=7, length=5, num_classes=3, width=16, depth=depth, heads=2)).eval()
        validations.clear()
        m.sample(torch.tensor([0, 1]), w=1.0, generator=torch.Generator().manual_seed(0))
        counts.append(sum(validations.values()))
    assert counts[0] == counts[1], counts


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA: torch.cuda.set_sync_debug_mode checks host "
                                                          "synchronisations of CUDA kernels only")
def test_dit_training_step_has_no_host_synchronisation(monkeypatch):
    """A DiT training step (rf.interpolation, the network, rf.loss, backward, AdamW) with the value checks off
    (GENSPEC_CHECK_VALUES=0: each would be a synchronisation) raises nothing under sync debug mode "error"."""
    monkeypatch.setattr(spec.bind, "CHECK_VALUES", False)
    dev = torch.device("cuda")
    torch.manual_seed(0)
    model = _nonzero(_dit("label")).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=True)
    g = torch.Generator(device=dev).manual_seed(0)
    x = torch.randn(4, 4, 8, 8, device=dev, generator=g)
    z = torch.randn(4, 4, 8, 8, device=dev, generator=g)
    t = torch.rand(4, device=dev, generator=g)
    y = torch.randint(5, (4,), device=dev, generator=g)
    for _ in range(2):                                   # the second step: the optimizer's state exists
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")
        try:
            loss = rf_loss(model(interpolate(x, z, t), t, y), x, z)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    assert torch.isfinite(loss).item()
