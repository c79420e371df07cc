"""`ebm run`: orchestrates the stages and owns the run folder."""
from .execute import default_out, evaluate_run, load_run, run
from .folder import RunFolder

__all__ = ["RunFolder", "default_out", "evaluate_run", "load_run", "run"]
