"""Progress output: a bar that redraws in place on a terminal, one line per epoch always."""
from __future__ import annotations

import sys
import time


def _fmt(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


class Progress:
    def __init__(self, total_epochs: int, enabled: bool = True, stream=None):
        self.total, self.enabled = total_epochs, enabled
        self.stream = stream or sys.stderr
        self.tty = self.enabled and self.stream.isatty()
        self.start = time.perf_counter()

    def restart(self, total_epochs: int) -> None:
        """A new training stage: epochs count from 1 to ``total_epochs`` again."""
        self.total = total_epochs

    def batch(self, epoch: int, done: int, total: int) -> None:
        if not self.tty:
            return
        width = 30
        filled = int(width * done / max(total, 1))
        self.stream.write(f"\r  epoch {epoch}/{self.total} [{'#' * filled}{'.' * (width - filled)}] "
                          f"{done}/{total}")
        self.stream.flush()

    def epoch(self, record: dict) -> None:
        """Every epoch of short runs; about 30 lines over long ones (always the last)."""
        stride = max(1, -(-self.total // 30))
        if not self.enabled or (record["epoch"] % stride and record["epoch"] != self.total):
            return
        shown = "  ".join(f"{k} {_fmt(v)}" for k, v in record.items() if k != "epoch" and v is not None)
        self.stream.write(("\r" if self.tty else "") + f"epoch {record['epoch']}/{self.total}  {shown}\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(text + "\n")
            self.stream.flush()
