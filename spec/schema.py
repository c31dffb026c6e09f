"""The clause schema: every equation and claim of the source notes as a typed, validated record.

A clause is data. Tests, docs, the exported JSON and the conformance report are derived from it.
"""
from __future__ import annotations

import math
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from . import expression as E

SOURCES = {
    "00": "000_331e8cb7bd23289d.txt",
    "01": "001_0ed31f45a2dc8f8e.txt",
    "02": "002_3a40ad30919324c0.txt",
    "03": "003_0deb1af0fcf6209f.txt",
    "04": "004_8825bcc485054d31.txt",
}

SOURCE_TITLES = {
    "00": "GANs, rectified flow, latent diffusion and DiT: lecture notes in prose",
    "01": "Lecture notes (outline): GANs, rectified flow, CFG, noise schedules, LDMs, DiT, distillation",
    "02": "Essay: GAN → VAE → diffusion → flow matching, 2014–2022",
    "03": "Part 2 notes: adversarial training, denoising diffusion, the latent diffusion stack",
    "04": "CS231N (Spring 2025) Lecture 14, Generative Models 2: summary",
}
"""What each source note covers, shown beside its (hash-named) file by ``genspec explain``."""

CLAUSE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
DTYPES = ("float64", "float32", "bfloat16")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)


Expr = Annotated[Any, BeforeValidator(E.as_expression), PlainSerializer(E.exported, return_type=dict),
                 WithJsonSchema({"type": "object", "description": "a sympy expression of the clause's arguments: "
                                 "{text, tree} (spec/expression.py)"})]
"""A sympy expression of a clause's arguments (spec/expression.py); exported as its string."""


class _Math:
    """A model whose ``_MATH`` fields hold expressions: each is read as sympy (built on first read, then kept), while
    the model's own validation reads the declaration without importing sympy (:func:`_raw`)."""

    _MATH: ClassVar[frozenset[str]] = frozenset()

    def __getattribute__(self, name: str):
        v = object.__getattribute__(self, name)
        if name in type(self)._MATH:
            built = {k: E.sympy(e) for k, e in v.items()} if isinstance(v, dict) else E.sympy(v)
            if built is not v:
                object.__getattribute__(self, "__dict__")[name] = built
            return built
        return v


def _raw(model, name: str):
    """A field as declared (a :class:`spec.expression.Math` not built yet stays so)."""
    return object.__getattribute__(model, "__dict__")[name]


class Provenance(_Frozen):
    """Where a clause comes from: a source note (two-digit prefix or file name) and a short quote."""

    source: str = Field(description="two-digit source prefix ('00'..'04') or 'external: <citation>'")
    quote: str = Field(min_length=3, description="a short verbatim quote from the source")

    @field_validator("source")
    @classmethod
    def _known_source(cls, v: str) -> str:
        if v in SOURCES or v.startswith("external:"):
            return v
        raise ValueError(f"unknown source {v!r}; expected one of {sorted(SOURCES)} or 'external: ...'")

    @property
    def file(self) -> str:
        return SOURCES.get(self.source, self.source)

    @property
    def title(self) -> str:
        """What the source note covers ('' for an external citation)."""
        return SOURCE_TITLES.get(self.source, "")


class Variant(_Math, _Frozen):
    """One named way of writing the same thing, with its mapping to the clause's default."""

    _MATH: ClassVar[frozenset[str]] = frozenset({"arguments"})

    name: str
    statement: str = Field(description="LaTeX of this variant")
    mapping: str = Field(description="how this variant maps to the default (LaTeX or words)")
    sources: tuple[str, ...] = ()
    arguments: dict[str, Expr] = Field(
        default_factory=dict,
        description="the arguments this variant takes in other units, each a sympy expression of the default "
                    "variant's arguments: the scale form of guidance takes {'w': 1 + w}. The harness draws inputs in "
                    "the default's units and hands a target declaring this variant the converted ones")

    def convert(self, values: dict) -> dict:
        """``values`` (in the default variant's units) in this variant's units: each of ``arguments`` evaluated."""
        return {**values, **{k: E.evaluate(e, values) for k, e in self.arguments.items() if k in values}}


class Convention(_Frozen):
    """A choice an implementation must make; the spec names every variant and its default."""

    name: str
    description: str
    default: str
    variants: tuple[Variant, ...]

    @model_validator(mode="after")
    def _default_is_a_variant(self) -> Convention:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError(f"convention {self.name!r}: duplicate variant names {names}")
        if self.default not in names:
            raise ValueError(f"convention {self.name!r}: default {self.default!r} not among {names}")
        return self


def ellipsis(p) -> bool:
    """A shape entry standing for any number of trailing dimensions: "..." (one shape shared by every symbol of the
    clause that writes it) or "...name" (shared by the symbols that write that name: vae.loss's data "...x" and its
    latents "..." may differ)."""
    return isinstance(p, str) and p.startswith(("...", "…"))


class Domain(_Frozen):
    """The set a symbol ranges over: an interval of reals (or integers) on an array of named shape."""

    kind: Literal["real", "integer", "callable", "choice"] = "real"
    low: float = -math.inf
    high: float = math.inf
    low_closed: bool = True
    high_closed: bool = True
    shape: tuple[str | int, ...] = ()
    or_shape: tuple[str | int, ...] | None = Field(
        default=None, description="another shape the symbol may take: a scalar time t may also be one per point, "
                                  "or_shape=('n',)")
    choices: tuple[str, ...] = ()
    finite: bool = True
    broadcast_to: str | None = Field(
        default=None, description="the symbol this array broadcasts against (NumPy rules, that symbol's shape "
                                  "unchanged): γ of shape (B, 1, D) against h of shape (B, N, D)")

    def contains(self, v: float) -> bool:
        lo_ok = v >= self.low if self.low_closed else v > self.low
        hi_ok = v <= self.high if self.high_closed else v < self.high
        return lo_ok and hi_ok

    def describe(self) -> str:
        if self.kind == "callable":
            return "callable"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        lb = "[" if self.low_closed and math.isfinite(self.low) else "("
        rb = "]" if self.high_closed and math.isfinite(self.high) else ")"
        fmt = lambda x: "∞" if x == math.inf else ("-∞" if x == -math.inf else f"{x:g}")
        iv = f"{lb}{fmt(self.low)}, {fmt(self.high)}{rb}"
        base = ("integers in " if self.kind == "integer" else "") + iv
        if self.shape:
            base += " of shape (" + ", ".join(map(str, self.shape)) + ")"
        if self.broadcast_to is not None:
            base += f", broadcastable to {self.broadcast_to}'s shape"
        if self.or_shape is not None:
            alt = ", ".join(map(str, self.or_shape))
            base += (", or of shape (" if self.shape else ", a scalar or of shape (") + alt + ")"
        return base


class Symbol(_Frozen):
    name: str = Field(description="the argument name, matching the notes (x_t, t, z, w, ...)")
    description: str
    domain: Domain = Domain()
    role: Literal["input", "output", "parameter"] = "input"


class Tolerance(_Frozen):
    """|target - reference| <= atol + rtol * |reference|, elementwise."""

    rtol: float = Field(ge=0)
    atol: float = Field(ge=0)
    why: str = ""

    def bound(self, ref_abs):
        return self.atol + self.rtol * ref_abs

    def __mul__(self, gain: float) -> Tolerance:
        """Both bounds times ``gain``: a comparison whose error is amplified by a known factor."""
        return Tolerance(rtol=self.rtol * gain, atol=self.atol * gain, why=self.why)


class Tolerances(_Frozen):
    float64: Tolerance
    float32: Tolerance
    bfloat16: Tolerance
    why: str = Field(description="the conditioning argument that justifies these numbers")

    def for_dtype(self, dtype: str) -> Tolerance:
        if dtype not in DTYPES:
            raise ValueError(f"unknown dtype {dtype!r}; expected one of {DTYPES}")
        return getattr(self, dtype)


def tolerances(float64=(1e-12, 1e-12), float32=(1e-5, 1e-6), bfloat16=(3e-2, 1e-2), why="") -> Tolerances:
    """Build a Tolerances from (rtol, atol) pairs; the defaults suit well-conditioned, few-op formulas."""
    return Tolerances(
        float64=Tolerance(rtol=float64[0], atol=float64[1]),
        float32=Tolerance(rtol=float32[0], atol=float32[1]),
        bfloat16=Tolerance(rtol=bfloat16[0], atol=bfloat16[1]),
        why=why or ("a few elementwise operations on O(1) values: a few ulps of the dtype, bfloat16 at 8 bits of "
                    "mantissa"),
    )


class Law(_Math, _Frozen):
    """A claim about the clause's function, stated once: called at ``at`` (the drawn arguments, some replaced), its
    output ``out`` makes ``of`` equal ``equals`` (``base``: the output at the drawn arguments). The harness checks it on
    every target and, where the clause has an expression, proves it in every variant (spec/expression.py)."""

    _MATH: ClassVar[frozenset[str]] = frozenset({"at", "of", "equals"})

    name: str
    at: dict[str, Expr] = Field(default_factory=dict, description="arguments replaced, in the default's units")
    of: Expr = Field(default_factory=lambda: E.OUT, description="what is compared, of out (and base)")
    equals: Expr

    @field_validator("at", mode="before")
    @classmethod
    def _named(cls, v: dict) -> dict:
        """``at`` may be keyed by the symbols themselves: {w: 0} is {"w": 0}."""
        return {getattr(k, "name", k): e for k, e in v.items()}


class Boundary(_Frozen):
    """A place where the clause's quantity is undefined, divides by something vanishing, or changes its decision: the
    data the harness draws at and near (conformance/harness/inputs.py, ``near``), next to the ``singular`` prose.

    ``kind``: ``singular`` (a value of ``symbol`` where a determinant, a coefficient or a divisor vanishes or blows
    up; ``at`` lists the values), ``tie`` (two candidates of an argmin/argmax/top-k at the same score; the rule that
    breaks it is ``rule``), ``threshold`` (a comparison such as p_j ≥ α max p flips: values within rounding of it are
    drawn), ``zero`` (the zero vector and tiny norms of ``symbol``: 0, subnormal, 1e-7, ...).
    ``exactly``: what the clause prescribes at the point itself: ``raises`` (SpecInputError), ``limit`` (the limit's
    value), ``rule`` (the tie rule decides), ``defined`` (the formula holds as written)."""

    symbol: str = Field(description="the input symbol the point lies in")
    kind: Literal["singular", "tie", "threshold", "zero"]
    at: tuple[float, ...] = Field(default=(), description="singular: the values of the symbol")
    when: tuple[dict[str, tuple[str, ...]], ...] = Field(
        default=(), description="the parameter values where it applies, any of these (each: every named parameter "
                                "takes one of its listed values); empty: always")
    exactly: Literal["raises", "limit", "rule", "defined"] = "defined"
    rule: str = Field(default="", description="tie: which candidate wins (e.g. 'the lowest index')")
    why: str = Field(min_length=10, description="what vanishes or flips there")

    def applies(self, params: dict) -> bool:
        """Whether the boundary exists for these parameter values (``when``)."""
        return not self.when or any(all(params.get(k) in v for k, v in w.items()) for w in self.when)


class Clause(_Math, _Frozen):
    _MATH: ClassVar[frozenset[str]] = frozenset({"expression", "variant_expressions", "error_scale"})

    id: str
    title: str
    statement: str = Field(description="the equation or claim, LaTeX")
    kind: tuple[Literal["identity", "property", "value"], ...] = Field(
        description=("identity: sympy proves it; property: invariants checked on the target; "
                     "value: target equals reference"))
    provenance: tuple[Provenance, ...] = Field(min_length=1)
    function: str | None = Field(
        default=None,
        description=("name of the function a target binds for this clause; "
                     "None when the clause is a claim with nothing to bind"))
    symbols: tuple[Symbol, ...] = ()
    conventions: tuple[Convention, ...] = ()
    tolerance: Tolerances = Field(default_factory=tolerances)
    property_tolerance: dict[str, Tolerances] = Field(
        default_factory=dict,
        description="the tolerance of a property check's comparisons, keyed by the property's name in "
                    "conformance/<family>.py, each with its reason; a property not listed uses `tolerance`. "
                    "Zeros claim exactness: only where an implementation written as the statement reads achieves it")
    singular: str = Field(default="", description="what the clause prescribes at its singular points")
    boundaries: tuple[Boundary, ...] = Field(
        default=(), description="the singular points, ties, thresholds and zero vectors of `singular` as data: the "
                                "harness draws at and near each (conformance/harness/inputs.py)")
    notes: str = ""
    velocity_slots: tuple[tuple[str, str], ...] | None = Field(
        default=None,
        description="for a clause a target may implement on the reversed clock (Target.time: t ↦ 1 − t), the slots "
                    "(an argument, `out` or `out[i]`) holding a prediction of the target a parameter names, as (slot, "
                    "parameter): where that parameter is 'velocity' the slot is dx/dt and changes sign with the clock. "
                    "None: the clock cannot be reversed for this clause")
    expression: Expr | None = Field(
        default=None, description="the value as a sympy expression of the inputs, in the default variants' units: "
                                  "the reference is checked against it, variants' expressions and laws proven with it")
    variant_expressions: dict[str, Expr] = Field(
        default_factory=dict, description="other variants' values, each in its own units (keyed by variant name): "
                                          "proven equal to `expression` under the variant's arguments")
    laws: tuple[Law, ...] = ()
    error_scale: Expr | None = Field(
        default=None, description="the elementwise magnitude M of the computation's intermediates, an expression of "
                                  "the inputs: the value check bounds |got − expected|/M by the tolerance")
    since: str = "0.1.0"

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not CLAUSE_ID.match(v):
            raise ValueError(f"clause id {v!r} must look like 'family.name' (lower case, dotted)")
        return v

    @model_validator(mode="after")
    def _expressions_read_inputs(self) -> Clause:
        names = {s.name for s in self.inputs}
        for c in self.conventions:
            for v in c.variants:
                # a shared convention may name more
                mine = {k: e for k, e in _raw(v, "arguments").items() if k in names}
                used = {n for e in mine.values() for n in E.names(e)}
                if _raw(v, "arguments") and (v.name == c.default or not used <= names):
                    raise ValueError(f"clause {self.id}: variant {c.name}={v.name} converts {v.arguments}; only a "
                                     f"non-default variant may, and only the clause's inputs {sorted(names)}")
        expression, variants = _raw(self, "expression"), _raw(self, "variant_expressions")
        if variants and expression is None:
            raise ValueError(f"clause {self.id}: variant_expressions need the default's `expression` to agree with")
        if not set(variants) <= {v.name for c in self.conventions for v in c.variants}:
            raise ValueError(f"clause {self.id}: variant_expressions {sorted(self.variant_expressions)} name a "
                             f"variant none of its conventions has")
        stated = [("expression", expression, names), ("error_scale", _raw(self, "error_scale"), names)]
        stated += [(f"variant {k!r}", e, names) for k, e in variants.items()]
        stated += [(f"law {law.name!r}", e, names | {"out", "base"})
                   for law in self.laws for e in (*_raw(law, "at").values(), _raw(law, "of"), _raw(law, "equals"))]
        for what, e, allowed in stated:
            if e is not None and not E.names(e) <= allowed:
                raise ValueError(f"clause {self.id}: {what} reads {sorted(E.names(e) - allowed)}, not among its "
                                 f"inputs {sorted(names)}")
        for bd in self.boundaries:
            params = {s.name: s for s in self.inputs}
            if bd.symbol not in names or not all(k in params for w in bd.when for k in w):
                raise ValueError(f"clause {self.id}: boundary on {bd.symbol!r} (when {bd.when}) names a symbol that is "
                                 f"not among its inputs {sorted(names)}")
            if (bd.kind == "singular") != bool(bd.at) or (bd.kind == "tie") != bool(bd.rule):
                raise ValueError(f"clause {self.id}: a singular boundary lists its points (at), a tie its rule; "
                                 f"got {bd.kind} with at={bd.at}, rule={bd.rule!r}")
        if any(not set(_raw(law, "at")) <= names for law in self.laws):
            raise ValueError(f"clause {self.id}: a law replaces an argument that is not among its inputs")
        return self

    @property
    def family(self) -> str:
        return self.id.split(".")[0]

    @property
    def inputs(self) -> tuple[Symbol, ...]:
        return tuple(s for s in self.symbols if s.role in ("input", "parameter"))

    def tolerance_of(self, check: str | None, dtype: str) -> Tolerance:
        """The tolerance a check compares with: the property's declared one, else the clause's value tolerance."""
        return self.property_tolerance.get(check or "", self.tolerance).for_dtype(dtype)

    def in_variant(self, values: dict, conventions: dict[str, str]) -> dict:
        """Arguments drawn in the default variants' units, converted to the declared ``conventions``' units
        (:meth:`Variant.convert`): what a target implementing those variants takes."""
        for c in self.conventions:
            chosen = conventions.get(c.name, c.default)
            values = next(v for v in c.variants if v.name == chosen).convert(values)
        return values

    def variant(self, name: str) -> Variant:
        """The variant named ``name`` among the clause's conventions."""
        return next(v for c in self.conventions for v in c.variants if v.name == name)

    def convention(self, name: str) -> Convention:
        for c in self.conventions:
            if c.name == name:
                return c
        raise KeyError(f"clause {self.id}: no convention {name!r}")
