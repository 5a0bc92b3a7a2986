"""``adaptive-agent gate-sim``: serve the Gate-protocol simulator on 127.0.0.1.

The API key and secret that clients must sign with come from ``GATE_API_KEY`` and
``GATE_API_SECRET`` (never printed). With neither set, the simulator makes a throwaway pair for
this run and prints it as two ``export`` lines for the agent's shell (they open nothing but this
simulator). One line with the URL goes to stdout; SIGINT or SIGTERM stops the server and the
command exits 0. Exit 2: only one of the two set, or bad input files.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import secrets
import signal
import sys
from functools import partial

from ..io.loaders import InputError, load_candles, load_funding
from .faults import Faults
from .matching import SimMarket
from .runner import serve

EXIT_OK, EXIT_INPUT = 0, 2
ENV_KEY, ENV_SECRET = "GATE_API_KEY", "GATE_API_SECRET"


def main(args: argparse.Namespace) -> int:
    key, secret = os.environ.get(ENV_KEY), os.environ.get(ENV_SECRET)
    if not key and not secret:
        key, secret = "sim-" + secrets.token_hex(8), secrets.token_hex(24)
        print(
            f"gate-sim: no {ENV_KEY}/{ENV_SECRET} set; throwaway keys for this simulator only,"
            " for the agent's shell:",
            flush=True,
        )
        print(f"export {ENV_KEY}={key}\nexport {ENV_SECRET}={secret}", flush=True)
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
        spot_usdt=args.spot_usdt,
        futures_usdt=args.futures_usdt,
        unified=args.unified,
        fill_model=args.fill_model,
        funding=funding,
        # the top-level parser (adaptive_agent/cli.py) may not define the option yet
        funding_hours_utc=args.funding_hours,
        history_max=args.history_max,
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
