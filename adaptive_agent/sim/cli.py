"""``adaptive-agent gate-sim``: serve the Gate-protocol simulator on 127.0.0.1.

The API key and secret that clients must sign with come from ``GATE_API_KEY`` and
``GATE_API_SECRET`` (never printed). One line with the URL goes to stdout; SIGINT or SIGTERM
stops the server and the command exits 0. Exit 2: missing credentials or bad input files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from functools import partial

from ..io.loaders import InputError, load_candles, load_funding
from .faults import Faults
from .funding import DEFAULT_HOURS_UTC, check_hours
from .matching import SimMarket
from .runner import serve

EXIT_OK, EXIT_INPUT = 0, 2
ENV_KEY, ENV_SECRET = "GATE_API_KEY", "GATE_API_SECRET"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--candles", help="5-minute candles to replay (default: bundled)")
    parser.add_argument(
        "--port", type=int, default=8080, help="port on 127.0.0.1 (0: any free one)"
    )
    parser.add_argument("--usdt", type=float, default=100_000.0, help="USDT in each account")
    parser.add_argument("--funding", help="funding CSV (default: constant rate 0.0001)")
    parser.add_argument(
        "--funding-hours",
        type=funding_hours,
        default=DEFAULT_HOURS_UTC,
        metavar="H,H,...",
        help="UTC hours at which funding settles, as backtest.funding_hours_utc (default: 0,8,16)",
    )
    parser.add_argument(
        "--speed", type=float, default=0.0, help="bars per real second (0: POST /sim/advance)"
    )
    parser.add_argument("--fill-model", choices=("realistic", "backtest"), default="realistic")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to REST replies")
    parser.add_argument(
        "--error-rate", type=float, default=0.0, help="fraction of signed calls that fail"
    )


def funding_hours(text: str) -> tuple[int, ...]:
    """``"0,8,16"`` -> (0, 8, 16): distinct whole UTC hours."""
    try:
        return check_hours(tuple(int(part) for part in text.split(",")))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(args: argparse.Namespace) -> int:
    key, secret = os.environ.get(ENV_KEY), os.environ.get(ENV_SECRET)
    for name, value in ((ENV_KEY, key), (ENV_SECRET, secret)):
        if not value:
            print(f"gate-sim: environment variable {name} is not set", file=sys.stderr)
            return EXIT_INPUT
    assert key is not None and secret is not None
    try:
        market = _market(args)
        faults = Faults(latency_ms=args.latency_ms, error_rate=args.error_rate)
        if args.speed < 0:
            raise ValueError("--speed must be >= 0")
    except (InputError, ValueError) as exc:
        print(f"gate-sim: {exc}", file=sys.stderr)
        return EXIT_INPUT
    asyncio.run(_run(market, key, secret, args.port, faults, args.speed))
    return EXIT_OK


def _market(args: argparse.Namespace) -> SimMarket:
    from ..data import SPOT_5M

    candles = load_candles(args.candles or SPOT_5M)
    funding = load_funding(args.funding) if args.funding else None
    return SimMarket(
        candles,
        usdt=args.usdt,
        fill_model=args.fill_model,
        funding=funding,
        # the top-level parser (adaptive_agent/cli.py) may not define the option yet
        funding_hours_utc=getattr(args, "funding_hours", DEFAULT_HOURS_UTC),
    )


async def _run(
    market: SimMarket, key: str, secret: str, port: int, faults: Faults, speed: float
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    announce = partial(print, flush=True)
    await serve(
        market, key, secret, port=port, faults=faults, speed=speed, stop=stop, announce=announce
    )
