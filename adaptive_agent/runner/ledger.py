"""Fees and funding as the venue charged them (docs/rules.md, "Fees and funding as paid").

After a rebalance's orders finish, the agent reads its fills back from the venue's trade history
and records each one, with its fee as charged and converted to USDT at the fill; after each
funding instant it reads the funding lines of the futures account book. Both go into the state
store (one row per venue record, so a re-read never doubles one), and to the sinks that take
them (``on_fill`` / ``on_funding``, e.g. InfluxDB).

Where a read starts is the newest record stored, less an overlap (``core.ledger_rules``), and
never before the ledger's start (the first close this state database saw): after a crash or a
restart the next read picks up whatever was missed. Times are the closes' (the feed's clock,
right in a fast rehearsal too); a read reaches past them to the venue's present (the adapter's
last window is open-ended), so fills made seconds after a close are in it. A failed read is
logged and retried at the next occasion; it never stops trading.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from ..core.ledger_rules import FeeParts, fee_usdt, funding_read_due, read_since
from ..core.model import Leg
from ..core.time_rules import BAR_MS
from ..exchange.exchange_gate import ExchangeError, ExchangeGate, Market
from ..records import FillRecord, FundingRecord
from ..state.store import StateStore

log = logging.getLogger("adaptive_agent.ledger")
START_KEY = "ledger_start_ms"


def priced(f: FillRecord) -> FillRecord:
    """The fill with its fee in USDT at the fill (None: it cannot be priced)."""
    parts = FeeParts(f.fee, f.fee_currency, f.price, f.gt_fee, f.point_fee, f.gt_usdt)
    return replace(f, fee_usdt=fee_usdt(parts))


class Ledger:
    """Reads fills and funding from ``gate`` into ``store``; ``monitors`` gives the sinks."""

    def __init__(
        self,
        gate: ExchangeGate,
        store: StateStore,
        monitors: Callable[[], Iterable[Any]] = list,
        funding_hours_utc: tuple[int, ...] = (0, 8, 16),
    ) -> None:
        self.gate, self.store, self.monitors = gate, store, monitors
        self.funding_hours_utc = funding_hours_utc
        self._funding_read_ms: int | None = None  # this process: the first close reads

    def start_ms(self, now_ms: int) -> int:
        """The ledger's start: set once, a bar before the first close it was asked about."""
        raw = self.store.get_meta(START_KEY)
        if raw is None:
            start = int(now_ms) - BAR_MS
            self.store.set_meta(START_KEY, str(start))
            return start
        return int(raw)

    async def sync_fills(self, markets: Iterable[Market], now_ms: int) -> list[FillRecord]:
        """Read and record the fills of ``markets`` since the newest stored; the new ones."""
        start = self.start_ms(now_ms)
        new: list[FillRecord] = []
        for market in markets:
            since = read_since(self.store.newest_fill_ms(str(market)), start)
            try:
                fills = await self.gate.fetch_fills(market, since, now_ms)
            except ExchangeError as exc:
                log.warning("reading %s fills failed (read again later): %s", market, exc)
                continue
            new += self.store.add_fills([priced(f) for f in fills if f.time_ms >= start])
        unpriced = [r.trade_id for r in new if r.fee_usdt is None]
        if unpriced:
            log.warning(
                "%d fill(s) with a fee that cannot be priced in USDT (GT price unavailable or"
                " points): %s; their fees are left out of the USDT sums",
                len(unpriced),
                ", ".join(unpriced[:5]),
            )
        self._emit("on_fill", new)
        return new

    async def sync_funding(self, now_ms: int) -> list[FundingRecord]:
        """Read and record the funding lines since the newest stored; the new ones."""
        start = self.start_ms(now_ms)
        since = read_since(self.store.newest_funding_ms(), start)
        try:
            lines = await self.gate.fetch_funding_payments(since, now_ms)
        except ExchangeError as exc:
            log.warning("reading funding payments failed (read again later): %s", exc)
            return []
        self._funding_read_ms = now_ms
        new = self.store.add_funding([p for p in lines if p.time_ms >= start])
        for r in new:
            log.info(
                "funding %+.4f USDT at %d (balance %.2f)", r.change_usdt, r.time_ms, r.balance_usdt
            )
        self._emit("on_funding", new)
        return new

    async def after_execute(self, report: Any, now_ms: int) -> dict[str, float]:
        """After a rebalance (an ``ExecutionReport``): record the fills of the markets it
        traded; the USDT fee of each of its orders whose fills are all priced, by client id
        (an order whose fills are not readable yet keeps the fee its order state showed)."""
        ids = [c for leg in report.legs for c in (leg.maker_client_id, leg.taker_client_id) if c]
        markets = {
            Market.SPOT if leg.leg is Leg.BTC_SPOT else Market.FUTURES for leg in report.legs
        }
        await self.sync_fills(sorted(markets), now_ms)
        return {cid: fee for cid, fee in self.store.fill_fees(ids).items() if fee is not None}

    async def on_close(self, now_ms: int) -> None:
        """At each close: the funding book when due (and fills with it: an order that filled
        after its rebalance ended is caught there)."""
        if funding_read_due(self._funding_read_ms, now_ms, self.funding_hours_utc):
            await self.sync_funding(now_ms)
            await self.sync_fills((Market.SPOT, Market.FUTURES), now_ms)

    def _emit(self, method: str, records: list) -> None:
        for m in self.monitors():
            fn = getattr(m, method, None)
            if fn is None:
                continue
            for r in records:
                try:
                    fn(r)
                except Exception:  # a sink must never stop trading
                    log.exception("monitor %s.%s failed", type(m).__name__, method)
