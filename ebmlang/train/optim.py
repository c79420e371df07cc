"""Optimizers: SGD with momentum and Adam, each over a group of parameters, with weight decay
and a learning-rate schedule over epochs. Gradients g are ascent directions (of a log-likelihood
or any objective J), given as batch sums times ``scale`` (1/B; with `clip_norm` a 0-d array on the
gradients' device, see :func:`clipped_scale`):

    sgd    v ← m·v + lr·(g − λW)                          θ ← θ + v
    adam   m ← β₁m + (1 − β₁)(g − λW),  s ← β₂s + (1 − β₂)(g − λW)²
           θ ← θ + lr · √(1 − β₂ᵗ)/(1 − β₁ᵗ) · m / (√s + ε)   (Kingma & Ba 2015, the bias
           corrections folded into the step size, as in their §2)

σ of gaussian layers is updated in log space (σ ← σ·e^Δ), which keeps it positive. An
optimizer's state lives in *slots*: arrays named `<slot>.<parameter key>` (`velocity.weight.v.h`,
`adam_m.…`, `adam_s.…`, `adam_t.…`), which the checkpoint stores as they are. Updates work in
place: at 784 × 500 a fresh array per step costs more than the arithmetic.

With a stage's `average` β, the slot `average.<key>` holds θ̄ ← βθ̄ + (1 − β)θ, moved after
every update of that key; :func:`adopt_averages` puts θ̄ in place of θ when the stage ends (and
when `ebm eval` reloads a run).

The learning rate and the momentum change only between epochs: ``at_epoch`` sets them before an
epoch's steps, which never read the epoch themselves. On CuPy they are held in 0-d device arrays
written in place (``EpochValues``), so that a step captured as a CUDA graph reads each epoch's
values and one capture serves the whole stage (``graph.py``).
"""
from __future__ import annotations

from fnmatch import fnmatchcase

import numpy as np

from ..backend import fused, namespace_of
from ..compile import tie_mirrors
from ..spec.types import AdamSpec, SgdSpec

AVERAGE = "average."        # the slot prefix of a parameter's moving average


def check_groups(spec, program) -> None:
    """Every `groups` pattern of every stage must match a parameter key of the model, and every
    group must be left some key by the groups before it (the first group to match a key takes
    it): otherwise the group is a slip (a typo, a layer renamed) that would silently leave the
    stage's own optimizer in charge. A located SpecError otherwise."""
    from ..errors import SpecError
    for index, stage in enumerate(spec.stages):
        taken = set()
        for g, group in enumerate(stage.groups):
            at = f"{spec.stage_path(index)}.groups.{g}"
            mine = _group_keys(spec, program, group, at) - taken
            if not mine:
                raise SpecError(spec.renamed(f"{at} is left no parameter: the groups before it "
                                             "take every key it matches (the first group to "
                                             "match a key takes it)"), spec.loc(at))
            taken |= mine


def _group_keys(spec, program, group, at: str) -> set:
    """The model's keys that ``group``'s patterns match; a SpecError for a pattern matching none."""
    from ..errors import SpecError
    from ..spec.constraints import suggest
    keys = set()
    for p, pattern in enumerate(group.params):
        matched = {key for key in program.keys if fnmatchcase(key, pattern)}
        if not matched:
            raise SpecError(spec.renamed(
                f"{at}.params.{p}: '{pattern}' matches no parameter of the model"
                f"{suggest(pattern, program.keys)}; its parameters are "
                f"{', '.join(sorted(program.keys))}"), spec.loc(f"{at}.params.{p}"))
        keys |= matched
    return keys


def learning_rate(spec, epoch: int, epochs: int) -> float:
    kind, o = spec.schedule.kind, spec.schedule.options
    if kind == "linear":
        return spec.lr * (1 + (o["end_factor"] - 1) * epoch / max(1, epochs - 1))
    if kind == "exponential":
        return spec.lr * o["gamma"] ** epoch
    if kind == "step":
        return spec.lr * o["gamma"] ** (epoch // o["every"])
    return spec.lr


def momentum(sgd: SgdSpec, epoch: int) -> float:
    if sgd.final_momentum is not None and epoch >= sgd.momentum_switch_epoch:
        return sgd.final_momentum
    return sgd.momentum


class EpochValues:
    """An optimizer's per-epoch numbers: ``host`` (for the host's decisions) and ``held`` (what
    the update computes with): the same numbers on NumPy, 0-d float64 arrays on CuPy, whose
    contents ``set`` rewrites on the current stream."""

    def __init__(self):
        self.host: dict = {}
        self.held: dict = {}

    def set(self, xp, **values: float) -> None:
        self.host = {name: float(v) for name, v in values.items()}
        for name, value in self.host.items():
            if xp is np:
                self.held[name] = value
                continue
            if not isinstance(self.held.get(name), xp.ndarray):
                self.held[name] = xp.empty((), dtype=np.float64)
            self.held[name].fill(value)


def _apply(params: dict, key: str, step, log_scale: bool) -> None:
    if log_scale:
        params[key] *= namespace_of(step).exp(step)
    else:
        params[key] += step


class Sgd:
    slots = ("velocity",)

    def __init__(self, spec: SgdSpec, keys: tuple):
        self.spec, self.keys = spec, keys
        self.values = EpochValues()

    def at_epoch(self, epoch: int, epochs: int, xp) -> None:
        self.values.set(xp, lr=learning_rate(self.spec, epoch, epochs),
                        momentum=momentum(self.spec, epoch))

    def update(self, params: dict, slots: dict, grads: dict, roles: dict, scale) -> None:
        """In place: ``grads`` are consumed and overwritten."""
        lr, mom = self.values.held["lr"], self.values.held["momentum"]
        decay = self.spec.weight_decay
        for key in self.keys:
            g = grads.get(key)
            if g is None:
                continue
            v, w, xp = slots[f"velocity.{key}"], params[key], namespace_of(g)
            decays = bool(decay) and roles[key].decays
            if xp is not np and not roles[key].log_scale and g.dtype == w.dtype == v.dtype:
                fused.momentum_step(g, v, w, scale, lr, decay if decays else 0.0, mom)  # one launch
                continue
            rate = lr if xp is np else lr.astype(g.dtype)      # no float64 temporaries
            g *= rate * scale
            if decays:
                g -= (rate * decay) * w
            if self.values.host["momentum"] or xp is not np:    # the device never branches
                v *= mom
                v += g
            else:
                v[...] = g
            _apply(params, key, v, roles[key].log_scale)


class Adam:
    slots = ("adam_m", "adam_s", "adam_t")

    def __init__(self, spec: AdamSpec, keys: tuple):
        self.spec, self.keys = spec, keys
        self.values = EpochValues()

    def at_epoch(self, epoch: int, epochs: int, xp) -> None:
        self.values.set(xp, lr=learning_rate(self.spec, epoch, epochs))

    def update(self, params: dict, slots: dict, grads: dict, roles: dict, scale) -> None:
        """In place, with no temporary arrays: ``g`` (consumed) holds (1 − β₁)·g, then its square,
        then the step. The step count t and the bias correction stay on the array's device (one
        launch per parameter on CuPy, and nothing the host must read)."""
        o = self.spec
        lr = self.values.held["lr"]
        for key in self.keys:
            g = grads.get(key)
            if g is None:
                continue
            w, xp = params[key], namespace_of(g)
            m, s, t = slots[f"adam_m.{key}"], slots[f"adam_s.{key}"], slots[f"adam_t.{key}"]
            decay = o.weight_decay if o.weight_decay and roles[key].decays else 0.0
            if xp is not np and not roles[key].log_scale and g.dtype == w.dtype == m.dtype:
                fused.adam_step(g, t, m, s, w, scale, decay, lr, o.beta1, o.beta2, o.eps)
                continue
            t += 1
            gain = scale
            if decay:
                g *= scale
                g -= decay * w
                gain = 1.0
            m *= o.beta1
            s *= o.beta2
            g *= (1 - o.beta1) * gain
            m += g
            g *= g
            g *= (1 - o.beta2) / (1 - o.beta1) ** 2
            s += g
            xp.sqrt(s, out=g)
            g += o.eps
            xp.divide(m, g, out=g)
            g *= lr * xp.sqrt(1 - o.beta2 ** t) / (1 - o.beta1 ** t)
            _apply(params, key, g, roles[key].log_scale)


OPTIMIZERS = {"sgd": Sgd, "adam": Adam}


class Optimizers:
    """A stage's optimizers: one per parameter group (the first group whose patterns match a key
    takes it), the stage's own `optimizer` for the rest."""

    def __init__(self, default, groups: tuple, keys: tuple, clip_norm: float | None = None,
                 average: float | None = None):
        self.clip_norm, self.average = clip_norm, average
        self.epoch_set = False          # until at_epoch: epoch 0 of 1
        owners, rest = [], list(keys)
        for group in groups:
            mine = [k for k in rest if any(fnmatchcase(k, p) for p in group.params)]
            rest = [k for k in rest if k not in mine]
            owners.append((group.optimizer, tuple(mine)))
        owners.append((default, tuple(rest)))
        self.parts = [OPTIMIZERS[choice.kind](choice.options, mine) for choice, mine in owners if mine]

    def init_slots(self, params: dict, xp) -> dict:
        slots = {}
        for part in self.parts:
            for key in part.keys:
                for slot in part.slots:
                    # Adam's step count is a 0-d int64 array on the parameter's device
                    zero = xp.zeros((), dtype=np.int64) if slot == "adam_t" else xp.zeros_like(params[key])
                    slots[f"{slot}.{key}"] = zero
                if self.average is not None:
                    slots[f"{AVERAGE}{key}"] = params[key].copy()
        return slots

    def at_epoch(self, epoch: int, epochs: int, xp) -> None:
        """Set every group's learning rate (and momentum) for ``epoch`` of ``epochs``: before the
        epoch's first update, outside any captured step."""
        for part in self.parts:
            part.at_epoch(epoch, epochs, xp)
        self.epoch_set = True

    def update(self, params: dict, slots: dict, grads: dict, roles: dict, scale) -> None:
        """One update of every group with the epoch's values (epoch 0 of 1 until ``at_epoch``)."""
        if not self.epoch_set:
            self.at_epoch(0, 1, namespace_of(next(iter(params.values()))))
        if self.clip_norm is not None:
            scale = clipped_scale(grads, scale, self.clip_norm)
        for part in self.parts:
            part.update(params, slots, grads, roles, scale)
        if self.average is not None:
            beta = self.average
            for key in grads:
                mean = slots[f"{AVERAGE}{key}"]
                mean *= beta
                mean += (1 - beta) * params[key]


def adopt_averages(params: dict, arrays: dict, program=None) -> None:
    """θ ← θ̄ for every `average.<key>` among ``arrays`` (a stage's slots, or a checkpoint's
    arrays), in place; then the mirrors of ``program`` (the stage's, where it is an RBM view:
    the recognition twin is not trained, so it has no average of its own) follow as Wᵀ."""
    xp = namespace_of(next(iter(params.values())))
    for name, mean in arrays.items():
        if name.startswith(AVERAGE) and name[len(AVERAGE):] in params:
            params[name[len(AVERAGE):]][...] = xp.asarray(mean)
    if program is not None:
        tie_mirrors(program, params)


def clipped_scale(grads: dict, scale: float, clip: float):
    """``scale`` shrunk so that ‖scale · g‖₂ over every gradient is at most ``clip``:
    scale · clip / max(‖scale · g‖₂, clip), which is ``scale`` while the norm is within ``clip``.
    A 0-d array in the gradients' dtype on their device (the squares summed in float64), which
    the optimizers take as they take a number, so that a clipped step never waits for the host."""
    if not grads:
        return scale
    first = next(iter(grads.values()))
    xp = namespace_of(first)
    norm = scale * xp.sqrt(sum((g * g).sum(dtype=np.float64) for g in grads.values()))
    return (scale * (clip / xp.maximum(norm, clip))).astype(first.dtype)


def sgd_update(params: dict, velocity: dict, grads: dict, lr: float, mom: float, weight_decay: float,
               roles: dict, grad_scale: float = 1.0) -> None:
    """One SGD step with a given lr and momentum (``velocity`` keyed by parameter); see :class:`Sgd`."""
    spec = SgdSpec(lr=lr, momentum=mom, weight_decay=weight_decay)
    slots = {f"velocity.{k}": v for k, v in velocity.items()}
    sgd = Sgd(spec, tuple(grads))
    sgd.at_epoch(0, 1, namespace_of(next(iter(params.values()))))
    sgd.update(params, slots, grads, roles, grad_scale)


__all__ = ["AVERAGE", "Adam", "EpochValues", "OPTIMIZERS", "Optimizers", "Sgd", "adopt_averages",
           "learning_rate", "momentum", "sgd_update"]
