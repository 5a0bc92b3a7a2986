"""Gate API v4 JSON for the simulator's records: the shapes ccxt and the gate-api SDK parse.

Gate sends amounts and prices as decimal strings, spot times as second strings plus ``*_ms``
integers, futures times as float seconds and futures ids/sizes as integers. The SDK models
validate enums strictly, so optional enum fields (``finish_as`` on open futures orders,
``auto_size``) are left out rather than sent empty.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np

from ..exchange.gate_constants import LIQUIDATION_TEXT
from .markets import CONTRACT, FUTURES_CONTRACT, MAINTENANCE_RATE, PAIR, SPOT_PAIR
from .matching import SimMarket
from .orders import FUTURES, SPOT, BookEntry, SimFees, SimOrder, SimTrade

USER_ID = 1
SPOT_DEPTH = "1"  # the simulated book shows one level of this size (BTC) ...
FUTURES_DEPTH = 10_000  # ... or contracts


def num(x: float) -> str:
    """Shortest decimal string without exponent: 60000.0 -> "60000", 1e-06 -> "0.000001"."""
    text = format(Decimal(repr(float(x))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def contracts(x: float, as_string: bool = False) -> int | float | str:
    """A contract count as Gate sends it: an integer when whole (decimal string on request)."""
    value: int | float = round(x) if abs(x - round(x)) < 1e-9 else x
    return num(value) if as_string else value


def _sec(ms: int) -> float:
    return ms / 1000.0


# ---- orders and trades --------------------------------------------------------------------


def spot_order(o: SimOrder) -> dict[str, Any]:
    if o.is_open:
        status, finish = "open", "open"
    else:
        status = "closed" if o.finish_as == "filled" else "cancelled"
        finish = o.finish_as or "cancelled"
    return {
        "id": o.id,
        "text": o.text,
        "amend_text": "-",
        "create_time": str(o.create_ms // 1000),
        "update_time": str(o.update_ms // 1000),
        "create_time_ms": o.create_ms,
        "update_time_ms": o.update_ms,
        "status": status,
        "currency_pair": PAIR,
        "type": "market" if o.is_market else "limit",
        "account": "spot",
        "side": o.side,
        "amount": num(o.size),
        "price": num(o.price or 0.0),
        "time_in_force": o.tif,
        "iceberg": "0",
        "left": num(o.left),
        "filled_amount": num(o.filled),
        "fill_price": num(o.fill_value),
        "filled_total": num(o.fill_value),
        "avg_deal_price": num(o.avg_price),
        "fee": num(o.fee),
        "fee_currency": o.fee_currency,
        "point_fee": "0",
        "gt_fee": "0",
        "gt_maker_fee": "0",
        "gt_taker_fee": "0",
        "gt_discount": False,
        "rebated_fee": "0",
        "rebated_fee_currency": "USDT",
        "stp_id": 0,
        "stp_act": "-",
        "finish_as": finish,
    }


def futures_order(o: SimOrder, fees: SimFees, size_as_string: bool = False) -> dict[str, Any]:
    sign = 1 if o.side == "buy" else -1
    out: dict[str, Any] = {
        "id": int(o.id),
        "user": USER_ID,
        "create_time": _sec(o.create_ms),
        "update_time": _sec(o.update_ms),
        "status": o.status,
        "contract": CONTRACT,
        "size": contracts(sign * o.size, size_as_string),
        "iceberg": 0,
        "price": num(o.price or 0.0),
        "close": False,
        "is_close": False,
        "reduce_only": o.reduce_only,
        "is_reduce_only": o.reduce_only,
        "is_liq": o.text == LIQUIDATION_TEXT,
        "tif": o.tif,
        "left": contracts(sign * o.left, size_as_string),
        "fill_price": num(o.avg_price),
        "text": o.text,
        "tkfr": num(fees.perp_taker),
        "mkfr": num(fees.perp_maker),
        "refu": 0,
        "stp_id": 0,
        "stp_act": "-",
        "amend_text": "-",
    }
    if not o.is_open:
        out["finish_as"] = o.finish_as
        out["finish_time"] = _sec(o.finish_ms or o.update_ms)
    if o.auto_size is not None:
        out["auto_size"] = o.auto_size
    return out


def order(o: SimOrder, fees: SimFees, size_as_string: bool = False) -> dict[str, Any]:
    return spot_order(o) if o.market == SPOT else futures_order(o, fees, size_as_string)


def spot_trade(t: SimTrade) -> dict[str, Any]:
    return {
        "id": t.id,
        "create_time": str(t.time_ms // 1000),
        "create_time_ms": num(t.time_ms),
        "currency_pair": PAIR,
        "side": t.side,
        "role": t.role,
        "amount": num(t.qty),
        "price": num(t.price),
        "order_id": t.order_id,
        "fee": num(t.fee),
        "fee_currency": t.fee_currency,
        "point_fee": "0",
        "gt_fee": "0",
        "amend_text": "-",
        "text": t.text,
    }


def futures_trade(t: SimTrade, timerange: bool = False) -> dict[str, Any]:
    """``my_trades`` (``id``, an integer) or ``my_trades_timerange``, whose rows name it
    ``trade_id``, a string (gate-api SDK models MyFuturesTrade / MyFuturesTradeTimeRange)."""
    sign = 1 if t.side == "buy" else -1
    ident: dict[str, Any] = {"trade_id": t.id} if timerange else {"id": int(t.id)}
    return {
        **ident,
        "create_time": _sec(t.time_ms),
        "contract": CONTRACT,
        "order_id": t.order_id,
        "size": contracts(sign * t.qty),
        "close_size": contracts(sign * t.close_qty),
        "price": num(t.price),
        "role": t.role,
        "text": t.text,
        "fee": num(t.fee),
        "point_fee": "0",
    }


# ---- accounts -----------------------------------------------------------------------------


def spot_accounts(m: SimMarket) -> list[dict[str, Any]]:
    return [
        {"currency": cur, "available": num(b.available), "locked": num(b.locked), "update_id": 1}
        for cur, b in m.spot_balances().items()
    ]


def futures_account(m: SimMarket) -> dict[str, Any]:
    a = m.futures_account()
    hist = a["history"]
    return {
        "user": USER_ID,
        "currency": "USDT",
        "total": num(a["total"]),
        "unrealised_pnl": num(a["unrealised_pnl"]),
        "position_margin": num(a["position_margin"]),
        "order_margin": num(a["order_margin"]),
        "available": num(a["available"]),
        "point": "0",
        "bonus": "0",
        "in_dual_mode": bool(a["in_dual_mode"]),
        "enable_credit": False,
        "position_initial_margin": num(a["position_margin"]),
        "maintenance_margin": "0",
        "enable_evolved_classic": False,
        "history": {
            "dnw": num(hist["dnw"]),
            "pnl": num(hist["pnl"]),
            "fee": num(hist["fee"]),
            "refr": "0",
            "fund": num(hist["fund"]),
            "point_dnw": "0",
            "point_fee": "0",
            "point_refr": "0",
            "bonus_dnw": "0",
            "bonus_offset": "0",
        },
    }


def position(view: dict[str, Any], as_string: bool = False) -> dict[str, Any]:
    return {
        "user": USER_ID,
        "contract": CONTRACT,
        "size": contracts(view["size"], as_string),
        "leverage": num(view["leverage"]),
        "risk_limit": FUTURES_CONTRACT["risk_limit_base"],
        "leverage_max": FUTURES_CONTRACT["leverage_max"],
        "maintenance_rate": num(MAINTENANCE_RATE),
        "value": num(view["value"]),
        "margin": num(view["margin"]),
        "entry_price": num(view["entry_price"]),
        "liq_price": num(view.get("liq_price", 0.0)),
        "mark_price": num(view["mark_price"]),
        "unrealised_pnl": num(view["unrealised_pnl"]),
        "realised_pnl": num(view["realised_pnl"]),
        "pnl_pnl": num(view["pnl_pnl"]),
        "pnl_fund": num(view["pnl_fund"]),
        "pnl_fee": num(view["pnl_fee"]),
        "history_pnl": "0",
        "last_close_pnl": "0",
        "realised_point": "0",
        "history_point": "0",
        "adl_ranking": 6,
        "pending_orders": int(view["pending_orders"]),
        "close_order": None,
        "mode": view["mode"],
        "cross_leverage_limit": num(view.get("cross_leverage_limit", 0.0)),
        "update_time": int(view["update_time_ms"]) // 1000,
        "open_time": int(view["open_time_ms"]) // 1000,
    }


def positions(m: SimMarket, as_string: bool = False) -> list[dict[str, Any]]:
    return [position(v, as_string) for v in m.positions().values()]


def book_entry(e: BookEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "time": _sec(e.time_ms),
        "change": num(e.change),
        "balance": num(e.balance),
        "type": e.type,
        "text": e.text,
        "contract": CONTRACT if e.type != "dnw" else "",
        "trade_id": "",
    }


# ---- market data --------------------------------------------------------------------------


def spot_pair(m: SimMarket) -> dict[str, Any]:
    out = dict(SPOT_PAIR)
    out["fee"] = num(m.fees.spot_taker * 100)  # Gate's spot fee is a percentage
    out["maker_fee_rate"] = num(m.fees.spot_maker * 100)
    return out


def contract(m: SimMarket) -> dict[str, Any]:
    out = dict(FUTURES_CONTRACT)
    last = num(m.last(FUTURES))
    rate = num(m.funding_rate())
    out.update(
        last_price=last,
        mark_price=last,
        index_price=last,
        funding_rate=rate,
        funding_rate_indicative=rate,
        funding_next_apply=m.next_funding_ms() // 1000,
        maker_fee_rate=num(m.fees.perp_maker),
        taker_fee_rate=num(m.fees.perp_taker),
    )
    return out


def _change_pct(m: SimMarket) -> str:
    first, _, _ = m.stats_24h()
    return num(round((m.last() / first - 1.0) * 100, 2))


def spot_ticker(m: SimMarket) -> dict[str, Any]:
    bid, ask = m.top(SPOT)
    _, high, low = m.stats_24h()
    return {
        "currency_pair": PAIR,
        "last": num(m.last(SPOT)),
        "lowest_ask": num(ask),
        "lowest_size": SPOT_DEPTH,
        "highest_bid": num(bid),
        "highest_size": SPOT_DEPTH,
        "change_percentage": _change_pct(m),
        "base_volume": "0",
        "quote_volume": "0",
        "high_24h": num(high),
        "low_24h": num(low),
    }


def futures_ticker(m: SimMarket) -> dict[str, Any]:
    bid, ask = m.top(FUTURES)
    _, high, low = m.stats_24h()
    last = num(m.last(FUTURES))
    return {
        "contract": CONTRACT,
        "last": last,
        "change_percentage": _change_pct(m),
        "total_size": "0",
        "volume_24h": "0",
        "volume_24h_base": "0",
        "volume_24h_quote": "0",
        "volume_24h_settle": "0",
        "mark_price": last,
        "index_price": last,
        "funding_rate": num(m.funding_rate()),
        "funding_rate_indicative": num(m.funding_rate()),
        "highest_bid": num(bid),
        "highest_size": num(FUTURES_DEPTH),
        "lowest_ask": num(ask),
        "lowest_size": num(FUTURES_DEPTH),
        "high_24h": num(high),
        "low_24h": num(low),
    }


def ticker(m: SimMarket, market: str) -> dict[str, Any]:
    return spot_ticker(m) if market == SPOT else futures_ticker(m)


def order_book(m: SimMarket, market: str) -> dict[str, Any]:
    bid, ask = m.top(market)
    if market == SPOT:
        return {
            "id": m.bar,
            "current": m.now_ms,
            "update": m.now_ms,
            "asks": [[num(ask), SPOT_DEPTH]],
            "bids": [[num(bid), SPOT_DEPTH]],
        }
    return {
        "id": m.bar,
        "current": _sec(m.now_ms),
        "update": _sec(m.now_ms),
        "asks": [{"p": num(ask), "s": FUTURES_DEPTH}],
        "bids": [{"p": num(bid), "s": FUTURES_DEPTH}],
    }


def book_ticker(m: SimMarket, market: str) -> dict[str, Any]:
    bid, ask = m.top(market)
    depth = SPOT_DEPTH if market == SPOT else FUTURES_DEPTH
    return {
        "t": m.now_ms,
        "u": m.bar,
        "s": PAIR,
        "b": num(bid),
        "B": depth,
        "a": num(ask),
        "A": depth,
    }


CandleRow = tuple[int, float, float, float, float, bool]  # open ms, o, h, l, c, closed


def candle_window(
    m: SimMarket, start_ms: int | None, end_ms: int | None, limit: int
) -> list[CandleRow]:
    """Candles with open time in [start, end], at most ``limit``: the oldest ones when a start
    is given, else the newest, as Gate and Binance page them.

    The last row is the bar in progress (closed False), as the exchanges send it: its open
    time is now and every price is the last close, since the simulator has no intra-bar
    prices and must not leak the next bar's open.
    """
    c, last = m.candles, m.bar
    ts = c.ts[: last + 1]
    lo = 0 if start_ms is None else int(np.searchsorted(ts, start_ms, "left"))
    hi = last + 1 if end_ms is None else int(np.searchsorted(ts, end_ms, "right"))
    hi = max(hi, lo)
    forming = (start_ms is None or m.now_ms >= start_ms) and (end_ms is None or m.now_ms <= end_ms)
    if start_ms is None:
        lo = max(lo, hi + int(forming) - limit)
        forming = forming and limit > 0
    else:
        hi = min(hi, lo + limit)
        forming = forming and hi - lo < limit
    rows: list[CandleRow] = [
        (int(c.ts[i]), float(c.open[i]), float(c.high[i]), float(c.low[i]), float(c.close[i]), True)
        for i in range(lo, hi)
    ]
    if forming:
        px = float(c.close[last])
        rows.append((m.now_ms, px, px, px, px, False))
    return rows
