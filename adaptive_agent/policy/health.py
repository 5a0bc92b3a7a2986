"""Container health check: is the agent still processing bars?

Healthy when the state database exists and its ``meta`` key ``last_bar_ms`` (epoch ms of the last
processed bar, written by the agent) is younger than ``max_age_s``. The database is opened
read-only (``mode=ro``); nothing is created or written.

A bar's timestamp is already up to one bar old when it is processed, so ``max_age_s`` should be
at least two bars plus slack: the default 900 s (three 5-minute bars) reports a stall within
10-15 minutes.

Command line (used by the Dockerfile ``HEALTHCHECK``; exit status 0 healthy, 1 unhealthy)::

    python -m adaptive_agent.policy.health --state /data/live.sqlite [--max-age 900]
"""

from __future__ import annotations

import argparse
import math
import sqlite3
import sys
import time
from pathlib import Path

from ..core.time_rules import utc_text

__all__ = ["DEFAULT_MAX_AGE_S", "check_health", "main"]

DEFAULT_MAX_AGE_S = 900.0
FUTURE_TOLERANCE_S = 60.0  # a last bar further in the future means a wrong unit or clock


def check_health(
    state_path: str | Path, max_age_s: float, *, now_ms: int | None = None
) -> tuple[bool, str]:
    """``(healthy, message)`` for the agent whose state database is ``state_path``."""
    path = Path(state_path)
    if not path.exists():
        return False, f"unhealthy: state database {path} does not exist (agent not started yet?)"
    if not path.is_file():
        return False, f"unhealthy: state database {path} is not a file"
    try:
        uri = path.resolve().as_uri() + "?mode=ro"
        con = sqlite3.connect(uri, uri=True, timeout=5.0)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'last_bar_ms'").fetchone()
        finally:
            con.close()
    except sqlite3.Error as exc:
        if "no such table" in str(exc):
            return False, f"unhealthy: {path} has no meta table (not an agent state database?)"
        return False, f"unhealthy: cannot read state database {path}: {exc}"
    if row is None:
        return False, f"unhealthy: {path}: no bar processed yet (meta key last_bar_ms not set)"
    try:
        value = float(str(row[0]).strip())
        if not math.isfinite(value):
            raise ValueError
        last_ms = int(value)
    except ValueError:
        return False, f"unhealthy: {path}: meta last_bar_ms is not epoch milliseconds: {row[0]!r}"
    now = int(time.time() * 1000) if now_ms is None else now_ms
    age_s = (now - last_ms) / 1000.0
    if age_s < -FUTURE_TOLERANCE_S:
        return False, (
            f"unhealthy: {path}: last processed bar {utc_text(last_ms, seconds=True)} is"
            f" {-age_s:.0f}s in the future"
            " (wrong unit or clock?)"
        )
    when = utc_text(last_ms, seconds=True)
    if age_s >= max_age_s:
        return False, (
            f"unhealthy: last processed bar {when} is {age_s:.0f}s old (limit {max_age_s:g}s)"
        )
    return True, f"healthy: last processed bar {when}, {max(age_s, 0):.0f}s ago"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m adaptive_agent.policy.health",
        description="Exit 0 when the agent processed a bar recently, 1 otherwise.",
    )
    p.add_argument("--state", default="/data/live.sqlite", help="the agent's state database")
    p.add_argument(
        "--max-age",
        type=float,
        default=DEFAULT_MAX_AGE_S,
        help=f"seconds since the last processed bar (default {DEFAULT_MAX_AGE_S:g})",
    )
    args = p.parse_args(argv)
    if not args.max_age > 0:
        p.error("--max-age must be > 0")
    healthy, message = check_health(args.state, args.max_age)
    print(message, file=sys.stdout if healthy else sys.stderr)
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
