"""``execute()``: turn a plan from the decision core into orders on a venue, safely
(docs/rules.md, Execution).

One batch of post-only orders at the touch, a wait for fills, a cancel of what is left, then
IOC orders for the remainder. Three rules keep it from ever doubling an order:

1. Client ids are derived from the decision time, the leg and the phase, so a rebalance that
   is replayed after a restart produces the same ids (and is recognised as already done).
2. Each id is committed to the state store before the request is sent.
3. After a timeout or an ambiguous reply, the order is looked up by its client id; an order
   whose fate stays unknown is never re-sent under a new id in the same rebalance.

A post-only rejection (the touch moved) is an expected outcome, whether Gate answers it with
an error label or with an order finished as ``poc``: the leg goes straight to the IOC step. Any
other refusal (balance, margin, reduce-only, rate limit) ends the leg there: it is reported,
no IOC is sent for it, and the rebalance is ``INCOMPLETE`` (``leg_outcome``). A 429 is a
definite refusal: the batch is sent again after a pause, a bounded number of times.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..clock import Clock, SystemClock
from ..core.model import Leg, Order, Plan, Side
from ..exchange.exchange_gate import (
    AmbiguousOrderError,
    BookTop,
    ExchangeError,
    ExchangeGate,
    Market,
    OrderRequest,
    OrderState,
    OrderStatus,
    RateLimitedError,
    market_of,
)
from ..exchange.gate_constants import (
    Label,
    error_kind,
)
from ..lifecycle import RebalanceStatus
from ..state.store import StateStore
from .leg_outcome import LegResult, rebalance_status
from .order_pricing import (  # re-exported: the executor's public names
    LEG_CODE,
    ExecParams,
    _floor_lots,
    _round_to,
    client_id,
    ioc_request,
    ioc_short,
    rebalance_id_for,
)

__all__ = [
    "LEG_CODE",
    "ExecParams",
    "ExecutionReport",
    "LegFill",
    "_floor_lots",
    "client_id",
    "execute",
    "rebalance_id_for",
    "record_state",
]


@dataclass
class LegFill:
    leg: Leg
    order_type: str
    side: str
    requested: float  # BTC (spot) or contracts (futures)
    maker_filled: float = 0.0
    maker_price: float | None = None
    maker_fee: float = 0.0
    maker_client_id: str = ""
    taker_filled: float = 0.0
    taker_price: float | None = None
    taker_fee: float = 0.0
    taker_client_id: str = ""
    notes: list[str] = field(default_factory=list)
    result: LegResult = LegResult.FILLED  # how the leg ended (leg_outcome)
    rejection: str = ""  # the venue's label when it refused the leg

    @property
    def fee_usdt(self) -> float:
        return self.maker_fee + self.taker_fee

    @property
    def filled(self) -> float:
        return self.maker_filled + self.taker_filled


@dataclass
class ExecutionReport:
    rebalance_id: str
    legs: list[LegFill]
    already_done: bool = False
    first_sent_ms: int | None = None
    first_ack_ms: int | None = None
    finished_ms: int | None = None
    errors: list[str] = field(default_factory=list)
    status: RebalanceStatus = RebalanceStatus.DONE


def record_state(store: StateStore, client_id: str, now_ms: int, state: OrderState) -> None:
    """What the venue says about an order, into the store."""
    store.update_order(
        client_id,
        now_ms,
        status=str(state.status),
        filled=state.filled,
        avg_price=state.avg_price,
        fee=state.fee_usdt,
        exchange_id=state.exchange_id,
        error=state.error,
    )


def plan_summary(plan: Plan) -> dict:
    def o(order: Order) -> dict:
        return {
            "leg": order.leg,
            "type": order.order_type,
            "lots": order.lots,
            "size_btc": order.size_btc,
            "price": order.price,
        }

    return {
        "time_ms": plan.time_ms,
        "nav": plan.nav,
        "drift": plan.drift,
        "threshold": plan.threshold,
        "signal": plan.signal,
        "safe_mode": plan.safe_mode,
        "reason": plan.reason,
        "target_lots": plan.target_lots,
        "orders": [o(x) for x in plan.orders],
        "blocked": [{**o(h.order), "gate": h.gate, "reason": h.reason} for h in plan.blocked],
        "skipped": [{**o(h.order), "reason": h.reason} for h in plan.skipped],
    }


class _Run:
    """The state of one execution; methods are its steps."""

    def __init__(
        self,
        gate: ExchangeGate,
        store: StateStore,
        params: ExecParams,
        clock: Clock,
    ) -> None:
        self.gate, self.store, self.p = gate, store, params
        self.clock = clock
        self.now_ms, self.sleep = clock.now_ms, clock.sleep
        self.errors: list[str] = []
        self.first_sent_ms: int | None = None
        self.first_ack_ms: int | None = None

    def amount_of(self, order: Order) -> float:
        return (
            float(order.lots) if market_of(order.order_type) is Market.FUTURES else order.size_btc
        )

    async def send(self, requests: list[OrderRequest]) -> dict[str, OrderState | None]:
        """Send per market in batches; every outcome recorded; unknowns looked up by id."""
        out: dict[str, OrderState | None] = {}
        groups: dict[Market, list[OrderRequest]] = {}
        for r in requests:
            groups.setdefault(r.market, []).append(r)
        batches = [
            g[i : i + self.p.batch_limit]
            for g in groups.values()
            for i in range(0, len(g), self.p.batch_limit)
        ]
        if self.first_sent_ms is None and batches:
            self.first_sent_ms = self.now_ms()
        results = await asyncio.gather(*(self._send_batch(b) for b in batches))
        for res in results:
            out.update(res)
        return out

    async def _send_batch(self, batch: list[OrderRequest]) -> dict[str, OrderState | None]:
        try:
            states = await self._create_rate_limited(batch)
            if self.first_ack_ms is None:
                self.first_ack_ms = self.now_ms()
        except AmbiguousOrderError as exc:
            self.errors.append(f"ambiguous reply, looking orders up by client id: {exc}")
            looked = [await self.lookup(r.market, r.client_id) for r in batch]
            return {r.client_id: s for r, s in zip(batch, looked, strict=True)}
        except ExchangeError as exc:
            self.errors.append(f"batch refused: {exc}")
            states = [
                OrderState(r.client_id, OrderStatus.REJECTED, error=exc.label or str(exc))
                for r in batch
            ]
        return {s.client_id: s for s in states}

    async def _create_rate_limited(self, batch: list[OrderRequest]) -> list[OrderState]:
        """Gate answers 429 before doing anything (API v4 "Return Format": 429 Too Many
        Requests), so the same batch, same client ids, goes again after a growing pause."""
        delay = self.p.rate_limit_backoff_s
        for attempt in range(self.p.rate_limit_retries + 1):
            try:
                return await self.gate.create_orders(batch)
            except RateLimitedError as exc:
                if attempt == self.p.rate_limit_retries:
                    self.errors.append(f"rate limited {attempt + 1} times: {exc}")
                    label = exc.label or Label.TOO_MANY_REQUESTS
                    return [
                        OrderState(r.client_id, OrderStatus.REJECTED, error=label) for r in batch
                    ]
                await self.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    async def lookup(self, market: Market, cid: str) -> OrderState | None:
        for attempt in range(self.p.lookup_attempts):
            try:
                state = await self.gate.fetch_order(market, cid)
            except ExchangeError as exc:
                self.errors.append(f"lookup {cid}: {exc}")
                state = None
            if state is not None:
                return state
            if attempt + 1 < self.p.lookup_attempts:
                await self.sleep(self.p.lookup_delay_s)
        return None

    def record(self, cid: str, state: OrderState | None) -> None:
        if state is None:
            self.store.update_order(cid, self.now_ms(), status=OrderStatus.UNKNOWN)
        else:
            record_state(self.store, cid, self.now_ms(), state)

    async def wait_for_fills(
        self, states: dict[str, OrderState | None], markets: dict[str, Market]
    ) -> None:
        mono = self.clock.monotonic
        deadline = mono() + self.p.post_only_timeout_s
        pending = {c for c, s in states.items() if s is not None and not s.done}
        while pending and mono() < deadline:
            if self.gate.has_order_stream:  # websocket first; poll when it has been quiet
                wait = min(self.p.poll_interval_s, max(0.0, deadline - mono()))
                if await self.gate.wait_order_update(wait):
                    for cid in list(pending):
                        s = self.gate.latest_order_state(cid)
                        if s is not None:
                            states[cid] = s
                            if s.done:
                                pending.discard(cid)
                                self.record(cid, s)
                    continue
            else:
                await self.sleep(self.p.poll_interval_s)
            for cid in list(pending):
                try:
                    s = await self.gate.fetch_order(markets[cid], cid)
                except ExchangeError as exc:
                    self.errors.append(f"poll {cid}: {exc}")
                    continue
                if s is not None:
                    states[cid] = s
                    if s.done:
                        pending.discard(cid)
                        self.record(cid, s)

    async def cancel_rest(
        self, states: dict[str, OrderState | None], markets: dict[str, Market]
    ) -> None:
        for cid, s in list(states.items()):
            if s is not None and s.done:
                continue
            try:
                final = await self.gate.cancel_order(markets[cid], cid)
            except ExchangeError as exc:
                self.errors.append(f"cancel {cid}: {exc}")
                final = await self.lookup(markets[cid], cid)
            if final is None and s is None:
                final = await self.lookup(markets[cid], cid)  # maybe it arrived meanwhile
            states[cid] = final if final is not None else s
            self.record(cid, states[cid])


async def execute(
    plan: Plan,
    gate: ExchangeGate,
    store: StateStore,
    params: ExecParams = ExecParams(),  # noqa: B008 - frozen
    clock: Clock | None = None,
) -> ExecutionReport:
    """Carry out ``plan.orders``; returns what filled. Idempotent per decision time."""
    clock = clock or SystemClock()
    now = clock.now_ms
    rid = rebalance_id_for(plan.time_ms)
    if store.has_rebalance(rid):
        return ExecutionReport(rid, [], already_done=True)
    run = _Run(gate, store, params, clock)
    legs = {
        o.leg: LegFill(o.leg, str(o.order_type), str(o.side), run.amount_of(o)) for o in plan.orders
    }
    markets_needed = {market_of(o.order_type) for o in plan.orders}
    tops = await _book_tops(gate, markets_needed)

    # Phase 1: post-only at the touch, priced away from the book (buys down, sells up).
    requests: list[OrderRequest] = []
    for o in plan.orders:
        m = market_of(o.order_type)
        tick = params.venue.spot_tick if m is Market.SPOT else params.venue.perp_tick
        buy = o.side is Side.BUY
        price = _round_to(tops[m].bid if buy else tops[m].ask, tick, up=not buy)
        requests.append(
            OrderRequest(
                client_id(rid, o.leg, "p"), o.order_type, run.amount_of(o), price, post_only=True
            )
        )
    markets = {r.client_id: r.market for r in requests}
    store.begin_rebalance(
        rid,
        plan.time_ms,
        plan_summary(plan),
        [
            {
                "client_id": r.client_id,
                "leg": o.leg,
                "order_type": o.order_type,
                "market": r.market,
                "phase": "post_only",
                "amount": r.amount,
                "price": r.price,
            }
            for r, o in zip(requests, plan.orders, strict=True)
        ],
        now(),
    )
    states = await run.send(requests)
    for cid, s in states.items():
        run.record(cid, s)
    await run.wait_for_fills(states, markets)
    await run.cancel_rest(states, markets)

    # Phase 2: IOC for each remainder, priced from the touch as it is now (it has moved).
    try:
        tops = await _book_tops(gate, markets_needed)
    except ExchangeError as exc:
        run.errors.append(f"book top before the IOC step: {exc}; using the earlier one")
    ioc: list[tuple[OrderRequest, Order]] = []
    for r, o in zip(requests, plan.orders, strict=True):
        s = states[r.client_id]
        leg = legs[o.leg]
        if s is not None and s.filled > 0:
            leg.maker_filled, leg.maker_price = s.filled, s.avg_price
            leg.maker_fee, leg.maker_client_id = s.fee_usdt, r.client_id
        if s is None:
            leg.notes.append("post-only order fate unknown: no IOC for this leg")
            leg.result = LegResult.UNKNOWN
            continue
        if not s.done:  # the cancel is not confirmed: an IOC now could double the leg
            leg.notes.append(f"post-only order {s.status} after cancel: no IOC for this leg")
            run.errors.append(f"{r.client_id} {s.status} after cancel")
            leg.result = LegResult.UNKNOWN
            continue
        if s.post_only_rejected:
            leg.notes.append("post-only rejected (touch moved): IOC for all of it")
        elif s.status is OrderStatus.REJECTED:  # balance, margin, reduce-only, rate limit...
            leg.notes.append(f"rejected ({error_kind(s.error)}): {s.error}; no IOC")
            leg.result, leg.rejection = LegResult.REJECTED, s.error
            continue
        rest = r.amount - s.filled
        req = ioc_request(rid, o, rest, tops[r.market], params)
        if req is None:
            if rest > 0:
                leg.notes.append(f"remainder {rest:g} below the venue minimum: left")
            continue
        ioc.append((req, o))
    if ioc:
        store.add_orders(
            rid,
            [
                {
                    "client_id": q.client_id,
                    "leg": o.leg,
                    "order_type": o.order_type,
                    "market": q.market,
                    "phase": "market",
                    "amount": q.amount,
                    "price": q.price,
                    "cost": q.cost,
                }
                for q, o in ioc
            ],
            now(),
        )
        ioc_states = await run.send([q for q, _ in ioc])
        for q, o in ioc:
            s = ioc_states.get(q.client_id)
            run.record(q.client_id, s)
            leg = legs[o.leg]
            if s is None:
                leg.notes.append("IOC order fate unknown; reconciliation will settle it")
                leg.result = LegResult.UNKNOWN
            elif s.status is OrderStatus.REJECTED:
                leg.notes.append(f"IOC rejected ({error_kind(s.error)}): {s.error}")
                leg.result, leg.rejection = LegResult.REJECTED, s.error
            else:
                leg.taker_filled, leg.taker_price = s.filled, s.avg_price
                leg.taker_fee, leg.taker_client_id = s.fee_usdt, q.client_id
                if s.status is OrderStatus.UNKNOWN:  # (OPEN: paper's next-open fill)
                    leg.notes.append("IOC order status not understood; it will be looked up")
                    leg.result = LegResult.UNKNOWN
                elif s.done and ioc_short(q, s, params):
                    leg.notes.append(f"IOC filled {s.filled:g} of {q.amount:g} ({s.finish_as})")
                    leg.result = LegResult.SHORT
    status = rebalance_status(leg.result for leg in legs.values())
    store.finish_rebalance(rid, status, now())
    return ExecutionReport(
        rid,
        list(legs.values()),
        False,
        run.first_sent_ms,
        run.first_ack_ms,
        now(),
        run.errors,
        status,
    )


async def _book_tops(gate: ExchangeGate, markets: set[Market]) -> dict[Market, BookTop]:
    """The touch of every market the plan trades, read concurrently."""
    ordered = sorted(markets)
    tops = await asyncio.gather(*(gate.get_book_top(m) for m in ordered))
    return dict(zip(ordered, tops, strict=True))
