"""The adapter's ledger reads through the unmodified ccxt client against gate-sim: fills from
``/spot/my_trades`` and ``/futures/usdt/my_trades_timerange`` (paged), funding from
``/futures/usdt/account_book?type=fund``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from adaptive_agent.exchange.exchange_gate import ExchangeError, Market
from adaptive_agent.exchange.gate_ccxt import GateCcxtExchange
from adaptive_agent.exchange.gate_ccxt_ledger import windows
from adaptive_agent.sim.fee_ledger import fee_ledger, funding_ledger
from adaptive_agent.sim.runner import running_sim

KEY, SECRET = "ledger-key", "ledger-secret-0123456789"


def with_gate(candles, body, **kw: Any):
    async def main():
        async with running_sim(candles, KEY, SECRET, dual_mode=True, **kw) as sim:
            gate = GateCcxtExchange(KEY, SECRET, rest_url=sim.url, rate_limit=False)
            try:
                await gate.start()
                return await body(sim.market, gate)
            finally:
                await gate.close()

    return asyncio.run(main())


def test_fills_through_ccxt_carry_gates_fee_parts_and_page_without_loss(spot):
    async def body(m, gate: GateCcxtExchange):
        since = m.now_ms
        for i in range(3):
            m.place("spot", "buy", 200.0, None, text=f"t-b{i}")  # fee in BTC
            m.place("spot", "sell", 0.001, None, text=f"t-s{i}")  # fee in USDT
            m.place("futures", None, -(i + 1), None, text=f"t-f{i}")
            m.advance()
        gate.page_size = 2  # 3 pages of spot fills, 2 of futures
        spot_fills = await gate.fetch_fills(Market.SPOT, since, m.now_ms)
        fut_fills = await gate.fetch_fills(Market.FUTURES, since, m.now_ms)
        later = await gate.fetch_fills(Market.FUTURES, m.now_ms + 100_000, m.now_ms + 200_000)
        return fee_ledger(m), spot_fills, fut_fills, later

    charged, spot_fills, fut_fills, later = with_gate(spot.slice(0, 50), body)
    assert later == []
    got = {(f.market, f.trade_id): f for f in spot_fills + fut_fills}
    assert len(got) == len(spot_fills) + len(fut_fills) == len(charged) == 9
    for x in charged:
        f = got[(x.market, x.trade_id)]
        assert (f.fee, f.fee_currency, f.client_id) == (x.fee, x.currency, x.text)
        assert f.role == "taker" and f.order_id and f.price > 0 and f.amount > 0
    assert {f.fee_currency for f in spot_fills if f.side == "buy"} == {"BTC"}
    assert {f.fee_currency for f in spot_fills if f.side == "sell"} == {"USDT"}
    assert [f.amount for f in fut_fills] == [1, 2, 3]  # contracts, unsigned, oldest first
    assert all(f.side == "sell" for f in fut_fills)
    assert [f.time_ms for f in spot_fills] == sorted(f.time_ms for f in spot_fills)


def test_funding_through_ccxt_is_the_account_books_fund_lines_only(spot):
    async def body(m, gate: GateCcxtExchange):
        m.place("futures", None, 40, None, text="t-long")
        m.place("futures", None, -60, None, text="t-short")
        m.advance(200)  # 08:00 and 16:00 settle
        gate.page_size = 3
        paid = await gate.fetch_funding_payments(m.now_ms - 86_400_000, m.now_ms)
        return funding_ledger(m), paid, m.account_book()

    book, paid, everything = with_gate(spot.slice(0, 250), body)
    assert {e.type for e in everything} >= {"dnw", "fee", "fund"}
    assert len(book) == 4
    assert [(p.key, p.time_ms, p.change_usdt, p.balance_usdt) for p in paid] == [
        (e.id, e.time_ms, e.change, e.balance) for e in book
    ]
    assert all(p.contract == "BTC_USDT" for p in paid)


class FakeCcxt:
    """Gate replies the simulator does not produce: a GT-paid fee, a foreign book line."""

    def __init__(self, tickers: Any) -> None:
        self.tickers = tickers

    async def fetch_my_trades(self, symbol, since, limit, params):
        info = {"fee": "0", "fee_currency": "GT", "gt_fee": "0.5", "text": "t-x", "role": "maker"}
        return [
            {
                "id": "5",
                "timestamp": since,
                "side": "buy",
                "amount": 0.1,
                "price": 2e4,
                "order": "9",
                "info": info,
            }
        ]

    async def publicSpotGetTickers(self, params):
        if isinstance(self.tickers, Exception):
            raise self.tickers
        return self.tickers

    async def privateFuturesGetSettleAccountBook(self, params):
        assert params["type"] == "fund"
        return [
            {
                "time": 1_700_000_000.5,
                "change": "-1.25",
                "balance": "10",
                "type": "fund",
                "text": "BTC_USDT",
            },
            {"time": 1_700_000_001, "change": "50", "balance": "60", "type": "dnw", "text": ""},
        ]


def fake_gate(tickers: Any) -> GateCcxtExchange:
    g = GateCcxtExchange(KEY, SECRET, rest_url="http://127.0.0.1:9")
    asyncio.run(g.ex.close())
    g.ex = FakeCcxt(tickers)
    return g


@pytest.mark.parametrize(
    ("tickers", "price"), [([{"last": "5.5"}], 5.5), ([], None), ([{"last": "0"}], None)]
)
def test_a_gt_fee_gets_the_gt_usdt_price_or_none(tickers, price):
    (f,) = asyncio.run(fake_gate(tickers).fetch_fills(Market.SPOT, 1_000, 2_000))
    assert (f.fee_currency, f.gt_fee, f.gt_usdt) == ("GT", 0.5, price)


def test_a_gt_price_read_that_fails_leaves_the_fee_unpriced():
    import ccxt

    gate = fake_gate(ccxt.BadSymbol("no GT_USDT"))
    (f,) = asyncio.run(gate.fetch_fills(Market.SPOT, 1_000, 2_000))
    assert f.gt_usdt is None


def test_funding_rows_without_an_id_are_keyed_and_other_types_are_dropped():
    (p,) = asyncio.run(fake_gate([]).fetch_funding_payments(0, 1_000))
    assert (p.time_ms, p.change_usdt, p.balance_usdt) == (1_700_000_000_500, -1.25, 10.0)
    assert p.key == "t1700000000500:-1.25:10.0"


def test_history_is_read_in_windows_gate_answers_in_full(spot):
    """A spot read with only ``from`` covers 7 days on Gate (and in the simulator): fills more
    than a week apart are all read, and a window too full for Gate's paging cap is split."""

    async def body(m, gate: GateCcxtExchange):
        since = m.now_ms
        m.place("spot", "buy", 20_000.0, None, text="t-first")
        m.advance(9 * 288)  # nine days later
        for _ in range(2):
            for i in range(650):
                m.place("spot", "sell", 0.0002, None, text=f"t-{m.bar}-{i}")
            m.advance()
        gate.page_size = 250  # the cap (limit * (page - 1) <= 1000) bites at page 6
        return len(m.my_trades("spot")), await gate.fetch_fills(Market.SPOT, since, m.now_ms)

    n, fills = with_gate(spot.slice(0, 9 * 288 + 10), body, usdt=1_000_000.0)
    assert n == 1301 and len({f.trade_id for f in fills}) == len(fills) == n
    assert fills[0].client_id == "t-first"


def test_the_simulator_answers_spot_trade_reads_as_gate_does(spot):
    async def main():
        async with running_sim(spot.slice(0, 50), KEY, SECRET) as sim:
            gate = GateCcxtExchange(KEY, SECRET, rest_url=sim.url, rate_limit=False)
            try:
                await gate.ex.load_markets()
                with pytest.raises(ExchangeError):  # 31 days: beyond Gate's 30
                    await gate._call(gate.ex.privateSpotGetMyTrades, {"from": 0, "to": 31 * 86_400})
                with pytest.raises(ExchangeError):  # limit * (page - 1) > 1000
                    await gate._call(gate.ex.privateSpotGetMyTrades, {"limit": 100, "page": 12})
            finally:
                await gate.close()

    asyncio.run(main())


def test_windows_cover_the_span_in_whole_seconds():
    assert windows(1_500, 2_500) == [(1, None)]
    assert windows(9_000, 2_500) == [(9, None)]  # our clock behind: still one open read
    week = 7 * 86_400
    assert windows(0, (2 * week + 5) * 1000) == [(0, week), (week, 2 * week), (2 * week, None)]


class Flood(FakeCcxt):
    """1200 trades in the one second 1000 s, served as Gate would: the page of a window."""

    async def fetch_my_trades(self, symbol, since, limit, params):
        until = params.get("until", since + 7 * 86_400_000)
        if not since <= 1_000_000 <= until:
            return []
        info = {"fee": "n/a", "fee_currency": "USDT", "text": "t-x"}
        first = (params["page"] - 1) * limit
        return [
            {"id": str(i), "timestamp": 1_000_000, "amount": "?", "price": 1, "info": info}
            for i in range(first, min(first + limit, 1200))
        ]


def test_more_fills_in_a_second_than_gate_pages_are_read_as_far_as_they_go(caplog):
    gate = fake_gate([])
    gate.ex = Flood([])
    with caplog.at_level("WARNING", "adaptive_agent.gate"):
        fills = asyncio.run(gate.fetch_fills(Market.SPOT, 999_000, 1_000_500))
    assert len(fills) == 11 * gate.page_size  # pages 1..11: limit * (page - 1) <= 1000
    assert "some are unread" in caplog.text
    assert {f.fee for f in fills} == {0.0} and {f.amount for f in fills} == {0.0}  # unparseable
