"""Initial parameters of a Program: `bias.<layer>`, `sigma.<layer>`, `weight.<a>.<b>`, `recbias.<layer>`
and `lvbias.<layer>` (zero), `lvweight.<a>.<b>`; for a batch-normalised layer `gain.<layer>` (one),
`runmean.<layer>` (zero) and `runvar.<layer>` (one).

Draws happen on the host with NumPy and are then moved to the backend, so a CPU run and a GPU
run of the same spec and seed start from the same parameters.
"""
from __future__ import annotations

import numpy as np

from ..spec.constraints import Choice
from ..units import make_units
from .keys import gain_key, runmean_key, runvar_key, weight_key
from .program import Program


def _draw(init: Choice, shape: tuple, gen: np.random.Generator) -> np.ndarray:
    o = init.options
    if init.kind == "zeros":
        return np.zeros(shape)
    if init.kind == "constant":
        return np.full(shape, o["value"])
    if init.kind == "normal":
        return o["mean"] + o["std"] * gen.standard_normal(shape)
    if init.kind == "uniform":
        return gen.uniform(o["low"], o["high"], shape)
    raise ValueError(f"initialiser {init.kind} needs data")


def data_rate_bias(units, mean: np.ndarray) -> np.ndarray:
    """Biases that make each unit's marginal match the data's mean (Hinton's guide, §8):
    binary logit(p), spin atanh(m), softmax log p, gaussian the mean itself. Softmax rates are
    taken within each group, over the examples where it is present (missing groups)."""
    kind = units.name
    if kind == "binary":
        p = np.clip(mean, 1e-3, 1 - 1e-3)
        return np.log(p / (1 - p))
    if kind == "spin":
        return np.arctanh(np.clip(mean, -0.999, 0.999))
    if kind == "softmax":
        grouped = mean.reshape(-1, units.k)
        total = grouped.sum(axis=1, keepdims=True)
        rates = np.where(total > 0, grouped / np.where(total > 0, total, 1), 1 / units.k)
        return np.log(np.clip(rates, 1e-3, 1)).reshape(-1)
    return mean


def read_init_files(spec, program: Program) -> dict:
    """{key: array} for every `init: {file: ...}`, checked against its parameter's shape, and for
    lateral couplings symmetric with a zero diagonal. Errors point at the spec's `file` line."""
    from ..errors import CompileError
    from ..graph import resolve
    arrays = {}
    entries = [(f"model.layers.{n}.bias", l.bias_init, f"bias.{n}", (l.size,)) for n, l in program.layers.items()]
    entries += [(f"model.couplings.{i}.init", c.init, c.key, (program.layers[c.a].size, program.layers[c.b].size))
                for i, c in _declared_order(spec, program)]
    for at, init, key, shape in entries:
        if init.kind != "file":
            continue
        where = spec.loc(f"{at}.file.path")
        try:
            array = np.load(resolve(spec, init.options["path"]), allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            raise CompileError(f"cannot read '{init.options['path']}' as .npy ({exc}): "
                               "the file is damaged or "
                               "not an array; write it again with numpy.save", where) from None
        if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number) \
                or np.iscomplexobj(array):
            kind = (f"{array.dtype} values" if isinstance(array, np.ndarray)
                    else "an .npz archive")
            raise CompileError(f"'{init.options['path']}' holds {kind}; {key} needs one .npy array "
                               "of real numbers (numpy.save)", where)
        if array.shape != shape:
            raise CompileError(f"'{init.options['path']}' has shape {array.shape}, {key} needs {shape}", where)
        if not np.isfinite(array).all():
            raise CompileError(f"'{init.options['path']}' holds NaN or infinite values; {key} "
                               "needs finite ones", where)
        if program.keys[key].lateral:
            if not np.allclose(array, array.T):
                raise CompileError(f"'{init.options['path']}': lateral weights must be symmetric "
                                   f"(W = Wᵀ); the largest asymmetry is {np.abs(array - array.T).max():.3g}", where)
            if np.any(np.diag(array) != 0):
                raise CompileError(f"'{init.options['path']}': lateral weights need a zero diagonal "
                                   "(no unit couples to itself)", where)
        arrays[key] = array
    return arrays


def _declared_order(spec, program: Program) -> list:
    """(index in the spec, CouplingInfo) of every coupling with weights of its own (not tied)."""
    by_key = {c.key: c for c in (*program.couplings, *program.directed) if not c.transposed}
    return [(i, by_key[weight_key(*c.between, c.head)]) for i, c in enumerate(spec.model.couplings)
            if not c.tied]


def _mean_of(data_mean: dict | None, name: str, layer) -> np.ndarray:
    """The per-unit data mean of layer ``name`` for `bias: data_rates`: (size,), finite and
    within the unit type's values (a mean of binary data lies in [0, 1])."""
    size = layer.size
    given = data_mean is not None and name in data_mean
    mean = np.asarray(data_mean[name], float) if given else None
    if mean is None or mean.shape != (size,):
        got = "none was given" if mean is None else f"got shape {mean.shape}"
        raise ValueError(f"layer '{name}' has bias: data_rates, which needs its data's mean per "
                         f"unit: pass data_mean={{'{name}': array of shape ({size},)}} ({got})")
    if not np.isfinite(mean).all():
        raise ValueError(f"data_mean of layer '{name}' holds NaN or infinite values")
    # a softmax mean need not sum to 1 in a group (absent groups); its range is a binary one
    units = make_units("binary", size) if layer.units.name == "softmax" else layer.units
    problem = units.check_data(mean[None])
    if problem:
        raise ValueError(f"data_mean of layer '{name}': {problem}")
    return mean


def init_params(program: Program, seed: int, data_mean: dict | None = None, files: dict | None = None) -> dict:
    """Fresh parameters; ``data_mean`` maps layer -> mean of its data (for `data_rates`);
    ``files`` holds the arrays of `init: {file: ...}` (see :func:`read_init_files`)."""
    files = files or {}
    gen = np.random.default_rng(np.random.SeedSequence([seed, 0xB1A5]))
    host = {}
    for name, layer in program.layers.items():
        if layer.bias_init.kind == "file":
            host[f"bias.{name}"] = files[f"bias.{name}"]
        elif layer.bias_init.kind == "data_rates":
            mean = _mean_of(data_mean, name, layer)
            host[f"bias.{name}"] = data_rate_bias(layer.units, mean)
        else:
            host[f"bias.{name}"] = _draw(layer.bias_init, (layer.size,), gen)
        if layer.units.name == "gaussian":
            host[f"sigma.{name}"] = np.full(layer.size, layer.sigma)
        if layer.normalize is not None:         # γ = 1; running statistics of a standard field
            host[gain_key(name)] = np.ones(layer.size)
            host[runmean_key(name)] = np.zeros(layer.size)
            host[runvar_key(name)] = np.ones(layer.size)
    for c in program.directed:
        if c.kind == "recognition":
            host[f"recbias.{c.b}"] = np.zeros(program.layers[c.b].size)
        if c.head == "log_variance":            # q starts with unit variance
            host[f"lvbias.{c.b}"] = np.zeros(program.layers[c.b].size)
    for c in (*program.couplings, *program.directed):
        if c.transposed:                # tied: its weights are those of the coupling it mirrors
            continue
        if c.init.kind == "file":
            host[c.key] = files[c.key] if c.mask_np is None else files[c.key] * c.mask_np
            continue
        if c.stencil is not None:       # a uniform lattice: the one strength J, as a scalar
            host[c.key] = np.asarray(c.init.options["value"])
            continue
        w = _draw(c.init, (program.layers[c.a].size, program.layers[c.b].size), gen)
        if c.lateral:
            w = np.triu(w, 1)
            w = w + w.T
        host[c.key] = w if c.mask_np is None else w * c.mask_np
    return {k: program.xp.asarray(v, dtype=program.dtype) for k, v in host.items()}
