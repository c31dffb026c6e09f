"""genspec: an executable specification of generative models. Sub-packages: genspec.spec (the clauses),
genspec.reference (float64 NumPy), genspec.accelerated (PyTorch and the model stack), genspec.conformance (the suite
and the `genspec` command), genspec.benchmarks."""
import os as _os

# In a source checkout the sub-packages are the repository's top-level folders, beside this one; in a wheel they are
# installed inside this package (setuptools package-dir) and nothing is added.
_root = _os.path.dirname(_os.path.dirname(_os.path.abspath(__file__)))
if not _os.path.isdir(_os.path.join(_os.path.dirname(__file__), "spec")) and \
        _os.path.isfile(_os.path.join(_root, "spec", "__init__.py")):
    __path__.append(_root)  # type: ignore[name-defined]  # noqa: F821
