"""What `pip install genspec` puts in a user's environment: one top-level package, ``genspec`` (issue 25). The
repository keeps its folders (spec/, reference/, accelerated/, conformance/, benchmarks/); pyproject's package-dir
maps them to genspec.spec, genspec.reference, ... so a user's own ``benchmarks`` or ``spec`` module is neither shadowed
nor shadowing."""
import ast
import pathlib
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TOP = ("spec", "reference", "accelerated", "conformance", "benchmarks")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    p = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(out), str(ROOT)], capture_output=True, text=True, timeout=300)
    if p.returncode != 0 and "No module named" in p.stderr:
        pytest.skip(f"cannot build a wheel here: {p.stderr.strip().splitlines()[-1]}")
    assert p.returncode == 0, p.stderr
    (whl,) = out.glob("genspec-*.whl")
    return zipfile.ZipFile(whl)


def test_the_wheel_installs_one_top_level_package(wheel):
    tops = {n.split("/")[0] for n in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"genspec"}, sorted(tops)
    names = set(wheel.namelist())
    for t in TOP:   # every package is inside the namespace, with its data files
        assert f"genspec/{t}/__init__.py" in names, t
    assert "genspec/conformance/harness/conform.ini" in names
    assert any(n.startswith("genspec/conformance/adapters/expected/") and n.endswith(".json") for n in names)
    entry = wheel.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "genspec = genspec.conformance.harness.cli:main" in entry


def test_no_module_imports_a_bare_top_level_name():
    """Every import of the project's own packages goes through the namespace (a bare `import spec` would work in a
    checkout, where the folders sit on sys.path, and fail, or load a second copy, once installed)."""
    bad = []
    for path in [*ROOT.glob("*/**/*.py")]:
        if any(part.startswith((".", "build")) for part in path.relative_to(ROOT).parts):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module else [])
            bad += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names if n.split(".")[0] in TOP]
    assert not bad, bad
