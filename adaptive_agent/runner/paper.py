"""``adaptive-agent paper``: the live agent against the in-process simulated exchange.

The same ``Agent`` (core decision + ``execute()``) as live trading, talking to ``PaperExchange``,
an ``ExchangeGate`` over the simulator's matching core. The replay clock is the candle file:
at each bar the agent decides at its close, the simulator fills, then the clock moves on.
With the backtest's fill model the decisions equal the backtest's, bar for bar.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from dataclasses import dataclass, replace
from pathlib import Path

from ..clock import VirtualClock
from ..config import AppConfig
from ..core.model import Candle, Signal
from ..core.signals import SignalSeries
from ..exchange.exchange_gate import AccountMode
from ..exchange.paper_exchange import PaperExchange
from ..io.loaders import Candles, FundingSeries
from ..state.store import StateStore
from .agent import Agent, SignalSource
from .control import LiveControl
from .services import build_monitors, daily_tasks
from .wallets import manager_for


class FixedSignals(SignalSource):
    """A signal series known in advance; a signal older than ``ttl_ms`` has expired (NONE).

    The expiry is the backtest's rule, ``SignalSeries.at`` (docs/rules.md, Signals).
    """

    def __init__(self, series: SignalSeries | None, ttl_ms: int | None = None) -> None:
        self.series = series or SignalSeries.empty()
        self.ttl_ms = ttl_ms

    def at(self, time_ms: int) -> Signal:
        return self.series.at(time_ms, self.ttl_ms)


@dataclass
class PaperOptions:
    candles: str | None = None
    signals: str | None = None
    funding: str | None = None
    start_ms: int | None = None
    bars: int | None = None
    speed: float | None = None  # bars per second; None = as fast as possible
    fill_model: str = "backtest"
    state_path: Path = Path("state/paper.sqlite")


def load_paper_inputs(
    cfg: AppConfig, opts: PaperOptions
) -> tuple[Candles, SignalSeries | None, FundingSeries | None]:
    """The replay's candles, signals and funding: the shared run-input rules of the CLI."""
    from ..cli.inputs import build_run_inputs

    inputs = build_run_inputs(
        cfg,
        candles=opts.candles,
        signals=opts.signals,
        funding=opts.funding,
        start_ms=opts.start_ms,
        bars=opts.bars,
    )
    return inputs.candles, inputs.signals, inputs.funding


PAPER_TICK = 0.01  # the backtest fills at reference closes, which have cent precision


def wallet_split(cfg: AppConfig) -> tuple[float, float]:
    """nav0 across the two wallets, for tests that trade without a wallet manager: each
    leg's need plus half the slack (spot its target weight, futures the initial margin)."""
    t, nav0 = cfg.strategy.targets, cfg.backtest.nav0
    margin = (t.BTC_PERP_LONG + t.BTC_PERP_SHORT) / cfg.strategy.leverage
    slack = max(0.0, 1.0 - t.BTC_SPOT - margin)
    spot = nav0 * (t.BTC_SPOT + slack / 2)
    return spot, nav0 - spot


def make_market(
    cfg: AppConfig,
    candles: Candles,
    funding: FundingSeries | None,
    fill_model: str,
    prefund_futures: bool = False,
):
    """The simulated venue, funded as a new user funds Gate: all of nav0 in spot (the agent's
    wallet manager moves what the perpetual legs need); ``prefund_futures``: ``wallet_split``."""
    from ..sim.matching import SimFees, SimMarket

    f, bt = cfg.fees, cfg.backtest
    spot_usdt, futures_usdt = wallet_split(cfg) if prefund_futures else (bt.nav0, 0.0)
    return SimMarket(
        candles,
        spot_usdt=spot_usdt,
        futures_usdt=futures_usdt,
        price_tick=PAPER_TICK if fill_model == "backtest" else None,
        fees=SimFees(f.spot_maker, f.spot_taker, f.perp_maker, f.perp_taker),
        fill_model=fill_model,
        maker_fill_ratio=bt.maker_fill_ratio,
        slippage=bt.slippage,
        funding=funding,
        funding_rate_default=bt.funding_rate_default,
        funding_hours_utc=bt.funding_hours_utc,  # the backtest's instants (docs/rules.md, Funding)
        leverage=cfg.strategy.leverage,
        dual_mode=True,
    )


def paper_agent(cfg: AppConfig, market, store: StateStore, signals: SignalSeries | None) -> Agent:
    """The live ``Agent`` wired to the in-process exchange and the replay clock."""

    agent = Agent(
        cfg,
        PaperExchange(market),
        store,
        FixedSignals(signals, cfg.core_params().signal_ttl_ms),
        clock=VirtualClock(lambda: int(market.now_ms)),
    )
    mode = AccountMode.UNIFIED if market.wallets.unified else AccountMode.CLASSIC
    agent.wallets = manager_for(agent, mode)  # separate wallets: transfers as live
    if market.fill_model == "backtest":
        venue = replace(agent.exec_params.venue, spot_tick=PAPER_TICK, perp_tick=PAPER_TICK)
        agent.exec_params = replace(agent.exec_params, venue=venue, exact_remainder=True)
    return agent


async def replay(
    agent: Agent,
    market,
    candles: Candles,
    stop: asyncio.Event | None = None,
    speed: float | None = None,
) -> None:
    """Each bar: the agent decides at its close, then the simulator's clock moves on."""
    await agent.reconcile()
    while not market.done and not (stop is not None and stop.is_set()):
        i = int(market.bar)
        await agent.on_candle_close(
            Candle(
                int(candles.ts[i]),
                float(candles.open[i]),
                float(candles.high[i]),
                float(candles.low[i]),
                float(candles.close[i]),
            )
        )
        market.advance()
        if speed:
            await asyncio.sleep(1.0 / speed)


async def run_paper(cfg: AppConfig, opts: PaperOptions, stop: asyncio.Event | None = None) -> str:
    candles, signals, funding = load_paper_inputs(cfg, opts)
    market = make_market(cfg, candles, funding, opts.fill_model)
    store = StateStore(opts.state_path, durable=False, lock=True)
    # A replay starts a new simulated venue: an earlier replay's trading history means nothing
    # (and would block this one); the operator's kill switch is kept.
    store.reset_trading_history()
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    agent = paper_agent(cfg, market, store, signals)
    monitors = build_monitors(cfg, LiveControl(agent, stop, cfg.backtest.nav0))
    agent.monitors = [m for _, m in monitors]
    agent.on_new_day = daily_tasks(cfg, agent, monitors)
    for kind, mon in monitors:
        if kind == "telegram":
            mon.start()
    try:
        await replay(agent, market, candles, stop, opts.speed)
    finally:
        for _, mon in monitors:
            await asyncio.to_thread(mon.close)
        store.close()
    plans = [p for p in agent.plans if p.triggered]
    return (
        f"paper: {len(agent.plans)} closes, {len(plans)} rebalances,"
        f" {sum(len(p.orders) for p in plans)} orders,"
        f" {sum(len(p.blocked) for p in plans)} blocked; state in {opts.state_path}"
    )
