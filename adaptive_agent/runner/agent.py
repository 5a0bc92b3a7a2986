"""The trading loop shared by paper and live: at each 5-minute close, decide and execute.

Each close: read the book from the venue, decide with the same pure core as the backtest,
persist the engine state, and execute the plan. At start (and after a reconnect) the agent
reconciles: every order the store knows is looked up by client id, interrupted rebalances are
closed, stray orders cancelled; anything it cannot explain puts it in safe mode.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from .. import metrics
from ..clock import Clock, SystemClock
from ..config import AppConfig
from ..core.model import (
    BREAKER_CODES,
    Book,
    Candle,
    EngineState,
    Plan,
    Prices,
    RiskInputs,
    Signal,
)
from ..core.rebalance_engine import build_orders
from ..core.time_rules import BAR_MS, completed_day, day_of_close, utc_text
from ..exchange.exchange_gate import ExchangeError, ExchangeGate, Market
from ..execution.executor import ExecParams, ExecutionReport, execute, record_state
from ..lifecycle import OrderStatus
from ..monitoring.monitor import Monitor
from ..records import RebalanceRecord
from ..state.store import StateStore
from . import book_check
from .bar_snapshot import bar_snapshot
from .candle_history import CandleHistory
from .exec_outcome import report_outcome
from .ledger import Ledger
from .reconcile import ReconcileResult, cancel_all_open_orders, reconcile_with_venue
from .retry import retrying
from .trade_records import late_trade, report_trades
from .wallets import WalletManager

log = logging.getLogger("adaptive_agent.agent")


class SignalSource:
    """Where the current BUY/SELL/NONE comes from (file follower, webhook, fixed series)."""

    def at(self, time_ms: int) -> Signal:  # pragma: no cover - interface
        raise NotImplementedError


class Agent:
    def __init__(
        self,
        cfg: AppConfig,
        gate: ExchangeGate,
        store: StateStore,
        signals: SignalSource,
        *,
        now_ms: Callable[[], int] | None = None,
        exec_params: ExecParams | None = None,
        sleep=None,
        clock: Clock | None = None,
        monitors: list[Monitor] | None = None,
        keep_history: int | None = None,
    ) -> None:
        self.cfg, self.gate, self.store, self.signals = cfg, gate, store, signals
        self.params = cfg.core_params()
        self.exec_params = exec_params or cfg.exec_params()
        self.use_clock(clock or SystemClock(now_ms, sleep))
        self.state = store.load_engine_state() or EngineState()
        self.error_streak = 0
        self._breaker_tripped = False  # the last decision had a circuit-breaker reason
        self._streak_alerted = False  # the error-streak alarm went out while the venue was down
        self.unexplained = False
        self.reconcile_pending = False  # a reconcile failed: it is tried again at each close
        self.venue_unknown = False  # the venue holds a book the state does not know
        self._lookups: dict[str, int] = {}  # client id -> reconciles that could not find it
        self.history = CandleHistory()
        # Recent plans and execution reports; a long-running live agent keeps only the last
        # `keep_history` of each (paper keeps them all for its summary and tests).
        self.plans: list[Plan] = []
        self.reports: list[ExecutionReport] = []
        self.keep_history = keep_history
        self.rebalance_count = 0
        self.monitors: list[Monitor] = list(monitors or [])
        self.watchdog_tripped: Callable[[], bool] = lambda: False
        self.on_new_day: Callable[[int], Awaitable[None]] | None = None  # arg: UTC day index
        # the heartbeat of an earlier run: a restart after a midnight still completes that day
        last_bar = store.get_meta("last_bar_ms")
        self._last_decision_ms: int | None = int(last_bar) if last_bar is not None else None
        self._day_nav: dict[int, float] = {}  # UTC day -> NAV at its last close (Sharpe 30d)
        self._maybe_open = True  # orders left open at the venue may exist (refresh_pending)
        self.liq_watch = None  # margin slice: a LiquidationWatch (runner/liquidation_watch.py)
        self.wallets: WalletManager | None = None  # classic account: spot<->futures transfers
        self.ledger = Ledger(gate, store, lambda: self.monitors, cfg.backtest.funding_hours_utc)

    def use_clock(self, clock: Clock) -> None:
        """The one clock of the loop and the executor (a rehearsal moves it to the feed's)."""
        self.clock: Clock = clock
        self.now_ms, self.sleep = clock.now_ms, clock.sleep

    # --- candles -----------------------------------------------------------------------------

    def add_history(self, candles: list[Candle]) -> None:
        """Backfill (and gap fill after a reconnect): repeats and older candles are harmless."""
        self.history.add(candles)

    @property
    def last_candle_ts(self) -> int | None:
        return self.history.last_ts

    def atr_frac(self, decision_ms: int) -> float:
        return self.history.atr_frac(decision_ms, self.params.atr_period)

    # --- reconciliation ----------------------------------------------------------------------

    async def reconcile(self, attempts: int = 4, first_delay_s: float = 1.0) -> ReconcileResult:
        """Settle every order the store knows with the venue (see ``reconcile.py``).

        A venue that keeps failing does not stop the agent: each try waits twice as long as the
        one before; after the last, the agent stays in safe mode (nothing that raises exposure
        goes out) with an alert, and the next reconcile (a reconnect) tries again.
        """
        delay = first_delay_s
        for attempt in range(1, attempts + 1):
            try:
                self._maybe_open = True  # the reconcile may leave orders open
                res = await reconcile_with_venue(
                    self.gate, self.store, self.now_ms(), self._lookups
                )
                if self.wallets is not None:  # transfers recorded but never answered
                    await self.wallets.reconcile()
            except ExchangeError as exc:
                log.warning("reconcile: try %d of %d failed: %s", attempt, attempts, exc)
                if attempt == attempts:
                    self.unexplained = self.reconcile_pending = True
                    self.alert(
                        "reconcile_failed",
                        f"reconcile failed {attempts} times ({exc}); safe mode until it succeeds",
                    )
                    return ReconcileResult(failed=True)
                await self.sleep(delay)
                delay *= 2
            else:
                self.unexplained = bool(res.unexplained)
                self.reconcile_pending = False
                if res.parked:
                    self.alert("orders_parked", f"orders never found at the venue: {res.parked}")
                return res
        raise AssertionError("unreachable")  # pragma: no cover

    async def check_venue_state(self, adopt: bool = False) -> bool:
        """Fail closed on a lost state (``book_check.venue_problem``): a store with no history
        while the venue holds positions, or a venue book other than the one the store expects,
        means the agent does not know how it got there; it starts in safe mode with an alert
        until the operator restarts it with ``adopt``."""
        try:
            book, _ = await retrying(self.read_book, "reading the venue's book", sleep=self.sleep)
        except ExchangeError as exc:
            self.venue_unknown = True
            self.alert("venue_state_unknown", f"cannot read the venue's book at start: {exc}")
            return False
        known = self.store.load_engine_state() is not None or self.store.rebalance_count() > 0
        last = book_check.decode(self.store.get_meta(book_check.LAST_BOOK_KEY))
        since = self.store.orders_decided_since(last.time_ms) if last is not None else []
        problem = book_check.venue_problem(known, last, since, book, self.params.venue.spot_lot)
        if problem is not None and adopt:
            self.store.add_event(self.now_ms(), "venue_state_adopted", problem.text)
            log.warning("adopting the venue's book: %s", problem.text)
        elif problem is not None:
            self.venue_unknown = True
            self.alert(
                problem.kind,
                f"{problem.text}; safe mode until reviewed (restart with --adopt-venue-state"
                " to accept it)",
            )
        return not self.venue_unknown

    # --- one decision ------------------------------------------------------------------------

    async def read_book(self) -> tuple[Book, Prices | None]:
        bal, pos, spot_px = await self.gate.read_all(  # independent reads: one round trip
            self.gate.get_balances(), self.gate.get_positions(), self.gate.get_price(Market.SPOT)
        )
        book = Book(
            cash=bal.spot_usdt + bal.futures_usdt,
            spot_lots=round(bal.spot_btc / self.params.venue.spot_lot),
            long_contracts=pos.long_contracts,
            short_contracts=pos.short_contracts,
            long_entry=pos.long_entry,
            short_entry=pos.short_entry,
        )
        return book, Prices(0.0, spot_px, pos.mark_price or spot_px)

    async def refresh_pending(self) -> None:
        """Bring orders the venue had not finished at the end of their rebalance up to date.

        Only this agent leaves an order open (one agent per state file): after an execution
        or a reconcile the store is asked again, and once none is open, not at every close."""
        if not self._maybe_open:
            return
        pending = self.store.orders(statuses=(OrderStatus.OPEN,))
        self._maybe_open = bool(pending)
        for o in pending:
            try:
                state = await self.gate.fetch_order(Market(o.market), o.client_id)
            except ExchangeError as exc:
                log.warning("refresh %s: %s", o.client_id, exc)
                continue
            if state is not None and state.done:
                record_state(self.store, o.client_id, self.now_ms(), state)
                late = late_trade(self.store, o, state, self.params)  # filled after its rebalance
                if late is not None:
                    self.store.add_trades([late])

    async def circuit_breaker(self, why: str, alert: bool = True) -> None:
        """Drawdown or an error streak (docs/rules.md, Safe mode and circuit breaker): cancel
        every open order and raise the alarm."""
        cancelled = await cancel_all_open_orders(self.gate)
        if alert:
            self.alert(
                "circuit_breaker", f"circuit breaker: {why}; cancelled {len(cancelled)} orders"
            )

    async def on_candle_close(self, candle: Candle, received_ms: int | None = None) -> Plan | None:
        """Decide at the close of ``candle`` (a P_ref bar), execute, then run daily tasks."""
        prev = self._last_decision_ms
        plan = await self._decide_and_execute(candle, received_ms)
        decision_ms = candle.ts + BAR_MS
        self._last_decision_ms = decision_ms
        await self.ledger.on_close(decision_ms)  # funding (and late fills) as the venue booked
        self.store.set_meta("last_bar_ms", str(decision_ms))  # heartbeat: the bar is done
        day = completed_day(prev, decision_ms)
        if day is not None and self.on_new_day is not None:
            try:
                await self.on_new_day(day)
            except Exception:  # reports must never stop trading
                log.exception("daily digest/audit failed")
        return plan

    async def _decide_and_execute(self, candle: Candle, received_ms: int | None) -> Plan | None:
        decision_ms = candle.ts + BAR_MS
        self.add_history([candle])
        if self.reconcile_pending:
            await self.reconcile(attempts=1)
        try:
            await self.refresh_pending()
            (book, venue), funding = await self.gate.read_all(
                self.read_book(), self._funding_rate()
            )
        except ExchangeError as exc:
            self.error_streak += 1
            log.error("reading the book failed (%d in a row): %s", self.error_streak, exc)
            if self.error_streak == self.params.max_error_streak:  # alarm now, not on recovery
                await self.circuit_breaker(f"{self.error_streak} consecutive exchange errors")
                self._streak_alerted = True
            return None
        streak, self.error_streak = self.error_streak, 0  # the failures before this read count
        liq = await self.liq_watch.check() if self.liq_watch is not None else None
        assert venue is not None
        prices = Prices(candle.close, venue.spot, venue.perp)
        now = received_ms if received_ms is not None else self.now_ms()
        risk = RiskInputs(
            ref_age_ms=max(0, now - decision_ms),
            error_streak=streak,
            watchdog_tripped=self.watchdog_tripped(),
            manual=self.store.manual_safe_mode or self.unexplained or self.venue_unknown,
            liq_distance=liq,
        )
        plan = build_orders(
            book,
            prices,
            self.signals.at(decision_ms),
            decision_ms,
            self.atr_frac(decision_ms),
            self.state,
            self.params,
            risk,
        )
        if plan.safe_mode != self.state.safe_mode:
            kind = "safe_mode_entered" if plan.safe_mode else "safe_mode_left"
            self.store.add_event(decision_ms, kind, "; ".join(plan.safe_mode_reasons))
            log.warning("%s: %s", kind, "; ".join(plan.safe_mode_reasons))
        breaker = [
            text
            for code, text in zip(plan.safe_mode_codes, plan.safe_mode_reasons, strict=True)
            if code in BREAKER_CODES
        ]
        # On the breaker condition's onset, also when safe mode was on already (kill switch).
        if plan.safe_mode and breaker and not self._breaker_tripped:
            # After an outage the alarm has gone out already; the cancels are retried now.
            await self.circuit_breaker("; ".join(breaker), alert=not self._streak_alerted)
        self._streak_alerted = False
        self._breaker_tripped = plan.safe_mode and bool(breaker)
        self.state = plan.state
        self.plans.append(plan)
        self.rebalance_count += plan.triggered
        if self.keep_history is not None:
            del self.plans[: -self.keep_history]
        with self.store.batch():  # the book read, the decision's state and its bar: one commit
            self.store.set_meta(book_check.LAST_BOOK_KEY, book_check.encode(decision_ms, book))
            self.store.save_engine_state(self.state)
            sharpe = self._sharpe_30d(plan.time_ms, plan.nav)
            bar = bar_snapshot(plan, book, prices, self.params, funding, sharpe, candle)
            self.store.add_bar(bar)
        self._emit("on_bar", bar)  # after the commit: a sink never holds the store's lock
        if plan.triggered:
            log.info(
                "rebalance at %s: %s; %d orders, %d blocked, %d skipped",
                utc_text(decision_ms),
                plan.reason,
                len(plan.orders),
                len(plan.blocked),
                len(plan.skipped),
            )
            if plan.orders and self.venue_unknown:
                # Not even a reducing order: the book it would act on is not understood yet.
                log.warning(
                    "%d orders held: the venue's book is not the state's; review it, then"
                    " restart with --adopt-venue-state",
                    len(plan.orders),
                )
            elif plan.orders:
                try:
                    if self.wallets is not None:  # fund each wallet for its orders first
                        await self.wallets.before(plan, book, prices)
                    self._maybe_open = True  # the execution may leave orders open
                    report = await execute(
                        plan, self.gate, self.store, self.exec_params, self.clock
                    )
                    if self.wallets is not None:  # then the futures surplus back to spot
                        await self.wallets.after(plan.time_ms)
                except ExchangeError as exc:
                    self.error_streak += 1
                    log.error("execution failed: %s", exc)
                    return plan
                self.reports.append(report)
                if self.keep_history is not None:
                    del self.reports[: -self.keep_history]
                incomplete = report_outcome(self, plan, report, book, prices.ref)  # never silent
                if report.errors or incomplete:
                    self.error_streak += 1
                if report.errors:
                    log.error("rebalance %s: %s", report.rebalance_id, "; ".join(report.errors))
                fees = await self.ledger.after_execute(report, decision_ms)  # fees as charged
                self._report_rebalance(plan, report, prices.ref, fees)
        return plan

    # --- monitoring --------------------------------------------------------------------------

    def _emit(self, method: str, *args) -> None:
        for m in self.monitors:
            try:
                getattr(m, method)(*args)
            except Exception:  # a sink must never stop trading
                log.exception("monitor %s.%s failed", type(m).__name__, method)

    def alert(self, kind: str, text: str) -> None:
        self.store.add_event(self.now_ms(), kind, text)
        self._emit("on_alert", kind, text, self.now_ms())

    def _sharpe_30d(self, decision_ms: int, nav: float) -> float | None:
        """Sharpe (``metrics``) of the day-end NAVs of the 31 UTC days ending with this close's."""
        day = day_of_close(decision_ms)
        self._day_nav[day] = nav
        for d in [d for d in self._day_nav if d <= day - 31]:
            del self._day_nav[d]
        navs = [self._day_nav[d] for d in sorted(self._day_nav)]
        return metrics.or_none(metrics.sharpe(metrics.daily_returns(navs)))

    async def _funding_rate(self) -> float | None:
        """The venue's funding rate per 8 h for the bar's report; None when it cannot be read."""
        try:
            return float(await self.gate.get_funding_rate())
        except Exception as exc:  # monitoring only: never in the way of a decision
            log.warning("funding rate not available: %s", exc)
            return None

    def _report_rebalance(
        self, plan: Plan, report: ExecutionReport, ref: float, fees: dict | None = None
    ) -> None:
        """Fills as trade records; slippage is measured against ``ref`` (P_ref at decision);
        ``fees``: the USDT fees of the venue's fills by client id, where it reported them."""
        trades = report_trades(report, plan.time_ms, ref, self.params, fees)
        self.store.add_trades(trades)
        rec = RebalanceRecord(
            time_ms=plan.time_ms,
            rebalance_id=report.rebalance_id,
            orders=len(plan.orders),
            blocked=len(plan.blocked),
            skipped=len(plan.skipped),
            fees_usdt=sum(t.fee_usdt for t in trades),
            slippage_usdt=sum(t.slippage_usdt for t in trades),
            notional_usdt=sum(t.size_btc * t.price for t in trades),
            signal_to_first_ack_ms=None
            if report.first_ack_ms is None
            else float(report.first_ack_ms - plan.time_ms),
            complete_ms=None
            if report.finished_ms is None
            else float(report.finished_ms - plan.time_ms),
        )
        self._emit("on_rebalance", rec, trades)
