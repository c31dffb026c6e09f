"""Adapters: real libraries bound to the spec as :class:`~genspec.conformance.Target` s, one module per library.

Each module defines ``target()`` (so ``genspec conform --target conformance.adapters.torchcfm`` runs it) and
imports its library only there: without the library, ``target()`` raises a TargetError naming the pip command.
``expected/<library>.json`` records the real differences of the library from the spec (see :mod:`.expected`);
``genspec matrix`` runs every adapter whose library is installed (conformance/harness/matrix.py).
"""
from __future__ import annotations

import importlib
import importlib.util

from genspec.spec.errors import TargetError

ADAPTERS: tuple[str, ...] = ("diffusers", "torchcfm", "flow_matching")
ADAPTERS += ("k_diffusion", "vector_quantize_pytorch", "denoising_diffusion_pytorch", "rectified_flow_pytorch")
"""the adapter modules, each named after the library it binds (the PyPI name where it differs: see PIP)."""
PIP = {"diffusers": "diffusers==0.42.1", "torchcfm": "torchcfm==1.0.7", "flow_matching": "flow_matching==1.0.10"}
PIP |= {"k_diffusion": "k-diffusion==0.1.1.post1", "vector_quantize_pytorch": "vector-quantize-pytorch==1.32.0",
        "denoising_diffusion_pytorch": "denoising-diffusion-pytorch==2.3.4",
        "rectified_flow_pytorch": "rectified-flow-pytorch==0.14.0"}
INSTALL = 'pip install "genspec[peers]" -c peers-constraints.txt  # the constraints file keeps torch 2.13.0 (CPU)'


def require(library: str):
    """Import ``library`` (or a module of it: ``"flow_matching.path"``) or raise a TargetError naming the pip command
    that installs it."""
    from .torchvision_ops import declare_missing_ops
    declare_missing_ops()   # torchvision's Python code beside the CPU torch: see torchvision_ops.py
    try:
        return importlib.import_module(library)
    except ImportError as e:
        top = library.split(".")[0]
        raise TargetError(f"the {top} adapter needs {PIP.get(top, top)}: {INSTALL} ({e})") from None


def times(t, like):
    """The spec's t (a number, or one per sample) as a tensor with one value per sample of ``like``, in its dtype
    and on its device: the form library functions take."""
    import torch
    return torch.as_tensor(t, dtype=like.dtype, device=like.device).reshape(-1).expand(like.shape[0])


def installed(library: str) -> bool:
    return importlib.util.find_spec(library) is not None


def load(library: str, **variant):
    """The adapter's Target, in a convention variant it offers (its ``VARIANTS``) if given; TargetError if the
    library is not installed."""
    if library not in ADAPTERS:
        raise TargetError(f"no adapter {library!r}; the adapters are {', '.join(ADAPTERS)}")
    return module(library).target(**variant)


def module(library: str):
    return importlib.import_module(f"genspec.conformance.adapters.{library}")


def variants(library: str) -> list[dict[str, str]]:
    """The non-default convention variants an adapter offers, one ``{convention: variant}`` each: a library that
    implements several variants of a clause (diffusers' beta_schedule, prediction_type) is checked in each."""
    offered = getattr(module(library), "VARIANTS", {})
    return [{name: v} for name, vs in offered.items() for v in vs[1:]]
