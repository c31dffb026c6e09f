"""Type-check genspec as it is installed: mypy on the packages ``genspec.spec``, ``genspec.reference``,
``genspec.accelerated`` and ``genspec.conformance``.

    python tools/typecheck.py [mypy arguments...]

The wheel maps the repository's folders into the ``genspec`` namespace (pyproject's package-dir), which mypy cannot
read, and checking the folders as top-level packages would leave every ``from genspec...`` import unresolved (Any).
So mypy runs on a temporary tree ``genspec/{spec,reference,...}`` of links to the folders, with pyproject's settings.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("spec", "reference", "accelerated", "conformance")


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="genspec-mypy-") as tree:
        pkg = os.path.join(tree, "genspec")
        os.mkdir(pkg)
        with open(os.path.join(ROOT, "genspec", "__init__.py"), encoding="utf-8") as f, \
                open(os.path.join(pkg, "__init__.py"), "w", encoding="utf-8") as g:
            g.write(f.read())
        for name in (*PACKAGES, "benchmarks"):
            os.symlink(os.path.join(ROOT, name), os.path.join(pkg, name))
        args = ["--config-file", os.path.join(ROOT, "pyproject.toml"), *argv]
        for name in PACKAGES:
            args += ["-p", f"genspec.{name}"]
        return subprocess.run([sys.executable, "-m", "mypy", *args], cwd=tree, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
