"""The backtest's progress bar: shown on a terminal only, and only after its delay."""

from __future__ import annotations

import io

from adaptive_agent.cli.progress import Progress


def test_progress_bar_only_after_delay():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    quiet = Progress(Tty(), delay=3600)
    quiet(0.5)
    quiet.close()
    assert quiet.stream.getvalue() == ""
    loud = Progress(Tty(), delay=0)
    loud(0.5)
    loud.close()
    assert "50.0%" in loud.stream.getvalue() and loud.stream.getvalue().endswith("\n")
    piped = Progress(io.StringIO(), delay=0)
    piped(0.5)
    assert piped.stream.getvalue() == ""
