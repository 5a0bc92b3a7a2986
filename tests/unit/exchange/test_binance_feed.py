"""The ``P_ref`` feed (``BinanceReference``) against a real aiohttp server on 127.0.0.1.

The server (``tests/support/fake_binance.py``) speaks Binance's shapes. As documented:
the kline stream ``<symbol>@kline_<interval>`` pushes ``{"e": "kline", "E": event time,
"s": symbol, "k": {"t": open time, "T": close time, "o", "c", "h", "l": price strings, ...,
"x": is this kline closed?}}`` several times per bar (developers.binance.com/docs/
binance-spot-api-docs/web-socket-streams, Kline/Candlestick Streams); ``GET /api/v3/klines``
answers arrays ``[open time, open, high, low, close, volume, close time, ...]`` oldest first
(rest-api, Market data endpoints, Kline/Candlestick data); ``GET /api/v3/time`` answers
``{"serverTime": ms}``.
"""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import ClassVar

import pytest

from adaptive_agent.core.time_rules import BAR_MS
from adaptive_agent.exchange import binance_feed
from adaptive_agent.exchange.binance_feed import KLINES_LIMIT, BinanceReference
from adaptive_agent.sim.binance import kline_event
from tests.support.fake_binance import FakeBinance, bar_open, closed_row

QUICK = {"reconnect_delay_s": 0.01, "max_reconnect_delay_s": 0.04}


def run(body) -> None:
    """Run a test body; every feed it started is stopped, even when an assertion failed."""

    async def guarded() -> None:
        try:
            await asyncio.wait_for(body(), 8.0)
        finally:
            while Running.started:
                await Running.started.pop().stop()

    asyncio.run(guarded())


class Running:
    """The feed's ``closed_candles()`` consumed by a task into a queue."""

    started: ClassVar[list[Running]] = []

    def __init__(self, fake: FakeBinance, **kw) -> None:
        self.feed = BinanceReference(fake.base_url, fake.ws_url, **{**QUICK, **kw})
        self.q: asyncio.Queue = asyncio.Queue()
        self.task = asyncio.ensure_future(self._consume())
        Running.started.append(self)

    async def _consume(self) -> None:
        async for item in self.feed.closed_candles():
            await self.q.put(item)

    async def take(self, n: int, timeout_s: float = 3.0) -> list:
        """The next ``n`` (candle, time) pairs; the feed's own exception if it died."""
        out = []
        for _ in range(n):
            get = asyncio.ensure_future(self.q.get())
            done, _ = await asyncio.wait(
                {get, self.task}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
            if get not in done:
                get.cancel()
                if self.task.done():
                    self.task.result()  # raises what ended the feed
                raise AssertionError(f"only {len(out)} of {n} candles arrived")
            out.append(get.result())
        return out

    async def nothing_more(self, wait_s: float = 0.1) -> None:
        await asyncio.sleep(wait_s)
        assert self.q.empty(), f"unexpected: {self.q.get_nowait()}"
        assert not self.task.done()

    async def deliver(self, fake: FakeBinance, *bars: int) -> None:
        """Bars close on the stream and come out of the feed, in order."""
        for i in bars:
            await fake.push_closed(i)
        assert opens(await self.take(len(bars))) == idx(*bars)

    async def stop(self) -> None:
        if self in Running.started:
            Running.started.remove(self)
        self.task.cancel()
        await asyncio.gather(self.task, return_exceptions=True)
        await self.feed.close()


def streaming(test_body, **kw) -> None:
    """Run ``test_body(fake, r)``: a feed ``r`` streaming from a fresh ``fake``, subscribed."""

    async def body() -> None:
        async with FakeBinance() as fake:
            r = Running(fake, **kw)
            await fake.wait_subscribed(1)
            await test_body(fake, r)

    run(body)


def opens(items) -> list[int]:
    return [c.ts for c, _ in items]


def idx(*bars: int) -> list[int]:
    return [bar_open(i) for i in bars]


# --- the stream -------------------------------------------------------------------------------


def test_only_closed_candles_are_emitted_once_and_in_order():
    async def body(fake: FakeBinance, r: Running) -> None:
        assert fake.subscribes == [{"method": "SUBSCRIBE", "params": ["btcusdt@kline_5m"], "id": 1}]
        await fake.push_forming(0)  # x false: still forming, never used
        await fake.push_closed(0)
        await fake.push_forming(1)
        await fake.push_closed(1)
        await fake.push_closed(1)  # Binance repeating itself
        await fake.push_closed(0)  # an older candle, late
        await fake.push_closed(2)
        got = await r.take(3)
        assert opens(got) == idx(0, 1, 2)
        c0 = got[0][0]
        assert (c0.open, c0.high, c0.low, c0.close) == closed_row(0)[1:5]
        assert [t for _, t in got] == [bar_open(i + 1) + 100 for i in range(3)]  # "E"
        await r.nothing_more()
        assert fake.kline_requests == []  # a first connection has nothing to backfill
        assert r.feed.last_ts == bar_open(2) and r.feed.reconnects == 0

    streaming(body)


def test_the_event_time_falls_back_to_the_close_when_binance_omits_it():
    async def body(fake: FakeBinance, r: Running) -> None:
        event = kline_event(closed_row(0), 0)
        del event["E"]
        await fake.push_text(json.dumps(event))
        [(c, t)] = await r.take(1)
        assert (c.ts, t) == (bar_open(0), bar_open(0) + BAR_MS)

    streaming(body)


def test_after_a_drop_the_missed_closes_are_backfilled_exactly_once():
    async def body(fake: FakeBinance, r: Running) -> None:
        await r.deliver(fake, 0, 1)
        fake.close_bars(2, 4)  # they close while the feed is away
        await fake.drop()
        await fake.wait_subscribed(2)  # reconnected and subscribed again
        backfilled = await r.take(3)
        assert opens(backfilled) == idx(2, 3, 4)
        assert {t for _, t in backfilled} == {fake.now_ms}  # Binance's clock at the fill
        await fake.push_closed(4)  # the stream repeats the last one: not emitted twice
        await fake.push_closed(5)
        assert opens(await r.take(1)) == idx(5)
        await r.nothing_more()
        assert fake.kline_requests == [
            {
                "symbol": "BTCUSDT",
                "interval": "5m",
                "startTime": str(bar_open(2)),
                "endTime": str(bar_open(5) + 1_000 - BAR_MS),
                "limit": str(KLINES_LIMIT),
            }
        ]
        assert r.feed.reconnects == 1

    streaming(body)


def test_a_gap_inside_the_stream_is_backfilled_before_the_new_candle():
    async def body(fake: FakeBinance, r: Running) -> None:
        await r.deliver(fake, 0)
        fake.close_bars(1, 2)  # Binance never pushed these two
        await fake.push_closed(3)
        got = await r.take(3)
        assert opens(got) == idx(1, 2, 3)
        assert {t for _, t in got} == {bar_open(4) + 100}  # the event that showed the gap
        [req] = fake.kline_requests
        assert (req["startTime"], req["endTime"]) == (str(bar_open(1)), str(bar_open(2)))
        await r.nothing_more()
        assert r.feed.reconnects == 0

    streaming(body)


def test_a_failed_backfill_is_retried_on_the_next_connection_without_duplicates():
    async def body(fake: FakeBinance, r: Running) -> None:
        await r.deliver(fake, 0)
        fake.close_bars(1, 2)
        fake.fail_time, fake.fail_klines = 1, 1  # reconnect 1 fails at /time, 2 at klines
        await fake.drop()
        await fake.wait_subscribed(4)
        assert opens(await r.take(2)) == idx(1, 2)
        await r.nothing_more()
        assert [q["startTime"] for q in fake.kline_requests] == [str(bar_open(1))] * 2
        assert r.feed.reconnects == 3

    streaming(body)


def test_reconnect_back_off_doubles_up_to_the_cap_and_resets_once_connected(monkeypatch):
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def record(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(binance_feed, "asyncio", SimpleNamespace(sleep=record))

    async def body():
        async with FakeBinance() as fake:
            fake.refuse_ws = 4  # four handshakes refused (HTTP 503)
            r = Running(fake)
            await fake.wait_subscribed(1)
            assert slept == [0.01, 0.02, 0.04, 0.04]
            await fake.push_closed(0)
            await r.take(1)
            await fake.drop()
            await fake.wait_subscribed(2)
            assert slept[4:] == [0.01]  # a good connection resets the back-off
            assert r.feed.reconnects == 5

    run(body)


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '"kline"',
        '{"result": null, "id": 1}',  # the SUBSCRIBE acknowledgement
        '{"e": "kline", "E": 1}',
        '{"e": "kline", "E": 1, "k": null}',
    ],
)
def test_messages_that_are_not_a_kline_are_skipped(text):
    async def body(fake: FakeBinance, r: Running) -> None:
        await fake.push_text(text)
        await r.deliver(fake, 0)
        assert r.feed.reconnects == 0

    streaming(body)


def _broken(change) -> str:
    event = kline_event(closed_row(0), bar_open(1))
    change(event["k"])
    return json.dumps(event)


@pytest.mark.parametrize(
    "text",
    [
        _broken(lambda k: k.pop("t")),
        _broken(lambda k: k.update(c="n/a")),
        _broken(lambda k: k.update(o=None)),
    ],
    ids=["no-open-time", "close-not-a-number", "open-null"],
)
def test_a_closed_kline_with_a_broken_field_is_skipped(text):
    async def body(fake: FakeBinance, r: Running) -> None:
        await fake.push_text(text)
        await fake.push_closed(1)
        assert opens(await r.take(1)) == idx(1)

    streaming(body)


# --- REST: backfill ranges and the server clock -----------------------------------------------


def test_backfill_pages_by_the_limit_from_the_last_open_time():
    async def body():
        async with FakeBinance() as fake:
            fake.close_bars(0, 2 * KLINES_LIMIT + 499)
            feed = BinanceReference(fake.base_url, fake.ws_url)
            got = await feed.backfill(bar_open(0), fake.now_ms)
            await feed.close()
            assert [c.ts for c in got] == idx(*range(2 * KLINES_LIMIT + 500))
            assert [q["startTime"] for q in fake.kline_requests] == [
                str(bar_open(0)),
                str(bar_open(KLINES_LIMIT)),
                str(bar_open(2 * KLINES_LIMIT)),
            ]
            assert {q["endTime"] for q in fake.kline_requests} == {str(fake.now_ms - BAR_MS)}
            assert {q["limit"] for q in fake.kline_requests} == {str(KLINES_LIMIT)}

    run(body)


def test_backfill_of_exactly_one_page_asks_once():
    async def body():
        async with FakeBinance() as fake:
            fake.close_bars(0, KLINES_LIMIT - 1)
            feed = BinanceReference(fake.base_url, fake.ws_url)
            got = await feed.backfill(bar_open(0), fake.now_ms)
            await feed.close()
            assert len(got) == KLINES_LIMIT and len(fake.kline_requests) == 1

    run(body)


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (0, bar_open(3) + 120_000, [0, 1, 2]),  # bar 3 has not closed at `end`
        (0, bar_open(3), [0, 1, 2]),  # bar 2 closes exactly at `end`: included
        (2, bar_open(3), [2]),
        (3, bar_open(3) + BAR_MS - 1, []),  # nothing has closed in the range: no request
    ],
)
def test_backfill_returns_the_candles_that_closed_in_the_range(start, end, expected):
    async def body():
        async with FakeBinance() as fake:
            fake.close_bars(0, 9)
            feed = BinanceReference(fake.base_url, fake.ws_url)
            got = await feed.backfill(bar_open(start), end)
            await feed.close()
            assert [c.ts for c in got] == idx(*expected)
            assert len(fake.kline_requests) == (1 if expected else 0)

    run(body)


def test_a_short_page_ends_the_backfill():
    async def body():
        async with FakeBinance() as fake:
            fake.close_bars(0, 49)
            fake.now_ms = bar_open(53) + 1_000  # bars 50 to 52 are not served yet
            feed = BinanceReference(fake.base_url, fake.ws_url)
            got = await feed.backfill(bar_open(0), fake.now_ms)
            await feed.close()
            assert [c.ts for c in got] == idx(*range(50))
            assert len(fake.kline_requests) == 1  # fewer rows than the limit: all there is

    run(body)


def test_rest_failures_raise_connection_error():
    async def body():
        async with FakeBinance() as fake:
            fake.close_bars(0, 3)
            fake.fail_klines, fake.fail_time = 1, 1
            feed = BinanceReference(fake.base_url, fake.ws_url)
            with pytest.raises(ConnectionError, match="klines: HTTP 500"):
                await feed.backfill(bar_open(0), fake.now_ms)
            with pytest.raises(ConnectionError, match="time: HTTP 500"):
                await feed.server_time()
            assert await feed.server_time() == fake.now_ms
            await feed.close()

    run(body)


def test_close_releases_the_stream_and_the_session():
    async def body(fake: FakeBinance, r: Running) -> None:
        await fake.push_closed(0)
        await r.take(1)
        ws, session = r.feed._ws, r.feed._session
        await r.feed.drop()
        assert ws is not None and ws.closed
        await r.stop()
        assert session is not None and session.closed

    streaming(body)
