"""Fills as the agent's trade records (``records.TradeRecord``): one rule for a fill at its
rebalance and for one the venue finished later.

A record belongs to its decision (``time_ms`` is the decision's close, as in the backtest) and
measures slippage against P_ref at that decision. The fee is the venue's as charged (the
ledger's, by client id) where it is known, else the order state's.

An order a rebalance left open — in a replay with the backtest's fill model the IOC remainder
fills at the next bar's open — is recorded when ``refresh_pending`` sees it finish
(``late_trade``); before, such fills reached the venue's ledger but never the trade records,
so the digest's turnover and maker share and the paper report missed them.
"""

from __future__ import annotations

from ..core.model import SIDE_OF, Leg, OrderType, Params
from ..exchange.exchange_gate import OrderState
from ..execution.executor import ExecutionReport
from ..records import TradeRecord
from ..state.store import StateStore, StoredOrder


def _unit(leg: Leg, params: Params) -> float:
    """BTC per unit of the order's amount: 1 for spot, the contract size for the perpetual."""
    return 1.0 if leg is Leg.BTC_SPOT else params.venue.perp_contract


def report_trades(
    report: ExecutionReport,
    decision_ms: int,
    ref: float,
    params: Params,
    fees: dict[str, float] | None = None,
) -> list[TradeRecord]:
    """The fills of an execution; ``fees``: the venue's USDT fee by client id."""
    trades: list[TradeRecord] = []
    for leg in report.legs:
        unit = _unit(leg.leg, params)
        for liq, filled, price, fee, cid in (
            ("maker", leg.maker_filled, leg.maker_price, leg.maker_fee, leg.maker_client_id),
            ("taker", leg.taker_filled, leg.taker_price, leg.taker_fee, leg.taker_client_id),
        ):
            if filled > 0 and price is not None:
                trades.append(
                    TradeRecord(
                        decision_ms,
                        report.rebalance_id,
                        cid,
                        str(leg.leg),
                        leg.order_type,
                        leg.side,
                        filled * unit,
                        price,
                        ref,
                        (fees or {}).get(cid, fee),
                        liq,
                    )
                )
    return trades


def late_trade(
    store: StateStore, order: StoredOrder, state: OrderState, params: Params
) -> TradeRecord | None:
    """The record of an order that finished after its rebalance, once: ``None`` if it did not
    fill, or already has one. A post-only order is maker, an IOC taker."""
    liquidity = "maker" if order.phase == "post_only" else "taker"
    if not state.done or state.filled <= 0 or state.avg_price is None:
        return None
    if store.has_trade(order.client_id, liquidity):
        return None
    decision_ms = store.rebalance_decision_ms(order.rebalance_id)
    if decision_ms is None:
        return None
    bars = store.bar_values(decision_ms, decision_ms + 1, "price_ref")
    ref = bars[0][0] if bars else state.avg_price
    fee = store.fill_fees([order.client_id]).get(order.client_id)
    leg = Leg(order.leg)
    return TradeRecord(
        decision_ms,
        order.rebalance_id,
        order.client_id,
        str(leg),
        order.order_type,
        str(SIDE_OF[OrderType(order.order_type)]),
        state.filled * _unit(leg, params),
        state.avg_price,
        ref,
        state.fee_usdt if fee is None else fee,
        liquidity,
    )
