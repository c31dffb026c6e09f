"""How golden values are written: JSON (exact float64 as float.hex, plus the decimal repr), NPZ and a flat text format.

A value is one of: a NumPy array (float64 or int64), a Python float / int / str / None, a tuple of values (a clause
returning several arrays). JSON encodes each as an object with a ``type``:

    {"type": "array", "dtype": "float64", "shape": [2, 3], "hex": ["0x1.8p+1", ...], "values": [3.0, ...]}
    {"type": "array", "dtype": "int64", "shape": [4], "values": [0, 2, 1, 1]}
    {"type": "float", "hex": "0x1.8p+1", "value": 3.0}    {"type": "int", "value": 3}
    {"type": "array", "dtype": "bool", "shape": [2, 2], "values": [true, false, ...]}    {"type": "bool", "value": true}
    {"type": "str", "value": "vp"}    {"type": "none"}    {"type": "tuple", "items": [<value>, ...]}
    {"type": "dict", "items": {"<key>": <value>, ...}}    (a clause returning named quantities)
    {"type": "field", "kind": "linear" | "linear_conditional", "A": <array>, "b": <array>}   (fields.py)

Arrays are flat in C (row-major) order. ``hex`` is authoritative; ``values`` (Python's shortest repr, exact for
finite numbers; "nan", "inf", "-inf" as strings) is there to be read by people.
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile

import numpy as np

from genspec.spec.errors import GenspecError

from .fields import LinearField


class GoldenError(GenspecError):
    """Golden files that cannot be used: missing, malformed, tampered with (hash) or stale (spec changed)."""


# ---- floats ------------------------------------------------------------------------------------------------------
def hex_of(v: float) -> str:
    v = float(v)
    return v.hex() if math.isfinite(v) else repr(v)  # 'nan', 'inf', '-inf'


def float_of(s) -> float:
    """A float from a JSON number or a string: C99/Python hex ('0x1.8p+1'), decimal, 'nan', 'inf', '-inf'."""
    if isinstance(s, bool):
        raise GoldenError(f"expected a number, got {s!r}")
    if isinstance(s, (int, float)):
        return float(s)
    if isinstance(s, str):
        t = s.strip().lower()
        try:
            return float.fromhex(t) if "0x" in t else float(t)
        except ValueError:
            raise GoldenError(f"not a number: {s!r}") from None
    raise GoldenError(f"expected a number or a string, got {type(s).__name__}")


def _readable(v: float):
    return v if math.isfinite(v) else repr(v)


# ---- JSON --------------------------------------------------------------------------------------------------------
def encode(v) -> dict:
    if isinstance(v, dict):
        return {"type": "dict", "items": {str(k): encode(x) for k, x in v.items()}}
    if isinstance(v, tuple):
        return {"type": "tuple", "items": [encode(x) for x in v]}
    if v is None:
        return {"type": "none"}
    if isinstance(v, str):
        return {"type": "str", "value": v}
    if isinstance(v, LinearField):
        return {"type": "field", "kind": v.kind, "A": encode(v.A), "b": encode(v.b)}
    if isinstance(v, (bool, np.bool_)):
        return {"type": "bool", "value": bool(v)}
    if isinstance(v, int):
        return {"type": "int", "value": v}
    if isinstance(v, float):
        return {"type": "float", "hex": hex_of(v), "value": _readable(v)}
    a = np.asarray(v)
    if a.dtype.kind == "f":
        flat = [float(x) for x in a.astype(np.float64).ravel()]
        return {"type": "array", "dtype": "float64", "shape": list(a.shape), "hex": [hex_of(x) for x in flat],
                "values": [_readable(x) for x in flat]}
    if a.dtype.kind == "b":
        return {"type": "array", "dtype": "bool", "shape": list(a.shape), "values": [bool(x) for x in a.ravel()]}
    if a.dtype.kind in "iu":
        return {"type": "array", "dtype": "int64", "shape": list(a.shape), "values": [int(x) for x in a.ravel()]}
    raise GoldenError(f"cannot encode a value of type {type(v).__name__} (dtype {a.dtype})")


def decode(d: dict):
    """The inverse of :func:`encode` (float arrays from ``hex``)."""
    t = d.get("type")
    if t == "tuple":
        return tuple(decode(x) for x in d["items"])
    if t == "dict":
        return {k: decode(x) for k, x in d["items"].items()}
    if t == "none":
        return None
    if t in ("str", "int", "bool"):
        return d["value"]
    if t == "field":
        return LinearField(decode(d["A"]), decode(d["b"]))
    if t == "float":
        return float_of(d["hex"])
    if t == "array":
        shape = tuple(d["shape"])
        if d["dtype"] in ("int64", "bool"):
            return np.array(d["values"], dtype=np.int64 if d["dtype"] == "int64" else bool).reshape(shape)
        return np.array([float_of(x) for x in d["hex"]], dtype=np.float64).reshape(shape)
    raise GoldenError(f"unknown golden value type {t!r}")


def dumps(obj) -> str:
    """Canonical JSON: keys in the order built, one-space indent, ASCII, a final newline."""
    return json.dumps(obj, indent=1, ensure_ascii=True, allow_nan=False) + "\n"


def dumps_cases(head: dict, cases: list[dict]) -> str:
    """A case file: the header fields one per line, then one case per line (compact, and fast to write)."""
    one = lambda v: json.dumps(v, ensure_ascii=True, allow_nan=False)  # noqa: E731
    lines = [f" {one(k)}: {one(v)}," for k, v in head.items()]
    body = ",\n".join("  " + one(c) for c in cases)
    return "{\n" + "\n".join(lines) + '\n "cases": [\n' + body + ("\n" if cases else "") + " ]\n}\n"


# ---- NPZ, written deterministically ---------------------------------------------------------------------------------
_EPOCH = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An .npz (readable by ``np.load``) whose bytes depend only on the arrays: fixed timestamps, no compression,
    entries in the given order (``np.savez`` stamps the current time into the zip)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for name, arr in arrays.items():
            body = io.BytesIO()
            np.lib.format.write_array(body, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_EPOCH)
            info.create_system = 3
            info.external_attr = 0o644 << 16
            z.writestr(info, body.getvalue())
    return buf.getvalue()


def npz_arrays(prefix: str, v, out: dict) -> None:
    """Flatten a value into NPZ entries: arrays and scalars as 0-d arrays, tuples as prefix.0, prefix.1, ...;
    None is left out (the JSON file says which arguments are None); a field as prefix.A, prefix.b."""
    if isinstance(v, LinearField):
        npz_arrays(f"{prefix}.A", v.A, out)
        npz_arrays(f"{prefix}.b", v.b, out)
    elif isinstance(v, tuple):
        for i, x in enumerate(v):
            npz_arrays(f"{prefix}.{i}", x, out)
    elif isinstance(v, dict):
        for k, x in v.items():
            npz_arrays(f"{prefix}.{k}", x, out)
    elif v is None:
        return
    elif isinstance(v, str):
        out[prefix] = np.array(v)
    elif isinstance(v, (bool, np.bool_)):
        out[prefix] = np.array(bool(v))
    elif isinstance(v, int):
        out[prefix] = np.array(v, dtype=np.int64)
    else:
        a = np.asarray(v)
        out[prefix] = a.astype({"f": np.float64, "b": bool}.get(a.dtype.kind, np.int64))


# ---- flat text, for readers without a JSON parser (examples/golden_c) ------------------------------------------------
def txt_value(kind: str, name: str, v) -> list[str]:
    """Lines of one value: ``<kind> <name> <type> <ndim> <dims...>`` then one line of values (type f: C99 hex floats,
    i: decimal integers, b: 0/1, s: a string on the header line, n: None, no value line). Tuples: one entry per
    item, named <name>.0, <name>.1, ...; dicts one per key, <name>.<key>; a field: ``<kind> <name> F 0 <field
    kind>`` then <name>.A and <name>.b."""
    if isinstance(v, LinearField):
        return [f"{kind} {name} F 0 {v.kind}"] + txt_value(kind, f"{name}.A", v.A) + txt_value(kind, f"{name}.b", v.b)
    if isinstance(v, tuple):
        return [ln for i, x in enumerate(v) for ln in txt_value(kind, f"{name}.{i}", x)]
    if isinstance(v, dict):
        return [ln for k, x in v.items() for ln in txt_value(kind, f"{name}.{k}", x)]
    if v is None:
        return [f"{kind} {name} n 0"]
    if isinstance(v, str):
        return [f"{kind} {name} s 0 {v}"]
    if isinstance(v, (bool, np.bool_)):
        return [f"{kind} {name} b 0", str(int(v))]
    if isinstance(v, int):
        return [f"{kind} {name} i 0", str(v)]
    a = np.asarray(v)
    code = {"f": "f", "b": "b"}.get(a.dtype.kind, "i")
    head = f"{kind} {name} {code} {a.ndim}" + "".join(f" {n}" for n in a.shape)
    if a.dtype.kind == "f":
        body = " ".join(hex_of(x) for x in a.astype(np.float64).ravel())
    else:
        body = " ".join(str(int(x)) for x in a.ravel())
    return [head, body]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
