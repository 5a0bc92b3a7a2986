"""The ledger half of the ccxt Gate adapter: our fills (``my_trades``) and the funding lines of
the futures account book, read as Gate reports them (facts and sources in ``gate_constants``,
"trade history and the futures account book").

Fills come through ccxt's ``fetch_my_trades`` (``GET /spot/my_trades``, ``GET
/futures/usdt/my_trades_timerange``); the fee parts are read from the raw reply (``info``),
since ccxt folds ``gt_fee`` and ``point_fee`` into a list of fees. Funding comes from ``GET
/futures/usdt/account_book?type=fund`` through ccxt's implicit method: ccxt's own
``fetch_funding_history`` drops the line's ``id`` and balance, which the ledger keys on.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from ..core.ledger_rules import funding_key
from .exchange_gate import ExchangeError, Fill, FundingPayment, Market
from .gate_constants import BOOK_FUND, GT_PAIR, HISTORY_PAGE_MAX, SETTLE

log = logging.getLogger("adaptive_agent.gate")
_SYMBOL = {Market.SPOT: "BTC/USDT", Market.FUTURES: "BTC/USDT:USDT"}
MAX_PAGES = 50  # a safety stop: 50 full pages is more history than one read ever needs


def _num(x: Any) -> float:
    try:
        return 0.0 if x is None or x == "" else float(x)
    except (TypeError, ValueError):
        return 0.0


class GateLedgerMixin:
    """``fetch_fills`` and ``fetch_funding_payments`` for ``GateCcxtExchange`` (uses its
    ``ex`` ccxt client and ``_call`` error mapping)."""

    ex: Any
    _call: Any  # GateCcxtExchange's: ccxt errors -> ours
    page_size = HISTORY_PAGE_MAX

    async def fetch_fills(self, market: Market, since_ms: int) -> list[Fill]:
        since_s = int(since_ms) // 1000  # Gate's ``from`` is whole seconds
        raws: list[dict[str, Any]] = []
        for page in range(MAX_PAGES):
            params = {"page": page + 1} if market is Market.SPOT else {"offset": len(raws)}
            # ccxt drops parsed trades before ``since``: pass the whole second Gate answers from
            # so that a full page stays full and paging goes on.
            batch = await self._call(
                self.ex.fetch_my_trades, _SYMBOL[market], since_s * 1000, self.page_size, params
            )
            raws.extend(batch)
            if len(batch) < self.page_size:
                break
        fills = {f.trade_id: f for f in (self._fill(market, r) for r in raws)}
        out = sorted(fills.values(), key=lambda f: (f.time_ms, f.trade_id))
        if any(f.gt_fee or f.fee_currency.upper() == "GT" for f in out):
            gt = await self._gt_usdt()
            out = [_with_gt(f, gt) for f in out]
        return out

    def _fill(self, market: Market, t: dict[str, Any]) -> Fill:
        info = t.get("info") or {}
        currency = str(info.get("fee_currency") or ("USDT" if market is Market.FUTURES else ""))
        return Fill(
            market=market,
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

    async def fetch_funding_payments(self, since_ms: int) -> list[FundingPayment]:
        rows: list[dict[str, Any]] = []
        for _ in range(MAX_PAGES):
            batch = await self._call(
                self.ex.privateFuturesGetSettleAccountBook,
                {
                    "settle": SETTLE,
                    "type": BOOK_FUND,
                    "from": int(since_ms) // 1000,
                    "limit": self.page_size,
                    "offset": len(rows),
                },
            )
            rows.extend(batch)
            if len(batch) < self.page_size:
                break
        out: dict[str, FundingPayment] = {}
        for r in rows:
            if r.get("type") != BOOK_FUND:  # transfers (dnw), fees, pnl: not funding
                continue
            t_ms = round(_num(r.get("time")) * 1000)
            change, balance = _num(r.get("change")), _num(r.get("balance"))
            key = funding_key(r.get("id"), t_ms, change, balance)
            out[key] = FundingPayment(
                key, t_ms, change, balance, str(r.get("contract") or ""), str(r.get("text") or "")
            )
        return sorted(out.values(), key=lambda p: (p.time_ms, p.key))


def _with_gt(f: Fill, gt_usdt: float | None) -> Fill:
    return replace(f, gt_usdt=gt_usdt)
