"""Command line: ``adaptive-agent backtest | sweep | calibrate | signals | config | paper |
live | safe-mode | digest | audit | health | status | gate-sim``.

Exit codes (``exit_codes.py``): 0 success, 2 bad input or configuration (one line naming the
file/field and line), 1 anything unexpected, 130 Ctrl-C, 141 standard output closed by its
reader (`| head`: quietly, no traceback). Heavy modules are imported inside the commands that
need them, so the backtest never loads an exchange client.
"""

from __future__ import annotations

import argparse
import os
import sys

from .commands_backtest import cmd_backtest, cmd_config, cmd_signals
from .commands_ops import cmd_audit, cmd_digest, cmd_gate_sim, cmd_health, cmd_safe_mode
from .commands_research import cmd_calibrate, cmd_sweep
from .commands_trade import cmd_live, cmd_paper
from .exit_codes import EXIT_FAIL, EXIT_INPUT, EXIT_INTERRUPTED, EXIT_PIPE
from .parser import build_parser
from .status import cmd_status

__all__ = ["main"]

HANDLERS = {
    "backtest": cmd_backtest,
    "sweep": cmd_sweep,
    "calibrate": cmd_calibrate,
    "signals": cmd_signals,
    "config": cmd_config,
    "paper": cmd_paper,
    "live": cmd_live,
    "safe-mode": cmd_safe_mode,
    "gate-sim": cmd_gate_sim,
    "digest": cmd_digest,
    "audit": cmd_audit,
    "health": cmd_health,
    "status": cmd_status,
}


def log_level(args: argparse.Namespace) -> str:
    """``--log-level``, else INFO; a paper replay (not ``--live``) defaults to WARNING."""
    if args.log_level is not None:
        return str(args.log_level)
    replay = args.command == "paper" and not getattr(args, "live", False)
    return "WARNING" if replay else "INFO"


def _stdout_to_devnull() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (a test's captured stdout)
        pass
    finally:
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `adaptive-agent` console script."""
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the run record's command line
    if args.command in ("paper", "live", "gate-sim"):
        from ..logging_setup import setup_logging
        from ..policy.policy_layer import install_secret_filter

        setup_logging(log_level(args), json_logs=args.log_json, filters=(install_secret_filter(),))
    try:
        code = HANDLERS[args.command](args)
        sys.stdout.flush()  # a reader that went away (`| head`) is seen here, not at exit
        return code
    except BrokenPipeError:
        _stdout_to_devnull()  # nothing left to say, and no traceback at the exit's flush
        return EXIT_PIPE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        known = _known_error(exc)
        if known is None:
            raise
        line, code = known
        print(line, file=sys.stderr)
        return code


def _known_error(exc: Exception) -> tuple[str, int] | None:
    """The one line and exit code of an error of a known kind, None for anything else. The
    kinds' modules are imported here, when an error happened, not at every start."""
    from ..config import ConfigError
    from ..exchange.exchange_gate import ExchangeError
    from ..io.loaders import InputError
    from ..policy.policy_layer import MissingSecret
    from ..state.store import StateError

    if isinstance(exc, ConfigError):
        return str(exc), EXIT_INPUT
    if isinstance(exc, (InputError, argparse.ArgumentTypeError, MissingSecret, StateError)):
        return f"error: {exc}", EXIT_INPUT
    if isinstance(exc, ExchangeError):
        return f"exchange error: {exc}", EXIT_FAIL
    return None
