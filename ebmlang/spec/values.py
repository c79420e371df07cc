"""Value constraints and name lists shared by the spec's tables (``schema.py``, ``train_schema.py``)."""
from __future__ import annotations

from .constraints import Float

ENERGY_UNIT_TYPES = ("binary", "spin", "gaussian", "softmax")     # with a closed-form energy and free energy
FEEDFORWARD_UNIT_TYPES = ("rectified", "leaky")  # no closed-form energy: directed maps only
PIECEWISE_LINEAR = ("rectified", "leaky")    # f'' = 0 almost everywhere (kernels.input_gradient)
UNIT_TYPES = ENERGY_UNIT_TYPES + FEEDFORWARD_UNIT_TYPES
BETWEEN_CONNECTIVITY = ("dense", "random", "edges", "mask")
WITHIN_CONNECTIVITY = ("complete", "lattice", "random", "random_regular", "edges")
DATA_SOURCES = ("mnist", "mnist-embedded", "bars-and-stripes", "gaussian-mixture", "gaussian-grid", "file",
                "patterns", "ratings")

POSITIVE = Float(0.0, min_open=True)
PROBABILITY_OPEN = Float(0.0, 1.0, min_open=True, max_open=True)
MOMENTUM = Float(0.0, 1.0, max_open=True)
