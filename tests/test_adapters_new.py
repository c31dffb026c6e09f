"""The four adapters of issue 21 (k-diffusion, vector-quantize-pytorch, denoising-diffusion-pytorch,
rectified-flow-pytorch), the torchvision import shim they need beside the CPU torch, and their install pins.

Each adapter test runs where its library is installed (CI installs all of them: .ci/run) and skips otherwise; each
binding that passes has a planted-slip twin that fails, and each recorded difference is checked to fail in exactly
the checks its expected entry names.
"""
from __future__ import annotations

import pathlib
import re
import subprocess
import sys

import pytest

from genspec.conformance import adapters
from genspec.conformance.adapters import expected as E
from genspec.conformance.harness import api

ROOT = pathlib.Path(__file__).parents[1]
NEW = ("k_diffusion", "vector_quantize_pytorch", "denoising_diffusion_pytorch", "rectified_flow_pytorch")


def check(target, clauses, dtype="float64"):
    return api.check(target, clauses, dtype=dtype, target_independent=False, shrink=False)


def needs(lib):
    if not adapters.installed(lib):
        pytest.skip(f"{adapters.PIP[lib]} is not installed ({adapters.INSTALL})")
    return adapters.load(lib)


# ---- torchvision beside the CPU torch -------------------------------------------------------------------------
PROBE = """
import importlib.util, json, os, torch
report = {"installed": importlib.util.find_spec("torchvision") is not None}
if report["installed"]:
    try:
        torch.ops.load_library(os.path.join(importlib.util.find_spec("torchvision").submodule_search_locations[0],
                                            "_C.so"))
        report["ops_load"] = True
    except OSError:
        report["ops_load"] = False
    from genspec.conformance.adapters import ADAPTERS, installed, require
    from genspec.conformance.adapters.torchvision_ops import declare_missing_ops
    report["declared"] = declare_missing_ops()
    import torchvision
    from torchvision import transforms
    report["transforms"] = transforms.Normalize(0.5, 0.5)(torch.ones(1, 1, 1)).item()
    report["has_ops"], report["again"] = torchvision.extension._has_ops(), declare_missing_ops()
    try:
        torchvision.ops.nms(torch.rand(3, 4), torch.rand(3), 0.5)
        report["nms"] = "computed"
    except (RuntimeError, NotImplementedError) as e:
        report["nms"] = type(e).__name__
    report["libraries"] = {}
    for lib in ADAPTERS:
        if installed(lib):
            try:
                require(lib)
                report["libraries"][lib] = "imports"
            except Exception as e:
                report["libraries"][lib] = f"{type(e).__name__}: {e}"
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def probe() -> dict:
    """One fresh interpreter (torchvision not yet imported): what declare_missing_ops does, and the libraries."""
    import json
    r = subprocess.run([sys.executable, "-W", "ignore", "-c", PROBE], capture_output=True, text=True, cwd=ROOT,
                       timeout=600, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    if not out["installed"]:
        pytest.skip("torchvision is not installed")
    return out


def test_torchvision_imports_and_its_ops_still_raise(probe):
    """With its C++ ops unloadable (the CUDA build beside the CPU torch) torchvision imports after
    declare_missing_ops, its Python code works, and its ops raise instead of computing anything; where its ops load
    (a build for this torch) nothing is declared."""
    assert probe["transforms"] == 1.0
    if probe["ops_load"]:
        assert (probe["declared"], probe["has_ops"], probe["nms"]) == (False, True, "computed")
    else:
        assert (probe["declared"], probe["has_ops"], probe["again"]) == (True, False, False)
        assert probe["nms"] in ("RuntimeError", "NotImplementedError")


def test_without_the_declaration_torchvision_does_not_import(probe):
    """The trap the declaration is for (nothing to show where torchvision's ops load beside this torch)."""
    if probe["ops_load"]:
        pytest.skip("torchvision's ops load beside this torch: no trap here")
    r = subprocess.run([sys.executable, "-c", "import torchvision"], capture_output=True, text=True, timeout=300)
    assert r.returncode != 0 and "torchvision::nms does not exist" in r.stderr


def test_every_adapter_library_imports(probe):
    missing = [lib for lib in adapters.ADAPTERS if not adapters.installed(lib)]
    if missing:
        pytest.skip(f"not installed: {', '.join(adapters.PIP[m] for m in missing)}")
    assert probe["libraries"] == dict.fromkeys(adapters.ADAPTERS, "imports")


# ---- install pins ---------------------------------------------------------------------------------------------
def test_every_adapter_is_pinned_once_in_the_install_files():
    """PIP = the `peers` extra + peers-no-deps.txt (k-diffusion, installed --no-deps); every expected-outcome file
    was measured with that pin; every pin is exact."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    extra = re.findall(r'"([^"]+)"', re.search(r"^peers = \[(.*?)\]", pyproject, re.M | re.S).group(1))
    nodeps = [ln.strip() for ln in (ROOT / "peers-no-deps.txt").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")]
    libs = {p.split("==")[0] for p in adapters.PIP.values()}
    assert sorted(adapters.PIP.values()) == sorted(extra + [p for p in nodeps if p.split("==")[0] in libs])
    assert all("==" in p for p in extra + nodeps)
    for lib in adapters.ADAPTERS:
        assert E.recorded_for(lib) in (None, adapters.PIP[lib])
    assert "torchvision==0.28.0" in (ROOT / "peers-constraints.txt").read_text().split()


# ---- the adapters ---------------------------------------------------------------------------------------------
PASSING = {   # one clause each (genspec matrix, run by CI, checks every bound clause)
    "k_diffusion": ["family.edm_denoise"],    # a Module-style binding with σ per sample (layout "B")
    "vector_quantize_pytorch": ["vq.straight_through"],   # vq.quantize: a recorded near-tie difference
    "denoising_diffusion_pytorch": ["ddpm.forward"],
    "rectified_flow_pytorch": ["rf.interpolation"],
}


@pytest.mark.parametrize("lib", NEW)
def test_adapter_binds_its_clauses_and_passes(lib):
    tgt = needs(lib)
    results = check(tgt, PASSING[lib])       # one row per declared variant combination: "vq.x (estimator=rotation)"
    assert {c.split(" (")[0] for c in results} == set(PASSING[lib])
    assert {r.status for r in results.values()} == {"passed"}, {c: r.status for c, r in results.items()}
    if lib == "denoising_diffusion_pytorch":   # k = −1 (the data) is no index of its buffers: declined, not failed
        assert any("t outside" in u for u in results["ddpm.forward"].unsupported)


def _slipped(lib, clause, wrap):
    """The adapter's target with one binding wrapped (a planted slip)."""
    tgt = needs(lib)
    tgt.bindings[clause] = wrap(tgt.bindings[clause])
    return tgt


@pytest.mark.parametrize("lib, clause, wrap", [
    ("k_diffusion", "schedule.karras", lambda f: lambda n, sigma_min, sigma_max, rho: f(n, sigma_min, sigma_max,
                                                                                        rho * 1.01)),
    ("k_diffusion", "family.edm_denoise", lambda f: lambda x_sigma, F, sigma, sigma_data=0.5: f(
        x_sigma, F, sigma, 1.0)),   # k-diffusion's own default σ_d = 1 instead of the clause's
    ("vector_quantize_pytorch", "vq.loss", lambda f: lambda z, e, beta=0.25, codebook="ema": f(z, e, beta * 2,
                                                                                                codebook)),
    ("denoising_diffusion_pytorch", "ddpm.forward", lambda f: lambda x0, eps, t, betas: f(x0, eps, t + 1, betas)),
    ("rectified_flow_pytorch", "rf.interpolation", lambda f: lambda x, z, t: f(z, x, t)),
])
def test_a_planted_slip_in_an_adapter_fails(lib, clause, wrap):
    tgt = _slipped(lib, clause, wrap)
    rows = {row: r.status for row, r in check(tgt, [clause]).items() if row.split(" (")[0] == clause}
    assert rows and set(rows.values()) == {"failed"}, rows     # every declared variant's row


@pytest.mark.parametrize("lib", [lib for lib in ("denoising_diffusion_pytorch", "vector_quantize_pytorch")
                                 if E.load(lib)])   # denoising_diffusion_pytorch: its differences are now variants
def test_recorded_differences_fail_only_where_recorded(lib):
    tgt = needs(lib)
    exp = E.load(lib)
    clauses = sorted({c for c, _ in exp})
    results = {(c, "float64"): r for c, r in check(tgt, clauses).items()}
    assert all(r.status == "failed" for r in results.values()), {c: r.status for c, r in results.items()}
    unexpected, _ = E.verdicts(lib, results, exp)
    assert unexpected == []
