"""``genspec matrix -n N``: each cell of the matrix (library, convention variant, dtype) as one pytest item, so that
pytest-xdist spreads them over N worker processes (conformance/harness/matrix.py runs it and builds the table)."""
from __future__ import annotations

import json

from genspec.conformance.harness import matrix


def pytest_generate_tests(metafunc):
    cells = [tuple(c) for c in json.loads(metafunc.config.getoption("matrix_cells"))]
    metafunc.parametrize("cell", cells, ids=[f"{lib}-{i}-{d}" for lib, i, d in cells])


def test_cell(cell, request):
    lib, variant_index, dtype = cell
    text = matrix.check_cell(lib, variant_index, dtype, request.config.getoption("matrix_profile"))
    request.node.user_properties.append((matrix._SHIPPED, text))
