"""The digest and the audit read fees and funding as the venue charged them when recorded."""

from __future__ import annotations

import math
from datetime import date

from adaptive_agent.config import load_config
from adaptive_agent.records import FillRecord, FundingRecord, TradeRecord
from adaptive_agent.reports.audit import run_audit
from adaptive_agent.reports.digest import build_digest, day_bounds, format_digest
from adaptive_agent.reports.ledger_day import LedgerSpan, ledger_span
from tests.support.influxd_fixture import make_bar

DAY = date(2022, 11, 9)


def fill(tid, t, fee_usdt):
    return FillRecord(
        "futures", tid, t, "9", "t-a", "sell", 10, 2e4, "taker", 0.1, "USDT", 0, 0, fee_usdt
    )


def test_a_store_without_ledger_tables_has_no_venue_figures():
    assert ledger_span(object(), 0, 1) == LedgerSpan()
    assert LedgerSpan().fees_usdt == 0.0


def test_the_digest_takes_the_fills_fees_and_shows_funding_as_paid(store, tmp_path):
    lo, hi = day_bounds(DAY)
    store.add_trades(
        [
            TradeRecord(
                lo + 5,
                "r1",
                "t-a",
                "BTC_PERP_SHORT",
                "OPEN_SHORT",
                "sell",
                0.1,
                2e4,
                2e4,
                0.0,
                "taker",
            )
        ]
    )
    for i in range(3):
        store.add_bar(make_bar(i, time_ms=lo + 300_000 * i, nav=100_000.0))
    store.add_fills(
        [
            fill("1", lo + 10, 0.4),
            fill("2", lo + 20, 0.6),
            fill("3", lo + 30, None),
            fill("4", hi, 9.0),
        ]
    )
    store.add_funding(
        [
            FundingRecord("a", lo + 8 * 3_600_000 - 1, -2.0, 1.0, "BTC_USDT"),
            FundingRecord("b", hi - 1, 5.0, 6.0, "BTC_USDT"),
        ]
    )
    d = build_digest(store, DAY)
    assert d.fees_source == "fills" and d.venue_fills == 3 and d.fills_unpriced == 1
    assert math.isclose(d.fees_usdt, 1.0)  # not the trade record's 0, not the next day's fill
    assert d.funding_paid_usdt == 3.0 and d.funding_payments == 2
    text = format_digest(d)
    assert "Fees as charged: 3 venue fill(s); 1 unpriced, left out" in text
    assert "Funding as paid (2 payment(s)): +3.00 USDT" in text
    audit = run_audit(store, load_config(None), DAY, tmp_path)
    assert audit.kpis["fees_nav"] == d.fees_nav and d.fees_nav is not None
    assert "funding as paid: +3.00 USDT" in audit.notes


def test_without_venue_fills_the_trade_records_fees_stand(store):
    lo, _ = day_bounds(DAY)
    store.add_trades(
        [TradeRecord(lo + 5, "r1", "t-a", "BTC_SPOT", "BUY", "buy", 0.1, 2e4, 2e4, 0.7, "maker")]
    )
    d = build_digest(store, DAY)
    assert d.fees_source == "trades" and d.fees_usdt == 0.7 and d.funding_paid_usdt is None
    assert "Fees as charged" not in format_digest(d)


def test_a_day_with_only_a_funding_payment_has_data(store):
    lo, _ = day_bounds(DAY)
    store.add_funding([FundingRecord("a", lo + 1, 1.0, 1.0, "BTC_USDT")])
    assert build_digest(store, DAY).has_data
