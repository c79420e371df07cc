"""Unit types: each supplies its energy term, conditional, sampler and log-partition."""
from .base import LayerParams, UnitType
from .types import (Bernoulli, Binary, Categorical, Gaussian, Leaky, Normal, Rectifier, Softmax,
                    Spin, make_units, sigmoid,
                    softplus)

__all__ = ["Bernoulli", "Binary", "Categorical", "Gaussian", "LayerParams", "Leaky", "Normal",
           "Rectifier", "Softmax", "Spin",
           "UnitType", "make_units", "sigmoid", "softplus"]
