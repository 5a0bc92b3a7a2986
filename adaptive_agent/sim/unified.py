"""A unified account in the simulator: spot and USDT futures share one USDT balance.

Gate (``UnifiedApi.md``: ``GET /unified/accounts``, ``GET /unified/unified_mode``): in a
unified account the USDT balance is the margin of the futures positions and pays for spot
buys; there are no spot<->futures transfers (``wallet_transfers`` refuses them). The sim's
single-currency model: futures realised PnL, fees and funding change the shared USDT balance;
a spot order may reserve only what futures margin (position + order margin + unrealised
losses) leaves free, and futures ``available`` counts what spot orders hold as used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from .futures_account import FuturesAccount
from .markets import MAINTENANCE_RATE
from .orders import SimOrder
from .retention import HISTORY_MAX
from .spot_wallet import SpotWallet, lock_currency

#: ``GET /unified/unified_mode`` values (``UnifiedModeSet.md``): classic, multi_currency,
#: portfolio, single_currency. The sim's unified account is single-currency (USDT) margin.
UNIFIED_MODE = "single_currency"


class UnifiedSpotWallet(SpotWallet):
    """The spot side: USDT buys see the balance less what futures margin holds."""

    def __init__(self, usdt: float) -> None:
        super().__init__(usdt)
        self.margin_in_use: Callable[[], float] = lambda: 0.0

    def reserve(self, order: SimOrder) -> None:
        held = max(self.margin_in_use(), 0.0) if lock_currency(order) == "USDT" else 0.0
        self.free["USDT"] -= held
        try:
            super().reserve(order)
        finally:
            self.free["USDT"] += held


class UnifiedFuturesAccount(FuturesAccount):
    """Futures whose wallet balance *is* the shared USDT balance (free of spot orders)."""

    def __init__(self, spot: SpotWallet, *args: Any, **kwargs: Any) -> None:
        self._shared = spot
        super().__init__(spot.free["USDT"], *args, **kwargs)

    @property  # type: ignore[override]
    def cash(self) -> float:
        return self._shared.free["USDT"]

    @cash.setter
    def cash(self, value: float) -> None:
        self._shared.free["USDT"] = float(value)


def open_accounts(
    spot_usdt: float,
    futures_usdt: float,
    unified: bool,
    leverage: float,
    dual_mode: bool,
    ids: Iterator[int],
    market: Any,
    history_max: int = HISTORY_MAX,
) -> tuple[SpotWallet, FuturesAccount]:
    """The spot wallet and the futures account as the user funded them; in a unified account
    one USDT balance (``spot_usdt + futures_usdt``) serves both, and spot buys see only what
    futures margin and unrealised losses (``held`` of the market's futures account) leave."""
    now_ms = market.now_ms
    if not unified:
        spot = SpotWallet(spot_usdt)
        args = (leverage, dual_mode, ids, futures_usdt, now_ms, history_max)
        return spot, FuturesAccount(futures_usdt, *args)
    shared = UnifiedSpotWallet(spot_usdt + futures_usdt)
    shared.margin_in_use = lambda: held(market.futures_account())
    return shared, UnifiedFuturesAccount(shared, leverage, dual_mode, ids, 0.0, now_ms, history_max)


def unified_account(m: Any) -> dict[str, Any]:
    """``GET /unified/accounts`` (``UnifiedAccount.md`` / ``UnifiedBalance.md`` fields) from a
    unified ``SimMarket``: USDT ``available`` = balance less futures margin (never < 0),
    ``freeze`` = spot orders' USDT + futures margin, ``equity`` = balance + unrealised PnL;
    ``mm`` the maintenance margin at the contract's ``maintenance_rate``."""
    fa = m.futures_account()
    spot = m.spot_balances()
    usdt, btc = spot["USDT"], spot["BTC"]
    upnl = float(fa["unrealised_pnl"])
    margin = float(fa["position_margin"]) + float(fa["order_margin"]) - min(upnl, 0.0)
    balance = usdt.available + usdt.locked
    available = max(usdt.available - margin, 0.0)
    pos = m.positions()
    notional = sum(abs(float(p["value"])) for p in pos.values())
    mm = notional * MAINTENANCE_RATE
    price = m.last("spot")
    equity = balance + upnl
    total = equity + (btc.available + btc.locked) * price

    from .gate_render import num as n  # the REST number format (imported late: no cycle)

    return {
        "user_id": 1,
        "refresh_time": m.now_ms,
        "locked": False,
        "mode": UNIFIED_MODE,
        "balances": {
            "USDT": {
                "available": n(available),
                "freeze": n(balance - available),
                "borrowed": "0",
                "equity": n(equity),
                "margin_balance": n(equity),
                "available_margin": n(available),
                "im": n(float(fa["position_margin"]) + float(fa["order_margin"])),
                "mm": n(mm),
            },
            "BTC": {
                "available": n(btc.available),
                "freeze": n(btc.locked),
                "borrowed": "0",
                "equity": n(btc.available + btc.locked),
            },
        },
        "total": n(total),
        "borrowed": "0",
        "unified_account_total": n(total),
        "unified_account_total_liab": "0",
        "unified_account_total_equity": n(total),
        "total_initial_margin": n(float(fa["position_margin"]) + float(fa["order_margin"])),
        "total_maintenance_margin": n(mm),
        "total_available_margin": n(available),
        "total_margin_balance": n(equity),
        "leverage": n(float(m.leverage)),
    }


def held(account: dict[str, Any]) -> float:
    """What a futures account summary holds: position and order margin, unrealised losses."""
    return float(account["total"]) - float(account["available"])
