"""The Target API's binding machinery (conformance/harness/bind.py): each feature lets code written as its authors
wrote it pass, and each has a planted slip that still fails.

Calling convention and argument maps, the load-time signature check, layouts, structural support (intervals,
predicates, declined inputs), several variants in one target, the precision hint, modules and stateful objects.
"""
from __future__ import annotations

import math
import sys
import types

import numpy as np
import pytest

from genspec.conformance import SELF_ATTENTION, Module, Target, Where, const, interval, without
from genspec.conformance.harness import api
from genspec.conformance.harness.cli import explain_text
from genspec.reference import cfg as RC
from genspec.reference import ddpm as RD
from genspec.reference import dit as RDIT
from genspec.reference import rf as RRF
from genspec.spec.errors import TargetError


def check(target, clauses, dtype="float64"):
    return api.check(target, clauses, dtype=dtype, target_independent=False, shrink=False)


# ---- 1. calling convention, argument maps, signatures checked at load ---------------------------------------
def guidance(cond, uncond, guidance_scale):
    """A library's CFG, in its own names (the spec's default form (1 + w) v_y − w v_∅)."""
    return (1.0 + guidance_scale) * cond - guidance_scale * uncond


def test_argument_map_renames_the_clause_symbols():
    tgt = Target(name="lib", bindings={"cfg.combine": guidance},
                 arguments={"cfg.combine": {"v_y": "cond", "v_null": "uncond", "w": "guidance_scale"}})
    assert check(tgt, ["cfg.combine"])["cfg.combine"].status == "passed"


def test_argument_map_slip_fails():
    """uncond and cond swapped in the map: the check fails (the map is really used)."""
    tgt = Target(name="lib", bindings={"cfg.combine": guidance},
                 arguments={"cfg.combine": {"v_y": "uncond", "v_null": "cond", "w": "guidance_scale"}})
    assert check(tgt, ["cfg.combine"])["cfg.combine"].status == "failed"


def test_signature_mismatch_is_one_line_at_load_naming_both_sides():
    with pytest.raises(TargetError) as e:
        Target(name="lib", bindings={"cfg.combine": guidance})
    msg = str(e.value)
    assert "\n" not in msg and "cfg.combine" in msg and "v_y=" in msg
    assert "guidance(cond, uncond, guidance_scale)" in msg and "arguments=" in msg


def test_signature_check_names_a_required_parameter_nothing_fills():
    def embed(t, dim, max_period, flip_sin_to_cos):
        return RDIT.timestep_embedding(t, dim, max_period)
    with pytest.raises(TargetError, match="requires flip_sin_to_cos, which the harness does not pass"):
        Target(name="lib", bindings={"dit.timestep_embedding": embed})
    with pytest.raises(TargetError, match="'temperature' is not an argument of the clause"):
        Target(name="lib", bindings={"cfg.combine": guidance}, arguments={"cfg.combine": {"temperature": "w"}})


def test_constants_and_return_selection():
    """A library flag the clause lacks is a const(); a result object's field is picked by "return"."""
    def embed(timesteps, dim, max_period, flip_sin_to_cos):
        assert flip_sin_to_cos is True
        return {"emb": RDIT.timestep_embedding(timesteps, dim, max_period), "dim": dim}
    tgt = Target(name="lib", bindings={"dit.timestep_embedding": embed},
                 arguments={"dit.timestep_embedding": {"t": "timesteps", "flip_sin_to_cos": const(True),
                                                       "return": "emb"}})
    assert check(tgt, ["dit.timestep_embedding"])["dit.timestep_embedding"].status == "passed"


def test_explain_shows_the_call_the_harness_makes():
    text = explain_text("cfg.combine")
    assert "fn(v_y=v_y, v_null=v_null, w=w)  ->  v_cfg" in text
    assert "v_y     array, shape (n, ...)" in text and "w       Python float" in text


# ---- 2. positional order and layouts: DiT's modulate(x, shift, scale) --------------------------------------
def _layer_norm(x, eps):
    mu = x.mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(((x - mu) ** 2).mean(-1, keepdims=True) + eps)


def dit_adaln(x, shift, scale, eps):
    """DiT: modulate(norm(x), shift, scale) = norm(x) * (1 + scale[:, None]) + shift[:, None]: one row per sample."""
    assert shift.ndim == 2 and scale.ndim == 2, "DiT takes (B, D)"
    return _layer_norm(x, eps) * (1 + scale[:, None]) + shift[:, None]


DIT = dict(conventions={"dit.adaln": {"modulation": "one_plus_scale"}},
           layouts={"dit.adaln": {"gamma": "B D", "beta": "B D"}},
           supports={"dit.adaln": {"where": [Where("h of shape (B, N, D)", lambda inp: inp["h"].ndim == 3)]}})


def test_positional_order_and_per_sample_layout_pass():
    tgt = Target(name="dit", bindings={"dit.adaln": dit_adaln}, arguments={"dit.adaln": ("h", "beta", "gamma")},
                 **DIT)
    r = check(tgt, ["dit.adaln"])["dit.adaln"]
    assert r.status == "passed" and not r.failures


def test_without_the_layout_the_dit_function_fails():
    tgt = Target(name="dit", bindings={"dit.adaln": dit_adaln}, arguments={"dit.adaln": ("h", "beta", "gamma")},
                 conventions=DIT["conventions"], supports=DIT["supports"])
    assert check(tgt, ["dit.adaln"])["dit.adaln"].status == "failed"


def test_positional_slip_fails():
    """shift and scale swapped in the positional order: failed."""
    tgt = Target(name="dit", bindings={"dit.adaln": dit_adaln}, arguments={"dit.adaln": ("h", "gamma", "beta")},
                 **DIT)
    assert check(tgt, ["dit.adaln"])["dit.adaln"].status == "failed"


# ---- 3. structural support ------------------------------------------------------------------------------------
def rf_from(t_min):
    def interpolation(x, z, t):
        if np.any(np.asarray(t) < t_min):
            raise ValueError(f"t < {t_min}")
        return RRF.interpolate(x, z, t)
    return interpolation


def test_interval_support_is_partial_and_reported_compactly():
    from genspec.conformance.harness import report
    tgt = Target(name="lib", bindings={"rf.interpolation": rf_from(0.25)},
                 supports={"rf.interpolation": {"t": interval(0.25, 1)}})
    r = check(tgt, ["rf.interpolation"])["rf.interpolation"]
    assert r.status == "passed" and r.unsupported == ["t outside [0.25, 1]"]   # one line, not one per value
    assert tgt.support_text("rf.interpolation") == "t in [0.25, 1]"
    row = {"status": "passed", "unsupported": r.unsupported, "not_implemented_checks": []}
    assert report.partial(row)


def test_undeclared_interval_fails():
    assert check(Target(name="lib", bindings={"rf.interpolation": rf_from(0.25)}),
                 ["rf.interpolation"])["rf.interpolation"].status == "failed"


def test_not_implemented_error_is_outside_support():
    def interpolation(x, z, t):
        if np.any(np.asarray(t) > 0.75):
            raise NotImplementedError("t > 0.75: no such step")
        return RRF.interpolate(x, z, t)
    r = check(Target(name="lib", bindings={"rf.interpolation": interpolation}), ["rf.interpolation"])
    r = r["rf.interpolation"]
    assert r.status == "passed" and r.unsupported == [
        "declined by the target (NotImplementedError: t > 0.75: no such step)"]


# ---- 4. several variants in one target ---------------------------------------------------------------------
def combine_any(v_y, v_null, w, form):
    return RC.cfg_combine(v_y, v_null, w, form=form)


def test_every_declared_variant_is_checked_in_one_run_and_reported_per_variant():
    forms = ("one_plus_w", "conditional_offset", "scale")
    tgt = Target(name="lib", bindings={"cfg.combine": combine_any}, variants={"cfg.combine": {"form": forms}})
    res = check(tgt, ["cfg.combine"])
    assert set(res) == {"cfg.combine", "cfg.combine (form=conditional_offset)", "cfg.combine (form=scale)"}
    assert all(r.status == "passed" for r in res.values())


def test_a_slip_in_one_variant_fails_that_row_only():
    def combine(v_y, v_null, w, form):
        return v_y + w * (v_null - v_y) if form == "conditional_offset" else RC.cfg_combine(v_y, v_null, w, form=form)
    tgt = Target(name="lib", bindings={"cfg.combine": combine},
                 variants={"cfg.combine": {"form": ("one_plus_w", "conditional_offset")}})
    res = check(tgt, ["cfg.combine"])
    assert res["cfg.combine"].status == "passed"
    assert res["cfg.combine (form=conditional_offset)"].status == "failed"


# ---- 5. precision -----------------------------------------------------------------------------------------------
def test_a_float32_grid_in_a_float64_run_gets_the_precision_hint():
    def interpolation(x, z, t):
        t32 = np.asarray(t, dtype=np.float32).astype(np.float64)     # the library's time grid is float32
        return RRF.interpolate(x, z, t32)
    r = check(Target(name="lib", bindings={"rf.interpolation": interpolation}), ["rf.interpolation"])
    msg = r["rf.interpolation"].failures[0][1]
    assert "\n  precision: " in msg and "float32" in msg and "precision={'rf.interpolation': 'float32'}" in msg
    fixed = Target(name="lib", bindings={"rf.interpolation": interpolation}, precision={"rf.interpolation": "float32"})
    assert check(fixed, ["rf.interpolation"])["rf.interpolation"].status == "passed"


def test_a_real_slip_gets_no_precision_hint():
    r = check(Target(name="lib", bindings={"rf.interpolation": lambda x, z, t: RRF.interpolate(x, z, t) + 1e-3}),
              ["rf.interpolation"])
    assert "float32 rounding" not in r["rf.interpolation"].failures[0][1]


# ---- 6. modules and stateful objects ----------------------------------------------------------------------------
torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional


class Attention(nn.Module):
    """diffusers-style attention: separate to_q/to_k/to_v projections with bias, one output projection."""

    def __init__(self, dim, context_dim, inner, v_inner, out_dim, heads, scale=None):
        super().__init__()
        self.heads, self.scale = heads, scale
        self.to_q, self.to_k = nn.Linear(dim, inner), nn.Linear(context_dim, inner)
        self.to_v, self.to_out = nn.Linear(context_dim, v_inner), nn.Linear(v_inner, out_dim)

    def forward(self, hidden_states, encoder_hidden_states, attention_mask=None):
        B, L, _ = hidden_states.shape
        split = lambda y: y.reshape(B, y.shape[1], self.heads, -1).transpose(1, 2)
        q, k, v = (split(p(s)) for p, s in ((self.to_q, hidden_states), (self.to_k, encoder_hidden_states),
                                             (self.to_v, encoder_hidden_states)))
        mask = None if attention_mask is None else attention_mask[:, None] if attention_mask.ndim == 3 else \
            attention_mask
        o = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)
        return self.to_out(o.transpose(1, 2).reshape(B, L, -1))


def attention_module(**slip):
    return Module(
        lambda x, context, w_q, w_v, w_o, heads: Attention(x.shape[-1], context.shape[-1], w_q.shape[0],
                                                           w_v.shape[0], w_o.shape[0], heads, **slip),
        weights={"to_q.weight": "w_q", "to_k.weight": "w_k", "to_v.weight": "w_v", "to_out.weight": "w_o",
                 "to_q.bias": "b_q", "to_k.bias": "b_k", "to_v.bias": "b_v", "to_out.bias": "b_o"},
        call={"x": "hidden_states", "context": "encoder_hidden_states", "mask": "attention_mask"})


def test_a_module_binding_passes():
    tgt = Target(name="lib", backend="torch", bindings={"attention.cross": attention_module()})
    r = check(tgt, ["attention.cross"])["attention.cross"]
    assert r.status == "passed" and not r.failures and not r.unsupported


def test_a_planted_slip_in_the_module_fails():
    """The module scales its logits by 1/d instead of 1/√d."""
    tgt = Target(name="lib", backend="torch", bindings={"attention.cross": attention_module(scale=0.25)})
    assert check(tgt, ["attention.cross"])["attention.cross"].status == "failed"


class FusedSelfAttention(nn.Module):
    """timm / DiT Attention: one fused qkv projection, self-attention only, no bias."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv, self.proj = nn.Linear(dim, 3 * dim, bias=False), nn.Linear(dim, dim, bias=False)

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).reshape(B, N, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        return self.proj(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(B, N, C))


SQUARE = Where("every projection (D, D)", lambda inp: all(
    np.shape(inp[w]) == (inp["x"].shape[-1],) * 2 for w in ("w_q", "w_k", "w_v", "w_o")))


def test_a_fused_qkv_self_attention_module_is_passed_partial_not_failed():
    fused = Module(lambda x, heads: FusedSelfAttention(x.shape[-1], heads),
                   weights={"qkv.weight": lambda w_q, w_k, w_v: torch.cat([w_q, w_k, w_v]), "proj.weight": "w_o"},
                   call=("x",))
    tgt = Target(name="timm", backend="torch", bindings={"attention.cross": fused},
                 supports={"attention.cross": {"where": [SELF_ATTENTION, SQUARE,
                                                         without("mask", "b_q", "b_k", "b_v", "b_o")]}})
    r = check(tgt, ["attention.cross"])["attention.cross"]
    assert r.status == "passed" and not r.failures and r.not_implemented        # passed (partial)
    assert "property:self-attention (context = x) is permutation equivariant" in r.passed
    assert "not self-attention (context = x)" in r.unsupported


def test_a_fused_module_without_the_declared_support_fails_at_load_or_run():
    fused = Module(lambda x, heads: FusedSelfAttention(x.shape[-1], heads),
                   weights={"qkv.weight": lambda w_q, w_k, w_v: torch.cat([w_q, w_k, w_v]), "proj.weight": "w_o"},
                   call=("x",))
    r = check(Target(name="timm", backend="torch", bindings={"attention.cross": fused}), ["attention.cross"])
    assert r["attention.cross"].status == "failed"


def _scheduler_library():
    """A diffusers-like scheduler: configured with its betas, ONE integer (zero-based) t per step() call, noise drawn
    inside step() from its module's randn."""
    mod = types.ModuleType("fake_scheduler_lib")
    mod.randn = lambda shape: (_ for _ in ()).throw(AssertionError("noise drawn, not injected"))

    class Scheduler:
        def __init__(self, betas):
            self.betas = betas

        def step(self, model_output, timestep: int, sample):
            assert isinstance(timestep, int), "one integer t per call"
            t = np.array([timestep + 1])
            xi = mod.randn(sample.shape)
            return {"prev_sample": RD.ancestral_step(sample, model_output, t, self.betas, xi)}
    mod.Scheduler = Scheduler
    return mod


def test_a_stateful_scheduler_with_one_t_per_call_and_its_own_noise_binds_in_a_few_lines(monkeypatch):
    lib = _scheduler_library()
    monkeypatch.setitem(sys.modules, "fake_scheduler_lib", lib)
    tgt = Target(name="sched", bindings={"ddpm.ancestral_step": lambda x_t, eps_pred, t, betas: lib.Scheduler(
        betas).step(eps_pred, t, x_t)["prev_sample"]},
                 conventions={"ddpm.ancestral_step": {"indexing": "zero_based"}},
                 layouts={"ddpm.ancestral_step": {"t": "one"}},
                 noise={"ddpm.ancestral_step": "fake_scheduler_lib.randn"})
    r = check(tgt, ["ddpm.ancestral_step"])["ddpm.ancestral_step"]
    assert r.status == "passed" and not r.failures


def test_a_scheduler_whose_noise_is_not_injected_fails(monkeypatch):
    lib = _scheduler_library()
    monkeypatch.setitem(sys.modules, "fake_scheduler_lib", lib)
    tgt = Target(name="sched", bindings={"ddpm.ancestral_step": lambda x_t, eps_pred, t, betas, noise: lib.Scheduler(
        betas).step(eps_pred, t, x_t)["prev_sample"]},
                 conventions={"ddpm.ancestral_step": {"indexing": "zero_based"}},
                 layouts={"ddpm.ancestral_step": {"t": "one"}})
    assert check(tgt, ["ddpm.ancestral_step"])["ddpm.ancestral_step"].status == "failed"


# ---- the README's examples ------------------------------------------------------------------------------------
def test_readme_binding_examples_run_as_written():
    """Every ``# binding:`` block of README "Binding a library" runs as written (each ends in its own asserts)."""
    import pathlib
    import re
    readme = (pathlib.Path(__file__).resolve().parent.parent / "README.md").read_text()
    section = readme[readme.index("## Binding a library"):readme.index("## Real libraries")]
    blocks = re.findall(r"```python\n(# binding: [^\n]*\n.*?)```", section, re.S)
    names = [b.splitlines()[0] for b in blocks]
    assert names == ["# binding: argument map", "# binding: positional order and layout",
                     "# binding: structural support", "# binding: variants", "# binding: precision",
                     "# binding: module", "# binding: gradients and conventions by selector", "# binding: recorded"]
    for code, name in zip(blocks, names, strict=True):
        exec(compile(code, f"README.md {name}", "exec"), {"__name__": "readme_example"})
    explain = re.search(r"```text\n(Calling convention.*?)```", section, re.S).group(1)
    assert explain.rstrip() in explain_text("cfg.combine")


def test_the_report_prints_declared_support_compactly():
    """The declaration once, and at most a few excluded entries on the line (never hundreds of values)."""
    from genspec.conformance.harness import report
    row = {"id": "rf.interpolation", "status": "passed", "checks": [{"outcome": "passed"}], "tolerance": "",
           "max_abs_error": 0.0, "max_error_over_tolerance": 0.0, "worst_check": None, "tolerance_dtype": "float64",
           "unsupported": [f"t={v:.3f}" for v in np.linspace(0, 0.25, 300)], "not_implemented_checks": [],
           "support": "t in [0.25, 1]"}
    rep = {"spec_version": "0", "target": "lib", "backend": "numpy", "dtype": "float64", "device": "cpu",
           "profile": "ci", "clauses": [row], "duration_s": 0.0,
           "summary": {"passed": 1, "failed": 0, "not_implemented": 0, "total": 1}}
    line = next(x for x in report.table(rep) if x.startswith("  rf.interpolation:"))
    assert "declared t in [0.25, 1]" in line and line.endswith("… 294 more") and line.count("t=") == 6


def test_a_module_naming_what_the_clause_does_not_pass_fails_at_load():
    bad = Module(lambda x, heads: FusedSelfAttention(x.shape[-1], heads), weights={"qkv.weight": "w_qkv"})
    with pytest.raises(TargetError, match=r"attention.cross: the Module's build/weights name \['w_qkv'\]"):
        Target(name="timm", backend="torch", bindings={"attention.cross": bad})


# ---- a whole module against the reference composition of its clauses -----------------------------------------
class TimestepEmbedder(nn.Module):
    """DiT's TimestepEmbedder: the sinusoidal embedding (dit.timestep_embedding) followed by Linear, SiLU, Linear."""

    def __init__(self, hidden, freq=16, swap=False):
        super().__init__()
        self.freq, self.swap = freq, swap
        self.mlp = nn.Sequential(nn.Linear(freq, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t):
        half = self.freq // 2
        args = t[:, None] * torch.exp(-math.log(10000) * torch.arange(half, dtype=t.dtype) / half)[None]
        halves = [torch.sin(args), torch.cos(args)] if self.swap else [torch.cos(args), torch.sin(args)]
        return self.mlp(torch.cat(halves, dim=-1))


def _embedder_composition(**slip):
    from hypothesis import strategies as st

    from genspec.conformance import Composition
    from genspec.conformance.harness.arrays import gaussian, uniform
    from genspec.conformance.harness.registry import reference_function
    embed = reference_function("dit.timestep_embedding")

    def reference(t, w1, b1, w2, b2):           # the clause, then the MLP, in float64 NumPy
        h = embed(t, dim=16, max_period=10000.0) @ w1.T + b1
        return (h / (1.0 + np.exp(-h))) @ w2.T + b2
    module = Module(lambda w1: TimestepEmbedder(w1.shape[0], **slip), call=("t",),
                    weights={"mlp.0.weight": "w1", "mlp.0.bias": "b1", "mlp.2.weight": "w2", "mlp.2.bias": "b2"})
    cases = st.fixed_dictionaries({"t": uniform((3,), 0.0, 1000.0), "w1": gaussian((8, 16), 0.25),
                                   "b1": gaussian((8,)), "w2": gaussian((8, 8), 0.35), "b2": gaussian((8,))})
    # rows of 16 (8) weights of scale 1/4 (0.35): each layer multiplies an absolute error by ≲ 4: gain 16
    return Composition("DiT TimestepEmbedder", module, reference, cases, tolerance="dit.timestep_embedding", gain=16)


def test_a_whole_module_is_checked_against_the_reference_composition_of_its_clauses():
    from genspec.conformance import check_composition
    assert check_composition(_embedder_composition()) <= 1.0


def test_a_planted_slip_in_the_whole_module_fails():
    from genspec.conformance import check_composition
    with pytest.raises(AssertionError, match="DiT TimestepEmbedder: .*vs the reference composition"):
        check_composition(_embedder_composition(swap=True))


def test_adapter_size_counts_code_lines_only():
    """tools/adapter_size.py: docstrings (module, function, attribute), comments and blank lines are not code."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parent.parent / "tools" / "adapter_size.py"
    spec_ = importlib.util.spec_from_file_location("adapter_size", path)
    tool = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(tool)
    src = ('"""module\ndocstring"""\nimport os  # a comment\n\n# only a comment\nX = 1\n"""attribute docstring"""\n\n'
           'def f(a,\n      b):\n    """doc"""\n    return {"k": a,\n            "j": b}\n')
    assert tool.code_lines(src) == 6       # import, X, the two-line def, the two-line return
