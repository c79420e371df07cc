"""Parameter keys and their roles, parsed once: what each `model.npz` key means.

    bias.<layer>        (size,)            the layer's bias (gaussian units: their mean μ)
    sigma.<layer>       (size,)            a gaussian layer's standard deviation (updated in log space)
    weight.<a>.<b>      (size_a, size_b)   the coupling of a and b; a == b: lateral, symmetric, zero diagonal;
                                           directed couplings map a → b
    recbias.<layer>     (size,)            the bias of a layer in the recognition model q (a DBN's
                                           bottom-up pass), apart from its generative bias

The parameter dicts stay keyed by these strings (they are the fixed file format); code that needs
to know a key's role asks ``program.keys[key]`` instead of splitting the string.
"""
from __future__ import annotations

from dataclasses import dataclass

ROLES = ("bias", "sigma", "weight", "recbias")


@dataclass(frozen=True)
class ParamKey:
    role: str           # one of ROLES
    layers: tuple       # (layer,) for bias and sigma; (a, b) for weight

    @classmethod
    def parse(cls, text: str) -> "ParamKey":
        role, *layers = text.split(".")
        if role not in ROLES or len(layers) != (2 if role == "weight" else 1):
            raise ValueError(f"'{text}' is not a parameter key (bias.<layer>, sigma.<layer>, weight.<a>.<b>, "
                             "recbias.<layer>)")
        return cls(role, tuple(layers))

    def __str__(self) -> str:
        return ".".join((self.role, *self.layers))

    @property
    def lateral(self) -> bool:
        return self.role == "weight" and self.layers[0] == self.layers[1]

    @property
    def decays(self) -> bool:
        """Weight decay applies to couplings, never to biases or σ."""
        return self.role == "weight"

    @property
    def log_scale(self) -> bool:
        """Updated multiplicatively (σ ← σ·e^Δ), which keeps it positive."""
        return self.role == "sigma"


def bias_key(layer: str) -> str:
    return f"bias.{layer}"


def sigma_key(layer: str) -> str:
    return f"sigma.{layer}"


def recbias_key(layer: str) -> str:
    return f"recbias.{layer}"


def weight_key(a: str, b: str) -> str:
    return f"weight.{a}.{b}"


__all__ = ["ParamKey", "ROLES", "bias_key", "recbias_key", "sigma_key", "weight_key"]
