"""Figures and progress output."""
from .figures import save_codes, save_curves, save_mosaic, save_scatter, tile
from .progress import Progress

__all__ = ["Progress", "save_codes", "save_curves", "save_mosaic", "save_scatter", "tile"]
