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

import numpy as np

from . import kernels
from .backend import Rng, get_namespace, to_numpy
from .compile import Program, init_params, lower
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

    def _known(self, name: str) -> None:
        if name not in self.layers:
            raise ValueError(f"unknown layer '{name}'; the layers are {', '.join(self.layers)}")

    def _state(self, state: dict) -> dict:
        """``state`` on the backend in the model's dtype, checked: known layers, each (batch,
        size) and finite, one batch size for all."""
        out = {}
        for name, value in state.items():
            self._known(name)
            x = self.xp.asarray(value, dtype=self.program.dtype)
            size = self.layers[name].size
            if x.ndim != 2 or x.shape[1] != size:
                raise ValueError(f"layer '{name}' takes (batch, {size}) arrays, "
                                 f"got shape {x.shape}")
            if not bool(self.xp.isfinite(x).all()):
                raise ValueError(f"layer '{name}': the array holds NaN or infinite values")
            out[name] = x
        batches = {x.shape[0] for x in out.values()}
        if len(batches) > 1:
            raise ValueError(f"the layers' arrays differ in batch size: "
                             f"{', '.join(f'{n} {x.shape[0]}' for n, x in out.items())}")
        return out

    def energy(self, state: dict):
        """E(x) of full states: layer -> (batch, size); returns (batch,)."""
        return kernels.energy(self.program, self.params, self._state(state))

    def free_energy(self, state: dict, sum_out=None):
        """F of the given layers with ``sum_out`` (default: all others) summed out: (batch,)."""
        for name in sum_out or ():
            self._known(name)
        return kernels.free_energy(self.program, self.params, self._state(state), sum_out)

    def conditional(self, layer: str, state: dict):
        """Parameters of p(layer | the others) (Bernoulli / Categorical / Normal NamedTuple), in
        the energy's undirected couplings."""
        state = self._state(state)
        self._known(layer)
        if any(layer in (c.a, c.b) for c in self.program.directed):
            raise ValueError(f"layer '{layer}' has directed couplings: its conditional is not "
                             "that of an energy (a DBN's lower layers are generated top-down)")
        return kernels.conditional(self.program, self.params, state, layer)

    def sample(self, count: int, sweeps: int = 100, seed: int = 0, start: dict | None = None,
               clamp: dict | None = None) -> dict:
        """Block-Gibbs chains: ``count`` chains from random states (or ``start``: the layers it
        does not give are drawn from it first), with the layers in ``clamp`` held at the given
        values, after ``sweeps`` sweeps. A DBN's samples are ancestral: the chains run in its
        top RBM, then one top-down pass (``start`` unused)."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 1 or sweeps < 0:
            raise ValueError(f"sample needs a count ≥ 1 and sweeps ≥ 0, got {count} and {sweeps}")
        rng = Rng(self.xp, seed, 0x5A4D)
        given = self._state({**(start or {}), **(clamp or {})})
        if any(x.shape[0] != count for x in given.values()):
            raise ValueError(f"start and clamp must hold {count} rows, one per chain")
        held = frozenset(clamp or ())
        if self.program.generated:
            return belief.ancestral_sample(self.program, self.params, count, sweeps, rng,
                                           {n: given[n] for n in held})
        state = {**kernels.random_state(self.program, self.params, count, rng), **given}
        if start:       # the layers not given go first: the schedule's first block (an RBM's
            # visible layer) would otherwise overwrite the start before anything read it
            state = kernels.gibbs_sweep(self.program, self.params, state, rng, held | set(start))
        return kernels.gibbs_sweep(self.program, self.params, state, rng, held, sweeps)

    def reconstruct(self, data: dict) -> dict:
        return reconstruct(self.program, self.params, self._state(data))

    def log_partition(self) -> float:
        """Exact log Z by enumeration (small models only)."""
        return exact.log_partition(self.program, self.params)

    def log_likelihood(self, data: dict, log_z: float | None = None) -> np.ndarray:
        """Exact log p(data) per example, other layers marginalised (small models only)."""
        if not data:
            raise ValueError("log_likelihood needs examples of at least one layer: "
                             "{layer: (batch, size)}")
        if self.program.generated:
            return belief.exact_log_likelihood(self.program, self.params, self._state(data))
        return exact.log_likelihood(self.program, self.params, self._state(data), log_z)

    def ais_log_partition(self, runs: int = 100, steps: int = 14500, data: dict | None = None, seed: int = 0,
                          spacing: str = "salakhutdinov") -> ais.AisResult:
        """log Z by forward AIS, with ±3σ bounds (any model). ``data`` ({layer: examples}) sets the
        base model's rates on that layer, which keeps it from being summed out."""
        layer, mean = None, None
        if data:
            if len(data) != 1:
                raise ValueError("data sets the base rates of one layer: {layer: examples}")
            (layer, x), = self._state(data).items()
            mean = to_numpy(x).mean(axis=0)
        return ais.ais_log_partition(self.program, self.params, runs, steps, spacing, mean, seed, layer)

    def reverse_ais(self, data: dict, steps: int = 14500, seed: int = 0, base_data: dict | None = None,
                    spacing: str = "salakhutdinov") -> ais.ReverseResult:
        """Reverse AIS from the examples ``data`` ({layer: examples}): per-example conservative
        log q̂(v), and log Z from that side (RBM family). ``base_data`` sets the base rates as in
        :meth:`ais_log_partition` (pass the same data to both to compare the two sides)."""
        data = self._state(data)
        mean = None
        if base_data:
            if set(base_data) != set(data):
                raise ValueError(f"base_data must be of the same layer as data ({', '.join(data)})")
            mean = to_numpy(self._state(base_data)[next(iter(data))]).mean(axis=0)
        return ais.reverse_ais(self.program, self.params, data, steps, spacing, mean, seed)

    def parameters(self) -> dict:
        """NumPy copies of the parameters, keyed as in model.npz."""
        return {k: to_numpy(v) for k, v in self.params.items()}

    def load_parameters(self, arrays: dict) -> None:
        for key, value in self.params.items():
            if key not in arrays or tuple(arrays[key].shape) != tuple(value.shape):
                raise ValueError(f"parameter {key} missing or of the wrong shape")
            self.params[key] = self.xp.asarray(arrays[key], dtype=self.program.dtype)


def compile_spec(spec: Spec, backend: str | None = None, data_mean: dict | None = None) -> Model:
    """Spec -> graph -> Program -> a Model with freshly initialised parameters."""
    return Model.from_spec(spec, backend, data_mean)
