"""torchvision beside torch's CPU build: its Python code without its C++ ops, which fail loudly.

The package index has torchvision 0.28.0 (the release for torch 2.13.0) only as a CUDA build: its ``_C.so`` links
``libtorch_cuda.so`` and cannot load beside the CPU torch. torchvision handles that for every op but two:
``torchvision/extension.py`` catches the failed load and makes each op raise "Couldn't load custom C++ ops", yet
``torchvision/_meta_registrations.py`` registers fake kernels for ``torchvision::nms`` and ``torchvision::qnms``
without checking, so ``import torchvision`` itself fails (``RuntimeError: operator torchvision::nms does not exist``),
and with it every library that imports torchvision at module level (k-diffusion, denoising-diffusion-pytorch,
rectified-flow-pytorch: for image transforms and ``save_image`` in their training code, never in the math bound here).

:func:`declare_missing_ops` declares the schemas of those two ops (as torchvision's C++ declares them) when, and only
when, the C++ library cannot load, before torchvision is imported. Nothing else changes: torchvision's Python code is
the released one, ``torchvision.extension._has_ops()`` stays False, and calling any of its C++ ops still raises (the
two declared ones have no kernel: "Could not run 'torchvision::nms' with arguments from the 'CPU' backend").
"""
from __future__ import annotations

import importlib.util
import os
import sys

SCHEMA = "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor"
UNGUARDED = ("nms", "qnms")
"""the ops torchvision/_meta_registrations.py registers fake kernels for whether or not its C++ library loaded"""


def declare_missing_ops() -> bool:
    """Declare ``torchvision::nms`` and ``::qnms`` if torchvision is installed, not yet imported, and its C++ op
    library cannot load beside this torch; returns whether it declared them."""
    found = importlib.util.find_spec("torchvision")
    if found is None or "torchvision" in sys.modules or not found.submodule_search_locations:
        return False
    import torch
    if all(_has_op(op) for op in UNGUARDED):   # declared already (by its library, or by an earlier call)
        return False
    lib = os.path.join(list(found.submodule_search_locations)[0], "_C.so")
    try:
        torch.ops.load_library(lib)       # loads when torchvision matches this torch's build: nothing to declare
        return False
    except (OSError, RuntimeError):
        pass
    for op in UNGUARDED:
        if not _has_op(op):
            torch.library.define(f"torchvision::{op}", SCHEMA)
    return True


def _has_op(name: str) -> bool:
    import torch
    try:
        getattr(torch.ops.torchvision, name)
        return True
    except (AttributeError, RuntimeError):
        return False


def main() -> int:
    """``python -m genspec.conformance.adapters.torchvision_ops`` (.ci/run): import every adapter's library as the
    adapters do; print one line per library and return 1 if any fails to import."""
    from . import ADAPTERS, PIP, require
    failed = 0
    for lib in ADAPTERS:
        try:
            require(lib)
            print(f"imports: {PIP[lib]}")
        except Exception as e:  # noqa: BLE001 - each failure is reported, whatever its type
            failed += 1
            print(f"does not import: {PIP[lib]}: {type(e).__name__}: {e}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
