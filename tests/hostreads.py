"""A NumPy stand-in for the one thing a CUDA graph forbids that NumPy allows: reading a value on
the host in the middle of a step.

Inside a capture, CuPy raises at any host read (``float(x)``, ``bool(x)``, ``int(x)``,
``x.item()``, ``x.get()``), and the step then runs eagerly, with a sync per read. ``Device``
arrays refuse those reads on NumPy too: a step whose parameters, optimizer slots, objective
state and minibatch are ``Device`` arrays raises ``HostRead`` where a capture would fail, and
every array computed from them is a ``Device`` array as well (ufuncs, products and reductions
keep the subclass, reductions included, and so do NumPy's functions). Arrays made afresh by ``np.asarray`` or by a generator
are plain, so a missed read is possible; a reported one is real. The code that runs only on CuPy
(the fused kernels) is not seen here: the GPU tests check it.
"""
from __future__ import annotations

import sys
from dataclasses import fields

import numpy as np


class HostRead(Exception):
    """A step read a value on the host."""


class Device(np.ndarray):
    """A NumPy array whose values the host may not read."""

    def _refuse(self, *args, **kwargs):
        raise HostRead("a value of the step was read on the host")

    __float__ = __int__ = __bool__ = __index__ = __complex__ = _refuse
    item = tolist = get = _refuse

    def __array_wrap__(self, array, context=None, return_scalar=False):
        return np.asarray(array).view(type(self))       # a reduction to one value stays a Device

    def __array_function__(self, func, types, args, kwargs):
        # np.stack, np.concatenate, np.where, ...: their results too are on the device
        return _on_device(super().__array_function__(func, types, args, kwargs))


def _on_device(result):
    if isinstance(result, (tuple, list)):
        return type(result)(_on_device(r) for r in result)
    if type(result) is np.ndarray or isinstance(result, np.generic):
        return np.asarray(result).view(Device)
    return result


def on_device(array):
    """``array`` as a Device view (anything else as it is)."""
    return array.view(Device) if type(array) is np.ndarray else array


def as_host(array):
    return array.view(np.ndarray) if isinstance(array, Device) else array


def move_state(st, move) -> None:
    """Apply ``move`` to every array of a TrainState: parameters, slots, objective state."""
    for holder in (st.params, st.slots):
        for key, value in holder.items():
            holder[key] = move(value)
    for f in fields(st.objective):
        group = getattr(st.objective, f.name)
        if isinstance(group, dict):
            for key, value in group.items():
                group[key] = move(value)


def refuse_to_numpy(monkeypatch) -> None:
    """``backend.to_numpy`` (NumPy's copy of a CuPy array) refuses Device arrays, in every module
    that imported it."""
    import ebmlang.backend as backend
    original = backend.to_numpy

    def to_numpy(array):
        if isinstance(array, Device):
            raise HostRead("a value of the step was copied to the host")
        return original(array)

    for name, module in list(sys.modules.items()):
        if name.startswith("ebmlang") and getattr(module, "to_numpy", None) is original:
            monkeypatch.setattr(module, "to_numpy", to_numpy)
