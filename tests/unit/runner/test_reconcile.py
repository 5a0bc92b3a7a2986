"""reconcile_with_venue: an order the venue reports with a status we do not understand stays
UNKNOWN (looked up again) and is parked after MAX_LOOKUPS reconciles, like a missing one."""

from __future__ import annotations

import asyncio

from adaptive_agent.core.model import OrderType
from adaptive_agent.exchange.exchange_gate import BookTop, Market, OrderState
from adaptive_agent.lifecycle import MAX_LOOKUPS, OrderStatus
from adaptive_agent.runner.reconcile import reconcile_with_venue
from adaptive_agent.state.store import StateStore
from tests.support.fake_gate import FakeGate


def test_an_unreadable_venue_status_is_looked_up_then_parked(tmp_path):
    store = StateStore(tmp_path / "s.sqlite")
    cid = "t-unk"
    store.begin_rebalance(
        "r1",
        0,
        {},
        [
            {
                "client_id": cid,
                "leg": "BTC_SPOT",
                "order_type": OrderType.BUY,
                "market": Market.SPOT,
                "phase": "post_only",
                "amount": 0.1,
                "price": 1.0,
            }
        ],
        0,
    )
    gate = FakeGate({Market.SPOT: [BookTop(1.0, 1.1)], Market.FUTURES: [BookTop(1.0, 1.1)]})
    weird = OrderState(cid, OrderStatus.UNKNOWN, 0.05, 1.0, finish_as="something_new")
    gate.states[cid] = weird

    async def cancel(market, client_id):
        return weird  # Gate: already finished; the lookup says the same

    gate.cancel_order = cancel
    lookups: dict[str, int] = {}
    seen = []
    for _ in range(MAX_LOOKUPS):
        res = asyncio.run(reconcile_with_venue(gate, store, 1, lookups))
        seen.append(store.order(cid).status)
    assert seen[:-1] == [OrderStatus.UNKNOWN] * (MAX_LOOKUPS - 1)
    assert seen[-1] is OrderStatus.PARKED and res.parked == [cid]
    assert store.order(cid).filled == 0.05  # what the venue did say is kept
    store.close()
