"""Checks of what a Python caller hands a compiled Program: layer names, states, counts, seeds.

The spec's values are checked where they are read (``spec/``), with file, line and column; these
are the Python API's counterpart (``Model``, ``Trainer``), so that a wrong argument ends in a
ValueError or TypeError that names it, not in a broadcasting error deep in a kernel or, worse, in
a finite number computed from an impossible state.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np

from ..backend import to_numpy
from .program import Program


def check_layer(program: Program, name) -> str:
    """``name`` if it is one of ``program``'s layers."""
    if not isinstance(name, str):
        raise TypeError(f"a layer is named by a string, got {type(name).__name__} {name!r}")
    if name not in program.layers:
        raise ValueError(f"unknown layer '{name}'; the layers are {', '.join(program.layers)}")
    return name


def layer_names(program: Program, names, what: str) -> tuple:
    """``names`` (one layer's name, or several, each once) as a tuple of known layers."""
    names = (names,) if isinstance(names, str) else tuple(names)
    for name in names:
        check_layer(program, name)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"{what} names layer {', '.join(repeated)} more than once")
    return names


def check_states(program: Program, state, what: str = "state") -> dict:
    """``state`` ({layer: (batch, size) array}) on the program's backend in its dtype, checked:
    known layers, real numbers of the right shape, finite, values the unit type can take
    (``UnitType.check_data``: binary in [0, 1], one-hot softmax groups, ...), one batch size."""
    if not isinstance(state, Mapping):
        raise TypeError(f"{what} is a dict {{layer: (batch, size) array}}, "
                        f"got {type(state).__name__}")
    out = {}
    for name, value in state.items():
        check_layer(program, name)
        out[name] = _layer_array(program, name, value)
    batches = {x.shape[0] for x in out.values()}
    if len(batches) > 1:
        raise ValueError(f"the layers' arrays differ in batch size: "
                         f"{', '.join(f'{n} {x.shape[0]}' for n, x in out.items())}")
    return out


def _layer_array(program: Program, name: str, value):
    """``value`` as layer ``name``'s (batch, size) array on the backend, or the error that says
    why it cannot be (see :func:`check_states`)."""
    layer, xp = program.layers[name], program.xp
    # no np.asarray of a CuPy array: it refuses the implicit copy to the host
    dtype = value.dtype if hasattr(value, "dtype") else np.asarray(value).dtype
    if dtype.kind not in "biuf":
        raise TypeError(f"layer '{name}' takes real numbers, got an array of dtype {dtype}")
    x = xp.asarray(value, dtype=program.dtype)
    if x.ndim != 2 or x.shape[1] != layer.size:
        raise ValueError(f"layer '{name}' takes (batch, {layer.size}) arrays, got shape {x.shape}")
    if not bool(xp.isfinite(x).all()):
        raise ValueError(f"layer '{name}': the array holds NaN or infinite values")
    problem = layer.units.check_data(to_numpy(x)) if x.size else None   # on the host: once per call
    if problem:
        raise ValueError(f"layer '{name}': {problem}")
    return x


def require(state: dict, needed: Iterable, what: str) -> None:
    """Refuse ``state`` unless it gives every layer in ``needed``."""
    missing = [n for n in needed if n not in state]
    if missing:
        raise ValueError(f"{what} needs the state of layer {', '.join(missing)}")


def whole_number(value, name: str, minimum: int = 0) -> int:
    """``value`` as an int ≥ ``minimum`` (NumPy integers too; no bools, floats or strings)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} is a whole number, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be ≥ {minimum}, got {value}")
    return int(value)


def seed_value(seed) -> int:
    """A seed: a whole number ≥ 0 (streams are keyed by it; see ``backend/rng.py``)."""
    return whole_number(seed, "seed", 0)


def real_number(value, name: str) -> float:
    """``value`` as a finite float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} is a real number, got {type(value).__name__} {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return float(value)
