"""ebmlang: a declarative language for energy-based models.

The pipeline, one package per stage:

    spec/        YAML text -> typed, frozen Spec (every value remembers file:line:col)
    graph/       Spec -> networkx graph of layers and couplings
    compile/     graph -> Program (parameter roles, masks, index maps, block schedule, directed orders)
    kernels/     energy, free energy, conditionals, block Gibbs, mean field, directed passes: pure functions
    objectives/  Boltzmann phases (CD, PCD, DBM), up-down, Hopfield storage
    train/       one loop over training stages and objectives, SGD
    eval/        exact enumeration, AIS, variational bounds, classification, reconstruction
    runner/      `ebm run`: the run folder, metrics, figures

The public surface is re-exported here.
"""
__version__ = "0.1.0"

from .data import Dataset, load_data
from .errors import CompileError, DataError, EbmError, GraphError, SpecError
from .model import Model, compile_spec
from .runner import load_run, run
from .spec import Spec, load_spec, parse_spec

__all__ = ["CompileError", "DataError", "Dataset", "EbmError", "GraphError", "Model", "Spec", "SpecError",
           "compile_spec", "load_data", "load_run", "load_spec", "parse_spec", "run"]
