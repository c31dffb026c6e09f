"""Issue 22, continued: the threshold and zero-vector boundaries of attention.sdpa and .cross, cfg.dropout, cfg.rescale,
cfg.apg, gan.adain, gan.optimal_discriminator and gan.latent_interpolation (spec Clause.boundaries), drawn by the checks
through conformance/harness/inputs.py.

For each boundary: a realistic slip that fails exactly its clause, a control showing that the same slip passes with
the boundary declaration removed (the draws before it), and a textbook implementation written here from the
statement (independently of reference/ and accelerated/) that passes at float64, float32 and bfloat16.
"""
from __future__ import annotations

import math

import pytest
import torch

from genspec.conformance.checks import attention as checks_attention
from genspec.conformance.checks import cfg as checks_cfg
from genspec.conformance.checks import gan as checks_gan
from genspec.conformance.harness import api
from genspec.conformance.harness.target import Target
from genspec.spec import SpecInputError

DTYPES = ("float64", "float32", "bfloat16")


CONVENTIONS = {"gan.latent_interpolation": {"path": "spherical"}}      # its boundaries are the spherical path's


def _failures(clause, fn, dtype="float64"):
    target = Target(name="planted", bindings={clause: fn}, backend="torch",
                    conventions={clause: CONVENTIONS[clause]} if clause in CONVENTIONS else {})
    return api.check(target, [clause], dtype=dtype, profile="ci", target_independent=False,
                     shrink=False)[clause].failures


def _undeclared(monkeypatch):
    """The control: no clause declares a boundary, so the checks draw as they did before these declarations."""
    for module in (checks_attention, checks_cfg, checks_gan):
        monkeypatch.setattr(module, "declared", lambda *a, **k: ())


def _dims(v):
    return tuple(range(1, v.ndim))


# ---- cfg.dropout: u < p, y kept at u = p ----------------------------------------------------------------------
def drop_textbook(y, u, num_classes, p=None, null_label="extra_class", rate="ten_percent"):
    p = {"ten_percent": 0.1, "half": 0.5}[rate] if p is None else p
    return torch.where(u < p, torch.full_like(y, num_classes), y)


def drop_in_float32(y, u, num_classes, p=None, null_label="extra_class", rate="ten_percent"):
    """The slip: u compared in float32 (u.float() < p), so u within float32 rounding of p lands on the wrong side."""
    p = {"ten_percent": 0.1, "half": 0.5}[rate] if p is None else p
    return torch.where(u.float() < p, torch.full_like(y, num_classes), y)


# ---- cfg.rescale: std(v_cfg) = 0 raises; tiny samples scale ----------------------------------------------------
def rescale_textbook(v_y, v_null, w, phi, form="one_plus_w"):
    dt = v_y.dtype
    v_y, v_null = (v.float() if dt == torch.bfloat16 else v for v in (v_y, v_null))
    v_cfg = (1 + w) * v_y - w * v_null
    std_y, std_cfg = (v.std(dim=_dims(v), keepdim=True, correction=0) for v in (v_y, v_cfg))
    if v_y[0].numel() < 2 or bool((std_cfg == 0).any()):
        raise SpecInputError("cfg.rescale", "v_y/v_null", "std(v_cfg) > 0", "a constant sample")
    return (phi * v_cfg * (std_y / std_cfg) + (1 - phi) * v_cfg).to(dt)


def rescale_clamped(v_y, v_null, w, phi, form="one_plus_w"):
    """The slip: the divisor clamped, std_cfg.clamp_min(1e-6) (zero still raises)."""
    v_cfg = (1 + w) * v_y - w * v_null
    std_y, std_cfg = (v.std(dim=_dims(v), keepdim=True, correction=0) for v in (v_y, v_cfg))
    if v_y[0].numel() < 2 or bool((std_cfg == 0).any()):
        raise SpecInputError("cfg.rescale", "v_y/v_null", "std(v_cfg) > 0", "a constant sample")
    return phi * v_cfg * (std_y / std_cfg.clamp_min(1e-6)) + (1 - phi) * v_cfg


# ---- cfg.apg: Δ∥ = 0 at v_y = 0, the exact projection above ----------------------------------------------------
def apg_textbook(v_y, v_null, w, eta, form="one_plus_w"):
    dt = v_y.dtype
    v_y, v_null = (v.float() if dt == torch.bfloat16 else v for v in (v_y, v_null))
    delta = v_y - v_null
    n2 = (v_y * v_y).sum(dim=_dims(v_y), keepdim=True)
    par = (delta * v_y).sum(dim=_dims(v_y), keepdim=True) / torch.where(n2 == 0, 1.0, n2) * v_y
    return (v_y + w * ((delta - par) + eta * par)).to(dt)


def apg_clamped(v_y, v_null, w, eta, form="one_plus_w"):
    """The slip: v̂ = v_y / max(‖v_y‖, 1e-6) (normalize with a too large ε)."""
    delta = v_y - v_null
    vh = v_y / torch.linalg.vector_norm(v_y, dim=_dims(v_y), keepdim=True).clamp_min(1e-6)
    par = (delta * vh).sum(dim=_dims(v_y), keepdim=True) * vh
    return v_y + w * ((delta - par) + eta * par)


# ---- gan.optimal_discriminator: 1/2 at p_data + p_G = 0 only ---------------------------------------------------
def d_star_textbook(p_data, p_g):
    s = p_data + p_g
    return torch.where(s == 0, torch.full_like(s, 0.5), p_data / torch.where(s == 0, torch.ones_like(s), s))


def d_star_guarded(p_data, p_g):
    """The slip: the guard s < 1e-12 instead of s = 0 (tiny densities answered 1/2)."""
    s = p_data + p_g
    small = s < 1e-12
    return torch.where(small, torch.full_like(s, 0.5), p_data / torch.where(small, torch.ones_like(s), s))


# ---- gan.adain: b on a constant channel, tiny spreads normalised ------------------------------------------------
def adain_textbook(x, w, b, sigma="population", eps="none"):
    dt = x.dtype
    xs = x.float() if dt == torch.bfloat16 else x
    d = tuple(range(2, x.ndim))
    flat = xs.flatten(2)
    constant = (flat.amax(dim=2) == flat.amin(dim=2)).reshape(*x.shape[:2], *(1,) * len(d))
    c = torch.where(constant, 0.0, xs - xs.mean(dim=d, keepdim=True))
    sd = c.square().mean(dim=d, keepdim=True).sqrt()
    e = (slice(None), slice(None)) + (None,) * len(d)
    return (w[e] * torch.where(sd == 0, 0.0, c / torch.where(sd == 0, 1.0, sd)) + b[e]).to(dt)


def adain_guarded(x, w, b, sigma="population", eps="none"):
    """The slip: a channel with σ < 1e-5 treated as constant (normalised value 0)."""
    d = tuple(range(2, x.ndim))
    c = x - x.mean(dim=d, keepdim=True)
    sd = c.square().mean(dim=d, keepdim=True).sqrt()
    e = (slice(None), slice(None)) + (None,) * len(d)
    return w[e] * torch.where(sd < 1e-5, 0.0, c / sd.clamp_min(1e-5)) + b[e]


# ---- attention.sdpa: a masked key weighs 0 whatever the admitted logits -------------------------------------------
def sdpa_textbook(q, k, v, mask=None):
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is None:
        return torch.softmax(s, dim=-1) @ v
    p = torch.softmax(s.masked_fill(~mask, -math.inf), dim=-1)
    return torch.where(mask.any(dim=-1, keepdim=True), p, 0.0).nan_to_num(0.0) @ v


def sdpa_finite_fill(q, k, v, mask=None):
    """The slip: BERT's additive mask, masked logits set to −1e4 (fully masked rows still zeroed)."""
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    if mask is None:
        return torch.softmax(s, dim=-1) @ v
    p = torch.softmax(s.masked_fill(~mask, -1e4), dim=-1)
    return torch.where(mask.any(dim=-1, keepdim=True), p, 0.0) @ v


def _cross_with(sdpa):
    """Multi-head cross-attention (out_in weights, contiguous head slices) around an sdpa."""
    def cross(x, context, w_q, w_k, w_v, w_o, heads, b_q=None, b_k=None, b_v=None, b_o=None, mask=None):
        def proj(t, w, b):
            y = t @ w.T
            return y if b is None else y + b
        q, k, v = proj(x, w_q, b_q), proj(context, w_k, b_k), proj(context, w_v, b_v)
        split = lambda t: t.reshape(*t.shape[:-1], heads, -1).transpose(-2, -3)      # (B, H, tokens, E/H)
        m = None if mask is None else mask[:, None]
        o = sdpa(split(q), split(k), split(v), m).transpose(-2, -3)
        return proj(o.reshape(*o.shape[:-2], -1), w_o, b_o)
    return cross


cross_textbook, cross_finite_fill = _cross_with(sdpa_textbook), _cross_with(sdpa_finite_fill)


# ---- gan.latent_interpolation (spherical): linear where parallel (cos Ω ≥ 1 − 1e-12) or z0 = 0, slerp elsewhere ---
def slerp_textbook(z0, z1, t):
    dt = z0.dtype
    z0, z1, t = (v.float() if dt == torch.bfloat16 else v for v in (z0, z1, t))
    s = t[:, None]
    denom = torch.linalg.vector_norm(z0, dim=1) * torch.linalg.vector_norm(z1, dim=1)
    cos = ((z0 * z1).sum(dim=1) / torch.where(denom == 0, 1.0, denom)).clamp(-1.0, 1.0)
    if bool((cos <= -1.0 + 1e-12).any()):
        raise SpecInputError("gan.latent_interpolation", "z0/z1", "latents that are not antiparallel", "Ω = π")
    parallel = ((denom == 0) | (cos >= 1.0 - 1e-12))[:, None]
    om = torch.arccos(cos)[:, None]
    so = torch.where(parallel, 1.0, torch.sin(om))
    out = torch.where(parallel, s * z0 + (1 - s) * z1, torch.sin(s * om) / so * z0 + torch.sin((1 - s) * om) / so * z1)
    return out.to(dt)


def slerp_dot_threshold(z0, z1, t):
    """The slip: the widely copied slerp, linear wherever |cos Ω| > DOT_THRESHOLD = 0.9995 (Ω < 0.032)."""
    s = t[:, None]
    n0, n1 = (z / torch.linalg.vector_norm(z, dim=1, keepdim=True) for z in (z0, z1))
    dot = (n0 * n1).sum(dim=1, keepdim=True)
    om = torch.arccos(dot.clamp(-1.0, 1.0))
    slerp = torch.sin(s * om) / torch.sin(om) * z0 + torch.sin((1 - s) * om) / torch.sin(om) * z1
    return torch.where((dot.abs() > 0.9995) | ~torch.isfinite(dot), s * z0 + (1 - s) * z1, slerp)


TEXTBOOK = [("attention.sdpa", sdpa_textbook), ("attention.cross", cross_textbook),
            ("gan.latent_interpolation", slerp_textbook),
            ("cfg.dropout", drop_textbook), ("cfg.rescale", rescale_textbook), ("cfg.apg", apg_textbook),
            ("gan.optimal_discriminator", d_star_textbook), ("gan.adain", adain_textbook)]
SLIPS = [("cfg.dropout", drop_in_float32, "float64", "u at and near the threshold p"),
         ("attention.sdpa", sdpa_finite_fill, "float32", "admitted logits near a finite fill"),
         ("attention.cross", cross_finite_fill, "float32", "admitted context logits near a finite fill"),
         ("gan.latent_interpolation", slerp_dot_threshold, "float32", "near-parallel latents"),
         ("cfg.rescale", rescale_clamped, "float32", "tiny samples"),
         ("cfg.apg", apg_clamped, "float32", "v_y = 0 and tiny"),
         ("gan.optimal_discriminator", d_star_guarded, "float32", "zero and tiny densities"),
         ("gan.adain", adain_guarded, "float32", "channels of tiny spread")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clause,fn", TEXTBOOK, ids=[c for c, _ in TEXTBOOK])
def test_textbook_passes_at_the_boundaries(clause, fn, dtype):
    assert _failures(clause, fn, dtype) == []


@pytest.mark.parametrize("clause,fn,dtype,check", SLIPS, ids=[c for c, *_ in SLIPS])
def test_slip_fails_its_boundary_check(clause, fn, dtype, check):
    failures = _failures(clause, fn, dtype)
    assert any(check in name for name, _ in failures), failures
    assert all(check in name or clause == "cfg.dropout" for name, _ in failures), failures


@pytest.mark.parametrize("clause,fn,dtype,check", SLIPS[1:], ids=[c for c, *_ in SLIPS[1:]])
def test_without_the_declaration_the_slip_passes(clause, fn, dtype, check, monkeypatch):
    _undeclared(monkeypatch)
    assert _failures(clause, fn, dtype) == []


def test_dropout_slips_at_u_equal_p():
    """u ≤ p (the label dropped at u = p) fails the threshold sweep too. (No control here: cfg.dropout's value cases
    already pair u and p edges, u = p = 0 and p = 5e-324 among them, which catch both slips without the sweep.)"""
    def drop_at_or_below(y, u, num_classes, p=None, null_label="extra_class", rate="ten_percent"):
        p = {"ten_percent": 0.1, "half": 0.5}[rate] if p is None else p
        return torch.where(u <= p, torch.full_like(y, num_classes), y)
    assert any("u at and near the threshold p" in name for name, _ in _failures("cfg.dropout", drop_at_or_below))


def test_rescale_must_raise_where_std_is_zero():
    """v_y = v_∅ = 0: a rescale that divides anyway (NaN) fails the declared zero boundary."""
    def unguarded(v_y, v_null, w, phi, form="one_plus_w"):
        v_cfg = (1 + w) * v_y - w * v_null
        std_y, std_cfg = (v.std(dim=_dims(v), keepdim=True, correction=0) for v in (v_y, v_cfg))
        return phi * v_cfg * (std_y / std_cfg) + (1 - phi) * v_cfg
    failures = _failures("cfg.rescale", unguarded)
    assert any("requires SpecInputError" in msg for _, msg in failures), failures

