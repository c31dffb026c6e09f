"""Issue 21 item 7, the vq/ar variants real libraries use (spec/vq.py): vq.loss's mse_all_elements reduction
(F.mse_loss) and symmetric codebook term (vector-quantize-pytorch's learnable codebook), ar.causal_mask's
true_masks polarity, ar.sampling_distribution's torch_topk tie rule. A correct implementation of each variant passes
when it declares that variant; a planted slip (the default's form under the variant's name, or the variant's form
under the default's) fails exactly that clause."""
from __future__ import annotations

import functools

import pytest
import torch

import genspec.accelerated.vq as A
from genspec.conformance import Target
from genspec.conformance.harness.api import check


def _status(clause, fn, conventions=None, dtype="float64"):
    target = Target(name="planted", backend="torch", bindings={clause: fn}, conventions={clause: conventions or {}})
    res = check(target, [clause], profile="ci", dtype=dtype, target_independent=False, shrink=False)[clause]
    return res.status, res.failures


def _batch_mean_loss(z, e, beta=0.25):
    """vq.loss with the batch mean of squared norms, in the named codebook variant (as accelerated computes it)."""
    return A.vq_loss(z, e, beta, codebook="ema")


def _element_mean_ema(z, e, beta=0.25):
    """vector-quantize-pytorch's EMA form written with F.mse_loss: β · mean over all n·D elements of (z − sg[e])²."""
    z = z.clone().requires_grad_()
    L = beta * torch.nn.functional.mse_loss(z, e)
    return L.detach(), torch.autograd.grad(L, z)[0], torch.zeros_like(e)


def _symmetric_mse(z, e, beta=0.25):
    """The learnable-codebook form: β · F.mse_loss(e, z), both arguments trained."""
    z, e = z.clone().requires_grad_(), e.clone().requires_grad_()
    L = beta * torch.nn.functional.mse_loss(e, z)
    return L.detach(), *torch.autograd.grad(L, (z, e))


ELEMENT_MEAN = {"codebook": "ema", "reduction": "mse_all_elements"}


def test_an_element_mean_loss_passes_as_mse_all_elements():
    assert _status("vq.loss", _element_mean_ema, ELEMENT_MEAN)[0] == "passed"


def test_an_element_mean_loss_declared_as_the_default_reduction_fails():
    """The slip the D = 1 support used to hide: F.mse_loss is the default ÷ D."""
    assert _status("vq.loss", _element_mean_ema, {"codebook": "ema"})[0] == "failed"


def test_a_batch_mean_loss_declared_as_mse_all_elements_fails():
    assert _status("vq.loss", _batch_mean_loss, ELEMENT_MEAN)[0] == "failed"


def test_the_symmetric_learnable_codebook_loss_passes_as_symmetric():
    assert _status("vq.loss", _symmetric_mse, {"codebook": "symmetric", "reduction": "mse_all_elements"})[0] == "passed"


@pytest.mark.parametrize("slip, variant", [
    (_element_mean_ema, "symmetric"),       # codebook detached: no gradient reaches e
    (_symmetric_mse, "ema"),                # e trained though the codebook is said to follow EMAs
    (_symmetric_mse, "loss"),               # codebook term weighted β instead of 1, value β instead of 1 + β
])
def test_a_codebook_slip_fails(slip, variant):
    status, failures = _status("vq.loss", slip, {"codebook": variant, "reduction": "mse_all_elements"})
    assert status == "failed", failures


def test_a_true_masks_causal_mask_passes_and_a_slipped_polarity_fails():
    def triu(L, device=None):                       # x-transformers / nn.MultiheadAttention: True = hidden
        return torch.ones(L, L, dtype=torch.bool).triu(1)
    assert _status("ar.causal_mask", triu, {"mask_polarity": "true_masks"})[0] == "passed"
    assert _status("ar.causal_mask", triu)[0] == "failed"
    assert _status("ar.causal_mask", functools.partial(A.causal_mask), {"mask_polarity": "true_masks"})[0] == "failed"


def _highest_index_ties(logits, temperature=1.0, top_k=0):
    """Exactly k survivors, ties at the k-th largest broken by the highest index: one of torch.topk's allowed
    choices, not exactly_k's lowest-index rule."""
    if 0 < top_k < logits.shape[1]:
        flipped = torch.flip(logits, dims=(1,))
        order = torch.flip(torch.argsort(-flipped, dim=1, stable=True)[:, :top_k], dims=(1,))
        keep = torch.zeros_like(logits, dtype=torch.bool).scatter(1, logits.shape[1] - 1 - order, True)
        logits = logits.masked_fill(~keep, -torch.inf)
    return torch.softmax(logits / temperature, dim=1)


def test_top_k_with_any_tie_order_passes_as_torch_topk_only():
    assert _status("ar.sampling_distribution", _highest_index_ties, {"top_k_ties": "torch_topk"})[0] == "passed"
    assert _status("ar.sampling_distribution", _highest_index_ties, {"top_k_ties": "exactly_k"})[0] == "failed"


def test_keeping_every_tie_declared_as_torch_topk_fails():
    keep_ties = functools.partial(A.sampling_probs, top_k_ties="keep_ties")
    status, failures = _status("ar.sampling_distribution", keep_ties, {"top_k_ties": "torch_topk"})
    assert status == "failed" and any("tie" in name for name, _ in failures), failures


def _rotation_target(estimator):
    return functools.partial(A.straight_through, estimator=estimator)


@pytest.mark.parametrize("dtype", ["float64", "float32", "bfloat16"])
def test_the_rotation_trick_passes_as_rotation(dtype):
    assert _status("vq.straight_through", _rotation_target("rotation"), {"estimator": "rotation"}, dtype)[0] == "passed"


def test_straight_through_declared_as_rotation_fails_and_rotation_declared_as_straight_through_fails():
    status, failures = _status("vq.straight_through", _rotation_target("straight_through"), {"estimator": "rotation"})
    assert status == "failed" and any("‖" in name for name, _ in failures), failures   # the gradient's norm λ‖g‖
    assert _status("vq.straight_through", _rotation_target("rotation"))[0] == "failed"


def test_a_rotation_with_the_gradient_reaching_z_q_fails():
    """The rotation without its stop-gradients (λ and R differentiated too): z_q gets a gradient."""
    def undetached(z, z_q, g):
        z, z_q = z.clone().requires_grad_(), z_q.clone().requires_grad_()
        u, q = z / z.norm(dim=1, keepdim=True), z_q / z_q.norm(dim=1, keepdim=True)
        w = (u + q) / (u + q).norm(dim=1, keepdim=True)
        out = z_q.norm(dim=1, keepdim=True) / z.norm(dim=1, keepdim=True) * (
            z - 2 * w * (z * w).sum(1, keepdim=True) + 2 * q * (z * u).sum(1, keepdim=True))
        return out.detach(), *torch.autograd.grad(out, (z, z_q), g)
    assert _status("vq.straight_through", undetached, {"estimator": "rotation"})[0] == "failed"


def test_with_gradients_binds_a_value_only_function():
    """conformance.with_gradients: the value and autograd's gradients, the upstream argument in the signature where
    the harness's load-time check expects it, zeros for an input the value ignores."""
    import inspect

    from genspec.conformance import with_gradients

    st = with_gradients(lambda z, z_q, estimator="straight_through": z + (z_q - z).detach(), wrt=("z", "z_q"),
                        upstream="g")
    assert list(inspect.signature(st).parameters) == ["z", "z_q", "g", "estimator"]
    assert _status("vq.straight_through", st)[0] == "passed"
    loss = with_gradients(lambda z, e, beta=0.25: beta * (z - e.detach()).square().mean(), wrt=("z", "e"))
    assert _status("vq.loss", loss, ELEMENT_MEAN)[0] == "passed"
    z = torch.ones(2, 3)
    L, gz, ge = with_gradients(lambda z, e: torch.zeros(()), wrt=("z", "e"))(z, z)      # no graph at all
    assert float(L) == 0.0 and not gz.any() and not ge.any()

