"""An in-memory ``ExchangeGate`` for executor tests: a scripted touch, recorded requests.

No matching, no balances: a post-only order rests (or is refused as Gate refuses a crossing
one, label ``ORDER_POC_IMMEDIATE``) and its cancel reports the maker fill the test chose; an
IOC or market order fills in full at its limit (or the touch). Everything sent is kept in
``sent`` so a test can read the prices and sizes the executor chose.
"""

from __future__ import annotations

from collections.abc import Iterable

from adaptive_agent.core.model import OrderType
from adaptive_agent.exchange.exchange_gate import (
    Balances,
    BookTop,
    DualPositions,
    ExchangeGate,
    Market,
    OrderRequest,
    OrderState,
    OrderStatus,
    RateLimitedError,
)


class FakeGate(ExchangeGate):
    def __init__(
        self,
        tops: dict[Market, Iterable[BookTop]],
        *,
        maker_fills: dict[OrderType, float] | None = None,
        reject_post_only: bool = False,
        refuse: dict[OrderType, str] | None = None,
        rate_limited_calls: int = 0,
    ) -> None:
        """``tops``: the touch each ``get_book_top`` call returns, in turn (the last repeats);
        ``maker_fills``: what a resting post-only order of that type has filled when cancelled;
        ``refuse``: order types the venue refuses, with its label (e.g. BALANCE_NOT_ENOUGH);
        ``rate_limited_calls``: the first N ``create_orders`` calls raise a 429.
        """
        self.refuse = refuse or {}
        self.rate_limited_calls = rate_limited_calls
        self.create_calls = 0
        self.tops = {m: list(seq) for m, seq in tops.items()}
        self.maker_fills = maker_fills or {}
        self.reject_post_only = reject_post_only
        self.sent: list[OrderRequest] = []
        self.states: dict[str, OrderState] = {}
        self._requests: dict[str, OrderRequest] = {}

    def top(self, market: Market) -> BookTop:
        return self.tops[market][0]

    async def get_book_top(self, market: Market) -> BookTop:
        seq = self.tops[market]
        return seq.pop(0) if len(seq) > 1 else seq[0]

    async def create_orders(self, requests: list[OrderRequest]) -> list[OrderState]:
        self.create_calls += 1
        if self.create_calls <= self.rate_limited_calls:
            raise RateLimitedError("429 Too Many Requests", "TOO_MANY_REQUESTS")
        out = []
        for r in requests:
            self.sent.append(r)
            self._requests[r.client_id] = r
            if r.order_type in self.refuse:
                s = OrderState(r.client_id, OrderStatus.REJECTED, error=self.refuse[r.order_type])
            elif r.post_only and self.reject_post_only:
                s = OrderState(r.client_id, OrderStatus.REJECTED, error="ORDER_POC_IMMEDIATE")
            elif r.post_only:
                s = OrderState(r.client_id, OrderStatus.OPEN, exchange_id=f"x{len(self.sent)}")
            else:
                px = r.price if r.price is not None else self.top(r.market).ask
                s = OrderState(r.client_id, OrderStatus.CLOSED, r.amount, px)
            self.states[r.client_id] = s
            out.append(s)
        return out

    async def cancel_order(self, market: Market, client_id: str) -> OrderState | None:
        s = self.states.get(client_id)
        if s is None or s.done:
            return s
        r = self._requests[client_id]
        filled = self.maker_fills.get(r.order_type, 0.0)
        final = OrderState(client_id, OrderStatus.CANCELED, filled, r.price if filled else None)
        self.states[client_id] = final
        return final

    async def fetch_order(self, market: Market, client_id: str) -> OrderState | None:
        return self.states.get(client_id)

    async def fetch_open_orders(self, market: Market) -> list[OrderState]:
        return [s for s in self.states.values() if not s.done]

    def sent_in_phase(self, phase: str) -> dict[OrderType, OrderRequest]:
        """The requests of one phase ("p" post-only, "m" the remainder), by order type."""
        return {r.order_type: r for r in self.sent if r.client_id.endswith(phase)}

    # Not used by execute(); answered so the fake is a complete gate.
    async def get_price(self, market: Market = Market.SPOT) -> float:
        t = self.top(market)
        return (t.bid + t.ask) / 2

    async def get_balances(self) -> Balances:
        return Balances(0.0, 0.0, 0.0, 0.0)

    async def get_positions(self) -> DualPositions:
        return DualPositions(0, 0.0, 0, 0.0, self.top(Market.FUTURES).bid)

    async def get_funding_rate(self) -> float:
        return 0.0
