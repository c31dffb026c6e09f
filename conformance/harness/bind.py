"""Binding library code as its authors wrote it: the calling convention, argument maps, layouts, structural support,
modules and stateful objects. :class:`~genspec.conformance.Target` takes these declarations; :class:`Plan` is what the
harness makes of them for one clause (checked when the target loads, used on every call, shown by ``genspec explain``).

**The calling convention.** For clause ``c`` the harness calls the bound function as ``fn(**args)``: one keyword
argument per input and parameter symbol of ``c`` (``genspec explain c`` lists them with their shapes), named as the
symbol (``v_y``, ``v_null``, ``w``, ``h``, ``gamma``, ...). Arrays arrive as NumPy arrays (``backend="numpy"``) or
torch tensors (``backend="torch"``) in the run's dtype, parameters as Python scalars or strings. Optional inputs
(a mask, a bias, ``noise``) are passed only on the inputs that have them. The return value is compared with the
reference's (an array, or a tuple / dict of arrays).

**Argument maps** (``Target(arguments={selector: map})``) change that call, as data:

``{"v_y": "cond", "v_null": "uncond", "w": "guidance_scale"}``
    renames: the clause's ``v_y`` is passed as ``cond=``; unmapped symbols keep their names.
``("h", "beta", "gamma")``
    positional order (DiT's ``modulate(x, shift, scale)``): those symbols positionally, the rest by keyword.
``{"h": 0, "beta": 1, "gamma": 2, "eps": "epsilon"}``
    positions and names mixed.
``{"flip_sin_to_cos": const(True)}``
    a constant the library needs and the clause does not have (a keyword, or a position in a tuple map).
``{"return": "prev_sample"}``
    what to take of the result: an attribute or key (``"prev_sample"``), an index (``1``), a tuple of those for a
    tuple-valued clause (``("x_t", "dx_t")``), or a callable.

The signature of every bound function is checked against its plan when the target loads, before any check runs: a
name the clause passes that the function does not accept, or a required parameter that nothing fills, is one
:class:`~spec.errors.TargetError` line naming both sides.

**Layouts** (``Target(layouts={selector: {symbol: layout}})``) say which array layout the function takes; the harness
then hands it only that. A layout is a string of axes relative to the array the symbol broadcasts against (the
symbol's ``broadcast_to``, else the clause's first array input): ``"B"`` one value per sample, ``"B D"`` one row per
sample (DiT's γ, β), ``"B ..."`` one value per sample as a column broadcastable to that array (``(B, 1, 1, 1)``),
``"full"`` broadcast to its whole shape, ``"rows"`` the array flattened to one row per sample ``(B, -1)`` (the result
is reshaped back to the first such argument's shape: a scheduler reading ``shape[1]`` as channels), and ``"one"``:
one scalar per call (a scheduler's integer timestep) — the harness calls the function once per sample on one-sample
slices and stacks the results. An input the layout cannot
express (γ that varies along N for ``"B D"``) is outside support, never a failure.

**Structural support** (``Target(supports={selector: {...}})``): per parameter a tuple of values, an
:func:`interval` (``{"t": interval(1e-3, 1)}``), or a predicate on the value; under the key ``"where"`` predicates
on the whole input (:class:`Where`: :data:`SELF_ATTENTION`, :func:`without` some optional inputs, :func:`even`,
:func:`square`, or your own ``Where("name", test)``). A function that raises ``NotImplementedError`` (or a type
declared in ``Target(unsupported_errors=...)``) declines that input: it is outside support, with its message.

**Modules and stateful objects**: :class:`Module` binds an ``nn.Module`` (or any object) built per call from the
clause's arguments, with a declared weight mapping; ``Target(noise={selector: "pkg.module.randn_tensor"})`` makes
the function the library draws noise with return the clause's ``noise`` argument during the call.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genspec.spec.errors import TargetError

RETURN = "return"
"""the key of an argument map that says what to take of the function's result."""


@dataclass(frozen=True)
class Const:
    """A constant argument the library needs and the clause does not have."""

    value: object

    def __repr__(self):
        return f"const({self.value!r})"


def const(value) -> Const:
    return Const(value)


class Outside(Exception):  # noqa: N818 - an outcome: the input lies outside what the target declares
    """An input outside the target's declared support (a value, a layout, a predicate or the target's own
    NotImplementedError); the harness turns it into ``Unsupported``."""


# ---- structural support -------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = True

    def __call__(self, v) -> bool:
        a = np.asarray(v, dtype=np.float64)
        lo = a >= self.low if self.low_closed else a > self.low
        hi = a <= self.high if self.high_closed else a < self.high
        return bool(np.all(lo & hi))

    def __str__(self):
        return (("[" if self.low_closed else "(") + f"{self.low:g}, {self.high:g}" + ("]" if self.high_closed else ")"))


def interval(low: float = -math.inf, high: float = math.inf, *, low_closed: bool = True,
             high_closed: bool = True) -> Interval:
    """The values in [low, high] (every element of an array argument: ``{"t": interval(1e-3, 1)}``)."""
    return Interval(float(low), float(high), low_closed, high_closed)


@dataclass(frozen=True)
class Where:
    """A named predicate on a call's inputs (NumPy, in the declared variants' units, before any layout)."""

    name: str
    test: Callable[[dict], bool]
    omits: tuple[str, ...] = ()
    """optional inputs this predicate excludes: the signature check does not ask the function to accept them."""

    def __str__(self):
        return self.name


def without(*names: str) -> Where:
    """Inputs that lack these optional arguments (or pass them as None): projections without bias, no mask."""
    return Where(f"without {', '.join(names)}", lambda inp: all(inp.get(n) is None for n in names), names)


def even(name: str, axis: int = -1) -> Where:
    return Where(f"{name}.shape[{axis}] even", lambda inp: np.shape(inp[name])[axis] % 2 == 0)


def square(name: str) -> Where:
    """The last two axes of ``name`` equal (a square grid)."""
    return Where(f"{name} square", lambda inp: np.shape(inp[name])[-1] == np.shape(inp[name])[-2])


SELF_ATTENTION = Where("self-attention (context = x)",
                       lambda inp: np.shape(inp["context"]) == np.shape(inp["x"])
                       and bool(np.array_equal(inp["context"], inp["x"])))
"""attention.cross called with its context equal to x."""

SAME_WIDTHS = Where("w_q, w_k, w_v of one shape (one fused qkv projection)",
                    lambda inp: np.shape(inp["w_q"]) == np.shape(inp["w_k"]) == np.shape(inp["w_v"]))


def _describe_subset(name: str, allowed) -> str:
    if isinstance(allowed, Interval):
        return f"{name} in {allowed}"
    if callable(allowed):
        return f"{name}: {getattr(allowed, '__name__', 'predicate')}"
    return f"{name} in {{{', '.join(map(str, allowed))}}}"


def describe_support(subset: dict) -> str:
    """One compact line: ``path in {rf, vp}; t in [0.001, 1]; self-attention (context = x)``."""
    parts = [_describe_subset(k, v) for k, v in subset.items() if k != "where"]
    parts += [str(w) for w in subset.get("where", ())]
    return "; ".join(parts)


def outside(subset: dict, inputs: dict) -> list[str]:
    """Why ``inputs`` lie outside ``subset`` (each a short declaration, not the value: the report stays compact)."""
    why = []
    for k, allowed in subset.items():
        if k == "where":
            why += [f"not {w}" for w in allowed if not w.test(inputs)]
        elif k in inputs and inputs[k] is not None:
            v = inputs[k]
            if isinstance(allowed, Interval) or (callable(allowed) and not isinstance(allowed, tuple)):
                if not allowed(v):
                    why.append(f"{k} outside {allowed}" if isinstance(allowed, Interval) else
                               f"{k} fails {getattr(allowed, '__name__', 'predicate')}")
            elif v not in allowed:     # a choice is named; a number is not (hundreds of them would be listed)
                why.append(f"{k}={v!r}" if isinstance(v, str) else _describe_subset(k, allowed).replace(" in ", " ∉ "))
    return why


# ---- layouts ------------------------------------------------------------------------------------
LAYOUTS = ("B", "B D", "B ...", "full", "one", "rows")


def apply_layout(name: str, layout: str, value, like, per_sample: bool = False) -> object:
    """``value`` (NumPy, broadcastable to ``like``) in ``layout`` (see the module docstring); Outside if it cannot
    be expressed there. ``per_sample``: a 1-d value is one entry per sample (a time t), not NumPy's trailing
    alignment (γ of shape (D,))."""
    if layout == "one":
        return value
    v = np.asarray(value)
    if layout == "rows":
        return np.array(v.reshape(v.shape[0], -1)) if v.ndim else v
    shape = np.shape(like)
    if not shape:
        raise TargetError(f"layout {layout!r} of {name}: the array it is relative to is a scalar")
    if per_sample and v.ndim == 1 and v.shape[0] == shape[0]:
        v = v.reshape(-1, *[1] * (len(shape) - 1))
    try:
        full = np.broadcast_to(v, shape)
    except ValueError:
        raise Outside(f"{name} of shape {v.shape} does not broadcast to {shape}") from None
    if layout == "full":
        return np.array(full)
    keep_last = layout == "B D"
    dropped = tuple(range(1, len(shape) - (1 if keep_last else 0)))
    if keep_last and len(shape) < 2:
        raise TargetError(f"layout 'B D' of {name}: the array it is relative to has shape {shape}")
    first = full[(slice(None),) + (0,) * len(dropped)] if dropped else full
    if dropped and not np.array_equal(np.broadcast_to(np.expand_dims(first, dropped), shape), full):
        raise Outside(f"{name} varies along axes {dropped} of {shape}: not expressible in layout {layout!r}")
    if layout == "B ...":
        return np.array(first.reshape(shape[0], *[1] * (len(shape) - 1)))
    return np.array(first)


# ---- the call -----------------------------------------------------------------------------------
@dataclass
class Plan:
    """How the harness calls one bound function for one clause: its argument map resolved against the clause."""

    clause: str
    passable: tuple[str, ...]
    """every name the clause may pass (symbols, optional inputs, the conventions the target declares several of)"""
    always: tuple[str, ...]
    """the names passed on every call"""
    positional: list = field(default_factory=list)
    """clause names (or Const) passed positionally, in order"""
    keywords: dict = field(default_factory=dict)
    """clause name -> the library's keyword; library keyword -> Const"""
    returns: object = None
    layouts: dict = field(default_factory=dict)
    omitted: tuple[str, ...] = ()
    """optional inputs a ``without(...)`` support excludes (never passed)"""
    consumed: tuple[str, ...] = ()
    """arguments the harness hands over another way (``noise`` through ``Target(noise=...)``): not passed"""

    @classmethod
    def make(cls, clause_id: str, amap, layouts: dict | None = None, omitted=(), extra=(), consumed=()) -> Plan:
        from genspec import spec

        from .registry import reference_function
        c = spec.get(clause_id)
        convs = {cv.name for cv in c.conventions}
        names = [s.name for s in c.symbols if s.role != "output"]
        always = [s.name for s in c.symbols if s.role != "output"]
        ref = reference_function(clause_id)
        if ref is not None:
            ps = [p for p in inspect.signature(ref).parameters.values()
                  if p.name not in convs and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
            names += [p.name for p in ps if p.name not in names]
            always = [n for n in always if n not in {p.name for p in ps if p.default is not p.empty}]
        names += [e for e in extra if e not in names]
        always += [e for e in extra if e not in always]
        plan = cls(clause_id, tuple(names), tuple(always), layouts=dict(layouts or {}), omitted=tuple(omitted),
                   consumed=tuple(consumed))
        amap = amap or {}
        if isinstance(amap, (list, tuple)):
            amap = {k: i for i, k in enumerate(amap) if not isinstance(k, Const)} | \
                   {("#", i): k for i, k in enumerate(amap) if isinstance(k, Const)}
        if not isinstance(amap, dict):
            raise TargetError(f"arguments for {clause_id}: expected a dict or a tuple of symbol names, got {amap!r}")
        pos: dict[int, object] = {}
        for k, v in amap.items():
            if k == RETURN:
                plan.returns = v
            elif isinstance(k, tuple):            # a constant at a position of a tuple map
                pos[k[1]] = v
            elif isinstance(v, Const):
                plan.keywords[k] = v
            elif k not in plan.passable:
                raise TargetError(f"arguments for {clause_id}: {k!r} is not an argument of the clause; it passes "
                                  f"{', '.join(plan.passable)} (a constant is {k}=const(value))")
            elif isinstance(v, int) and not isinstance(v, bool):
                pos[v] = k
            elif isinstance(v, str):
                plan.keywords[k] = v
            else:
                raise TargetError(f"arguments for {clause_id}: {k!r} maps to {v!r}; expected the library's "
                                  f"keyword (a str), a position (an int) or const(value)")
        if sorted(pos) != list(range(len(pos))):
            raise TargetError(f"arguments for {clause_id}: positions {sorted(pos)} are not 0..{len(pos) - 1}")
        plan.positional = [pos[i] for i in range(len(pos))]
        for s, lay in plan.layouts.items():
            if s not in plan.passable:
                raise TargetError(f"layouts for {clause_id}: {s!r} is not an argument of the clause "
                                  f"({', '.join(plan.passable)})")
            if lay not in LAYOUTS:
                raise TargetError(f"layouts for {clause_id}: {s}: {lay!r} is not a layout; expected one of {LAYOUTS}")
        return plan

    @property
    def trivial(self) -> bool:
        """Nothing declared: the harness calls ``fn(**args)`` as it stands."""
        return not (self.positional or self.keywords or self.returns is not None or self.omitted or self.consumed)

    def _kw(self, name: str) -> str:
        v = self.keywords.get(name, name)
        return v if isinstance(v, str) else name

    def split(self, args: dict) -> tuple[list, dict]:
        """The clause's arguments (by symbol) as the function's (positional, keyword) arguments."""
        pos = [a.value if isinstance(a, Const) else args[a] for a in self.positional]
        placed = {a for a in self.positional if isinstance(a, str)}
        skip = placed | set(self.omitted) | set(self.consumed)
        kw = {self._kw(k): v for k, v in args.items() if k not in skip}
        kw.update({k: c.value for k, c in self.keywords.items() if isinstance(c, Const)})
        return pos, kw

    def result(self, out):
        return _take(out, self.returns)

    # ---- the load-time signature check -----------------------------------------------------------
    def check(self, target: str, fn) -> None:
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            return                                        # a builtin without a signature: nothing to check
        params = list(sig.parameters.values())
        var_kw = any(p.kind == p.VAR_KEYWORD for p in params)
        var_pos = any(p.kind == p.VAR_POSITIONAL for p in params)
        by_pos = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        by_kw = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        passes = self.call_text()
        accepts = f"{_name(fn)}{sig}"
        hint = f"; declare Target(arguments={{{self.clause!r}: {{...}}}})"
        if len(self.positional) > len(by_pos) and not var_pos:
            raise TargetError(f"target {target!r}: {self.clause}: the harness calls {passes} with "
                              f"{len(self.positional)} positional arguments but {accepts} takes {len(by_pos)}{hint}")
        filled = {p.name for p in by_pos[:len(self.positional)]}
        placed = {a for a in self.positional if isinstance(a, str)}
        for name in self.passable:
            if name in placed or name in self.omitted or name in self.consumed:
                continue
            kw = self._kw(name)
            if not var_kw and kw not in by_kw:
                opt = "" if name in self.always else " (on some inputs)"
                raise TargetError(f"target {target!r}: {self.clause}: the harness passes {kw}={opt} "
                                  f"({passes}) but {accepts} accepts no {kw!r}{hint}"
                                  + ("" if name in self.always else
                                     f" or supports={{...: {{'where': [without({name!r})]}}}}"))
            if kw in filled:
                raise TargetError(f"target {target!r}: {self.clause}: {kw!r} is both passed positionally and as a "
                                  f"keyword to {accepts}")
        skip = placed | set(self.omitted) | set(self.consumed)
        given = filled | {self._kw(n) for n in self.passable if n not in skip} | \
            {k for k, c in self.keywords.items() if isinstance(c, Const)}
        missing = [p.name for p in params if p.default is p.empty and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)
                   and p.name not in given]
        if missing:
            raise TargetError(f"target {target!r}: {self.clause}: {accepts} requires {', '.join(missing)}, which "
                              f"the harness does not pass ({passes}){hint} (a constant is const(value))")

    def call_text(self, shapes: dict | None = None) -> str:
        """The call the harness makes: ``fn(h, beta, gamma, eps=eps)``; with ``shapes``, each argument's shape."""
        show = (lambda n: f"{n} {shapes[n]}" if shapes and n in shapes else n)
        parts = [repr(a.value) if isinstance(a, Const) else show(a) for a in self.positional]
        placed = {a for a in self.positional if isinstance(a, str)}
        skip = placed | set(self.omitted) | set(self.consumed)
        parts += [f"{self._kw(n)}={show(n)}" for n in self.passable if n not in skip]
        parts += [f"{k}={c.value!r}" for k, c in self.keywords.items() if isinstance(c, Const)]
        return f"fn({', '.join(parts)})"


@functools.cache
def clause_names(clause_id: str) -> frozenset[str]:
    """Every name a clause may pass a bound function (its symbols and the reference's optional inputs)."""
    return frozenset(Plan.make(clause_id, None).passable)


def _take(out, how):
    if how is None:
        return out
    if callable(how):
        return how(out)
    if isinstance(how, tuple):
        return tuple(_take(out, h) for h in how)
    if isinstance(how, int):
        return out[how]
    if isinstance(out, dict):
        return out[how]
    return getattr(out, how)


def _name(fn) -> str:
    return getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or type(fn).__name__


def per_call(call: Callable, args: dict, ones: tuple[str, ...], batched: set[str]):
    """Call ``call(args_i)`` once per sample i where the function takes one scalar per call for ``ones`` (a
    scheduler's integer timestep): each ``ones`` argument becomes sample i's value (a Python number), each
    ``batched`` array (one entry per sample on its first axis) its one-sample slice ``[i:i+1]``; the results are
    concatenated along the first axis."""
    sizes = [len(v) for k, v in args.items() if k in batched and hasattr(v, "shape") and len(v.shape)]
    sizes += [int(v.numel() if hasattr(v, "numel") else np.size(v)) for k, v in args.items() if k in ones]
    batch = max(sizes or [1])
    rows = []
    for i in range(batch):
        a = {}
        for k, v in args.items():
            if k in ones:
                flat = v.reshape(-1) if hasattr(v, "reshape") else np.reshape(v, -1)
                item = flat[i if len(flat) > 1 else 0]
                a[k] = item.item() if hasattr(item, "item") else item
            elif k in batched and hasattr(v, "shape") and len(v.shape) and v.shape[0] == batch:
                a[k] = v[i:i + 1]
            else:
                a[k] = v
        rows.append(call(a))
    if isinstance(rows[0], tuple):
        return tuple(_cat([r[j] for r in rows]) for j in range(len(rows[0])))
    return _cat(rows)


def batched_names(clause_id: str) -> set[str]:
    """The arguments with one entry per sample on their first axis: those whose declared shape starts with the
    clause's sample axis (the first axis of its first array input), and the optional ones without a declared shape
    (noise, masks)."""
    from genspec import spec
    syms = spec.get(clause_id).symbols
    lead = next((s.domain.shape[0] for s in syms if s.role == "input" and s.domain.shape), None)
    out = {s.name for s in syms if s.role == "input" and s.domain.shape and s.domain.shape[0] == lead}
    out |= {s.name for s in syms if s.role == "input" and not s.domain.shape and s.domain.kind != "callable"}
    return out | (set(clause_names(clause_id)) - {s.name for s in syms})


def _cat(rows):
    if isinstance(rows[0], np.ndarray):
        return np.concatenate(rows)
    import torch
    return torch.cat(rows)


@contextlib.contextmanager
def injected(path: str, noise):
    """Within the block, the function at dotted ``path`` (``pkg.module.randn_tensor``, ``torch.randn_like``) returns
    ``noise`` reshaped to the shape it is asked for (or to its argument's, for a ``*_like``): the library's noise draw
    gets the clause's ξ."""
    modname, _, attr = path.rpartition(".")
    mod = importlib.import_module(modname)
    original = getattr(mod, attr)

    def draw(*shape, **kw):
        like = shape[0] if len(shape) == 1 and hasattr(shape[0], "shape") and not isinstance(shape[0], int) else None
        if like is not None:                                    # torch.randn_like(x): x's shape
            return noise.reshape(like.shape)
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        shape = shape or kw.get("shape") or kw.get("size")
        return noise.reshape(shape)
    setattr(mod, attr, draw)
    try:
        yield
    finally:
        setattr(mod, attr, original)


# ---- modules ------------------------------------------------------------------------------------
@dataclass
class Module:
    """An ``nn.Module`` (or any object) bound to a clause: built per call, its weights set from the clause's
    arguments, then called.

    ``build``: a callable (a class, a lambda) taking the clause's arguments it names (``heads``, ``w_q``, ...) and
    returning the object; ``weights``: parameter path -> the clause symbol whose value it gets (``"to_q.weight":
    "w_q"``) or a function of clause symbols (``"qkv.weight": lambda w_q, w_k, w_v: torch.cat([w_q, w_k, w_v])``);
    ``call``: the argument map of the object's forward call (as ``Target(arguments=...)``: a tuple of symbols in
    positional order, or a dict of renames and constants, with ``"return"``). The object is moved to the dtype and
    device of the first floating tensor argument; weights are copied under ``torch.no_grad()``."""

    build: Callable
    weights: dict[str, str | Callable] = field(default_factory=dict)
    call: tuple | dict | None = None
    method: str = "__call__"

    def __call__(self, **args):
        import torch
        obj = self.build(**_named(self.build, args))
        like = next((v for v in args.values() if isinstance(v, torch.Tensor) and v.is_floating_point()), None)
        if like is not None and hasattr(obj, "to"):
            obj = obj.to(dtype=like.dtype, device=like.device)
        if self.weights:
            state = dict(obj.named_parameters()) | dict(obj.named_buffers())
            with torch.no_grad():
                for path, src in self.weights.items():
                    if path not in state:
                        raise TargetError(f"Module weights: {type(obj).__name__} has no parameter {path!r}; it has "
                                          f"{', '.join(state)}")
                    value = args.get(src) if isinstance(src, str) else src(**_named(src, args))
                    if value is None:
                        state[path].zero_()
                    else:
                        state[path].copy_(torch.as_tensor(value).reshape(state[path].shape))
        plan = self._plan(args)
        pos, kw = plan.split({k: v for k, v in args.items() if k in self._forward_names(args)})
        with torch.no_grad():
            return plan.result(getattr(obj, self.method)(*pos, **kw))

    def _used(self) -> set[str]:
        used = set(_params(self.build))
        for src in self.weights.values():
            used |= {src} if isinstance(src, str) else set(_params(src))
        return used

    def _forward_names(self, args: dict) -> list[str]:
        """The clause arguments the forward call gets: those the map names, else those build and weights do not
        consume."""
        amap = self.call or ()
        named = [a for a in (amap if isinstance(amap, (list, tuple)) else amap) if isinstance(a, str) and a != RETURN]
        if named:
            return named
        return [k for k in args if k not in self._used()]

    def _plan(self, args: dict) -> Plan:
        names = self._forward_names(args)
        p = Plan(clause="module", passable=tuple(names), always=tuple(names))
        amap = self.call or {}
        if isinstance(amap, (list, tuple)):
            p.positional = list(amap)
        else:
            for k, v in amap.items():
                if k == RETURN:
                    p.returns = v
                elif isinstance(v, int) and not isinstance(v, bool):
                    p.positional.insert(v, k)
                else:
                    p.keywords[k] = v
        return p


def recorded(fn: Callable):
    """An ``nn.Module`` whose forward is ``fn`` (a function, or another module: a library's loss) and which records
    what it was last given (``.args``, ``.kwargs``): the network a library's module or sampler takes, as a clause's
    callable (``recorded(lambda x, t: F)`` returns the clause's F whatever it is given), and what the library hands
    it (the x_t a training step makes, the regression target its loss receives). It holds one zero parameter:
    libraries read their device off ``next(model.parameters())``."""
    import torch

    class Recorded(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fn, self.args, self.kwargs = fn, (), {}
            self.anchor = torch.nn.Parameter(torch.zeros(()))

        def forward(self, *args, **kwargs):
            self.args, self.kwargs = args, kwargs
            return self.fn(*args, **kwargs)
    return Recorded()


def _params(fn) -> list[str]:
    try:
        return [p.name for p in inspect.signature(fn).parameters.values()
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)]
    except (TypeError, ValueError):
        return []


def _named(fn, args: dict) -> dict:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return {}
    if any(p.kind == p.VAR_KEYWORD for p in params):
        return dict(args)
    return {p.name: args[p.name] for p in params if p.name in args}


# ---- genspec explain ----------------------------------------------------------------------------
def calling_convention(clause_id: str) -> list[str]:
    """The lines ``genspec explain`` shows: the exact call the harness makes of a bound function, each argument's
    shape, and how a library spells it differently (an argument map, a layout)."""
    from genspec import spec
    c = spec.get(clause_id)
    if c.function is None:
        return []
    plan = Plan.make(clause_id, None)
    syms = {s.name: s for s in c.symbols}
    out = next((s for s in c.symbols if s.role == "output"), None)

    def what(n):
        s = syms.get(n)
        if s is None:
            return "optional (passed on some inputs only)"
        d = s.domain
        if s.role == "parameter":
            return "Python " + ("str" if d.kind == "choice" else "int" if d.kind == "integer" else "float") + \
                f", {d.describe()}"
        if d.kind == "callable":
            return "a callable (the backend's arrays in, out)"
        shape = f"shape ({', '.join(map(str, d.shape))})" if d.shape else \
            (f"broadcastable to {d.broadcast_to}'s shape" if d.broadcast_to else s.description)
        return f"array, {shape}" + ("" if n in plan.always else "; optional (passed on some inputs only)")
    w = max(len(n) for n in plan.passable)
    lines = ["", "Calling convention (what the harness passes a bound function; see README \"Binding a library\"):",
             f"    {plan.call_text()}  ->  {out.name if out else 'out'}"]
    lines += [f"      {n:{w}s}  {what(n)}" for n in plan.passable]
    if out is not None:
        lines.append(f"      {'->':{w}s}  {out.name}: {out.description}")
    first = plan.passable[0]
    lines += ["    arrays: numpy (backend='numpy') or torch (backend='torch') in the run's dtype, in the units of the "
              "variants the target declares;",
              f"    other names or order: Target(arguments={{{clause_id!r}: {{{first!r}: 'your_name'}}}}) or a tuple "
              "of symbols in positional order;",
              f"    another layout (one row per sample, one t per call): Target(layouts={{{clause_id!r}: "
              "{symbol: 'B D'}})"]
    return lines


# ---- a whole module against the reference composition of its clauses --------------------------------------------
@dataclass
class Composition:
    """A whole module (a timestep embedder with its MLP, a DiT block) checked against the reference composition of
    the clauses it is made of.

    ``module``: the target's callable (a :class:`Module`, a function) taking the inputs by name; ``reference``: the
    same computation in float64 NumPy written with the clauses' reference functions
    (``conformance.harness.registry.reference_function("dit.timestep_embedding")`` or ``reference.<family>``);
    ``cases``: a hypothesis strategy of input dicts (NumPy); ``tolerance``: the clause whose tolerance the comparison
    uses (the composition's most sensitive step), times ``gain`` where the later steps amplify its error."""

    name: str
    module: Callable
    reference: Callable
    cases: Any
    tolerance: str
    gain: float = 1.0


def check_composition(comp: Composition, backend: str = "torch", dtype: str = "float64", max_examples: int = 10,
                      arguments=None) -> float:
    """Run ``comp`` on ``max_examples`` drawn inputs; returns the worst error / tolerance, raises AssertionError
    (naming the composition, the input and the error) past 1. ``arguments``: an argument map for ``module`` (as
    ``Target(arguments=...)``: a dict of renames and constants, with ``"return"``)."""
    from hypothesis import given, seed, settings

    from .context import Context
    from .run import _without_local_constants, stable_seed
    from .target import Target
    ctx = Context(target=Target(name=comp.name, bindings={}, backend=backend), dtype=dtype)
    tol = ctx.tolerance(comp.tolerance) * comp.gain
    worst = [0.0]
    plan = Plan(clause=comp.name, passable=(), always=())
    for k, v in (arguments or {}).items():
        if k == RETURN:
            plan.returns = v
        else:
            plan.keywords[k] = v

    _without_local_constants()
    @seed(stable_seed(comp.name, "composition"))   # the draws depend on the composition only (run._seeded)
    @settings(max_examples=max_examples, derandomize=True, deadline=None, database=None)
    @given(inputs=comp.cases)
    def run(inputs):
        inputs = ctx.round(inputs)
        pos, kw = plan.split({k: ctx.to_target(v) for k, v in inputs.items()})
        got = ctx.to_numpy(plan.result(comp.module(*pos, **kw)))
        try:
            worst[0] = max(worst[0], ctx.assert_close(comp.tolerance, got, comp.reference(**inputs), tol=tol,
                                                      what=f"{comp.name} vs the reference composition"))
        except AssertionError as e:
            raise AssertionError(f"{comp.name}: {e}\n  input: { {k: np.shape(v) for k, v in inputs.items()} }") \
                from None
    run()
    return worst[0]
