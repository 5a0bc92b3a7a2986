"""The ccxt adapter's reading of Gate orders: finish_as over ccxt's status, batch matching."""

from __future__ import annotations

import pytest

from adaptive_agent.core.model import OrderType
from adaptive_agent.exchange.exchange_gate import AmbiguousOrderError, OrderRequest, OrderStatus
from adaptive_agent.exchange.gate_ccxt_orders import match_batch, order_state


def spot_raw(cid, finish_as, status="cancelled", filled=0.0, ccxt_status="canceled"):
    info = {"text": cid, "status": status, "finish_as": finish_as, "currency_pair": "BTC_USDT"}
    return {
        "id": "1",
        "clientOrderId": cid,
        "symbol": "BTC/USDT",
        "status": ccxt_status,
        "filled": filled,
        "average": 20_000.0 if filled else None,
        "info": info,
    }


def fut_raw(cid, finish_as, filled=0.0, ccxt_status="closed"):
    info = {"text": cid, "status": "finished", "finish_as": finish_as, "contract": "BTC_USDT"}
    return {
        "id": "2",
        "clientOrderId": cid,
        "symbol": "BTC/USDT:USDT",
        "status": ccxt_status,
        "filled": filled,
        "average": 20_000.0 if filled else None,
        "info": info,
    }


def test_ccxt_status_is_not_trusted_finish_as_is():
    # ccxt calls every finished futures order "closed"; Gate says it was cancelled unfilled
    s = order_state(fut_raw("t-a", "cancelled"), "t-a")
    assert s.status is OrderStatus.CANCELED and s.finish_as == "cancelled"
    # ccxt passes finish_as "stp" through as a status it does not know; we map it
    s = order_state(spot_raw("t-b", "stp", ccxt_status="stp"), "t-b")
    assert s.status is OrderStatus.CANCELED


@pytest.mark.parametrize("how", ["reduce_only", "position_closed", "reduce_out", "liquidated"])
def test_futures_ends_keep_their_fills(how):
    s = order_state(fut_raw("t-c", how, filled=3.0), "t-c")
    assert s.status is OrderStatus.CANCELED and s.filled == 3.0 and s.finish_as == how


def test_an_unknown_finish_is_unknown_and_not_done():
    s = order_state(spot_raw("t-d", "brand_new_reason", ccxt_status="brand_new_reason"), "t-d")
    assert s.status is OrderStatus.UNKNOWN and not s.done  # was OPEN before (fail-open)


def test_a_finished_poc_order_is_the_post_only_rejection_with_the_markets_label():
    spot = order_state(spot_raw("t-e", "poc"), "t-e")
    fut = order_state(fut_raw("t-f", "poc"), "t-f")
    assert spot.post_only_rejected and spot.error == "POC_FILL_IMMEDIATELY"
    assert fut.post_only_rejected and fut.error == "ORDER_POC_IMMEDIATE"


def req(cid):
    return OrderRequest(cid, OrderType.BUY, 0.01, 20_000.0, post_only=True)


def rejected(text=None):
    info = {"succeeded": False, "label": "BALANCE_NOT_ENOUGH", "currency_pair": "BTC_USDT"}
    if text is not None:
        info["text"] = text
    return {
        "id": None,
        "clientOrderId": text,
        "symbol": "BTC/USDT",
        "status": "rejected",
        "info": info,
    }


def test_batch_replies_match_by_position_even_without_text():
    raws = [rejected(None), spot_raw("t-2", "open", status="open", ccxt_status="open")]
    first, second = match_batch([req("t-1"), req("t-2")], raws)
    assert (first.client_id, first.status, first.error) == (
        "t-1",
        OrderStatus.REJECTED,
        "BALANCE_NOT_ENOUGH",
    )
    assert (second.client_id, second.status) == ("t-2", OrderStatus.OPEN)


def test_a_batch_text_naming_another_order_is_ambiguous():
    raws = [spot_raw("t-2", "open", "open"), spot_raw("t-1", "open", "open")]
    with pytest.raises(AmbiguousOrderError):
        match_batch([req("t-1"), req("t-2")], raws)


def test_a_batch_reply_of_another_length_is_ambiguous():
    with pytest.raises(AmbiguousOrderError):
        match_batch([req("t-1"), req("t-2")], [rejected("t-1")])
