"""SGD with momentum, weight decay and a learning-rate schedule over epochs.

    v ← m·v + lr·(g − λ·W)        θ ← θ + v                (ascent on the log-likelihood)

σ of gaussian layers is updated in log space (σ ← σ·e^v), which keeps it positive. The update
works in place on the trainer's own arrays: at 784 × 500 a fresh array per step costs more
than the arithmetic.
"""
from __future__ import annotations

from ..backend import namespace_of
from ..spec.schema import SgdSpec


def learning_rate(sgd: SgdSpec, epoch: int, epochs: int) -> float:
    kind, o = sgd.schedule.kind, sgd.schedule.options
    if kind == "linear":
        return sgd.lr * (1 + (o["end_factor"] - 1) * epoch / max(1, epochs - 1))
    if kind == "exponential":
        return sgd.lr * o["gamma"] ** epoch
    if kind == "step":
        return sgd.lr * o["gamma"] ** (epoch // o["every"])
    return sgd.lr


def momentum(sgd: SgdSpec, epoch: int) -> float:
    if sgd.final_momentum is not None and epoch >= sgd.momentum_switch_epoch:
        return sgd.final_momentum
    return sgd.momentum


def sgd_update(params: dict, velocity: dict, grads: dict, lr: float, mom: float, weight_decay: float,
               roles: dict, grad_scale: float = 1.0) -> None:
    """In place: ``grads`` (ascent directions, times 1/grad_scale) are consumed and overwritten;
    ``roles`` maps each key to its :class:`ParamKey` (which decay, which live in log space)."""
    for key, g in grads.items():
        g *= lr * grad_scale
        if weight_decay and roles[key].decays:
            g -= (lr * weight_decay) * params[key]
        v = velocity[key]
        if mom:
            v *= mom
            v += g
        else:
            v[...] = g
        if roles[key].log_scale:
            params[key] *= namespace_of(v).exp(v)
        else:
            params[key] += v


__all__ = ["learning_rate", "momentum", "sgd_update"]
