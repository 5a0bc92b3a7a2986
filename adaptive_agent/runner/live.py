"""``adaptive-agent live``: Gate through ccxt, P_ref from Binance, one decision per 5-minute close.

Start-up order matters: secrets (refuse to start without them), venue checks (markets, dual
mode), reconciliation of everything the state store knows, candle backfill for the ATR, and
only then the stream. SIGTERM/SIGINT let the rebalance in flight finish, then exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web

from ..clock import SystemClock
from ..config import AppConfig
from ..core.time_rules import DAY_MS
from ..exchange.binance_feed import BinanceReference
from ..exchange.exchange_gate import AccountMode, ExchangeError
from ..exchange.gate_ccxt import GateCcxtExchange
from ..policy.policy_layer import enforce, get_secret, is_replay
from ..policy.watchdog import in_loop
from ..state.store import StateStore
from .agent import Agent
from .control import LiveControl
from .liquidation_watch import LiquidationWatch, TopUp
from .live_signals import FileFollower, SignalBook, webhook_app
from .preflight import EXIT_PREFLIGHT, PREFLIGHT_CHECKS, PreflightContext, run_preflight
from .retry import retrying
from .services import build_monitors, daily_tasks
from .wallets import balance_lines, manager_for

if TYPE_CHECKING:  # pragma: no cover
    from ..exchange.dry_run_exchange import DryRunExchange

log = logging.getLogger("adaptive_agent.live")
BAR_S = 300.0


@dataclass
class LiveOptions:
    state_path: Path
    gate_url: str | None = None  # e.g. http://127.0.0.1:8080 to rehearse against gate-sim
    gate_ws_spot: str | None = None
    gate_ws_futures: str | None = None
    binance_url: str | None = None
    signals_file: Path | None = None
    webhook_port: int | None = None
    webhook_host: str = "127.0.0.1"
    backfill_days: int = 20
    max_bars: int | None = None  # stop after this many closes (rehearsals, tests)
    set_dual_mode: bool = False
    adopt_venue_state: bool = False  # accept venue positions an empty/lost state does not know
    feed_silence_s: float | None = None  # default: one bar + safe_mode.max_ref_age_minutes
    new_venue: bool = False  # paper --live: a new simulated account, so the store starts over


def _refuse(lines: list[str]) -> int:
    """Refuse to start: each reason one line on stderr (and in the log); nothing traded."""
    for line in lines:
        log.error("%s", line)
        print(line, file=sys.stderr)
    return EXIT_PREFLIGHT


def binance_urls(base: str | None) -> tuple[str, str]:
    """Binance's REST base and kline stream URL; ``base``: a rehearsal's (the Binance sim)."""
    if base is None:
        return "https://api.binance.com", "wss://stream.binance.com:9443/ws"
    base = base.rstrip("/")
    ws = base.replace("https://", "wss://").replace("http://", "ws://") + "/ws"
    return base, ws


def _gate_ccxt(opts: LiveOptions) -> GateCcxtExchange:
    """Gate through ccxt with the account's keys (``MissingSecret`` without them)."""
    key, secret = get_secret("GATE_API_KEY"), get_secret("GATE_API_SECRET")
    ws_spot, ws_futures = opts.gate_ws_spot, opts.gate_ws_futures
    if opts.gate_url and not ws_spot:  # rehearsing against gate-sim: its sockets, same port
        ws_base = (
            opts.gate_url.rstrip("/").replace("https://", "wss://").replace("http://", "ws://")
        )
        ws_spot, ws_futures = ws_base + "/ws/v4/", ws_base + "/v4/ws/futures/usdt"
    # futures.orders needs the account's user id (Gate: Account > uid); spot needs none
    uid = os.environ.get("GATE_UID") or ("1" if opts.gate_url else None)
    return GateCcxtExchange(
        key.reveal(),
        secret.reveal(),
        rest_url=opts.gate_url,
        ws_spot_url=ws_spot,
        ws_futures_url=ws_futures,
        uid=uid,
        set_dual_mode=opts.set_dual_mode,
        rate_limit=opts.gate_url is None,
    )


async def run_live(
    cfg: AppConfig,
    opts: LiveOptions,
    stop: asyncio.Event | None = None,
    top_up: TopUp | None = None,  # the wallet manager's futures top-up (classic accounts)
    venue: DryRunExchange | None = None,  # paper --live: trade on it, no keys (paper_live.py)
) -> int:
    # secrets first: refuse to start without them (a dry run has none to read)
    gate = venue if venue is not None else _gate_ccxt(opts)
    token = None
    if opts.webhook_port is not None:
        token = get_secret("ADAPTIVE_AGENT_WEBHOOK_TOKEN")
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)

    store = StateStore(opts.state_path, lock=True)
    if opts.new_venue:  # an earlier run's history is of another (simulated) account
        store.reset_trading_history()  # the operator's kill switch is kept
    rest, ws = binance_urls(opts.binance_url)
    ref = BinanceReference(rest, ws)
    book = SignalBook(
        ttl_ms=cfg.core_params().signal_ttl_ms,  # the backtest's expiry, converted once
        on_add=lambda t, s, src: store.add_signal(t, str(s), src, int(time.time() * 1000)),
    )
    follower = FileFollower(opts.signals_file, book) if opts.signals_file else None
    runner: web.AppRunner | None = None
    agent = Agent(cfg, gate, store, book, keep_history=2 * 288)  # two days of closes
    # A breach is alerted from the loop (the watchdog runs on its own thread) and holds
    # exposure through agent.watchdog_tripped until it clears.
    policy = enforce(cfg, on_breach=in_loop(loop, lambda why: agent.alert("watchdog", why)))
    monitors: list[tuple[str, object]] = []
    daily = None
    try:
        monitors = build_monitors(cfg, LiveControl(agent, stop, cfg.backtest.nav0))
        agent.monitors = [m for _, m in monitors]
        agent.watchdog_tripped = lambda: policy.breached
        agent.on_new_day = daily = daily_tasks(cfg, agent, monitors)
        for kind, mon in monitors:
            if kind == "telegram":
                mon.start()
        try:
            await retrying(gate.start, "connecting to Gate (markets, account mode)")
            # classic or unified; anything else is refused (AccountModeError)
            mode = await retrying(gate.get_account_mode, "reading the account mode")
        except ExchangeError as exc:  # e.g. dual mode off: one line, as the pre-flight's
            return _refuse([f"pre-flight: {exc}"])
        agent.wallets = manager_for(agent, mode, gate.maintenance_rate())
        log.info("Gate account mode: %s", mode)
        await gate.start_order_stream()
        res = await agent.reconcile()
        log.info("reconciled %d orders; interrupted rebalances: %s", res.checked, res.interrupted)
        await agent.check_venue_state(adopt=opts.adopt_venue_state)

        async def check_balances(ctx: PreflightContext) -> list[str]:
            return await balance_lines(agent, mode)  # each wallet covers the targets

        scopes = (
            ("spot", "futures") if mode is AccountMode.UNIFIED else ("spot", "futures", "wallet")
        )
        failures = await run_preflight(
            PreflightContext(cfg, gate, store, scopes=scopes), [*PREFLIGHT_CHECKS, check_balances]
        )
        if failures:
            return _refuse(failures)
        if top_up is None and agent.wallets is not None:
            top_up = agent.wallets.top_up  # classic: the liquidation watch tops futures up first
        agent.liq_watch = LiquidationWatch(gate, cfg, agent.alert, top_up)
        now = await ref.server_time()  # the feed's clock: also right when rehearsing a replay
        offset = now - int(time.time() * 1000)  # ~0 live; the replay's lag when rehearsing
        agent.use_clock(SystemClock(lambda: int(time.time() * 1000) + offset))
        if is_replay(offset):
            policy.for_replay()
        agent.add_history(await ref.backfill(now - opts.backfill_days * DAY_MS, now))
        ref.last_ts = agent.last_candle_ts
        if opts.webhook_port is not None and token is not None:
            app = webhook_app(
                book,
                token.reveal(),
                now_ms=lambda: agent.now_ms(),  # the feed's clock: right when rehearsing too
                on_reject=lambda why: agent.alert("webhook_rejected", why),
            )
            runner = web.AppRunner(app)
            await runner.setup()
            await web.TCPSite(runner, opts.webhook_host, opts.webhook_port).start()
        bars = 0
        reconnects = ref.reconnects
        stream = ref.closed_candles().__aiter__()
        stop_wait = asyncio.ensure_future(stop.wait())
        # A close is due every 5 minutes; silence past max_ref_age means P_ref is stale. No
        # decision can be taken without a close, so the operator is alerted (once per silence).
        silence_s = opts.feed_silence_s or BAR_S + cfg.safe_mode.max_ref_age_minutes * 60
        while not stop.is_set():
            nxt = asyncio.ensure_future(stream.__anext__())
            done: set = set()
            silent = False
            while not done:
                done, _ = await asyncio.wait(
                    {nxt, stop_wait}, timeout=silence_s, return_when=asyncio.FIRST_COMPLETED
                )
                if not done and not silent:
                    silent = True
                    agent.alert(
                        "stale_feed",
                        f"no P_ref close for {silence_s / 60:.1f} min;"
                        " nothing is decided until the reference stream is back",
                    )
            if silent:
                agent.alert("stale_feed_cleared", "P_ref closes arrive again")
            if nxt not in done:
                nxt.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await nxt
                break
            candle, received_ms = nxt.result()
            if follower is not None:
                follower.poll()
            if ref.reconnects != reconnects:  # the venue may have moved while we were away
                reconnects = ref.reconnects
                await agent.reconcile()
            # Runs to completion even if a stop arrives meanwhile.
            await agent.on_candle_close(candle, received_ms)
            bars += 1
            if opts.max_bars is not None and bars >= opts.max_bars:
                break
        stop_wait.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stop_wait
        await stream.aclose()
    finally:
        if runner is not None:
            await runner.cleanup()
        if daily is not None:
            await daily.drain()  # an audit still running finishes (it only reads the state)
        for _, mon in monitors:
            await asyncio.to_thread(mon.close)
        policy.stop()
        await ref.close()
        await gate.close()
        store.close()
    return 0
