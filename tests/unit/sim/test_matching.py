"""SimMarket as a whole: the replay clock and the events it sends."""

from __future__ import annotations

from adaptive_agent.core.time_rules import BAR_MS
from adaptive_agent.sim.orders import BarEvent, OrderEvent
from tests.support.sim_market import make


def test_clock_starts_at_the_close_of_bar_zero_and_advances_bar_by_bar(path):
    m = make(path)
    assert m.bar == 0 and m.now_ms == int(path.ts[0]) + BAR_MS and not m.done
    events = m.advance(3)
    assert m.bar == 3 and m.now_ms == int(path.ts[3]) + BAR_MS
    assert [e.bar for e in events if isinstance(e, BarEvent)] == [1, 2, 3]
    m.advance(10_000)
    assert m.done and m.bar == len(path) - 1
    assert m.advance() == []


def test_order_events_are_put_update_finish(path):
    m = make(path)
    seen = []
    m.subscribe(seen.append)
    m.place("futures", "buy", 2, None)
    phases = [e.phase for e in seen if isinstance(e, OrderEvent)]
    assert phases == ["put", "update", "finish"]
    assert seen[0].order.status == "open"  # events carry snapshots, not the live order
