"""Reconciliation with the venue, pure of the trading loop: what the store knows against what
the venue says, after a start, a reconnect or a crash; and the circuit breaker's cancel-all."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..exchange.exchange_gate import ExchangeError, ExchangeGate, Market
from ..exchange.gate_constants import names_client_id
from ..execution.executor import record_state
from ..lifecycle import MAX_LOOKUPS, UNFINISHED, OrderStatus, RebalanceStatus
from ..state.store import StateStore

log = logging.getLogger("adaptive_agent.agent")


@dataclass
class ReconcileResult:
    checked: int = 0
    updated: int = 0
    interrupted: list[str] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    parked: list[str] = field(default_factory=list)
    failed: bool = False  # the venue could not be asked: nothing was settled


async def reconcile_with_venue(
    gate: ExchangeGate, store: StateStore, now: int, lookups: dict[str, int] | None = None
) -> ReconcileResult:
    """Look up every unfinished order by client id (cancel what still rests), close interrupted
    rebalances, and list venue orders the store does not know (``unexplained``)."""
    res = ReconcileResult()
    for o in store.orders(statuses=UNFINISHED):
        res.checked += 1
        market = Market(o.market)
        state = await gate.fetch_order(market, o.client_id)
        if state is not None and not state.done:
            state = await gate.cancel_order(market, o.client_id) or state
            res.cancelled.append(o.client_id)
        if state is None:
            status = OrderStatus.REJECTED if o.status is OrderStatus.INTENT else OrderStatus.UNKNOWN
            if status is OrderStatus.UNKNOWN:
                status = _count_lookup(o.client_id, lookups, res)
            store.update_order(o.client_id, now, status=status, error="not at venue")
        else:
            record_state(store, o.client_id, now, state)
            if state.status is OrderStatus.UNKNOWN:  # a status Gate sent that we do not know
                status = _count_lookup(o.client_id, lookups, res)
                store.update_order(o.client_id, now, status=status, error="status not understood")
        res.updated += 1
    for rid in store.unfinished_rebalances():
        store.finish_rebalance(rid, RebalanceStatus.INTERRUPTED, now)
        res.interrupted.append(rid)
    for market in (Market.SPOT, Market.FUTURES):
        for s in await gate.fetch_open_orders(market):
            if store.order(s.client_id) is None:
                res.unexplained.append(f"{market}: open order {s.client_id or s.exchange_id}")
    store.add_event(
        now,
        "reconciled",
        f"checked {res.checked}, cancelled"
        f" {len(res.cancelled)}, interrupted {len(res.interrupted)},"
        f" unexplained {len(res.unexplained)}",
    )
    if res.parked:
        store.add_event(now, "orders_parked", "; ".join(res.parked))
        log.error("reconcile: still unknown after %d lookups, parked: %s", MAX_LOOKUPS, res.parked)
    if res.unexplained:
        store.add_event(now, "reconcile_mismatch", "; ".join(res.unexplained))
        log.error("reconcile: orders the state store does not know: %s", res.unexplained)
    if res.interrupted:
        log.warning("reconcile: interrupted rebalances closed: %s", res.interrupted)
    return res


def _count_lookup(cid: str, lookups: dict[str, int] | None, res: ReconcileResult) -> OrderStatus:
    """One more reconcile that could not settle ``cid``: UNKNOWN, or PARKED at the limit."""
    if lookups is None:
        return OrderStatus.UNKNOWN
    lookups[cid] = lookups.get(cid, 0) + 1
    if lookups[cid] < MAX_LOOKUPS:
        return OrderStatus.UNKNOWN
    res.parked.append(cid)
    return OrderStatus.PARKED


async def cancel_all_open_orders(gate: ExchangeGate) -> list[str]:
    """Cancel every open order on both markets, ours by client id and foreign ones (web UI,
    text ``web``/``apiv4``) by their order id; failures are logged, never raised."""
    cancelled: list[str] = []
    for market in (Market.SPOT, Market.FUTURES):
        try:
            open_orders = await gate.fetch_open_orders(market)
        except ExchangeError as exc:
            log.error("circuit breaker: listing %s orders failed: %s", market, exc)
            continue
        for s in open_orders:
            # Orders not placed by us (web UI: text "web"/"apiv4") are found by their id only.
            key = s.client_id if names_client_id(s.client_id) else s.exchange_id
            if not key:
                continue
            try:
                await gate.cancel_order(market, key)
                cancelled.append(key)
            except ExchangeError as exc:
                log.error("circuit breaker: cancelling %s %s failed: %s", market, key, exc)
    return cancelled
