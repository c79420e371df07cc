"""Error types, one per pipeline stage, each carrying where in the spec the problem lies.

A user's mistake never surfaces as a traceback: the CLI catches :class:`EbmError` and prints
one ``FILE:LINE:COL: message`` line per diagnostic, then exits with code 2.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    """A position in a source: 1-based line and column, as editors show them."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


UNKNOWN = Location("<spec>", 1, 1)


@dataclass(frozen=True)
class Diagnostic:
    location: Location
    message: str

    def __str__(self) -> str:
        """One line, whatever the message quotes (a key with a newline in it is shown escaped)."""
        return f"{self.location}: {one_line(self.message)}"


def one_line(text: str) -> str:
    """``text`` with control characters (newlines, tabs, NUL, …) written as escapes."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class EbmError(Exception):
    """Base of all errors caused by bad input; ``diagnostics`` holds one entry per mistake."""

    exit_code = 2

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic | str, location: Location | None = None):
        if isinstance(diagnostics, str):
            diagnostics = [Diagnostic(location or UNKNOWN, diagnostics)]
        elif isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class SpecError(EbmError):
    """The YAML text or its values break the spec language's rules."""


class GraphError(EbmError):
    """Layers and couplings do not form a valid model graph."""


class CompileError(EbmError):
    """The graph cannot be lowered to kernels (an unsupported combination)."""


class DataError(EbmError):
    """The data named by the spec is missing, malformed or does not fit the model."""


class BackendError(EbmError):
    """The requested array backend is not available."""


class TrainingError(EbmError):
    """Training diverged (a parameter or a measure stopped being finite): the spec's settings,
    usually a learning rate too large, not the code, are at fault."""


class FolderError(EbmError):
    """The run folder cannot be written or read back: no space, no permission, a damaged file,
    another `ebm` process using it."""


class UsageError(EbmError):
    """Bad command-line arguments (a run folder that is not one, a malformed --set)."""
