"""Stage 4, run: pure kernels over (program, params, state, rng)."""
from .energy import coupling_stats, energy, free_energy, layer_input, layer_params
from .gibbs import block_update, conditional, conditional_mean, gibbs_sweep, infer_means, random_state
from .stats import param_stats

__all__ = ["block_update", "conditional", "conditional_mean", "coupling_stats", "energy", "free_energy",
           "gibbs_sweep", "infer_means", "layer_input", "layer_params", "param_stats", "random_state"]
