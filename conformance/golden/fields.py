"""Fields a file can carry: the callable arguments of a clause (a velocity f(x, t), a conditional predictor
f(x, y, t)) replaced in the goldens by a linear field given by its coefficients.

    linear              f(x, t)    = X A + t b          X = x as (n, D) rows, A (D, D), b (D,), t (n,)
    linear_conditional  f(x, y, t) = X A[y] + t b[y]    A (C + 2, D, D), b (C + 2, D): rows 0..C−1 the classes,
                                                        row C the null label C, row C + 1 the null label −1

The output has x's shape. Evaluate the field in float64 and round its output to the run's dtype (what the Python
harness does). Any field is a valid input of these clauses; a linear one is exact, cheap and easy to write in any
language, and its Lipschitz constant (‖A‖ ≲ 1) keeps the samplers' error within the clauses' tolerances. The two
null labels read different rows, so an implementation that sends the wrong one (convention `null_label`) fails.
"""
from __future__ import annotations

import zlib

import numpy as np

from ..harness.declare import Dual


class LinearField:
    def __init__(self, A: np.ndarray, b: np.ndarray):
        self.A, self.b = np.asarray(A, dtype=np.float64), np.asarray(b, dtype=np.float64)
        self.conditional = self.A.ndim == 3
        self.kind = "linear_conditional" if self.conditional else "linear"

    def __call__(self, x, *rest):
        """NumPy: f(x, t) or f(x, y, t)."""
        x = np.asarray(x, dtype=np.float64)
        t = np.asarray(rest[-1], dtype=np.float64)
        X = x.reshape(x.shape[0], -1)
        if self.conditional:
            y = np.asarray(rest[0])
            out = np.einsum("ni,nij->nj", X, self.A[y]) + t.reshape(-1, 1) * self.b[y]
        else:
            out = X @ self.A + t.reshape(-1, 1) * self.b
        return out.reshape(x.shape)

    def torch(self, x, *rest):
        """torch: computed in float64, returned in x's dtype and device."""
        import torch
        t = torch.as_tensor(rest[-1]).double().to(x.device)
        X = x.reshape(x.shape[0], -1).double()
        A, b = torch.as_tensor(self.A, device=x.device), torch.as_tensor(self.b, device=x.device)
        if self.conditional:
            y = torch.as_tensor(rest[0], device=x.device).long()
            out = torch.einsum("ni,nij->nj", X, A[y]) + t.reshape(-1, 1) * b[y]
        else:
            out = X @ A + t.reshape(-1, 1) * b
        return out.reshape(x.shape).to(x.dtype)

    def dual(self) -> Dual:
        return Dual(numpy=self, torch=self.torch, label=repr(self))

    def __repr__(self) -> str:
        return f"<{self.kind} field, A {self.A.shape}>"


def linear_field(clause_id: str, case: int, name: str, D: int, classes: int | None, scale: float = 0.5) -> LinearField:
    """A field seeded by (clause, case, argument): reproducible, distinct per argument (f, f_ema, velocity)."""
    seed = zlib.crc32(f"{clause_id}/{case}/{name}".encode())
    rng = np.random.default_rng(seed)
    lead = () if classes is None else (classes + 2,)  # NumPy reads y = −1 as the last row, C + 1
    return LinearField(rng.normal(0.0, scale / np.sqrt(D), lead + (D, D)), rng.normal(0.0, 1.0, lead + (D,)))


def replace_fields(clause_id: str, case: int, inputs: dict) -> dict:
    """The inputs with each callable (Dual) argument replaced by a linear field of the right size.

    Conditional (f(x, y, t)) when the clause has labels y; C = num_classes when given, else the largest label + 1.
    D: the feature size of the first array argument with rows.
    """
    if not any(isinstance(v, Dual) for v in inputs.values()):
        return inputs
    rows = next((v for v in inputs.values() if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.ndim >= 2), None)
    if rows is None:
        raise ValueError("a callable argument, but no (n, D) array to size a linear field by")
    D = int(np.prod(rows.shape[1:]))
    classes = None
    if "y" in inputs:
        classes = int(inputs.get("num_classes", int(np.max(inputs["y"], initial=0)) + 1))
    return {k: (linear_field(clause_id, case, k, D, classes) if isinstance(v, Dual) else v) for k, v in inputs.items()}
