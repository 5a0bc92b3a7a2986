"""LineEncoder: records -> line protocol (series, fields, tags, time), no server involved."""

from __future__ import annotations

import math

import pytest

from adaptive_agent.monitoring.influx_lines import LineEncoder, record_ms
from tests.support.influxd_fixture import T0_MS, make_bar, make_rebalance


def test_bar_line_has_every_field_and_the_record_time() -> None:
    enc = LineEncoder(tags={"agent": "live"})
    line = enc.to_line(("bar", make_bar(12, safe_mode=True, safe_mode_reasons=("a", "b"))))
    head, fields, t = line.split(" ")
    assert head == "bar,agent=live" and int(t) == make_bar(12).time_ms
    assert "safe_mode=1i" in fields and 'safe_mode_reasons="a,b"' in fields
    assert 'signal="LONG"' in fields and "nav=" in fields and "sharpe_30d=" in fields


def test_non_finite_and_unknown_fields_are_left_out_and_counted() -> None:
    enc = LineEncoder()
    line = enc.to_line(("bar", make_bar(1, nav=math.nan, basis=math.inf, sharpe_30d=None)))
    assert "nav=" not in line and "basis=" not in line and "sharpe_30d" not in line
    assert "price_ref=" in line and enc.invalid_values == 2


def test_rebalance_id_is_a_field_and_cost_is_fees_plus_slippage() -> None:
    enc = LineEncoder(measurement_prefix="t_")
    rb = make_rebalance(0)
    line = enc.to_line(("rebalance", rb, 4))
    assert line.startswith("t_rebalance ") and f'rebalance_id="{rb.rebalance_id}"' in line
    assert "trades=4i" in line and f"cost_usdt={float(rb.fees_usdt + rb.slippage_usdt)!r}" in line


def test_alert_kind_is_sanitised_and_newlines_escaped() -> None:
    enc = LineEncoder()
    line = enc.to_line(("alert", "bad kind/!", "two\nlines", T0_MS))
    assert line.startswith("alert,kind=bad_kind ") and "\n" not in line
    assert enc.to_line(("alert", " ", "x", T0_MS + 5)).startswith("alert,kind=unknown ")


def test_distinct_records_on_one_series_and_ms_are_kept_apart() -> None:
    enc = LineEncoder()

    def t(line: str) -> int:
        return int(line.rsplit(" ", 1)[1])

    first = enc.to_line(("alert", "watchdog", "one", T0_MS))
    second = enc.to_line(("alert", "watchdog", "two", T0_MS))
    again = enc.to_line(("alert", "watchdog", "one", T0_MS))  # the same record: overwrites
    other_kind = enc.to_line(("alert", "audit", "two", T0_MS))
    assert (t(first), t(second), t(again), t(other_kind)) == (T0_MS, T0_MS + 1, T0_MS, T0_MS)


@pytest.mark.parametrize(
    "item",
    [("what", 1), ("alert", "k", "t", 1.5), ("alert", "k", "t", True), ("bar", None)],
)
def test_records_it_cannot_convert_raise(item: tuple) -> None:
    with pytest.raises((TypeError, ValueError, AttributeError)):
        LineEncoder().to_line(item)


def test_record_ms_takes_whole_milliseconds_only() -> None:
    assert record_ms(T0_MS) == T0_MS and record_ms(float(T0_MS)) == T0_MS
    with pytest.raises(ValueError):
        record_ms(T0_MS + 0.5)
    with pytest.raises(TypeError):
        record_ms(True)


def test_safe_mode_codes_are_written_beside_the_text() -> None:
    enc = LineEncoder()
    bar = make_bar(3, safe_mode=True, safe_mode_reasons=("Verlust",), safe_mode_codes=("drawdown",))
    line = enc.to_line(("bar", bar))
    assert 'safe_mode_codes="drawdown"' in line and 'safe_mode_reasons="Verlust"' in line


def test_fills_and_funding_payments_become_points_of_their_own() -> None:
    from adaptive_agent.records import FillRecord, FundingRecord

    enc = LineEncoder(tags={"agent": "live"})
    fill = FillRecord(
        "spot", "77", T0_MS, "9", "t-a", "buy", 0.01, 2e4, "maker", 1e-5, "BTC", 0.0, 0.0, 0.2
    )
    head, fields, t = enc.to_line(("fill", fill)).split(" ")
    assert head == "fill,agent=live,market=spot" and int(t) == T0_MS
    assert "fee_usdt=0.2" in fields and 'fee_currency="BTC"' in fields
    assert 'trade_id="77"' in fields and 'client_id="t-a"' in fields and 'role="maker"' in fields
    other = FillRecord(
        "spot", "78", T0_MS, "9", "t-a", "buy", 0.01, 2e4, "maker", 0, "GT", 1, 0, None
    )
    line = enc.to_line(("fill", other))
    assert "fee_usdt" not in line and int(line.split(" ")[-1]) == T0_MS + 1  # kept apart
    pay = FundingRecord("k1", T0_MS, -1.5, 998.5, "BTC_USDT")
    head, fields, t = enc.to_line(("funding", pay)).split(" ")
    assert head == "funding,agent=live" and int(t) == T0_MS
    assert "change_usdt=-1.5" in fields and 'key="k1"' in fields
