"""Line protocol for the agent's records: which series, fields and tags each one becomes.

Series (``measurement_prefix`` is prepended to each measurement name)
--------------------------------------------------------------------
``bar`` (one point per BarSnapshot): floats ``nav``, ``price_ref``, ``basis`` (Basis_Gate),
``w_spot``, ``w_long``, ``w_short``, ``delta_usdt``, ``delta_frac``, ``margin_frac``,
``funding_rate`` and ``sharpe_30d`` (absent while unknown); integer ``safe_mode`` (0/1); strings
``signal``, ``safe_mode_codes`` (the typed codes, e.g. ``drawdown,error_streak``: what a
dashboard or an alert rule should match) and ``safe_mode_reasons`` (the people's text), both
comma separated and absent when empty.

``rebalance`` (one point per RebalanceRecord, at its decision time): floats ``fees_usdt``,
``slippage_usdt``, ``cost_usdt`` (fees + slippage), ``notional_usdt``, ``signal_to_first_ack_ms``
and ``complete_ms`` (absent while unknown); integers ``orders``, ``blocked``, ``skipped``,
``trades``; string ``rebalance_id``. The id is a *field*, not a tag: a tag would create one
series per rebalance, an unbounded series cardinality.

``alert`` (one point per alert): tag ``kind`` (a small fixed set; characters other than
letters, digits and ``_.:-`` become ``_``, blank becomes ``unknown``), string field ``text``
(a newline in it is stored as the two characters ``\\n``, the library's escaping).

``fill`` (one point per FillRecord, the venue's trade, at its time): tag ``market`` (spot |
futures); floats ``fee_usdt`` (absent when the fee could not be priced), ``fee`` (in
``fee_currency``), ``amount`` (BTC or contracts), ``price``; strings ``trade_id``,
``client_id``, ``fee_currency``, ``role``. ``funding`` (one point per FundingRecord, at its
time): floats ``change_usdt`` (+ received) and ``balance_usdt``; string ``key``.

Every point also carries the constant ``tags`` given to the encoder (e.g. ``{"agent":
"live"}``) and the record's own time in milliseconds, so the same record encoded twice gives the
same point (InfluxDB overwrites it). Two different records that would land on the same series
and millisecond (two alerts of one kind in the same ms, two rebalance ids at one decision time)
are kept apart by moving the later one forward by 1 ms; the same record sent twice still
overwrites itself. Non-finite numbers (NaN, +-inf) never reach the wire: such fields are left
out of the point (and counted).

Records are tuples: ``("bar", BarSnapshot)``, ``("rebalance", RebalanceRecord, n_trades)``,
``("alert", kind, text, time_ms)``, ``("fill", FillRecord)``, ``("funding", FundingRecord)``.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from influxdb.line_protocol import make_lines

from adaptive_agent.records import BarSnapshot, FillRecord, FundingRecord, RebalanceRecord

__all__ = [
    "MEASUREMENT_ALERT",
    "MEASUREMENT_BAR",
    "MEASUREMENT_FILL",
    "MEASUREMENT_FUNDING",
    "MEASUREMENT_REBALANCE",
    "LineEncoder",
]

MEASUREMENT_BAR = "bar"
MEASUREMENT_REBALANCE = "rebalance"
MEASUREMENT_ALERT = "alert"
MEASUREMENT_FILL = "fill"
MEASUREMENT_FUNDING = "funding"

_KIND_UNSAFE = re.compile(r"[^0-9A-Za-z_.:-]+")  # alert kinds are a small set of plain words
_UNIQUE_MEMO = 4096  # (series, ms) slots remembered to keep distinct records apart


class LineEncoder:
    """Turns records into line-protocol lines (one writer thread; not thread-safe)."""

    def __init__(self, measurement_prefix: str = "", tags: Mapping[str, str] | None = None):
        self.m_bar = f"{measurement_prefix}{MEASUREMENT_BAR}"
        self.m_rebalance = f"{measurement_prefix}{MEASUREMENT_REBALANCE}"
        self.m_alert = f"{measurement_prefix}{MEASUREMENT_ALERT}"
        self.m_fill = f"{measurement_prefix}{MEASUREMENT_FILL}"
        self.m_funding = f"{measurement_prefix}{MEASUREMENT_FUNDING}"
        self._tags = {str(k): str(v) for k, v in (tags or {}).items()}
        self._unique: OrderedDict[tuple[str, str, int], str] = OrderedDict()
        self.invalid_values = 0  # non-finite fields left out

    def to_line(self, item: tuple[Any, ...]) -> str:
        """The line of one record; raises (TypeError, ValueError, ...) for a record it cannot
        convert."""
        kind = item[0]
        if kind == "bar":
            bar: BarSnapshot = item[1]
            fields: dict[str, Any] = {
                "nav": bar.nav,
                "price_ref": bar.price_ref,
                "basis": bar.basis,
                "w_spot": bar.w_spot,
                "w_long": bar.w_long,
                "w_short": bar.w_short,
                "delta_usdt": bar.delta_usdt,
                "delta_frac": bar.delta_frac,
                "margin_frac": bar.margin_frac,
                "funding_rate": bar.funding_rate,
                "sharpe_30d": bar.sharpe_30d,
            }
            fields = self._floats(fields)
            fields["safe_mode"] = 1 if bar.safe_mode else 0
            if bar.signal:
                fields["signal"] = str(bar.signal)
            if bar.safe_mode_codes:
                fields["safe_mode_codes"] = ",".join(str(c) for c in bar.safe_mode_codes)
            if bar.safe_mode_reasons:
                fields["safe_mode_reasons"] = ",".join(str(r) for r in bar.safe_mode_reasons)
            return self._line(self.m_bar, {}, fields, record_ms(bar.time_ms))
        if kind == "rebalance":
            rb: RebalanceRecord = item[1]
            fields = self._floats(
                {
                    "fees_usdt": rb.fees_usdt,
                    "slippage_usdt": rb.slippage_usdt,
                    "cost_usdt": float(rb.fees_usdt) + float(rb.slippage_usdt),
                    "notional_usdt": rb.notional_usdt,
                    "signal_to_first_ack_ms": rb.signal_to_first_ack_ms,
                    "complete_ms": rb.complete_ms,
                }
            )
            fields["orders"] = int(rb.orders)
            fields["blocked"] = int(rb.blocked)
            fields["skipped"] = int(rb.skipped)
            fields["trades"] = int(item[2])
            rid = str(rb.rebalance_id)
            fields["rebalance_id"] = rid
            t = self._unique_time(self.m_rebalance, "", record_ms(rb.time_ms), rid)
            return self._line(self.m_rebalance, {}, fields, t)
        if kind == "alert":
            akind = _KIND_UNSAFE.sub("_", str(item[1]))[:64].strip("_") or "unknown"
            text = str(item[2])
            t = self._unique_time(self.m_alert, akind, record_ms(item[3]), text)
            return self._line(self.m_alert, {"kind": akind}, {"text": text}, t)
        if kind in ("fill", "funding"):
            return self._ledger_line(item[1])
        raise ValueError(f"unknown record {kind!r}")

    def _ledger_line(self, r: FillRecord | FundingRecord) -> str:
        """A venue fill or funding payment (``runner/ledger.py``)."""
        if isinstance(r, FundingRecord):
            fields: dict[str, Any] = self._floats(
                {"change_usdt": r.change_usdt, "balance_usdt": r.balance_usdt}
            )
            fields["key"] = str(r.key)
            t = self._unique_time(self.m_funding, "", record_ms(r.time_ms), str(r.key))
            return self._line(self.m_funding, {}, fields, t)
        fields = self._floats(
            {"fee_usdt": r.fee_usdt, "fee": r.fee, "amount": r.amount, "price": r.price}
        )
        fields.update(
            trade_id=str(r.trade_id),
            client_id=str(r.client_id),
            fee_currency=str(r.fee_currency),
            role=str(r.role),
        )
        market = _KIND_UNSAFE.sub("_", str(r.market)) or "unknown"
        t = self._unique_time(self.m_fill, market, record_ms(r.time_ms), str(r.trade_id))
        return self._line(self.m_fill, {"market": market}, fields, t)

    def _floats(self, values: Mapping[str, Any]) -> dict[str, float]:
        out: dict[str, float] = {}
        for key, value in values.items():
            if value is None:
                continue
            x = float(value)
            if math.isfinite(x):
                out[key] = x
            else:
                self.invalid_values += 1
        return out

    def _line(self, measurement: str, tags: dict[str, str], fields: dict[str, Any], t: int) -> str:
        if not fields:
            raise ValueError(f"{measurement} point at {t} has no valid field")
        all_tags = {**self._tags, **tags} if self._tags else tags
        point = {"measurement": measurement, "tags": all_tags, "fields": fields, "time": t}
        text = make_lines({"points": [point]}, precision="ms")
        line = text.rstrip("\n")
        if "\n" in line:  # the library escapes newlines; a raw one would split the point
            raise ValueError("line protocol with a raw newline")
        return line

    def _unique_time(self, measurement: str, series: str, t: int, identity: str) -> int:
        """``t``, moved forward past other records already on this series and millisecond."""
        memo = self._unique
        while True:
            key = (measurement, series, t)
            seen = memo.get(key)
            if seen is None or seen == identity:
                memo[key] = identity
                memo.move_to_end(key)
                while len(memo) > _UNIQUE_MEMO:
                    memo.popitem(last=False)
                return t
            t += 1


def record_ms(value: Any) -> int:
    """A record's time as whole milliseconds (a bool or a fraction is refused)."""
    if isinstance(value, bool):
        raise TypeError("time_ms must be an integer")
    t = int(value)
    if t != value:
        raise ValueError(f"time_ms {value!r} is not a whole number of milliseconds")
    return t
