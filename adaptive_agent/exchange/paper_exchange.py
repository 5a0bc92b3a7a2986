"""``PaperExchange``: the ``ExchangeGate`` port over the simulator's ``SimMarket``, in process.

No network and no clock of its own: prices, books, balances and orders are the simulator's, and
time is the replay's. The paper driver (``runner/paper.py``) and the tests trade through it with
the same ``Agent`` and ``execute()`` as live trading.
"""

from __future__ import annotations

from ..records import FillRecord, FundingRecord
from ..sim.matching import SimError
from ..sim.unified import unified_account
from .exchange_gate import (
    AccountMode,
    Balances,
    BookTop,
    DualPositions,
    ExchangeError,
    ExchangeGate,
    MarginSide,
    Market,
    OrderRequest,
    OrderState,
    OrderStatus,
    UnifiedAccount,
    Wallet,
    WalletMove,
)
from .gate_ccxt_margin import margin_side
from .gate_constants import (
    BOOK_TYPE_TRANSFER,
    CONTRACT,
    SETTLE,
    TRANSFER_DECIMALS,
    Label,
    MarginMode,
)


class PaperExchange(ExchangeGate):
    """``ExchangeGate`` over a ``SimMarket``: no network, the simulator's clock."""

    overlapping_reads = False  # in process: every read answers at once

    def __init__(self, market) -> None:
        self.m = market

    async def get_price(self, market: Market = Market.SPOT) -> float:
        return float(self.m.mark() if market is Market.FUTURES else self.m.last("spot"))

    async def get_book_top(self, market: Market) -> BookTop:
        bid, ask = self.m.top(str(market))
        return BookTop(float(bid), float(ask))

    async def get_balances(self) -> Balances:
        spot = self.m.spot_balances()
        fut = self.m.futures_account()
        if self.m.wallets.unified:  # one shared USDT balance: counted once, on the spot side
            return Balances(_total(spot["USDT"]), _total(spot["BTC"]), 0.0, fut["available"])
        return Balances(
            spot_usdt=_total(spot["USDT"]),
            spot_btc=_total(spot["BTC"]),
            futures_usdt=float(fut["total"]),
            futures_available=float(fut["available"]),
        )

    async def get_positions(self) -> DualPositions:
        pos = self.m.positions()
        lng, sht = pos["dual_long"], pos["dual_short"]
        return DualPositions(
            round(abs(float(lng["size"]))),
            float(lng["entry_price"] or 0.0),
            round(abs(float(sht["size"]))),
            float(sht["entry_price"] or 0.0),
            float(self.m.mark()),
        )

    async def get_funding_rate(self) -> float:
        return float(getattr(self.m, "funding_rate", lambda: 0.0)())

    async def create_orders(self, requests: list[OrderRequest]) -> list[OrderState]:
        out = []
        for r in requests:
            side, reduce_only = r.side, r.reduce_only
            if r.market is Market.FUTURES:
                amount = r.amount if side == "buy" else -r.amount
            else:
                amount = r.cost if (r.price is None and r.cost is not None) else r.amount
            tif = "poc" if r.post_only else ("ioc" if (r.ioc or r.price is None) else "gtc")
            try:
                o = self.m.place(
                    str(r.market),
                    side,
                    amount,
                    r.price,
                    tif=tif,
                    reduce_only=reduce_only,
                    text=r.client_id,
                )
            except SimError as exc:
                out.append(OrderState(r.client_id, OrderStatus.REJECTED, error=exc.label))
                continue
            out.append(_state(o, r.client_id))
        return out

    async def cancel_order(self, market: Market, client_id: str) -> OrderState | None:
        try:
            return _state(self.m.cancel(str(market), client_id), client_id)
        except SimError:
            return await self.fetch_order(market, client_id)

    async def fetch_order(self, market: Market, client_id: str) -> OrderState | None:
        try:
            return _state(self.m.get_order(str(market), client_id), client_id)
        except SimError:
            # Like Gate: an order is found by its custom id (``text``) only while it is open;
            # once finished, only by its order id (Gate API v4 ``GET /spot/orders/{order_id}``,
            # parameter order_id: "Operations based on custom IDs can only be checked in
            # pending orders"). So a finished order is looked up in the order history.
            for o in self.m.order_history(str(market)):
                if o.text == client_id:
                    return _state(o, client_id)
            return None

    async def fetch_open_orders(self, market: Market) -> list[OrderState]:
        return [_state(o, o.text or "") for o in self.m.open_orders(str(market))]

    # --- margin slice ---

    async def get_margin_sides(self) -> tuple[MarginSide, ...]:
        from ..sim.gate_render import positions

        return tuple(margin_side(row) for row in positions(self.m))

    async def set_margin(self, leverage: float, mode: str) -> tuple[MarginSide, ...]:
        from ..sim.margin_modes import control

        try:
            if MarginMode(str(mode).upper()) is MarginMode.CROSS:
                control(self.m).set_leverage(0, leverage)
            else:
                control(self.m).set_leverage(leverage)
        except SimError as exc:
            raise ExchangeError(exc.message, exc.label) from None
        return await self.get_margin_sides()

    async def in_dual_mode(self) -> bool:
        return bool(self.m.dual_mode)

    # --- accounts and wallets (issue 8) ---

    async def get_account_mode(self) -> AccountMode:
        return AccountMode.UNIFIED if self.m.wallets.unified else AccountMode.CLASSIC

    async def transfer(self, to: Wallet, amount_usdt: float, client_id: str) -> str:
        src = Wallet.SPOT if to is Wallet.FUTURES else Wallet.FUTURES
        amount = round(float(amount_usdt), TRANSFER_DECIMALS)
        try:
            rec = self.m.wallets.transfer("USDT", str(src), str(to), amount, SETTLE, self.m.now_ms)
        except SimError as exc:
            raise ExchangeError(exc.message, exc.label) from None
        return rec.tx_id

    async def transfer_moves(self, since_ms: int) -> list[WalletMove]:
        return [
            WalletMove(e.id, e.time_ms, e.change)
            for e in self.m.account_book(BOOK_TYPE_TRANSFER)
            if e.time_ms >= since_ms
        ]

    async def get_unified_account(self) -> UnifiedAccount:
        if not self.m.wallets.unified:
            raise ExchangeError("not a unified account", "NOT_SUPPORTED")
        u = unified_account(self.m)
        usdt = u["balances"]["USDT"]
        return UnifiedAccount(
            float(usdt["equity"]),
            float(usdt["available"]),
            float(u["total_initial_margin"]),
            float(u["total_maintenance_margin"]),
        )

    # --- ledger: the simulator's trade history and futures account book ---

    async def fetch_fills(self, market: Market, since_ms: int, until_ms: int) -> list[FillRecord]:
        return [
            FillRecord(
                str(market),
                t.id,
                t.time_ms,
                t.order_id,
                t.text,
                t.side,
                float(t.qty),
                float(t.price),
                t.role,
                float(t.fee),
                t.fee_currency,
            )
            for t in self.m.my_trades(str(market))
            if t.time_ms >= since_ms  # up to the simulator's present
        ]

    async def fetch_funding_payments(self, since_ms: int, until_ms: int) -> list[FundingRecord]:
        return [
            FundingRecord(e.id, e.time_ms, float(e.change), float(e.balance), CONTRACT, e.text)
            for e in self.m.account_book("fund")
            if e.time_ms >= since_ms
        ]


def _total(v) -> float:
    return float(sum(v)) if isinstance(v, tuple | list) else float(v)


def _state(o, cid: str) -> OrderState:
    status = OrderStatus.OPEN
    if o.status != "open":
        finish = str(o.finish_as)
        status = {"filled": OrderStatus.CLOSED, "ioc": OrderStatus.CLOSED}.get(
            finish, OrderStatus.CANCELED
        )
        if finish == "poc":
            return OrderState(
                cid, OrderStatus.REJECTED, error=Label.ORDER_POC_IMMEDIATE, exchange_id=str(o.id)
            )
    filled = abs(float(o.filled))
    return OrderState(
        cid, status, filled, float(o.avg_price) if filled else None, float(o.fee_usdt), str(o.id)
    )
