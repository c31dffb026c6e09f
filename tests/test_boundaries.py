"""Inputs that go where code breaks (issue 22): singular points, decision boundaries and zero vectors as declared data.

Each blind spot gets a planted implementation (a realistic slip) that must fail its clause, and a textbook
implementation of the same clause, written here from the statement and independently of reference/ and
accelerated/, that must pass at float64, float32 and bfloat16. The controls show that it is the boundary draws
(spec Clause.boundaries, drawn by conformance/harness/inputs.py) that catch the slips.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genspec import spec
from genspec.conformance.harness import api
from genspec.conformance.harness import inputs as I
from genspec.conformance.harness.target import Target

DTYPES = ("float64", "float32", "bfloat16")


def _run(clause, fn, backend="torch", dtype="float64", profile="ci"):
    target = Target(name="planted", bindings={clause: fn}, backend=backend)
    return api.check(target, [clause], dtype=dtype, profile=profile, target_independent=False,
                     shrink=False)[clause]


# ---- the shared mechanism ------------------------------------------------------------------------------------------
def test_approach_reaches_the_point_in_every_dtype_and_never_lands_on_it():
    for dtype, unit in I.UNIT.items():
        near_one = I.approach(1.0, dtype, 0.0, 1.0)
        assert 1.0 not in near_one and all(0.0 <= v < 1.0 for v in near_one)
        assert min(1.0 - v for v in near_one) <= 2 * unit             # within one or two ulps of the dtype
        assert np.array_equal(I.round_to(np.array(near_one), dtype), near_one)   # representable: the target sees it
        near_zero = I.approach(0.0, dtype, 0.0, 1.0)
        assert min(near_zero) <= 1.01e-15 and max(near_zero) >= 0.99e-3 and 0.0 not in near_zero
    assert I.approach(2.0, "float64", exact=True)[0] == 2.0
    assert {round(math.log10(abs(v - 2.0) / 2.0)) for v in I.approach(2.0, "float64") if abs(v - 2.0) > 1e-14} \
        == {-12, -9, -6, -5, -4, -3}


def test_round_to_bfloat16_is_torchs():
    x = np.random.default_rng(0).standard_normal(2000) * 10.0 ** np.random.default_rng(1).uniform(-30, 30, 2000)
    assert np.array_equal(I.round_to(x, "bfloat16"), torch.from_numpy(x).to(torch.bfloat16).double().numpy())


def test_family_boundaries_are_the_singular_table():
    """The declared points (spec/family.py) are the 16 singular (path, schedule, target, t) the checks test exactly
    (stated independently in conformance/checks/family.py before they were data): nothing lost, nothing added."""
    independent = {("rf", "none", "epsilon", 1.0), ("vp", "cosine", "epsilon", 1.0), ("rf", "none", "x", 0.0),
                   ("vp", "linear", "x", 0.0), ("vp", "cosine", "x", 0.0), ("rf", "none", "score", 1.0),
                   ("vp", "cosine", "score", 1.0), ("rf", "none", "score", 0.0), ("vp", "linear", "score", 0.0),
                   ("vp", "cosine", "score", 0.0), ("vp", "linear", "velocity", 0.0),
                   ("vp", "cosine", "velocity", 0.0), ("vp", "trig", "epsilon", 1.0), ("vp", "trig", "x", 0.0),
                   ("vp", "trig", "score", 1.0), ("vp", "trig", "score", 0.0)}
    from genspec.spec.family import PATHS, SCHEDULES, TARGETS
    declared = {(p, s, g, t) for p in PATHS for s in SCHEDULES[p] for g in TARGETS
                for t in I.boundary_points("family.recover", "t", {"path": p, "schedule": s, "target": g})}
    assert declared == independent
    from genspec.conformance.checks.family import SINGULAR
    assert set(SINGULAR) == independent


def test_every_boundary_names_an_input_and_gives_a_reason():
    n = 0
    for c in spec.CLAUSES.values():
        names = {s.name for s in c.inputs}
        for b in c.boundaries:
            assert b.symbol in names and len(b.why) > 20, (c.id, b)
            n += 1
    assert n >= 10


# ---- family.recover and family.convert near their singular t ------------------------------------------------------
BMIN, BMAX, COS_S, SMIN, SMAX = 0.1, 20.0, 0.008, 0.01, 50.0


def _ab(t, path, schedule, expm1=True):
    """(a, b, a', b') from the schedules' definitions, in cancellation-free forms (or b = √(1 − a²): the slip)."""
    one = torch.ones_like(t)
    if path == "rf":
        return 1 - t, t, -one, one
    if path == "ve":
        b = SMIN * (SMAX / SMIN) ** t
        return one, b, 0 * t, b * math.log(SMAX / SMIN)
    if schedule == "linear":
        log_ab = -(0.5 * t * t * (BMAX - BMIN) + t * BMIN)
        a = torch.exp(0.5 * log_ab)
        b = torch.sqrt(-torch.expm1(log_ab)) if expm1 else torch.sqrt(1 - a * a)
        da = -0.5 * a * (BMIN + t * (BMAX - BMIN))
    elif schedule == "cosine":
        k = math.pi / (2 * (1 + COS_S))
        c0 = math.cos(k * COS_S)
        a = torch.sin(k * (1 - t)) / c0                              # cos θ = sin(π/2 − θ): exact near t = 1
        b = torch.sqrt(torch.sin(k * (t + 2 * COS_S)) * torch.sin(k * t)) / c0 if expm1 else torch.sqrt(1 - a * a)
        da = -k * torch.cos(k * (1 - t)) / c0
    else:                                                            # trig
        a = torch.sin(math.pi / 2 * (1 - t))
        b = torch.sin(math.pi / 2 * t) if expm1 else torch.sqrt(1 - a * a)
        return a, b, -math.pi / 2 * b, math.pi / 2 * a
    return a, b, da, -a * da / b


def _rows(t, path, target, schedule, expm1=True):
    a, b, da, db = _ab(t, path, schedule, expm1)
    c, d = {"velocity": (da, db), "epsilon": (0 * t, 0 * t + 1), "x": (0 * t + 1, 0 * t), "v": (-b, a),
            "score": (0 * t, -1 / b)}[target]
    if not (torch.isfinite(c).all() and torch.isfinite(d).all()):
        raise ValueError(f"{target} on {path}-{schedule}: infinite coefficient at t = {t}")
    return a, b, c, d


def _textbook_inverse(clamp=None, expm1=True):
    def solve(x_t, y, t, path, target, schedule):
        work = torch.float32 if x_t.dtype == torch.bfloat16 else x_t.dtype
        x_t, y, t = x_t.to(work), y.to(work), torch.as_tensor(t).to(work)
        t = t.reshape(t.shape + (1,) * (x_t.ndim - t.ndim))
        sched = schedule or {"rf": "none", "vp": "linear", "ve": "geometric"}[path]
        a, b, c, d = _rows(t, path, target, sched, expm1)
        det = a * d - b * c
        if (det == 0).any():
            raise ValueError(f"det = 0: {target} on {path}-{sched}")
        if clamp is not None:                                        # the slip: a divisor kept away from 0
            det = torch.sign(det) * det.abs().clamp_min(clamp)
        return (d * x_t - b * y) / det, (a * y - c * x_t) / det, (t, path, sched, work)

    def recover(x_t, y, t, path="rf", target="velocity", schedule=None):
        xh, zh, _ = solve(x_t, y, t, path, target, schedule)
        return xh.to(x_t.dtype), zh.to(x_t.dtype)

    def convert(x_t, y, t, from_target, to_target, path="rf", schedule=None):
        if from_target == to_target:
            return y.clone()
        xh, zh, (tt, p, s, _) = solve(x_t, y, t, path, from_target, schedule)
        _, _, c, d = _rows(tt, p, to_target, s, expm1)
        return (c * xh + d * zh).to(x_t.dtype)

    return {"family.recover": recover, "family.convert": convert}


INVERSE = ("family.recover", "family.convert")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("clause", INVERSE)
def test_textbook_inverse_passes_near_the_singular_points(clause, dtype):
    r = _run(clause, _textbook_inverse()[clause], dtype=dtype)
    assert r.status == "passed", r.failures


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("clause", INVERSE)
def test_a_divisor_clamped_at_5e_3_fails(clause, dtype):
    r = _run(clause, _textbook_inverse(clamp=5e-3)[clause], dtype=dtype)
    assert r.status == "failed", f"{clause}: det clamped to |det| ≥ 5e-3 was not detected at {dtype}"


@pytest.mark.parametrize("clause", INVERSE)
def test_b_without_expm1_fails(clause):
    r = _run(clause, _textbook_inverse(expm1=False)[clause])
    assert r.status == "failed", f"{clause}: b = √(1 − a²) was not detected"


@pytest.mark.parametrize("clause", INVERSE)
def test_without_the_boundary_draws_the_clamp_passes(clause, monkeypatch):
    """The control: with no declared points to approach, the clamped divisor passes (t stays in [0.01, 0.99])."""
    monkeypatch.setattr(I, "boundary_points", lambda *a, **k: ())
    assert _run(clause, _textbook_inverse(clamp=5e-3)[clause]).status == "passed"


# ---- vq.quantize: near-ties far from the origin, tiny z, the tie rule -----------------------------------------------
def _work(z, codebook):
    """float32 for bfloat16 inputs (the clause's declared work precision: bfloat16 is exact in float32)."""
    work = torch.float32 if z.dtype == torch.bfloat16 else z.dtype
    return z.to(work), codebook.to(work)


def quantize_textbook(z, codebook):
    z, e = _work(z, codebook)
    return ((z[:, None, :] - e[None, :, :]) ** 2).sum(-1).argmin(dim=1)     # argmin: the first minimum


def quantize_expanded_float32(z, codebook):
    """‖z‖² − 2 z·e + ‖e‖² in float32: the usual fast form (torch.cdist's 'use_mm', faiss)."""
    z, e = z.float(), codebook.float()
    return ((z * z).sum(1, keepdim=True) - 2 * z @ e.T + (e * e).sum(1)).argmin(dim=1)


def quantize_clamped_norm(z, codebook):
    """z normalised with a clamped norm and scaled back, F.normalize(z, eps=1e-6)·‖z‖: z itself for ‖z‖ ≥ 1e-6,
    shrunk below (the direct distances after that)."""
    z, e = _work(z, codebook)
    z = torch.nn.functional.normalize(z, dim=1, eps=1e-6) * z.norm(dim=1, keepdim=True)
    return ((z[:, None, :] - e[None, :, :]) ** 2).sum(-1).argmin(dim=1)


def quantize_ties_last(z, codebook):
    """Ties to the highest index (argmin over the reversed codebook): the clause's rule broken the other way."""
    d = ((_work(z, codebook)[0][:, None, :] - _work(z, codebook)[1][None]) ** 2).sum(-1)
    return d.shape[1] - 1 - d.flip(1).argmin(dim=1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_textbook_quantize_passes(dtype):
    r = _run("vq.quantize", quantize_textbook, dtype=dtype)
    assert r.status == "passed", r.failures


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_float32_expanded_distances_fail_near_ties(dtype):
    r = _run("vq.quantize", quantize_expanded_float32, dtype=dtype)
    assert r.status == "failed", f"float32 ‖z‖² − 2z·e + ‖e‖² was not detected at {dtype}"
    assert any("near-ties" in check for check, _ in r.failures), r.failures


def test_clamped_norm_fails_at_tiny_z():
    """At float64 (at float32 the shrunk 2z·e ≲ 2e-7 is within the declared rounding of the distances: accepted)."""
    r = _run("vq.quantize", quantize_clamped_norm)
    assert r.status == "failed", "z/max(‖z‖, 1e-6) was not detected"
    assert [check for check, _ in r.failures] == ["property:near-ties far from the origin and tiny z: the nearest "
                                                  "entry"], r.failures


def test_ties_broken_the_other_way_fail_quantize():
    r = _run("vq.quantize", quantize_ties_last)
    assert r.status == "failed" and any("lowest index" in check for check, _ in r.failures), r.failures


@pytest.mark.parametrize("planted", [quantize_expanded_float32, quantize_clamped_norm], ids=["expanded", "clamped"])
def test_without_the_near_ties_these_quantizers_pass(planted, monkeypatch):
    """The control: with the near-tie and tiny-z draws removed (the cases before issue 22), the value check and the
    near-tie property pass both slips (the exact-tie property, older, can catch the float32 expanded form when a
    matmul rounds two copies of an entry differently: by chance, on some draws)."""
    import genspec.conformance.checks.vq as vq
    monkeypatch.setattr(vq, "_near_tie_cases", lambda: vq._quantize_cases())
    monkeypatch.setattr(vq, "tie_gaps", lambda: ())
    monkeypatch.setattr(vq, "TINY_NORMS", ())
    r = _run("vq.quantize", planted)
    assert [c for c, _ in r.failures if c != "property:exact ties go to the lowest index"] == [], r.failures


# ---- ar.plausibility near its threshold ------------------------------------------------------------------------------
def plausible_textbook(l_y, alpha):
    """p = softmax(ℓ) in the input's dtype, V = p ≥ α max p (as both papers write it)."""
    p = torch.softmax(l_y, dim=1)
    return p >= alpha * p.amax(dim=1, keepdim=True)


def plausible_float32(l_y, alpha):
    """The same in float32 whatever the input's dtype (a mixed-precision sampler)."""
    p = torch.softmax(l_y.float(), dim=1)
    return p >= alpha * p.amax(dim=1, keepdim=True)


@pytest.mark.parametrize("dtype", DTYPES)
def test_textbook_plausibility_passes(dtype):
    r = _run("ar.plausibility", plausible_textbook, dtype=dtype)
    assert r.status == "passed", r.failures


def test_float32_plausibility_softmax_fails():
    r = _run("ar.plausibility", plausible_float32)
    assert r.status == "failed", "a float32 softmax deciding p_j ≥ α max p was not detected at float64"


def test_without_the_threshold_draws_the_float32_softmax_passes(monkeypatch):
    import genspec.conformance.checks.vq as vq
    monkeypatch.setattr(vq, "approach", lambda point, **kw: (point - 1.0,))      # a token far from the threshold
    r = _run("ar.plausibility", plausible_float32)
    assert r.status == "passed", r.failures


# ---- top-k ties: the rule the clause names ---------------------------------------------------------------------------
def _sampling(lowest_first=True):
    def sampling_probs(logits, temperature=1.0, top_k=0, top_k_ties="exactly_k"):
        work = torch.float32 if logits.dtype == torch.bfloat16 else logits.dtype
        lg = logits.to(work)
        n, K = lg.shape
        keep = torch.ones_like(lg, dtype=torch.bool)
        if 0 < top_k < K:
            idx = torch.arange(K, device=lg.device).expand(n, K)
            key = idx if lowest_first else K - 1 - idx
            order = torch.argsort(key, dim=1)                       # tie order, then a stable sort by the logit
            ranked = order.gather(1, torch.argsort(-lg.gather(1, order), dim=1, stable=True))
            keep = torch.zeros_like(keep).scatter(1, ranked[:, :top_k], True)
        scaled = torch.where(keep, lg / temperature, torch.full_like(lg, -math.inf))
        return torch.softmax(scaled, dim=1).to(logits.dtype)
    return sampling_probs


def _run_exactly_k(fn, dtype="float64"):
    target = Target(name="planted", bindings={"ar.sampling_distribution": fn}, backend="torch",
                    conventions={"ar.sampling_distribution": {"top_k_ties": "exactly_k"}})
    return api.check(target, ["ar.sampling_distribution"], dtype=dtype, target_independent=False,
                     shrink=False)["ar.sampling_distribution"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_exactly_k_with_ties_by_the_lowest_index_passes(dtype):
    r = _run_exactly_k(_sampling(lowest_first=True), dtype)
    assert r.status == "passed", r.failures


def test_exactly_k_with_ties_by_the_highest_index_fails():
    r = _run_exactly_k(_sampling(lowest_first=False))
    assert r.status == "failed", "top-k ties kept by the highest index were not detected"


# ---- family.edm_precond: the property's tolerance is absolute in M ---------------------------------------------------
def edm_textbook(sigma, sigma_data=0.5):
    """Karras et al. 2022, Table 1, as printed (σ² + σ_d² formed directly), float32 for bfloat16 inputs."""
    work = torch.float32 if sigma.dtype == torch.bfloat16 else sigma.dtype
    s = sigma.to(work)
    h2 = s * s + sigma_data**2
    out = (sigma_data**2 / h2, s * sigma_data / torch.sqrt(h2), 1 / torch.sqrt(h2), torch.log(s) / 4)
    return tuple(v.to(sigma.dtype) for v in out)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_edm_precond_textbook_passes_the_dev_profile(seed, monkeypatch):
    """D(x_σ, F_target) = x compared as an absolute error in M (1 + M): the textbook scalings pass in the random
    dev profile (three seeds) at float32, where the relative tolerance rejected them wherever |x| ≪ M."""
    import hypothesis.core
    monkeypatch.setattr(hypothesis.core, "global_force_seed", seed)
    from genspec.conformance.harness import run
    monkeypatch.setattr(run, "PROFILES", {**run.PROFILES, "dev": {**run.PROFILES["dev"], "database": False}})
    r = _run("family.edm_precond", edm_textbook, dtype="float32", profile="dev")
    assert r.status == "passed", r.failures


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_accelerated_passes_the_boundary_clauses(dtype):
    """The bundled torch target in the coarser dtypes on the clauses whose draws issue 22 changed (float64, and the
    whole suite at the three dtypes, are CI's `genspec conform` lines)."""
    clauses = ["family.recover", "family.convert", "family.edm_precond", "vq.quantize", "ar.plausibility"]
    res = api.check("accelerated", clauses, dtype=dtype, target_independent=False, shrink=False)
    assert {c: r.status for c, r in res.items()} == dict.fromkeys(clauses, "passed"), \
        {c: r.failures for c, r in res.items() if r.failures}


def test_optimal_prediction_at_a_float32_subnormal_t_is_not_a_false_failure(monkeypatch):
    """`genspec conform --dtype float32 --profile dev --seed 4032926127` drew t = 1e-40 (a float32 subnormal) for
    optimal.prediction's "targets are one posterior": there 1/b overflows float32 on rf (the target refuses, rightly)
    and b² = 1 − ᾱ is subnormal on vp-cosine (ε̂ ≈ 1e-21 is right only to its atol, which d = −1/b amplifies to
    8e-5 relative). Both failed the bundled target; the property now compares only where the dtype holds a², b² and
    the coefficients to full precision."""
    import hypothesis.core
    monkeypatch.setattr(hypothesis.core, "global_force_seed", 4032926127)
    from genspec.conformance.harness import run
    monkeypatch.setattr(run, "PROFILES", {**run.PROFILES, "dev": {**run.PROFILES["dev"], "database": False}})
    r = api.check("accelerated", ["optimal.prediction"], dtype="float32", profile="dev", target_independent=False,
                  shrink=False)["optimal.prediction"]
    assert r.status == "passed", r.failures
