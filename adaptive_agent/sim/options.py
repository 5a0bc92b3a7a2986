"""The ``gate-sim`` command-line options, in one place for ``adaptive-agent gate-sim`` and
``python -m adaptive_agent.sim``; light to import (no server code)."""

from __future__ import annotations

import argparse

from .funding import DEFAULT_HOURS_UTC, check_hours
from .retention import HISTORY_MAX, check_history_max


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candles", help="5-minute candles to replay (default: bundled)")
    parser.add_argument(
        "--port", type=port_number, default=8080, help="port on 127.0.0.1 (0: any free one)"
    )
    # funded as a new user funds a classic account: all USDT in spot, the futures wallet empty
    parser.add_argument(
        "--spot-usdt", type=usdt_amount, default=100_000.0, help="USDT in the spot wallet"
    )
    parser.add_argument(
        "--futures-usdt", type=usdt_amount, default=0.0, help="USDT in the futures wallet"
    )
    parser.add_argument(
        "--unified",
        action="store_true",
        help="a unified account: one USDT balance (spot + futures amounts) for both",
    )
    parser.add_argument("--funding", help="funding CSV (default: constant rate 0.0001)")
    parser.add_argument(
        "--funding-hours",
        type=funding_hours,
        default=DEFAULT_HOURS_UTC,
        metavar="H,H,...",
        help="UTC hours at which funding settles, as backtest.funding_hours_utc (default: 0,8,16)",
    )
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help='bars per real second (0: the replay moves only on POST /sim/advance {"bars": N})',
    )
    parser.add_argument("--fill-model", choices=("realistic", "backtest"), default="realistic")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every REST reply")
    parser.add_argument(
        "--history-max",
        type=history_max,
        default=HISTORY_MAX,
        metavar="N",
        help="finished orders, fills, account-book lines and transfers kept per market (the"
        " newest N; older ones are gone, as past Gate's history window)",
    )
    parser.add_argument(
        "--error-rate",
        type=float,
        default=0.0,
        help="fraction of private calls answered with a server error",
    )


def usdt_amount(text: str) -> float:
    """A finite USDT amount >= 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value < 1e12:
        raise argparse.ArgumentTypeError(f"{text} is outside 0..1e12 USDT")
    return value


def history_max(text: str) -> int:
    """A whole number of records >= 1."""
    try:
        return check_history_max(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number >= 1: {text!r}") from None


def port_number(text: str) -> int:
    """A TCP port, 0..65535 (0: the system picks a free one)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65_535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 0..65535")
    return port


def funding_hours(text: str) -> tuple[int, ...]:
    """``"0,8,16"`` -> (0, 8, 16): distinct whole UTC hours."""
    try:
        return check_hours(tuple(int(part) for part in text.split(",")))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
