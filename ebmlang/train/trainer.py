"""Stage 5, train: one training loop for every objective, one stage at a time.

A step is the objective's gradient on a minibatch followed by the update of each parameter
group's optimizer (``optim.py``: SGD with momentum, Adam), g being the objective's ascent direction.

A stage (one entry of the spec's `train`) trains a sub-program of the model (its layers and the
couplings among them) on the layers its data reaches; ``stages.py`` plans what each stage sees.
Randomness of stage s, epoch e comes from the stream keyed (seed, e) (seed, s, e for s > 0), so
the state after any epoch — parameters, the optimizers' slots, the objective's state (persistent chains,
sparsity estimates, centring offsets), the stage and the epoch — is all a resume needs.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ..backend import Rng
from ..compile import Program, tie_mirrors
from ..compile.inputs import check_states, layer_names, seed_value
from ..data.sparse import DeviceRows, SparseRows, is_sparse, take_rows
from ..objectives import ObjectiveState, PhaseStats, make_objective, phase_difference
from ..spec.types import TrainSpec
from .graph import GraphStep, why_not
from .optim import Optimizers


@dataclass
class TrainState:
    """Everything that changes during training (the arrays are updated in place)."""

    params: dict
    slots: dict                         # the optimizers' state: `<slot>.<key>` -> array (see optim.py)
    objective: ObjectiveState = field(default_factory=ObjectiveState)
    stage: int = 0                      # the stage in progress (stages completed before it)
    epoch: int = 0                      # epochs completed in that stage

    @property
    def velocity(self) -> dict:
        """SGD's velocities by parameter key."""
        return {k.removeprefix("velocity."): v for k, v in self.slots.items() if k.startswith("velocity.")}

    # the objective's state, by its old names (the Python API of one-stage training)
    @property
    def chains(self):
        return self.objective.chains

    @property
    def offsets(self):
        return self.objective.offsets

    @property
    def activity(self):
        return self.objective.activity


class Trainer:
    """Runs one stage: ``stage`` (a TrainSpec) on ``program`` (the stage's sub-program) with the
    layers ``clamp`` taking data."""

    def __init__(self, program: Program, stage: TrainSpec, clamp: tuple, seed: int, index: int = 0):
        if not isinstance(stage, TrainSpec):
            raise TypeError("stage is one TrainSpec; a spec of several stages (spec.train is a "
                            "tuple) trains them in turn, each on its sub-program: ebmlang.run")
        self.clamp = layer_names(program, clamp, "clamp")
        self.program, self.spec, self.seed, self.index = program, stage, seed_value(seed), index
        self.objective = make_objective(program, stage, self.clamp, self.seed)
        self.keys = self.objective.keys
        self.optimizers = Optimizers(stage.optimizer, stage.groups, self.keys, stage.clip_norm,
                                     stage.average)
        self.graph: GraphStep | None = None     # the captured step (CuPy), made at the first epoch
        self._graph_refused = "not tried"       # why the stage's steps cannot be captured
        self._sparse: dict = {}                 # layer -> (SparseRows, its DeviceRows)
        self._ahead = None                      # ((epoch, rows), order) made ahead
        self._seen: dict = {}                   # layer -> the data last checked

    @property
    def phases(self):
        return self.objective.phases

    def init_state(self, params: dict) -> TrainState:
        slots = self.optimizers.init_slots(params, self.program.xp)
        return TrainState(params, slots, self.objective.init_state(params), stage=self.index)

    def gradient(self, params: dict, pos: PhaseStats, neg: PhaseStats) -> tuple[dict, float]:
        """The Boltzmann phase difference for given phase statistics (see
        ``objectives.boltzmann``)."""
        return phase_difference(self.program, params, pos, neg, self.keys)

    def step(self, st: TrainState, batch: dict, rng: Rng) -> None:
        """The updates of one minibatch (layer -> (B, size) data), in place on ``st``: one, or for
        an objective with ``updates`` (a GAN's alternating players) each it yields, in turn. The
        learning rate and momentum are those of the epoch ``run_epoch`` set last (epoch 0 before
        any): a step never reads ``st.epoch``, so that one captured step serves every epoch."""
        if hasattr(self.objective, "updates"):
            steps = self.objective.updates(st.params, st.objective, batch, rng)
        else:
            steps = (self.objective.gradient(st.params, st.objective, batch, rng),)
        for grads, scale in steps:
            self.optimizers.update(st.params, st.slots, grads, self.program.keys, scale)

    def epoch_rng(self, epoch: int) -> Rng:
        key = (self.seed, 1 + epoch) if self.index == 0 else (self.seed, self.index, 1 + epoch)
        return Rng(self.program.xp, *key)

    def run_epoch(self, st: TrainState, train, layer: str | None = None, on_batch=None) -> None:
        """One pass over ``train`` ({layer: (N, size)} of the clamped layers, or one array with
        its ``layer``) in shuffled minibatches; then ``st.epoch`` += 1. The data are checked
        first (a data set seen before is not checked again)."""
        given = {layer: train} if layer is not None else train
        self.train_epoch(st, self._checked(given), on_batch)

    def train_epoch(self, st: TrainState, train: dict, on_batch=None) -> None:
        """:meth:`run_epoch` on data known to be right: arrays on the backend (or sparse rows) of
        the clamped layers, as the runner holds them (checked when loaded). ``on_batch(done,
        total)`` follows the progress."""
        if getattr(self.objective, "one_shot", False):
            self.objective.store(st.params, train)
            st.epoch = max(self.spec.epochs, 1)
            return
        train = self._held(train)
        xp, epoch = self.program.xp, st.epoch
        if hasattr(self.objective, "at_epoch"):
            self.objective.at_epoch(epoch)
        self.optimizers.at_epoch(epoch, self.spec.epochs, xp)
        rng = self.epoch_rng(epoch)
        n = next(iter(train.values())).shape[0]
        # each minibatch gathers its rows: no shuffled copy of the whole set (on 60,000 MNIST
        # images that copy is 188 MB of fresh pages per epoch); sparse rows are densified here
        on_backend = self._order(epoch, n)
        size = self.spec.batch_size
        graph = self._graph_for(train, size)
        if graph is not None:
            rng = graph.start_epoch(rng)
        for start in range(0, n, size):
            rows = slice(start, start + size)
            if graph is not None:
                graph.step(st, train, on_backend[rows])
            else:
                batch = {k: take_rows(v, on_backend[rows]) for k, v in train.items()}
                rng.advance()       # a counter-based stream (CuPy) moves to this step's numbers
                self.step(st, batch, rng)
            if on_batch is not None:
                on_batch(min(start + size, n), n)
        if graph is not None:
            self._order_ahead(epoch + 1, n)     # on the host while the device runs the steps
            graph.finish()
        tie_mirrors(self.program, st.params)
        st.epoch += 1

    def _order(self, epoch: int, n: int):
        """The shuffled order of ``n`` rows in ``epoch`` (from the epoch's stream), on the backend:
        the one made ahead, when it was."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead[0] == (epoch, n):
            return ahead[1]
        return self._shuffled(epoch, n)

    def _order_ahead(self, epoch: int, n: int) -> None:
        """Make ``epoch``'s order now: a GPU epoch does it once its steps are queued, which takes
        the host's permutation (about 1 ms for 60,000 rows) out of the time between epochs."""
        self._ahead = ((epoch, n), self._shuffled(epoch, n))

    def _shuffled(self, epoch: int, n: int):
        return self.program.xp.asarray(self.epoch_rng(epoch).permutation(n))

    def _checked(self, train) -> dict:
        """``train`` checked as the clamped layers' data (``compile/inputs.py``), dense arrays
        on the backend in the program's dtype. An array checked before is not checked again
        (what it holds after an in-place change is taken as it is), but converted each time."""
        if not isinstance(train, Mapping):
            raise TypeError("run_epoch takes {layer: (N, size) array}, or one array with its layer")
        if set(train) != set(self.clamp):
            raise ValueError(f"the data must give exactly the clamped layers "
                             f"({', '.join(self.clamp) or 'none'}), "
                             f"got {', '.join(train) or 'none'}")
        xp, dtype = self.program.xp, self.program.dtype
        out = {}
        for name, value in train.items():
            if self._seen.get(name) is not value:
                self._check_data(name, value)
                self._seen[name] = value
            out[name] = value if is_sparse(value) else xp.asarray(value, dtype=dtype)
        rows = {x.shape[0] for x in out.values()}
        if len(rows) > 1:
            raise ValueError("the clamped layers' data differ in their number of rows")
        if 0 in rows:
            raise ValueError("run_epoch needs at least one example")
        return out

    def _check_data(self, name: str, value) -> None:
        """Layer ``name``'s data as check_states takes it; sparse rows: their width."""
        if not is_sparse(value):
            check_states(self.program, {name: value}, "the data")
        elif value.shape[1] != self.program.layers[name].size:
            raise ValueError(f"layer '{name}' takes rows of {self.program.layers[name].size} "
                             f"units, got sparse rows of {value.shape[1]}")

    def _held(self, train: dict) -> dict:
        """``train`` with its sparse rows held by the backend (moved once per data set), where
        each minibatch is made dense (``data/sparse.py``)."""
        held = {}
        for key, value in train.items():
            if isinstance(value, SparseRows):
                source, rows = self._sparse.get(key, (None, None))
                if source is not value:
                    rows = DeviceRows.of(value, self.program.xp, self.program.dtype)
                    self._sparse[key] = (value, rows)
                value = rows
            held[key] = value
        return held

    def _graph_for(self, train: dict, size: int) -> GraphStep | None:
        """The captured step for full minibatches of ``size`` rows of ``train``, when the backend,
        objective and optimizers allow one (see ``graph.py``); else None."""
        self._graph_refused = why_not(self, train)
        if self._graph_refused is not None:
            self.graph = None
            return None
        if self.graph is None or self.graph.size != size:
            self.graph = GraphStep(self, train, size)
        return self.graph

    def step_key(self, st: TrainState):
        """What the host decides for the next step of ``st``, which a captured step holds: the
        objective's ``step_key`` (CD-k's sweeps under a ``k_schedule``, a GAN's generator turn),
        None for most. ``graph.py`` captures one graph for each key."""
        key = getattr(self.objective, "step_key", None)
        return key(st.objective) if key else None

    @property
    def graph_status(self) -> str:
        """"captured" when the steps replay as a CUDA graph, else why not."""
        return self._graph_refused or self.graph.status
