"""Stage 6, evaluate: exact enumeration for small models, AIS (forward and reverse) for large ones,
reconstruction, free-energy gap, pseudo-likelihood and a linear probe; for nets, squared error
beside PCA (``feedforward``), a VAE's importance-sampled log-likelihood (``variational``), and a
generator's samples: mode coverage, classifier score, Fréchet distance (``generative``,
``sample_quality``).

The functions take a Program, its parameters and backend arrays as ``ebmlang.Model``'s methods
pass them: from Python, call them through the Model, which checks its arguments
(``compile/inputs.py``)."""
from .exact import log_likelihood, log_partition, summed_set
from .metrics import free_energy_gap, mean_free_energy, reconstruct, reconstruction_error

__all__ = ["free_energy_gap", "log_likelihood", "log_partition", "mean_free_energy", "reconstruct",
           "reconstruction_error", "summed_set"]
