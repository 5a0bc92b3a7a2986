"""``adaptive-agent paper --live``: its options, checked, and the dry run started.

The replay's inputs (``--candles``, ``--signals``, ``--funding``, ``--start``, ``--speed``,
``--fill-model``) and its report folder (``--out``) mean nothing on live data, and
``--gate-url``, ``--binance-url``, ``--signals-file`` and ``--webhook-port`` nothing without
it: such a combination is refused with one line (exit 2) before anything starts. Signals come
as in ``live``: ``--signals-file`` (a CSV followed as it grows) or ``--webhook-port`` (POST
/signal, token from ADAPTIVE_AGENT_WEBHOOK_TOKEN).
"""

from __future__ import annotations

import argparse
from pathlib import Path

REPLAY_ONLY = (  # option, its value when not given
    ("--candles", "candles", None),
    ("--signals", "signals", None),
    ("--funding", "funding", None),
    ("--start", "start", None),
    ("--speed", "speed", "max"),
    ("--fill-model", "fill_model", "backtest"),
    ("--out", "out", None),  # a replay's report folder
)


LIVE_ONLY = (  # option, its attribute: meaningless in a replay
    ("--gate-url", "gate_url"),
    ("--binance-url", "binance_url"),
    ("--signals-file", "signals_file"),
    ("--webhook-port", "webhook_port"),
)


def check_paper_live_args(args: argparse.Namespace) -> None:
    """Raise ``ArgumentTypeError`` (exit 2, one line) for an option that does not fit."""
    if not args.live:
        for option, dest in LIVE_ONLY:
            if getattr(args, dest) is not None:
                raise argparse.ArgumentTypeError(f"{option}: only with paper --live")
    for option, dest, unset in REPLAY_ONLY:
        if getattr(args, dest) != unset:
            raise argparse.ArgumentTypeError(
                f"{option}: a replay option; paper --live trades on live data"
            )
    if args.bars is not None and args.bars < 1:
        raise argparse.ArgumentTypeError(
            f"--bars: with --live, a number of closes >= 1, got {args.bars}"
        )


def run_paper_live_command(args: argparse.Namespace) -> int:
    import asyncio

    from ..config import load_config
    from ..runner.live import LiveOptions
    from ..runner.paper_live import PAPER_LIVE_STATE, run_paper_live

    check_paper_live_args(args)
    cfg = load_config(args.config)  # logging: set up by main() for paper
    opts = LiveOptions(
        state_path=Path(args.state) if args.state else PAPER_LIVE_STATE,
        gate_url=args.gate_url,
        binance_url=args.binance_url,
        max_bars=args.bars,
        signals_file=Path(args.signals_file) if args.signals_file else None,
        webhook_port=args.webhook_port,
    )
    rc = asyncio.run(run_paper_live(cfg, opts))
    if rc == 0:
        book = f"adaptive-agent status --state {opts.state_path}"
        print(f"paper --live: stopped; the simulated book: {book}")
    return rc
