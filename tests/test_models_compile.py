"""torch.compile of the DiT (the t2i job's --compile): the clause functions' argument checks trace, and the compiled
model equals the eager one. Budget: ≈ 10 s (one compilation of a one-block DiT on CPU)."""
import torch

from genspec.accelerated.models.dit import DiT, DiTConfig
from genspec.accelerated.models.text import TextEmbedding


def test_compiled_dit_equals_eager():
    torch.manual_seed(0)
    m = DiT(DiTConfig(input_size=4, in_channels=4, patch=1, width=16, depth=1, heads=2, learn_sigma=False,
                      cond="cross", text_width=16))
    for p in m.parameters():                     # leave the zero init: a non-trivial output
        torch.nn.init.normal_(p, std=0.1)
    x, t = torch.randn(3, 4, 4, 4), torch.rand(3)
    mask = torch.ones(3, 5, dtype=torch.bool)
    mask[0, 2:] = False
    text = TextEmbedding(torch.randn(3, 5, 16), mask, torch.randn(3, 16))
    with torch.no_grad():
        want = m(x, t, text)
        got = torch.compile(m)(x, t, text)
    assert bool(want.abs().max() > 0)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
