"""The ledger half of the ccxt Gate adapter: our fills (``my_trades``) and the funding lines of
the futures account book, read as Gate reports them (facts and sources in ``gate_constants``,
"trade history and the futures account book").

Fills come through ccxt's ``fetch_my_trades`` (``GET /spot/my_trades``, ``GET
/futures/usdt/my_trades_timerange``); the fee parts are read from the raw reply (``info``),
since ccxt folds ``gt_fee`` and ``point_fee`` into a list of fees. Funding comes from ``GET
/futures/usdt/account_book?type=fund`` through ccxt's implicit method: ccxt's own
``fetch_funding_history`` drops the line's ``id`` and balance, which the ledger keys on.

A read walks from ``since`` in windows of at most ``HISTORY_WINDOW_MS`` with both ends named
(Gate answers a spot read with only ``from`` with 7 days from it, silently); only the last is
open-ended, so a venue clock ahead of ours loses nothing. It pages within each window; a window
whose pages reach Gate's spot paging cap is split in two, so no fill is left behind it.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from ..core.ledger_rules import funding_key
from ..records import FillRecord, FundingRecord
from .exchange_gate import ExchangeError, Market
from .gate_constants import (
    BOOK_FUND,
    GT_PAIR,
    HISTORY_WINDOW_MS,
    SETTLE,
    SPOT_TRADES_OFFSET_MAX,
    SPOT_TRADES_SPAN_MS,
)

log = logging.getLogger("adaptive_agent.gate")
_SYMBOL = {Market.SPOT: "BTC/USDT", Market.FUTURES: "BTC/USDT:USDT"}


def _num(x: Any) -> float:
    try:
        return 0.0 if x is None or x == "" else float(x)
    except (TypeError, ValueError):
        return 0.0


def windows(
    since_ms: int, until_ms: int, width_ms: int = HISTORY_WINDOW_MS
) -> list[tuple[int, int | None]]:
    """``[since, until]`` in whole seconds, cut into windows of at most ``width_ms``; the last
    one is open-ended (``None``: no ``to``, so a venue clock ahead of ours loses nothing)."""
    lo, hi = int(since_ms) // 1000, -(-int(until_ms) // 1000)
    step = max(width_ms // 1000, 1)
    out: list[tuple[int, int | None]] = []
    while lo + step < hi:
        out.append((lo, lo + step))
        lo += step
    return [*out, (lo, None)]


class GateLedgerMixin:
    """``fetch_fills`` and ``fetch_funding_payments`` for ``GateCcxtExchange`` (uses its
    ``ex`` ccxt client and ``_call`` error mapping)."""

    ex: Any
    _call: Any  # GateCcxtExchange's: ccxt errors -> ours
    page_size = 100  # Gate's default; the spot cap allows 11 pages of it per window

    async def fetch_fills(self, market: Market, since_ms: int, until_ms: int) -> list[FillRecord]:
        raws: list[dict[str, Any]] = []
        for lo, hi in windows(since_ms, until_ms):
            raws += await self._trades_window(market, lo, hi)
        fills = {f.trade_id: f for f in (self._fill(market, r) for r in raws)}
        out = sorted(fills.values(), key=lambda f: (f.time_ms, f.trade_id))
        if any(f.gt_fee or f.fee_currency.upper() == "GT" for f in out):
            gt = await self._gt_usdt()
            out = [replace(f, gt_usdt=gt) for f in out]
        return out

    async def _trades_window(
        self, market: Market, lo_s: int, hi_s: int | None
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        while True:
            page = len(rows) // self.page_size + 1
            if market is Market.SPOT and self.page_size * (page - 1) > SPOT_TRADES_OFFSET_MAX:
                hi_s = lo_s + SPOT_TRADES_SPAN_MS // 1000 if hi_s is None else hi_s  # Gate's span
                if hi_s - lo_s <= 1:
                    log.warning("more fills in one second than Gate pages: some are unread")
                    return rows
                mid = (lo_s + hi_s) // 2  # too many for Gate's paging: two narrower windows
                first = await self._trades_window(market, lo_s, mid)
                return first + await self._trades_window(market, mid, hi_s)
            params: dict[str, Any] = {} if hi_s is None else {"until": hi_s * 1000}
            params.update({"page": page} if market is Market.SPOT else {"offset": len(rows)})
            # ccxt drops parsed trades before ``since``: the whole second Gate answers from
            batch = await self._call(
                self.ex.fetch_my_trades, _SYMBOL[market], lo_s * 1000, self.page_size, params
            )
            rows += batch
            if len(batch) < self.page_size:
                return rows

    def _fill(self, market: Market, t: dict[str, Any]) -> FillRecord:
        info = t.get("info") or {}
        currency = str(info.get("fee_currency") or ("USDT" if market is Market.FUTURES else ""))
        return FillRecord(
            market=str(market),
            trade_id=str(t.get("id") or info.get("trade_id") or info.get("id")),
            order_id=str(t.get("order") or info.get("order_id") or ""),
            client_id=str(info.get("text") or ""),
            time_ms=int(t.get("timestamp") or 0),
            side=str(t.get("side") or ""),
            amount=abs(_num(t.get("amount"))),
            price=_num(t.get("price")),
            role=str(info.get("role") or t.get("takerOrMaker") or ""),
            fee=abs(_num(info.get("fee"))),
            fee_currency=currency,
            gt_fee=abs(_num(info.get("gt_fee"))),
            point_fee=abs(_num(info.get("point_fee"))),
        )

    async def _gt_usdt(self) -> float | None:
        """GT_USDT's last price, or None (the fee then stays unpriced, never 0)."""
        try:
            rows = await self._call(self.ex.publicSpotGetTickers, {"currency_pair": GT_PAIR})
            last = _num(rows[0].get("last")) if rows else 0.0
        except (ExchangeError, AttributeError, IndexError) as exc:
            log.warning("GT_USDT price not available (%s): GT-paid fees stay unpriced", exc)
            return None
        return last if last > 0 else None

    async def fetch_funding_payments(self, since_ms: int, until_ms: int) -> list[FundingRecord]:
        rows: list[dict[str, Any]] = []
        for lo, hi in windows(since_ms, until_ms):
            offset = 0
            while True:
                query: dict[str, Any] = {"settle": SETTLE, "type": BOOK_FUND, "from": lo}
                query.update({} if hi is None else {"to": hi})
                query.update(limit=self.page_size, offset=offset)
                batch = await self._call(self.ex.privateFuturesGetSettleAccountBook, query)
                rows += batch
                offset += len(batch)
                if len(batch) < self.page_size:
                    break
        out: dict[str, FundingRecord] = {}
        for r in rows:
            if r.get("type") != BOOK_FUND:  # transfers (dnw), fees, pnl: not funding
                continue
            t_ms = round(_num(r.get("time")) * 1000)
            change, balance = _num(r.get("change")), _num(r.get("balance"))
            key = funding_key(r.get("id"), t_ms, change, balance)
            out[key] = FundingRecord(
                key, t_ms, change, balance, str(r.get("contract") or ""), str(r.get("text") or "")
            )
        return sorted(out.values(), key=lambda p: (p.time_ms, p.key))
