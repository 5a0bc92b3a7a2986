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
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from ..clock import VirtualClock
from ..config import AppConfig
from ..core.model import Candle, Plan, Signal
from ..core.signals import SignalSeries
from ..exchange.exchange_gate import AccountMode
from ..exchange.paper_exchange import PaperExchange
from ..io.loaders import Candles, FundingSeries
from ..reports.audit_log import DeferredLog
from ..reports.writer import format_summary
from ..state.store import StateStore
from .agent import Agent, SignalSource
from .control import LiveControl
from .paper_report import write_paper_report
from .services import build_monitors, daily_tasks
from .wallets import manager_for

if TYPE_CHECKING:
    from ..cli.inputs import RunInputs


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
    report_dir: Path | None = None  # the run's report folder (reports/<run-id>/); None: none
    progress: Callable[[float], None] | None = None  # called with the share of bars replayed
    # called with the report folder and the input files by role once the report is written
    run_record: Callable[[Path, dict[str, str | None]], None] | None = None


def load_paper_inputs(
    cfg: AppConfig, opts: PaperOptions
) -> tuple[Candles, SignalSeries | None, FundingSeries | None]:
    """The replay's candles, signals and funding: the shared run-input rules of the CLI."""
    inputs = paper_inputs(cfg, opts)
    return inputs.candles, inputs.signals, inputs.funding


def paper_inputs(cfg: AppConfig, opts: PaperOptions) -> RunInputs:
    from ..cli.inputs import build_run_inputs

    return build_run_inputs(
        cfg,
        candles=opts.candles,
        signals=opts.signals,
        funding=opts.funding,
        start_ms=opts.start_ms,
        bars=opts.bars,
    )


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
    rebalances: list[Plan] | None = None,
    progress: Callable[[float], None] | None = None,
) -> int:
    """Each bar: the agent decides at its close, then the simulator's clock moves on; returns
    the number of closes replayed.

    ``rebalances`` collects the triggered plans (the report's; the agent keeps only recent
    ones); ``progress`` is told the share of bars done, about every 0.1 %."""
    await agent.reconcile()
    n = len(candles.ts)
    every = max(1, n // 1000)
    closes = 0
    while not market.done and not (stop is not None and stop.is_set()):
        i = int(market.bar)
        plan = await agent.on_candle_close(
            Candle(
                int(candles.ts[i]),
                float(candles.open[i]),
                float(candles.high[i]),
                float(candles.low[i]),
                float(candles.close[i]),
            )
        )
        if rebalances is not None and plan is not None and plan.triggered:
            rebalances.append(plan)
        if progress is not None and i % every == 0:
            progress((i + 1) / n)
        market.advance()
        closes += 1
        if speed:
            await asyncio.sleep(1.0 / speed)
    if progress is not None and market.done:
        progress(1.0)
    return closes


async def run_paper(cfg: AppConfig, opts: PaperOptions, stop: asyncio.Event | None = None) -> str:
    """Replay; at the end (or when stopped) write the run's report and return the summary."""
    inputs = paper_inputs(cfg, opts)
    candles, signals, funding = inputs.candles, inputs.signals, inputs.funding
    market = make_market(cfg, candles, funding, opts.fill_model)
    store = StateStore(opts.state_path, durable=False, lock=True)
    # A replay starts a new simulated venue: an earlier replay's trading history means nothing
    # (and would block this one); the operator's kill switch is kept.
    store.reset_trading_history()
    if opts.report_dir is not None:  # the replay's digests and audits go with its report
        cfg = run_config(cfg, opts.report_dir)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    agent = paper_agent(cfg, market, store, signals)
    agent.keep_history = 2 * 288  # memory stays flat: the report reads the store
    monitors = build_monitors(cfg, LiveControl(agent, stop, cfg.backtest.nav0))
    agent.monitors = [m for _, m in monitors]
    audit_log = DeferredLog()  # one workbook save at the end, not one a day
    # a replay's audits skip the evidence backtests (adaptive-agent audit --date runs them)
    daily = daily_tasks(cfg, agent, monitors, log_rows=audit_log, evidence=False)
    agent.on_new_day = daily
    for kind, mon in monitors:
        if kind == "telegram":
            mon.start()
    rebalances: list[Plan] = []
    closes = 0
    try:
        closes = await replay(agent, market, candles, stop, opts.speed, rebalances, opts.progress)
    finally:
        await daily.drain()  # the audits still running, before their log is written
        for _, mon in monitors:
            await asyncio.to_thread(mon.close)
        try:
            audit_log.flush()
            result = None
            if opts.report_dir is not None:
                title = f"adaptive_agent paper — {Path(str(candles.path)).name}"
                result = write_paper_report(
                    store,
                    rebalances,
                    cfg.backtest.nav0,
                    opts.report_dir,
                    title,
                    float(candles.open[0]),
                )
                if opts.run_record is not None:  # how the report was made
                    opts.run_record(opts.report_dir, inputs.files())
        finally:
            store.close()
    stopped = " (stopped)" if stop.is_set() else ""
    lines = [
        f"paper{stopped}: {closes} closes, {len(rebalances)} rebalances,"
        f" {sum(len(p.orders) for p in rebalances)} orders,"
        f" {sum(len(p.blocked) for p in rebalances)} blocked; state in {opts.state_path}"
    ]
    if result is not None:
        lines += [format_summary(result), f"reports : {opts.report_dir}"]
    return "\n".join(lines)


def run_config(cfg: AppConfig, report_dir: Path) -> AppConfig:
    """``cfg`` with the daily digests and audits inside the run's report folder."""
    reports = cfg.reports.model_copy(
        update={"daily_dir": str(report_dir / "daily"), "audit_dir": str(report_dir / "audit")}
    )
    return cfg.model_copy(update={"reports": reports})
