"""``adaptive-agent paper --live``: the live agent on live data, with a simulated account.

A dry run (freqtrade's term): everything ``adaptive-agent live`` does (``run_live``: the
Binance P_ref closes with the backfill for the ATR, the closed-candle stream and its stale-feed
alert, the pre-flight, reconciliation, the wallet manager, the liquidation watch, monitors and
daily tasks, SIGTERM/SIGINT letting the close in flight finish) on ``DryRunExchange``: Gate's
public market data through ccxt without keys, the account simulated (docs/rules.md, "Dry
run"). No key is read and no signed request is sent. Each run opens a new simulated account
with ``backtest.nav0`` USDT in the spot wallet, as a new Gate user has it.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import replace
from pathlib import Path

import aiohttp

from ..config import AppConfig
from ..exchange.binance_feed import BinanceReference
from ..exchange.dry_run_exchange import DryRunExchange
from ..exchange.gate_ccxt import GateCcxtExchange
from ..sim.live_market import LivePrices, LiveSimMarket
from ..sim.orders import SimFees
from .live import LiveOptions, binance_urls, run_live
from .preflight import EXIT_PREFLIGHT

PAPER_LIVE_STATE = Path("state/paper-live.sqlite")  # not paper's replay state, nor live's
LOOK_EVERY_S = 1.0  # at most one look at Gate's public data a second (4 reads; orders: always)


def open_account(cfg: AppConfig, first: LivePrices) -> LiveSimMarket:
    """A new user's simulated Gate account: all of ``backtest.nav0`` in spot USDT (the wallet
    manager moves what the perpetual legs need), the configured fees, slippage and leverage."""
    f, bt = cfg.fees, cfg.backtest
    return LiveSimMarket(
        first,
        spot_usdt=bt.nav0,
        fees=SimFees(f.spot_maker, f.spot_taker, f.perp_maker, f.perp_taker),
        slippage=bt.slippage,
        leverage=cfg.strategy.leverage,
        funding_hours_utc=bt.funding_hours_utc,
    )


def _wall_ms() -> int:
    return int(time.time() * 1000)


async def feed_offset_ms(rest_url: str, ws_url: str) -> int:
    """The Binance feed's clock minus the wall clock (~0 live; a replay's lag when rehearsing),
    so that the simulated account keeps the agent's time (run_live takes the same offset)."""
    ref = BinanceReference(rest_url, ws_url)
    try:
        return await ref.server_time() - _wall_ms()
    finally:
        await ref.close()


def dry_run_venue(cfg: AppConfig, opts: LiveOptions, offset_ms: int) -> DryRunExchange:
    """Gate's public data through ccxt, no keys; the account simulated from the first look."""
    rehearsal = opts.gate_url is not None  # gate-sim: a bar may pass in well under a second
    public = GateCcxtExchange("", "", rest_url=opts.gate_url, rate_limit=not rehearsal)
    return DryRunExchange(
        public,
        lambda first: open_account(cfg, first),
        now_ms=lambda: _wall_ms() + offset_ms,
        refresh_s=0.0 if rehearsal else LOOK_EVERY_S,
    )


async def run_paper_live(
    cfg: AppConfig, opts: LiveOptions, stop: asyncio.Event | None = None
) -> int:
    """``run_live`` on a dry-run venue; 0 when stopped, 2 when it cannot start (one line)."""
    rest, ws = binance_urls(opts.binance_url)
    try:
        offset = await feed_offset_ms(rest, ws)
    except (OSError, aiohttp.ClientError, TimeoutError, KeyError, ValueError) as exc:
        print(f"paper --live: the Binance feed at {rest} did not answer: {exc}", file=sys.stderr)
        return EXIT_PREFLIGHT
    venue = dry_run_venue(cfg, opts, offset)
    return await run_live(cfg, replace(opts, new_venue=True), stop, venue=venue)
