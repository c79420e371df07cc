"""The compiled model as a Python object: a Program plus its parameters.

    >>> spec = ebmlang.load_spec("specs/rbm-bars-and-stripes.yaml", overrides=["train.epochs=5"])
    >>> model = ebmlang.compile_spec(spec)
    >>> model.energy({"v": v, "h": h})          # (batch,)
    >>> model.free_energy({"v": v})            # h summed out
    >>> model.conditional("h", {"v": v}).prob  # p(h_j = 1 | v)
    >>> model.sample(16, sweeps=100)           # {"v": ..., "h": ...}
    >>> model.ais_log_partition(runs=100, steps=1000, data={"v": train})   # .log_z, .lower, .upper
    >>> model.reverse_ais({"v": test}, steps=1000, base_data={"v": train}).log_likelihood

Methods take and return backend arrays (NumPy or CuPy, as compiled); inputs may be NumPy.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from . import kernels
from .backend import Rng, get_namespace, to_numpy
from .compile import Program, init_params, lower
from .compile.inputs import (check_layer, check_states, layer_names, real_number, require,
                             seed_value, whole_number)
from .compile.params import read_init_files
from .eval import ais, belief, exact
from .eval.metrics import reconstruct
from .graph import build_graph
from .spec import Spec
from .train.optim import check_groups


class Model:
    def __init__(self, program: Program, params: dict, spec: Spec | None = None):
        self.program, self.params, self.spec = program, params, spec

    @classmethod
    def from_spec(cls, spec: Spec, backend: str | None = None, data_mean: dict | None = None) -> "Model":
        if not isinstance(spec, Spec):
            raise TypeError(f"expected a Spec, got {type(spec).__name__}: read one with "
                            "ebmlang.load_spec(path) or ebmlang.parse_spec(text)")
        xp = get_namespace(backend or spec.backend, spec.loc("backend"))
        program = lower(build_graph(spec), xp, spec.dtype)
        params = init_params(program, spec.seed, data_mean, read_init_files(spec, program))
        check_groups(spec, program)
        if spec.problem is not None:        # the problem fixes the energy: its biases and couplings
            from .problems import parameters
            params.update({k: xp.asarray(v, dtype=program.dtype) for k, v in parameters(spec).items()})
        return cls(program, params, spec)

    @property
    def xp(self):
        return self.program.xp

    @property
    def layers(self) -> dict:
        return self.program.layers

    def _state(self, state, what: str = "state") -> dict:
        """``state`` on the backend in the model's dtype, checked (``compile/inputs.py``): known
        layers, (batch, size) arrays of values their unit types take, finite, one batch size."""
        return check_states(self.program, state, what)

    def energy(self, state: dict):
        """E(x) of full states: layer -> (batch, size); returns (batch,)."""
        state = self._state(state)
        require(state, self.layers, "energy (of a full state)")
        return kernels.energy(self.program, self.params, state)

    def free_energy(self, state: dict, sum_out=None):
        """F of the given layers with ``sum_out`` (a layer or several; default: all others) summed
        out: (batch,). Every layer is either given or summed out."""
        state = self._state(state)
        if sum_out is not None:
            sum_out = layer_names(self.program, sum_out, "sum_out")
            both = [n for n in sum_out if n in state]
            if both:
                raise ValueError(f"layer {', '.join(both)} is both given and summed out")
            require(state, [n for n in self.layers if n not in sum_out],
                    f"free_energy with sum_out={list(sum_out)}")
        return kernels.free_energy(self.program, self.params, state, sum_out)

    def conditional(self, layer: str, state: dict):
        """Parameters of p(layer | the others) (Bernoulli / Categorical / Normal NamedTuple), in
        the energy's undirected couplings; ``state`` gives the layers ``layer`` is coupled to."""
        state = self._state(state)
        check_layer(self.program, layer)
        if any(layer in (c.a, c.b) for c in self.program.directed):
            raise ValueError(f"layer '{layer}' has directed couplings: its conditional is not "
                             "that of an energy (a DBN's lower layers are generated top-down)")
        require(state, self.program.neighbours[layer], f"the conditional of layer '{layer}'")
        return kernels.conditional(self.program, self.params, state, layer)

    def sample(self, count: int, sweeps: int = 100, seed: int = 0, start: dict | None = None,
               clamp: dict | None = None) -> dict:
        """Block-Gibbs chains: ``count`` chains from random states (or ``start``: the layers it
        does not give are drawn from it first), with the layers in ``clamp`` held at the given
        values, after ``sweeps`` sweeps. A DBN's samples are ancestral: the chains run in its
        top RBM, then one top-down pass (``start`` unused)."""
        count, sweeps = whole_number(count, "count", 1), whole_number(sweeps, "sweeps", 0)
        rng = Rng(self.xp, seed_value(seed), 0x5A4D)
        start, clamp = self._state(start or {}, "start"), self._state(clamp or {}, "clamp")
        given = {**start, **clamp}
        if any(x.shape[0] != count for x in given.values()):
            raise ValueError(f"start and clamp must hold {count} rows, one per chain")
        held = frozenset(clamp)
        if self.program.generated:
            return belief.ancestral_sample(self.program, self.params, count, sweeps, rng, clamp)
        state = {**kernels.random_state(self.program, self.params, count, rng), **given}
        if start:       # the layers not given go first: the schedule's first block (an RBM's
            # visible layer) would otherwise overwrite the start before anything read it
            state = kernels.gibbs_sweep(self.program, self.params, state, rng, held | set(start))
        return kernels.gibbs_sweep(self.program, self.params, state, rng, held, sweeps)

    def reconstruct(self, data: dict) -> dict:
        """One deterministic up-down pass from ``data`` ({layer: examples})."""
        return reconstruct(self.program, self.params, self._examples(data, "reconstruct"))

    def _examples(self, data, what: str, one_layer: bool = False) -> dict:
        """``data`` checked as examples: at least one layer (exactly one with ``one_layer``) and
        at least one row."""
        data = self._state(data, what)
        if not data or (one_layer and len(data) != 1):
            raise ValueError(f"{what} needs examples of {'one layer' if one_layer else 'a layer'}: "
                             "{layer: (examples, size) array}")
        if next(iter(data.values())).shape[0] == 0:
            raise ValueError(f"{what}: the examples are empty (0 rows)")
        return data

    def log_partition(self) -> float:
        """Exact log Z by enumeration (small models only)."""
        return exact.log_partition(self.program, self.params)

    def log_likelihood(self, data: dict, log_z: float | None = None) -> np.ndarray:
        """Exact log p(data) per example, other layers marginalised (small models only);
        ``log_z``, when known, saves its enumeration."""
        data = self._examples(data, "log_likelihood")
        if log_z is not None:
            log_z = real_number(log_z, "log_z")
        if self.program.generated:
            return belief.exact_log_likelihood(self.program, self.params, data)
        return exact.log_likelihood(self.program, self.params, data, log_z)

    def ais_log_partition(self, runs: int = 100, steps: int = 14500, data: dict | None = None, seed: int = 0,
                          spacing: str = "salakhutdinov") -> ais.AisResult:
        """log Z by forward AIS, with ±3σ bounds (any model). ``data`` ({layer: examples}) sets the
        base model's rates on that layer, which keeps it from being summed out."""
        layer, mean = None, None
        if data is not None:
            (layer, x), = self._examples(data, "ais_log_partition's data", one_layer=True).items()
            mean = to_numpy(x).mean(axis=0)
        return ais.ais_log_partition(self.program, self.params, runs, steps, spacing, mean,
                                     seed_value(seed), layer)

    def reverse_ais(self, data: dict, steps: int = 14500, seed: int = 0, base_data: dict | None = None,
                    spacing: str = "salakhutdinov") -> ais.ReverseResult:
        """Reverse AIS from the examples ``data`` ({layer: examples}): per-example conservative
        log q̂(v), and log Z from that side (RBM family). ``base_data`` sets the base rates as in
        :meth:`ais_log_partition` (pass the same data to both to compare the two sides)."""
        data = self._examples(data, "reverse_ais", one_layer=True)
        mean = None
        if base_data is not None:
            base = self._examples(base_data, "reverse_ais's base_data", one_layer=True)
            if set(base) != set(data):
                raise ValueError(f"base_data must be of the same layer as data ({', '.join(data)})")
            mean = to_numpy(next(iter(base.values()))).mean(axis=0)
        return ais.reverse_ais(self.program, self.params, data, steps, spacing, mean,
                               seed_value(seed))

    def parameters(self) -> dict:
        """NumPy copies of the parameters, keyed as in model.npz (training does not change them)."""
        return {k: np.array(to_numpy(v)) for k, v in self.params.items()}

    def load_parameters(self, arrays) -> None:
        """Copy ``arrays`` ({key: array}, e.g. a model.npz read with np.load, or
        :meth:`parameters`) into the model: every key, of its shape, finite. Other keys (a
        checkpoint's optimizer slots) are ignored; on any mistake nothing is loaded."""
        if not isinstance(arrays, Mapping):
            raise TypeError(f"load_parameters takes a dict {{key: array}}, got "
                            f"{type(arrays).__name__} (read a model.npz with numpy.load)")
        found = [_parameter_problem(key, arrays.get(key), value.shape)
                 for key, value in self.params.items()]
        problems = [problem for problem in found if problem]
        if problems:
            raise ValueError("cannot load the parameters: " + "; ".join(problems))
        for key in self.params:
            self.params[key] = self.xp.array(arrays[key], dtype=self.program.dtype)


def _parameter_problem(key: str, given, shape) -> str | None:
    """Why ``given`` cannot be parameter ``key`` of ``shape``, or None."""
    if given is None:
        return f"{key} is missing"
    given = to_numpy(given) if hasattr(given, "shape") else np.asarray(given)
    if given.dtype.kind not in "biuf":
        return f"{key} holds {given.dtype} values, not real numbers"
    if tuple(given.shape) != tuple(shape):
        return f"{key} has shape {tuple(given.shape)}, the model's is {tuple(shape)}"
    if not np.isfinite(given).all():
        return f"{key} holds NaN or infinite values"
    return None


def compile_spec(spec: Spec, backend: str | None = None, data_mean: dict | None = None) -> Model:
    """Spec -> graph -> Program -> a Model with freshly initialised parameters."""
    return Model.from_spec(spec, backend, data_mean)
