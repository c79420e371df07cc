"""Stage 3, lower: layer graph -> Program (parameter layout, masks, index maps, block schedule)."""
from .params import data_rate_bias, init_params
from .keys import ParamKey
from .program import Block, CouplingInfo, LayerInfo, Piece, Program, assemble, lower
from .views import restrict, tie_mirrors
from .schedule import colour_schedule, unit_colours

__all__ = ["Block", "CouplingInfo", "LayerInfo", "Piece", "Program", "colour_schedule", "data_rate_bias",
           "assemble", "init_params", "lower", "ParamKey", "restrict", "tie_mirrors", "unit_colours"]
