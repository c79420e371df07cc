"""A training step captured once as a CUDA graph and replayed for every minibatch (CuPy).

A CD-1 step of a 784-500 RBM at batch 100 is some 40 kernel launches around GEMMs that take
about as long as the launches do: at that size Python and the driver, not arithmetic, bound an
epoch. Captured as a graph, the step is one launch. What makes a step replayable:

- fixed addresses: the minibatch is gathered (sparse rows: made dense, ``data/sparse.py``) into
  one preallocated buffer per layer, outside the graph; parameters
  and optimizer slots are updated in place; an objective state the step rebinds (PCD's chains)
  is copied back into its old array at the end of the capture (``copy_back``);
- fresh random numbers: kernels read the Rng's key and step from its device state, which the
  step advances, so a replay draws exactly the numbers the eager step would (``backend/rng.py``;
  not the lattice kernel, which takes its key's round keys as launch parameters: a lattice
  model's step is not captured);
- no reads by the host inside the step, and no per-step host scalars: each objective says
  whether its step qualifies (``why_not_captured``); the optimizers keep their per-step values
  on the device (Adam's step count, a clipped gradient's scale), and their per-epoch ones too
  (learning rate, momentum: ``optim.EpochValues``), so one graph serves every epoch. What the
  host decides for a step is the trainer's ``step_key`` (CD-k's sweeps under a ``k_schedule``,
  whether a GAN's generator takes its turn): each key gets its own warm-up and graph;
- host bookkeeping outside the graph: a capture runs the step's Python without its kernels, so
  whatever host state it moved is put back (``_rebind``), and each launch does the step's host
  bookkeeping (a GAN's step counter) through the objective's ``replayed``;
- a private memory pool and stream (``backend/graphs.py``): the graph's temporaries keep their
  addresses between replays, and nothing outside the graph allocates from that pool.

A run's first step goes eagerly (it compiles the kernels and sets cuBLAS up, which a capture
must not do), and so does a last minibatch smaller than the rest. Eager and replayed steps take
the same random numbers, and the eager steps take the capture's products (``as_captured`` in
``backend/matmul.py``): a run resumed in a new process, whose warm-ups fall on other steps, ends
bit for bit where an unbroken one does. A run with graphs off (``EBMLANG_CUDA_GRAPHS=0``) takes
CuPy's own products, and ends where a captured one does up to rounding.
"""
from __future__ import annotations

from dataclasses import fields

import numpy as np

from ..backend import Rng
from ..backend.graphs import DISABLE, Capture, graphs_disabled
from ..backend.matmul import as_captured
from ..data.sparse import DeviceRows, take_rows


def why_not(trainer, train: dict) -> str | None:
    """Why ``trainer``'s steps on ``train`` cannot be captured, or None when they can."""
    if trainer.program.xp is np:
        return "NumPy has no CUDA graphs"
    if graphs_disabled():
        return f"{DISABLE}=0"
    from ..backend.matmul import cublas_unbound
    return cublas_unbound(trainer.program.xp) or why_not_step(trainer, train)


def why_not_step(trainer, train: dict) -> str | None:
    """Why the steps themselves (on any backend) cannot be replayed: they read values on the
    host, decide there what to compute, or take data the host must prepare."""
    from ..kernels.lattice_gpu import lattice_plan
    if lattice_plan(trainer.program) is not None:
        return ("the lattice kernel takes its Philox key as launch parameters, which a replayed "
                "graph would keep from the epoch it was captured in")
    says = getattr(trainer.objective, "why_not_captured", None)
    reason = says() if says else f"{type(trainer.objective).__name__} does not say its step can be"
    if reason is not None:
        return reason
    if not all(isinstance(v, (trainer.program.xp.ndarray, DeviceRows)) for v in train.values()):
        return "the training data is not on the device"
    return None


def state_arrays(st) -> dict:
    """Every array a step may touch, by (group, key): parameters, slots and objective state."""
    out = {("params", k): v for k, v in st.params.items()}
    out.update({("slots", k): v for k, v in st.slots.items()})
    for f in fields(st.objective):
        group = getattr(st.objective, f.name)
        if isinstance(group, dict):
            out.update({(f.name, k): v for k, v in group.items() if hasattr(v, "shape")})
    return out


def copy_back(st, before: dict) -> None:
    """Where the step rebound an array of ``st`` to a new one, write the new values into the old
    array and bind it again, so that the next replay reads what this one wrote."""
    for (group, key), new in state_arrays(st).items():
        old = before.get((group, key))
        if old is None or old is new:
            continue
        old[...] = new
        holders = {"params": st.params, "slots": st.slots}
        holder = holders[group] if group in holders else getattr(st.objective, group)
        holder[key] = old


def _bindings(st) -> dict:
    """Where ``st``'s arrays are bound: each dict of arrays and a copy of its contents."""
    holders = {"params": st.params, "slots": st.slots}
    holders.update({f.name: getattr(st.objective, f.name) for f in fields(st.objective)})
    return {name: (holder, dict(holder) if isinstance(holder, dict) else None)
            for name, holder in holders.items()}


def _rebind(st, bindings: dict) -> None:
    """Undo what a step did to ``st``'s bindings and host values (not to array contents): after
    a capture, whose kernels never ran."""
    for name, (holder, contents) in bindings.items():
        if name not in ("params", "slots"):
            setattr(st.objective, name, holder)
        if contents is not None:
            holder.clear()
            holder.update(contents)


class GraphStep:
    """Captures ``trainer``'s step on full minibatches of ``size`` rows, one graph per step key
    of the state being trained, and replays them."""

    def __init__(self, trainer, train: dict, size: int):
        xp = trainer.program.xp     # CuPy (NumPy in the tests, with a stand-in Capture)
        self.trainer, self.xp, self.size = trainer, xp, size
        self.capture = Capture(xp)
        self.batch = {k: xp.empty((size,) + v.shape[1:], dtype=v.dtype) for k, v in train.items()}
        self.rng = Rng(xp, 0, counter_based=True)
        self.state = None                       # the training state the graphs below are for
        self.graphs: dict = {}                  # step key -> graph
        self.warmed: set = set()                # the step keys that had their eager warm-up
        self.failed: str | None = None          # why a capture failed: the stage then runs eagerly

    @property
    def status(self) -> str:
        if self.failed:
            return self.failed
        return "captured" if self.graphs else "no full minibatch captured yet"

    def start_epoch(self, rng: Rng) -> Rng:
        """The epoch's stream, in the state array the graph reads; eager steps use it too. The
        graph's stream first waits for the work queued before (the data, the epoch's order)."""
        self.capture.follow()
        with self.capture.stream:
            self.rng.restart(*rng.key)
        return self.rng

    def step(self, st, train: dict, rows) -> None:
        """One step on the rows ``rows`` of ``train`` (a device index array): a replay of the
        graph of its step key for a full minibatch, else (the first step of each key, a smaller
        last one) an eager step."""
        with self.capture.stream:
            if len(rows) != self.size:
                self._eager(st, {k: take_rows(v, rows) for k, v in train.items()})
                return
            for k, v in train.items():
                take_rows(v, rows, out=self.batch[k])
            if self.state is not st:            # graphs record the arrays of one state
                self.state, self.graphs, self.warmed = st, {}, set()
            key = self.trainer.step_key(st)
            if key in self.warmed and key not in self.graphs and self.failed is None:
                self._capture(st, key)
            graph = self.graphs.get(key)
            if graph is not None:
                self.capture.launch(graph)
                self._replayed(st)
            else:       # the warm-up of each key: compiles every kernel the capture will
                self._eager(st, self.batch)         # record, and makes the state it keeps
                self.warmed.add(key)

    def _eager(self, st, batch: dict) -> None:
        """The step as the graph holds it: advance the stream, step, copy rebound state back."""
        before = state_arrays(st)
        self.rng.advance()
        with as_captured():
            self.trainer.step(st, batch, self.rng)
        copy_back(st, before)

    def _capture(self, st, key) -> None:
        """Record the step. Its kernels do not run, so what its Python moved on the host (the
        bindings copy_back already restores, a GAN's counter) is put back, and the launch that
        follows does the step."""
        bindings, held = _bindings(st), state_arrays(st).keys()
        try:
            graph = self.capture.record(lambda: self._eager(st, self.batch))
            if state_arrays(st).keys() != held:     # its new arrays would live in the graph only
                raise RuntimeError("the step created state while it was captured")
        except Exception as exc:
            self.failed = f"capture failed: {type(exc).__name__}: {exc}"
            return
        finally:
            _rebind(st, bindings)
        self.graphs[key] = graph

    def _replayed(self, st) -> None:
        """The host's share of a launched step (see the objectives' ``replayed``)."""
        replayed = getattr(self.trainer.objective, "replayed", None)
        if replayed is not None:
            replayed(st.objective)

    def finish(self) -> None:
        """Wait for the epoch's steps (the host reads the parameters next)."""
        self.capture.synchronize()
