"""``DryRunExchange`` against gate-sim's public endpoints: the unmodified ccxt client, no keys."""

from __future__ import annotations

import asyncio

import pytest

from adaptive_agent.config import load_config
from adaptive_agent.core.model import OrderType
from adaptive_agent.exchange.dry_run_exchange import DryRunExchange
from adaptive_agent.exchange.exchange_gate import (
    AccountMode,
    AmbiguousOrderError,
    ExchangeError,
    Market,
    OrderRequest,
    OrderStatus,
    Wallet,
)
from adaptive_agent.runner.live import LiveOptions
from adaptive_agent.runner.paper_live import dry_run_venue
from adaptive_agent.sim.runner import running_sim

KEY, SECRET = "sim-key-unit", "sim-secret-unit-0123456789"


@pytest.fixture(scope="module")
def path(spot):
    return spot.slice(0, 600)


def _venue(sim, refresh_s: float = 0.0) -> DryRunExchange:
    venue = dry_run_venue(load_config(None), LiveOptions(state_path=None, gate_url=sim.url), 0)
    venue.refresh_s = refresh_s
    return venue


def _falling_bar(path) -> int:
    """A bar whose close is below the one before it (a resting bid is traded through)."""
    return next(i for i in range(1, len(path)) if path.close[i] < path.close[i - 1] - 1.0)


def test_start_opens_a_new_users_account_on_gates_public_data(path):
    async def scenario():
        async with running_sim(path, KEY, SECRET) as sim:
            venue = _venue(sim)
            with pytest.raises(ExchangeError):  # nothing to trade on before start()
                await venue.get_balances()
            await venue.start()
            await venue.start_order_stream()
            try:
                bal = await venue.get_balances()
                rules = await venue.market_rules()
                assert await venue.server_time_ms() is not None
                top = await venue.get_book_top(Market.FUTURES)
                mark = await venue.get_price(Market.FUTURES)
                mode = await venue.get_account_mode()
                assert venue.maintenance_rate() == pytest.approx(0.003)
                assert await venue.get_funding_rate() == pytest.approx(sim.market.funding_rate())
            finally:
                await venue.close()
            return bal, rules, top, mark, mode, sim

    bal, rules, top, mark, mode, sim = asyncio.run(scenario())
    nav0 = load_config(None).backtest.nav0
    assert (bal.spot_usdt, bal.spot_btc, bal.futures_usdt) == (nav0, 0.0, 0.0)
    assert rules is not None and rules.perp_contract == pytest.approx(0.0001)
    assert (top.bid, top.ask) == sim.market.top("futures")
    assert mark == pytest.approx(sim.market.mark())
    assert mode is AccountMode.CLASSIC
    assert sim.signed_requests == 0 and sim.private_requests == 0


def test_a_post_only_bid_fills_as_maker_once_gate_trades_below_it(path):
    j = _falling_bar(path)

    async def scenario():
        async with running_sim(path.slice(j - 1, j + 5), KEY, SECRET) as sim:
            venue = _venue(sim)
            await venue.start()
            try:
                bid = (await venue.get_book_top(Market.SPOT)).bid
                req = OrderRequest("t-dry-1", OrderType.BUY, 0.01, bid, post_only=True)
                (placed,) = await venue.create_orders([req])
                assert placed.status is OrderStatus.OPEN
                assert (await venue.fetch_order(Market.SPOT, "t-dry-1")).status is OrderStatus.OPEN
                sim.market.advance()  # Gate's last price falls through the bid
                done = await venue.fetch_order(Market.SPOT, "t-dry-1")
                fills = await venue.fetch_fills(Market.SPOT, 0, 2**62)
                assert await venue.fetch_open_orders(Market.SPOT) == []
            finally:
                await venue.close()
            return bid, done, fills, sim

    bid, done, fills, sim = asyncio.run(scenario())
    assert done.status is OrderStatus.CLOSED and done.filled == pytest.approx(0.01)
    assert done.avg_price == pytest.approx(bid)
    ((fill),) = fills
    assert fill.role == "maker" and fill.price == pytest.approx(bid)
    assert sim.market.order_history("spot") == []  # gate-sim's own account never traded
    assert sim.signed_requests == 0 and sim.private_requests == 0


def test_looks_are_spaced_but_orders_always_see_the_book_as_it_is(path):
    j = _falling_bar(path)

    async def scenario():
        async with running_sim(path.slice(j - 1, j + 5), KEY, SECRET) as sim:
            venue = _venue(sim, refresh_s=3600.0)
            await venue.start()
            try:
                first = venue.looks
                await asyncio.gather(venue.get_balances(), venue.get_positions())
                await venue.fetch_open_orders(Market.FUTURES)
                spaced = venue.looks - first
                old_bid = sim.market.top("spot")[0]
                sim.market.advance()  # the price falls
                bid = (await venue.get_book_top(Market.SPOT)).bid  # not looked at again
                req = OrderRequest("t-dry-2", OrderType.BUY, 0.01, bid, post_only=True)
                (state,) = await venue.create_orders([req])  # a fresh look first
                txid = await venue.transfer(Wallet.FUTURES, 100.0, "tr-1")
                moves = await venue.transfer_moves(0)
                funding = await venue.fetch_funding_payments(0, 2**62)
                sides = await venue.get_margin_sides()
            finally:
                await venue.close()
            return spaced, bid == old_bid, state, txid, moves, funding, sides

    spaced, stale, state, txid, moves, funding, sides = asyncio.run(scenario())
    assert spaced == 0  # within refresh_s: the reads share the last look
    assert stale  # the bid of the look before the bar moved
    # the old bid is above the new ask: the order crosses the book as it is now, and a
    # post-only order that would take is refused, never filled at a stale price
    assert state.status is OrderStatus.REJECTED and state.post_only_rejected
    assert txid and moves[-1].change == 100.0 and funding == []
    assert {s.side for s in sides} == {"long", "short"}


def test_orders_without_a_look_at_gate_are_refused_not_ambiguous(path):
    """Gate out of reach: nothing can have been placed, so the executor may treat the batch
    as refused (an AmbiguousOrderError would make it look the orders up)."""

    async def scenario():
        async with running_sim(path, KEY, SECRET) as sim:
            venue = _venue(sim)
            await venue.start()
        try:  # the server is gone now
            req = OrderRequest("t-dry-3", OrderType.BUY, 0.01, 1.0, post_only=True)
            with pytest.raises(ExchangeError) as exc:
                await venue.create_orders([req])
            with pytest.raises(AmbiguousOrderError):  # a read says what it is
                await venue.get_balances()
            return exc.value, venue.m.open_orders("spot")
        finally:
            await venue.close()

    err, still_open = asyncio.run(scenario())
    assert not isinstance(err, AmbiguousOrderError) and "no look at Gate" in str(err)
    assert still_open == []
