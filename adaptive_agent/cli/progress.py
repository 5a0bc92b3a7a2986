"""The progress bar of a backtest or a paper replay, on stderr."""

from __future__ import annotations

import sys
import time


class Progress:
    """A progress bar on stderr that appears only when a run lasts longer than a second."""

    def __init__(self, stream=sys.stderr, delay: float = 1.0, label: str = "backtest") -> None:
        self.stream, self.delay, self.label = stream, delay, label
        self.t0 = time.monotonic()
        self.shown = False
        self.tty = bool(getattr(stream, "isatty", lambda: False)())

    def __call__(self, frac: float) -> None:
        if not self.tty or time.monotonic() - self.t0 < self.delay:
            return
        filled = int(frac * 30)
        self.stream.write(
            f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {frac * 100:5.1f}%"
        )
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()
