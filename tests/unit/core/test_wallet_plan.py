"""The pure transfer rule (core/wallet_plan.py): examples and hypothesis invariants."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adaptive_agent.core.model import Book, Leg, Order, OrderType
from adaptive_agent.core.wallet_plan import (
    Needs,
    TransferReason,
    Wallet,
    WalletParams,
    WalletView,
    apply_transfers,
    futures_need,
    legs_after,
    needs_for_plan,
    plan_transfers,
    top_up_amount,
)

P = WalletParams()
usdt = st.floats(min_value=0.0, max_value=2e6, allow_nan=False)


def order(t: OrderType, lots: int, notional: float = 0.0) -> Order:
    leg = Leg.BTC_SPOT if t in (OrderType.BUY, OrderType.SELL) else Leg.BTC_PERP_SHORT
    return Order(leg, t, lots, 0.0, 20_000.0, notional)


def test_a_new_classic_account_funds_futures_from_spot_before_the_short():
    # 100k in spot, futures empty; the plan buys 50k spot and opens a 50k short
    orders = [order(OrderType.BUY, 2_500_000, 50_000.0), order(OrderType.OPEN_SHORT, 25_000)]
    needs = needs_for_plan(Book(100_000.0), orders, 20_000.0, 0.0, P)
    assert needs.spot == pytest.approx(50_500.0)
    # short 50k: move loss 12.5k + maintenance 50k x 1.25 x 0.003 = 187.5 < initial 16 666.67
    assert needs.futures == pytest.approx(50_000 / 3)
    plan = plan_transfers(WalletView(100_000.0, 0.0, 0.0), needs, P)
    [t] = plan.transfers
    assert t.to is Wallet.FUTURES and t.reason is TransferReason.FUND_FUTURES
    assert t.amount == pytest.approx(round(needs.futures * 1.25 + 0.005, 2))
    assert plan.shortfalls == ()


def test_the_move_term_rules_when_the_legs_do_not_hedge_each_other():
    need = futures_need(0, 100_000, 20_000.0, -300.0, WalletParams(leverage=10))
    # initial 20k; move: 200k x 0.25 = 50k + 200k x 1.25 x 0.003 = 750; plus the 300 loss
    assert need == pytest.approx(50_750.0 + 300.0)


def test_position_margin_counts_at_the_entry_when_the_price_fell():
    # a short opened at 25k, price now 20k: Gate holds its margin at 25k / leverage
    need = futures_need(0, 30_000, 20_000.0, 0.0, P, entries=(0.0, 25_000.0))
    assert need == pytest.approx(30_000 * 0.0001 * 25_000 / 3)


def test_spot_short_of_usdt_for_its_buys_is_funded_from_the_futures_spare():
    plan = plan_transfers(WalletView(1_000.0, 30_000.0, 25_000.0), Needs(5_000.0, 10_000.0), P)
    [t] = plan.transfers
    assert (t.to, t.amount, t.reason) == (Wallet.SPOT, 4_000.0, TransferReason.FUND_SPOT)


def test_not_enough_in_total_leaves_a_shortfall_and_moves_what_is_spare():
    plan = plan_transfers(WalletView(3.0, 0.0, 0.0), Needs(0.0, 100.0), P)
    assert [t.amount for t in plan.transfers] == [3.0]  # below min_transfer: all there is
    [s] = plan.shortfalls
    assert s.wallet is Wallet.FUTURES and s.missing == pytest.approx(97.0)


def test_surplus_goes_back_after_the_orders_only_beyond_the_band():
    view = WalletView(0.0, 20_000.0, 19_000.0)
    assert plan_transfers(view, Needs(0.0, 10_000.0), P).transfers == ()  # not asked
    [t] = plan_transfers(view, Needs(0.0, 10_000.0), P, return_surplus=True).transfers
    assert (t.to, t.amount, t.reason) == (Wallet.SPOT, 7_500.0, TransferReason.RETURN_SURPLUS)
    inside = WalletView(0.0, 14_000.0, 14_000.0)  # under 10k x 1.5 + 10: stays
    assert plan_transfers(inside, Needs(0.0, 10_000.0), P, return_surplus=True).transfers == ()


def test_legs_after_and_top_up():
    orders = [order(OrderType.OPEN_LONG, 5), order(OrderType.CLOSE_SHORT, 20)]
    assert legs_after(0, 10, orders) == (5, 0)
    assert top_up_amount(WalletView(123.456, 0.0, 0.0), 500.0) == 123.45
    assert top_up_amount(WalletView(1_000.0, 0.0, 0.0), 99.999) == 99.99


views = st.builds(
    lambda s, t, a_frac, u: WalletView(s, t, t * a_frac, u),
    usdt,
    usdt,
    st.floats(0.0, 1.0),
    st.floats(-1e5, 1e5, allow_nan=False),
)
needs_st = st.builds(Needs, usdt, usdt)
params_st = st.builds(
    WalletParams,
    leverage=st.floats(1.0, 50.0),
    adverse_move=st.floats(0.0, 1.0),
    hysteresis=st.floats(0.0, 2.0),
    min_transfer=st.floats(0.0, 100.0),
    spot_buffer=st.floats(0.0, 0.05),
)


@settings(max_examples=200, deadline=None)
@given(views, needs_st, params_st, st.booleans())
def test_invariants_never_more_than_free_covered_when_possible_idempotent(view, needs, p, back):
    plan = plan_transfers(view, needs, p, return_surplus=back)
    to_futures = sum(t.amount for t in plan.transfers if t.to is Wallet.FUTURES)
    to_spot = sum(t.amount for t in plan.transfers if t.to is Wallet.SPOT)
    assert all(t.amount > 0 and round(t.amount, 2) == t.amount for t in plan.transfers)
    assert not (to_futures and to_spot)  # never both ways at once
    # never more than is free: spot beyond its own needs, futures beyond its available
    assert to_futures <= max(view.spot_free - needs.spot, 0.0) + 1e-6
    assert to_spot <= max(view.futures_available, 0.0) + 1e-6
    after = apply_transfers(view, plan.transfers)
    # after the planned transfers each wallet covers its orders, unless a shortfall says so
    missing = {s.wallet: s.missing for s in plan.shortfalls}
    assert after.futures_total + missing.get(Wallet.FUTURES, 0.0) >= needs.futures - 1e-6
    assert after.spot_free + missing.get(Wallet.SPOT, 0.0) >= needs.spot - 1e-6
    # a shortfall only when the total could not cover it
    if Wallet.FUTURES in missing:
        gap = needs.futures - view.futures_total
        assert view.spot_free - needs.spot < gap + 0.01
    if Wallet.SPOT in missing:
        spare = min(view.futures_available, view.futures_total - needs.futures)
        assert spare < needs.spot - view.spot_free + 0.01
    # idempotent: once done, the same rule asks for nothing more
    assert plan_transfers(after, needs, p, return_surplus=back).transfers == ()


def test_match_moves_one_line_per_transfer_in_order_and_within_the_slack():
    from adaptive_agent.core.wallet_plan import BookMove, TransferKey, match_moves

    recs = [TransferKey("a", 1_000, 50.0), TransferKey("b", 2_000, 50.0), TransferKey("c", 9, -7)]
    moves = [BookMove("1", 0, 0.0), BookMove("2", 1_500, 50.0), BookMove("3", 900, 50.0)]
    moves += [BookMove("4", 5, -7.0), BookMove("5", 2_100, 50.0)]
    # "3" is 100 ms before a's record: inside a 200 ms slack, outside a 10 ms one
    assert match_moves(recs, moves, slack_ms=200) == {"a": "3", "b": "5", "c": "4"}
    assert match_moves(recs, moves, slack_ms=10) == {"a": "2", "b": "5", "c": "4"}
    assert match_moves(recs[:2], moves[:3], slack_ms=200) == {"a": "3"}  # "2" is before b
