"""Parameter keys and their roles, parsed once: what each `model.npz` key means.

    bias.<layer>        (size,)            the layer's bias (gaussian units: their mean μ)
    sigma.<layer>       (size,)            a gaussian layer's standard deviation (updated in log space)
    weight.<a>.<b>      (size_a, size_b)   the coupling of a and b; a == b: lateral, symmetric, zero diagonal;
                                           directed couplings map a → b
    recbias.<layer>     (size,)            the bias of a layer in the recognition model q (a DBN's
                                           bottom-up pass), apart from its generative bias
    lvweight.<a>.<b>    (size_a, size_b)   a recognition map a → b into the log-variance ℓ of a
                                           gaussian layer's q(b | ·) = N(μ, diag e^ℓ) (a VAE's encoder)
    lvbias.<layer>      (size,)            the bias of that log-variance
    gain.<layer>        (size,)            the gain γ of a batch-normalised layer
                                           (`normalize: batch`)
    runmean.<layer>     (size,)            its running mean of the input field: not trained by
    runvar.<layer>      (size,)            gradients but averaged in training
                                           (kernels/normalization.py)

The parameter dicts stay keyed by these strings (they are the fixed file format); code that needs
to know a key's role asks ``program.keys[key]`` instead of splitting the string.
"""
from __future__ import annotations

from dataclasses import dataclass

ROLES = ("bias", "sigma", "weight", "recbias", "lvweight", "lvbias", "gain", "runmean", "runvar")
PAIR_ROLES = ("weight", "lvweight")


@dataclass(frozen=True)
class ParamKey:
    role: str           # one of ROLES
    layers: tuple       # (layer,) for bias and sigma; (a, b) for weight

    @classmethod
    def parse(cls, text: str) -> "ParamKey":
        role, *layers = text.split(".")
        if role not in ROLES or len(layers) != (2 if role in PAIR_ROLES else 1):
            raise ValueError(f"'{text}' is not a parameter key (bias.<layer>, sigma.<layer>, weight.<a>.<b>, "
                             "recbias.<layer>, lvweight.<a>.<b>, lvbias.<layer>, gain.<layer>, "
                             "runmean.<layer>, runvar.<layer>)")
        return cls(role, tuple(layers))

    def __str__(self) -> str:
        return ".".join((self.role, *self.layers))

    @property
    def lateral(self) -> bool:
        return self.role == "weight" and self.layers[0] == self.layers[1]

    @property
    def decays(self) -> bool:
        """Weight decay applies to couplings, never to biases or σ."""
        return self.role in PAIR_ROLES

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


def weight_key(a: str, b: str, head: str = "mean") -> str:
    """The weights of a coupling a → b; a log-variance head's (``head="log_variance"``) are apart."""
    return f"{'lv' if head == 'log_variance' else ''}weight.{a}.{b}"


def lvbias_key(layer: str) -> str:
    return f"lvbias.{layer}"


def gain_key(layer: str) -> str:
    return f"gain.{layer}"


def runmean_key(layer: str) -> str:
    return f"runmean.{layer}"


def runvar_key(layer: str) -> str:
    return f"runvar.{layer}"


__all__ = ["PAIR_ROLES", "ParamKey", "ROLES", "bias_key", "gain_key", "lvbias_key", "recbias_key",
           "runmean_key", "runvar_key", "sigma_key", "weight_key"]
