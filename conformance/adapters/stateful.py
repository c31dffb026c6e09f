"""Helpers that make stateful, integer-timestep schedulers (diffusers') callable as the spec's per-sample functions.

A diffusers scheduler is an object configured once, keyed by integer timesteps, that takes ONE scalar timestep per
``step`` call, draws its noise inside ``step``, and reads ``shape[1]`` as the channel axis. The spec's functions take
one time per sample, the noise as an argument, and any sample shape. These helpers bridge the two without touching
the math: :func:`per_sample` runs one call per sample on a (1, D) view and stacks the results; :func:`injected_noise`
hands ``step`` the spec's ξ where it would draw ``randn_tensor``.
"""
from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager


def per_sample(call: Callable, steps: tuple, *arrays):
    """``call(*steps_i, *rows_i)`` for each sample i: ``steps`` are integer timesteps (each a scalar or one per
    sample) handed over as Python ints, the rows are each array's sample i as shape (1, D) (channels on axis 1, as
    a scheduler expects); the results are stacked back to the first array's shape."""
    import torch
    x = arrays[0]
    ks = [torch.as_tensor(k).reshape(-1).expand(x.shape[0]).tolist() for k in steps]
    rows = [call(*(k[i] for k in ks), *(a[i].reshape(1, -1) for a in arrays)) for i in range(x.shape[0])]
    return torch.cat(rows).reshape(x.shape)


@contextmanager
def injected_noise(module, noise):
    """Within the block, ``module.randn_tensor`` (the scheduler module's noise source) returns ``noise``."""
    original = module.randn_tensor
    module.randn_tensor = lambda shape, **kw: noise.reshape(shape)
    try:
        yield
    finally:
        module.randn_tensor = original
